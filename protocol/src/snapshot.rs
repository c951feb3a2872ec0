//! State snapshots: the whole state as bytes, so a node restarts from a recent block
//! instead of replaying from genesis.
//!
//! Only the data is stored (accounts in index order, token supplies, queue position,
//! revealed secrets in reveal order); every Merkle tree is rebuilt on load, partitions in
//! parallel, and the caller checks the rebuilt root against the block header it trusts.

use rayon::prelude::*;

use crate::{
    codec::{Reader, Writer},
    error::DecodeError,
    primitives::{B256, keccak256},
    state::{Balance, PARTITIONS, State, commit_partition},
};

const MAGIC: &[u8; 8] = b"WEFTSNAP";
const VERSION: u32 = 1;

impl State {
    /// Serialises the state (see the module docs).
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 * self.account_count() as usize + 64);
        out.extend_from_slice(MAGIC);
        let mut w = Writer(&mut out);
        w.u32(&VERSION);
        w.u32(&self.account_count());
        for i in 0..self.account_count() {
            let a = self.account(i).expect("index below count");
            w.address(&a.address);
            w.u64(&a.nonce);
            let balances: Vec<Balance> = a.balances().collect();
            w.u32(&(balances.len() as u32));
            for b in balances {
                w.u32(&b.token);
                w.u128(&b.amount);
            }
        }
        w.u32(&(self.supply.len() as u32));
        for s in &self.supply {
            w.u128(s);
        }
        w.u64(&self.queue_position);
        let secrets = self.secrets_in_order();
        w.u32(&(secrets.len() as u32));
        for (hashlock, block) in secrets {
            w.b256(&hashlock);
            w.u64(&block);
        }
        out
    }

    /// Rebuilds a state from [`Self::encode_snapshot`] bytes, recomputing every tree.
    pub fn decode_snapshot(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut buf = bytes;
        let mut r = Reader(&mut buf);
        if r.take(MAGIC.len())? != MAGIC {
            return Err(DecodeError::Invalid("snapshot magic"));
        }
        if r.u32()? != VERSION {
            return Err(DecodeError::Invalid("snapshot version"));
        }
        let mut state = State::new();
        let accounts = r.u32()?;
        for _ in 0..accounts {
            let address = r.address()?;
            if state.index.contains_key(&address) {
                return Err(DecodeError::Invalid("duplicate account in snapshot"));
            }
            let idx = state.push_account(address);
            let nonce = r.u64()?;
            let count = r.u32()? as usize;
            if count > r.0.len() / 20 {
                return Err(DecodeError::UnexpectedEnd);
            }
            let mut balances = Vec::with_capacity(count);
            for _ in 0..count {
                balances.push(Balance {
                    token: r.u32()?,
                    amount: r.u128()?,
                });
            }
            let account = state.account_mut(idx);
            account.nonce = nonce;
            for b in balances {
                account.set_balance(b.token, b.amount);
            }
        }
        let tokens = r.u32()? as usize;
        if tokens == 0 || tokens > r.0.len() / 16 {
            return Err(DecodeError::Invalid("snapshot token count"));
        }
        state.supply = (0..tokens).map(|_| r.u128()).collect::<Result<_, _>>()?;
        state.queue_position = r.u64()?;
        let secrets = r.u32()? as usize;
        if secrets > r.0.len() / 40 {
            return Err(DecodeError::UnexpectedEnd);
        }
        let mut leaves = Vec::with_capacity(secrets);
        for i in 0..secrets {
            let (hashlock, block) = (r.b256()?, r.u64()?);
            state.secrets.revealed.insert(hashlock, block);
            leaves.push((i, secret_leaf(&hashlock, block)));
        }
        if !buf.is_empty() {
            return Err(DecodeError::TrailingBytes(buf.len()));
        }
        state.secrets.tree.update(&leaves);
        state.partitions.par_iter_mut().for_each(|part| {
            let positions: Vec<usize> = (0..part.accounts.len()).collect();
            commit_partition(part, &positions);
        });
        debug_assert_eq!(state.partitions.len(), PARTITIONS);
        Ok(state)
    }

    /// Revealed secrets in the order they entered the registry tree.
    fn secrets_in_order(&self) -> Vec<(B256, u64)> {
        let mut all: Vec<(B256, u64)> = self
            .secrets
            .revealed
            .iter()
            .map(|(h, b)| (*h, *b))
            .collect();
        // The tree's leaf order is the reveal order; recover it from the leaves.
        let position: alloy_primitives::map::B256Map<usize> = (0..self.secrets.tree.len())
            .map(|i| (self.secrets.tree.leaf(i), i))
            .collect();
        all.sort_by_key(|(h, b)| {
            position
                .get(&secret_leaf(h, *b))
                .copied()
                .unwrap_or(usize::MAX)
        });
        all
    }
}

/// A secret registry leaf: `keccak256(hashlock ‖ uint64 block)`.
pub(crate) fn secret_leaf(hashlock: &B256, block: u64) -> B256 {
    let mut buf = [0u8; 40];
    buf[..32].copy_from_slice(hashlock.as_slice());
    buf[32..].copy_from_slice(&block.to_be_bytes());
    keccak256(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        execution::{BlockExecutor, SequentialExecutor},
        testkit::{BlockGen, Workload, env, genesis},
    };
    use proptest::prelude::*;

    fn busy_state() -> State {
        let mut state = genesis(300, 1_000_000);
        let mut blocks = BlockGen::new(&state, 9);
        let w = Workload {
            odd_p: 0.3,
            new_receiver_p: 0.1,
            ..Workload::transfers(400)
        };
        for n in 1..=3 {
            let txs = blocks.block(&w);
            SequentialExecutor
                .execute_block(&mut state, &env(n), &txs)
                .unwrap();
        }
        state
    }

    #[test]
    fn snapshot_round_trips_to_the_same_state_root() {
        let state = busy_state();
        assert!(state.secrets.tree.len() > 1, "the workload reveals secrets");
        let bytes = state.encode_snapshot();
        let back = State::decode_snapshot(&bytes).unwrap();
        assert_eq!(back.state_root(), state.state_root());
        assert_eq!(back.account_count(), state.account_count());
        assert_eq!(back.encode_snapshot(), bytes);
    }

    #[test]
    fn truncated_or_extended_snapshots_are_rejected() {
        let bytes = busy_state().encode_snapshot();
        for cut in [0, 7, 12, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                State::decode_snapshot(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = bytes;
        longer.push(0);
        assert_eq!(
            State::decode_snapshot(&longer).err(),
            Some(DecodeError::TrailingBytes(1))
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&VERSION.to_be_bytes());
            bytes.extend_from_slice(&tail);
            let _ = State::decode_snapshot(&bytes);
        }
    }
}

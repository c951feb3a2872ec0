//! State snapshots: the whole state as bytes, so a node restarts from a recent block
//! instead of replaying from genesis.
//!
//! Only the data is stored (accounts in index order, token supplies, queue position,
//! revealed secrets in reveal order, channel records in open order); every Merkle tree is
//! rebuilt on load, partitions in parallel, and the caller checks the rebuilt root against
//! the block header it trusts.
//!
//! A channel record is `id ‖ u32 wallet ‖ u32 hub ‖ u32 token ‖ u128 total ‖ u128
//! walletSide ‖ u128 hubSide ‖ u8 status`, followed for a disputed channel by `u64
//! deadline` and the registered state in the codec's encoding ([`crate::codec`]).

use rayon::prelude::*;

use crate::{
    channel::{ChannelRecord, ChannelState, ChannelStatus},
    codec::{Encode, Reader, Writer},
    error::DecodeError,
    primitives::{B256, keccak256},
    state::{Balance, PARTITIONS, State, commit_partition},
};

const MAGIC: &[u8; 8] = b"WEFTSNAP";
/// 2: channel records follow the secrets.
const VERSION: u32 = 2;

/// Bytes of a channel record before its status-dependent tail.
const CHANNEL_FIXED_LEN: usize = 32 + 3 * 4 + 3 * 16 + 1;

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
        w.u32(&(self.channels.records.len() as u32));
        for c in &self.channels.records {
            w.b256(&c.id);
            w.u32(&c.wallet);
            w.u32(&c.hub);
            w.u32(&c.token);
            w.u128(&c.total);
            w.u128(&c.wallet_side);
            w.u128(&c.hub_side);
            w.u8(c.status.as_u8());
            if let ChannelStatus::Disputed { state, deadline } = &c.status {
                w.u64(deadline);
                state.encode(w.0);
            }
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
        let channels = r.u32()? as usize;
        if channels > r.0.len() / CHANNEL_FIXED_LEN {
            return Err(DecodeError::UnexpectedEnd);
        }
        let mut records = Vec::with_capacity(channels);
        for _ in 0..channels {
            records.push(decode_channel(&mut r, &state)?);
        }
        if !buf.is_empty() {
            return Err(DecodeError::TrailingBytes(buf.len()));
        }
        state.secrets.tree.update(&leaves);
        let mut ids = alloy_primitives::map::B256Set::default();
        if !records.iter().all(|c| ids.insert(c.id)) {
            return Err(DecodeError::Invalid("duplicate channel in snapshot"));
        }
        state.channels.commit(Vec::new(), records);
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

/// One channel record (see the module docs); its accounts and token must exist.
fn decode_channel(r: &mut Reader<'_, '_>, state: &State) -> Result<ChannelRecord, DecodeError> {
    let id = r.b256()?;
    let (wallet, hub, token) = (r.u32()?, r.u32()?, r.u32()?);
    if wallet >= state.account_count() || hub >= state.account_count() || wallet == hub {
        return Err(DecodeError::Invalid("channel participants"));
    }
    if token >= state.token_count() {
        return Err(DecodeError::Invalid("channel token"));
    }
    let (total, wallet_side, hub_side) = (r.u128()?, r.u128()?, r.u128()?);
    let status = match r.u8()? {
        0 => ChannelStatus::Open,
        1 => {
            let deadline = r.u64()?;
            let state: ChannelState = r.value()?;
            ChannelStatus::Disputed { state, deadline }
        }
        2 => ChannelStatus::Closed,
        _ => return Err(DecodeError::Invalid("channel status")),
    };
    Ok(ChannelRecord {
        id,
        wallet,
        hub,
        token,
        total,
        wallet_side,
        hub_side,
        status,
    })
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
        let statuses: Vec<u8> = state.channels().iter().map(|c| c.status.as_u8()).collect();
        for status in 0..=2 {
            assert!(
                statuses.contains(&status),
                "status {status} in {statuses:?}"
            );
        }
        let bytes = state.encode_snapshot();
        let back = State::decode_snapshot(&bytes).unwrap();
        assert_eq!(back.state_root(), state.state_root());
        assert_eq!(back.account_count(), state.account_count());
        assert_eq!(back.encode_snapshot(), bytes);
        assert_eq!(back.channels(), state.channels());
        for c in state.channels() {
            assert_eq!(back.channel(&c.id), Some(c));
        }
    }

    #[test]
    fn a_channel_of_an_unknown_account_or_token_is_rejected() {
        let state = busy_state();
        let bytes = state.encode_snapshot();
        let mut tail = Vec::new();
        let mut w = Writer(&mut tail);
        w.u32(&state.channels().len().try_into().unwrap());
        let records_at = bytes.len()
            - state
                .channels()
                .iter()
                .map(|c| {
                    CHANNEL_FIXED_LEN
                        + match &c.status {
                            ChannelStatus::Disputed { state, .. } => 8 + state.to_bytes().len(),
                            _ => 0,
                        }
                })
                .sum::<usize>();
        assert_eq!(&bytes[records_at - 4..records_at], &tail[..]);
        // The first record's wallet index (after the 32-byte id).
        let wallet_at = records_at + 32;
        let mut bad = bytes.clone();
        bad[wallet_at..wallet_at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            State::decode_snapshot(&bad).err(),
            Some(DecodeError::Invalid("channel participants"))
        );
        let token_at = wallet_at + 8;
        let mut bad = bytes.clone();
        bad[token_at..token_at + 4].copy_from_slice(&7u32.to_be_bytes());
        assert_eq!(
            State::decode_snapshot(&bad).err(),
            Some(DecodeError::Invalid("channel token"))
        );
        let status_at = records_at + CHANNEL_FIXED_LEN - 1;
        let mut bad = bytes;
        bad[status_at] = 3;
        assert!(State::decode_snapshot(&bad).is_err());
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

//! Lowering a block to index-based operations, assigning new account indexes in block order.

use alloy_primitives::map::AddressMap;
use rayon::prelude::*;

use crate::{
    error::BlockError,
    execution::BlockEnv,
    primitives::{AccountIndex, Address, Amount, B256, ETH, Nonce, TokenId, keccak256},
    state::State,
    transaction::{Transaction, VerifiedTransaction},
};

/// A transaction with its addresses resolved to account indexes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    Transfer {
        from: AccountIndex,
        to: AccountIndex,
        token: TokenId,
        amount: Amount,
        fee: Amount,
        nonce: Nonce,
    },
    Withdraw {
        from: AccountIndex,
        recipient: Address,
        token: TokenId,
        amount: Amount,
        fee: Amount,
        nonce: Nonce,
    },
    Deposit {
        to: AccountIndex,
        token: TokenId,
        amount: Amount,
    },
    ForcedWithdraw {
        account: AccountIndex,
        token: TokenId,
    },
    RevealSecret {
        from: AccountIndex,
        hashlock: B256,
        fee: Amount,
        nonce: Nonce,
    },
    /// Channel kinds whose rules are not implemented yet: consume the nonce, fail.
    Unsupported { from: AccountIndex, nonce: Nonce },
}

/// A block ready to execute.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) ops: Vec<Op>,
    pub(crate) fee_recipient: AccountIndex,
    /// Known tokens after the block's registrations.
    pub(crate) token_count: u32,
    /// The queue position after the block.
    pub(crate) queue_position: u64,
}

/// Addresses of a transaction that need an index, in field order.
pub(crate) fn addresses(tx: &Transaction) -> [Option<Address>; 2] {
    match tx {
        Transaction::Transfer(t) => [Some(t.from), Some(t.to)],
        Transaction::Deposit(d) => [Some(d.to), None],
        Transaction::ForcedWithdraw(f) => [Some(f.account), None],
        other => [other.sender(), None],
    }
}

/// Each address slot of a transaction with its index, if the address is known.
type Lookup = [Option<(Address, Option<AccountIndex>)>; 2];

/// Blocks below this size are prepared on the calling thread.
const PARALLEL_MIN: usize = 512;

/// Validates queue order and token ids, assigns indexes, lowers transactions.
pub(crate) fn prepare(
    state: &mut State,
    env: &BlockEnv,
    txs: &[VerifiedTransaction],
    pool: Option<&rayon::ThreadPool>,
) -> Result<Prepared, BlockError> {
    // L1 queue order and token registration: the L1 contract assigns token ids in order.
    let mut queue = state.queue_position;
    let mut token_count = state.token_count();
    for tx in txs.iter().filter(|tx| tx.transaction.is_system()) {
        let index = tx
            .transaction
            .queue_index()
            .expect("system kinds have a queue index");
        if index != queue {
            return Err(BlockError::QueueOrder {
                expected: queue,
                got: index,
            });
        }
        queue += 1;
        if let Transaction::Deposit(d) = &tx.transaction {
            if d.token > token_count {
                return Err(BlockError::TokenOrder {
                    expected: token_count,
                    got: d.token,
                });
            }
            if d.token == token_count {
                token_count += 1;
            }
        }
    }
    let new_accounts_bound = 1 + 2 * txs.len() as u64;
    if u64::from(state.account_count()) + new_accounts_bound > u64::from(u32::MAX) {
        return Err(BlockError::AccountsExhausted);
    }
    let pool = pool.filter(|_| txs.len() >= PARALLEL_MIN);

    // Look up every address, then assign the misses in block order (the only serial step;
    // it touches new addresses alone), then lower every transaction.
    let lookup = |tx: &VerifiedTransaction| -> Lookup {
        addresses(&tx.transaction).map(|a| a.map(|a| (a, state.index_of(&a))))
    };
    let found: Vec<Lookup> = match pool {
        Some(pool) => pool.install(|| txs.par_iter().map(lookup).collect()),
        None => txs.iter().map(lookup).collect(),
    };
    let mut fresh: AddressMap<AccountIndex> = AddressMap::default();
    let fee_recipient = match state.index_of(&env.fee_recipient) {
        Some(i) => i,
        None => *fresh
            .entry(env.fee_recipient)
            .or_insert_with(|| state.push_account(env.fee_recipient)),
    };
    for (address, _) in found
        .iter()
        .flatten()
        .flatten()
        .filter(|(_, known)| known.is_none())
    {
        fresh
            .entry(*address)
            .or_insert_with(|| state.push_account(*address));
    }
    let lower = |(tx, slots): (&VerifiedTransaction, &Lookup)| {
        let idx = slots.map(|s| s.map_or(0, |(a, known)| known.unwrap_or_else(|| fresh[&a])));
        lower(&tx.transaction, idx)
    };
    let ops: Vec<Op> = match pool {
        Some(pool) => pool.install(|| txs.par_iter().zip(&found).map(lower).collect()),
        None => txs.iter().zip(&found).map(lower).collect(),
    };
    // Registering happens here, before execution, so both executors see the same tokens.
    state.supply.resize(token_count as usize, 0);
    debug_assert!(state.token_count() > ETH);
    Ok(Prepared {
        ops,
        fee_recipient,
        token_count,
        queue_position: queue,
    })
}

/// A transaction as an [`Op`] over the indexes of its address slots.
fn lower(tx: &Transaction, idx: [AccountIndex; 2]) -> Op {
    match tx {
        Transaction::Transfer(t) => Op::Transfer {
            from: idx[0],
            to: idx[1],
            token: t.token,
            amount: t.amount,
            fee: t.fee,
            nonce: t.nonce,
        },
        Transaction::Withdraw(t) => Op::Withdraw {
            from: idx[0],
            recipient: t.l1_recipient,
            token: t.token,
            amount: t.amount,
            fee: t.fee,
            nonce: t.nonce,
        },
        Transaction::Deposit(d) => Op::Deposit {
            to: idx[0],
            token: d.token,
            amount: d.amount,
        },
        Transaction::ForcedWithdraw(f) => Op::ForcedWithdraw {
            account: idx[0],
            token: f.token,
        },
        Transaction::RevealSecret(r) => Op::RevealSecret {
            from: idx[0],
            hashlock: keccak256(r.secret),
            fee: r.fee,
            nonce: r.nonce,
        },
        other => {
            let (_, nonce, _) = other.signer_fields().expect("channel kinds are signed");
            Op::Unsupported {
                from: idx[0],
                nonce,
            }
        }
    }
}

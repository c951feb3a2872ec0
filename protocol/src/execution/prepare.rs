//! Lowering a block to index-based operations, assigning new account indexes in block order.

use alloy_primitives::map::AddressMap;
use rayon::prelude::*;

use crate::{
    error::BlockError,
    execution::BlockEnv,
    primitives::{AccountIndex, Address, Amount, B256, ETH, Nonce, TokenId, keccak256},
    state::{PARTITIONS, State, partition_of, position_of},
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
    /// Positions touched per partition (unsorted, may repeat).
    pub(crate) touched: Vec<Vec<usize>>,
    /// Known tokens after the block's registrations.
    pub(crate) token_count: u32,
    /// The queue position after the block.
    pub(crate) queue_position: u64,
}

/// Addresses of a transaction that need an index, in field order.
fn addresses(tx: &Transaction) -> [Option<Address>; 2] {
    match tx {
        Transaction::Transfer(t) => [Some(t.from), Some(t.to)],
        Transaction::Deposit(d) => [Some(d.to), None],
        Transaction::ForcedWithdraw(f) => [Some(f.account), None],
        other => [other.sender(), None],
    }
}

/// Each address slot of a transaction with its index, if the address is known.
type Lookup = [Option<(Address, Option<AccountIndex>)>; 2];

/// Blocks below this size resolve addresses on the calling thread.
const PARALLEL_LOOKUP_MIN: usize = 512;

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
    for tx in txs {
        if let Some(index) = tx.transaction.queue_index() {
            if index != queue {
                return Err(BlockError::QueueOrder {
                    expected: queue,
                    got: index,
                });
            }
            queue += 1;
        }
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

    // Look up every address (in parallel for large blocks), then assign new indexes in order.
    let lookup = |tx: &VerifiedTransaction| {
        addresses(&tx.transaction).map(|a| a.map(|a| (a, state.index_of(&a))))
    };
    let found: Vec<Lookup> = match pool {
        Some(pool) if txs.len() >= PARALLEL_LOOKUP_MIN => {
            pool.install(|| txs.par_iter().map(lookup).collect())
        }
        _ => txs.iter().map(lookup).collect(),
    };
    let mut fresh: AddressMap<AccountIndex> = AddressMap::default();
    let mut resolve = |state: &mut State, address: Address, known: Option<AccountIndex>| {
        known.unwrap_or_else(|| {
            *fresh
                .entry(address)
                .or_insert_with(|| state.push_account(address))
        })
    };
    let fee_known = state.index_of(&env.fee_recipient);
    let fee_recipient = resolve(state, env.fee_recipient, fee_known);

    let mut touched: Vec<Vec<usize>> = (0..PARTITIONS)
        .map(|_| Vec::with_capacity(2 * txs.len() / PARTITIONS + 1))
        .collect();
    let mut touch = |idx: AccountIndex| touched[partition_of(idx)].push(position_of(idx));
    touch(fee_recipient);

    let mut ops = Vec::with_capacity(txs.len());
    for (tx, slots) in txs.iter().zip(found) {
        let mut idx = [0 as AccountIndex; 2];
        for (i, slot) in slots.into_iter().enumerate() {
            if let Some((address, known)) = slot {
                idx[i] = resolve(state, address, known);
                touch(idx[i]);
            }
        }
        let op = match &tx.transaction {
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
        };
        ops.push(op);
    }
    // Registering happens here, before execution, so both executors see the same tokens.
    state.supply.resize(token_count as usize, 0);
    debug_assert!(state.token_count() > ETH);
    Ok(Prepared {
        ops,
        fee_recipient,
        touched,
        token_count,
        queue_position: queue,
    })
}

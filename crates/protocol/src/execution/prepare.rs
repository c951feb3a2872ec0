//! Lowering a block to index-based operations, assigning new account indexes in block order
//! and resolving the channels that channel kinds refer to.

use alloy_primitives::map::{AddressMap, B256Map};
use rayon::prelude::*;

use crate::{
    channel::{ChannelState, ChannelStatus, channel_id},
    eip712::{Domain, Eip712},
    error::BlockError,
    execution::BlockEnv,
    primitives::{AccountIndex, Address, Amount, B256, Bytes, ETH, Nonce, TokenId, keccak256},
    signature::Signature,
    state::State,
    transaction::{ChannelSettle, Transaction, VerifiedTransaction},
};

/// A transaction with its addresses resolved to account indexes.
#[derive(Debug, Clone)]
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
    /// Every channel kind (rare: boxed, so the common kinds stay small).
    Channel(Box<ChannelOp>),
    /// An EVM transaction (the block's transaction at the same position); its accesses
    /// are known only by running it (`execution::mixed`, `execution::optimistic`).
    Evm { sender: AccountIndex },
}

/// A channel kind, lowered.
#[derive(Debug, Clone)]
pub(crate) struct ChannelOp {
    pub(crate) from: AccountIndex,
    pub(crate) nonce: Nonce,
    pub(crate) fee: Amount,
    pub(crate) channel: ChannelRef,
    pub(crate) kind: ChannelKind,
}

/// What a channel kind does.
#[derive(Debug, Clone)]
pub(crate) enum ChannelKind {
    Open {
        hub: AccountIndex,
        token: TokenId,
        amount: Amount,
    },
    Deposit {
        amount: Amount,
        /// The co-signed state after the deposit.
        state: ChannelState,
        /// As for [`ChannelKind::Settle`].
        signers: Option<(AccountIndex, AccountIndex)>,
    },
    Settle {
        action: SettleAction,
        state: ChannelState,
        /// The account indexes that the wallet and hub signatures recover to, if both
        /// recover to indexed accounts (recovered here, on the pool, not while executing).
        signers: Option<(AccountIndex, AccountIndex)>,
    },
    Conclude {
        /// The hashlocks of the registered state's locks, read from the secret registry.
        hashlocks: Vec<B256>,
    },
}

/// Which co-signed-state kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SettleAction {
    Close,
    Register,
    Refute,
}

/// The channel a channel kind refers to, resolved before execution.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChannelRef {
    pub(crate) id: B256,
    pub(crate) slot: Slot,
    /// `(wallet, hub)` of the channel in `slot` (meaningless for [`Slot::Missing`]).
    pub(crate) parties: (AccountIndex, AccountIndex),
}

/// Where a channel's record lives while the block executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// In the state's table, at this position.
    Table(u32),
    /// Opened in this block: its slot among the block's new channels (one per distinct id
    /// a `channelOpen` of the block names, in order of first appearance); empty until an
    /// open succeeds.
    New(u32),
    /// Neither in the table nor opened earlier in the block: cannot exist when the
    /// transaction runs.
    Missing,
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
    /// Number of [`Slot::New`] slots.
    pub(crate) new_channels: usize,
    /// Table positions of the channels the block refers to (their leaves are rehashed).
    pub(crate) touched_channels: Vec<usize>,
}

impl Prepared {
    /// Whether the block has EVM transactions (then it runs through `execution::mixed`).
    pub(crate) fn has_evm(&self) -> bool {
        self.ops.iter().any(|op| matches!(op, Op::Evm { .. }))
    }
}

/// Addresses of a transaction that need an index, in field order.
pub(crate) fn addresses(tx: &Transaction) -> [Option<Address>; 2] {
    match tx {
        Transaction::Transfer(t) => [Some(t.from), Some(t.to)],
        Transaction::ChannelOpen(t) => [Some(t.from), Some(t.hub)],
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
    let indexed: &State = state;
    let signer = |state: &ChannelState, wallet_signature: &Bytes, hub_signature: &Bytes| {
        signers(indexed, &env.domain, state, wallet_signature, hub_signature)
    };
    let lower = |(tx, slots): (&VerifiedTransaction, &Lookup)| {
        let idx = slots.map(|s| s.map_or(0, |(a, known)| known.unwrap_or_else(|| fresh[&a])));
        lower(&tx.transaction, idx, &signer)
    };
    let mut ops: Vec<Op> = match pool {
        Some(pool) => pool.install(|| txs.par_iter().zip(&found).map(lower).collect()),
        None => txs.iter().zip(&found).map(lower).collect(),
    };
    let (new_channels, touched_channels) = resolve_channels(state, &mut ops);
    // Registering happens here, before execution, so both executors see the same tokens.
    state.supply.resize(token_count as usize, 0);
    debug_assert!(state.token_count() > ETH);
    Ok(Prepared {
        ops,
        fee_recipient,
        token_count,
        queue_position: queue,
        new_channels,
        touched_channels,
    })
}

/// The indexes of the accounts whose keys made a settle kind's or a deposit's two
/// co-signatures over its state, if both are well-formed, low-s, and recover to indexed
/// accounts (a participant always is: indexes are assigned before lowering).
fn signers(
    state: &State,
    domain: &Domain,
    channel_state: &ChannelState,
    wallet_signature: &Bytes,
    hub_signature: &Bytes,
) -> Option<(AccountIndex, AccountIndex)> {
    let digest = channel_state.signing_hash(domain);
    let recover = |sig: &Bytes| -> Option<AccountIndex> {
        let address = Signature::from_bytes(sig).ok()?.recover(&digest).ok()?;
        state.index_of(&address)
    };
    Some((recover(wallet_signature)?, recover(hub_signature)?))
}

/// Recovers the co-signers of a state (see [`signers`]).
type Signers<'a> =
    dyn Fn(&ChannelState, &Bytes, &Bytes) -> Option<(AccountIndex, AccountIndex)> + 'a;

/// Resolves the channel of every channel kind, in block order: a channel in the state's
/// table, or one that a `channelOpen` earlier in the block names (the open may still fail;
/// then the slot stays empty and the later kinds fail with `unknown_channel`). Fills the
/// parties and, for conclusions, the hashlocks the conclusion will read.
///
/// Those hashlocks come from the table as it was before the block. That is exact: a
/// conclusion succeeds only after its deadline, and no transaction of the block can have
/// changed the registered state by then (a registration in this block sets a deadline
/// after this block; a refutation needs the deadline not to have passed).
///
/// Returns the number of new-channel slots and the table positions referred to.
fn resolve_channels(state: &State, ops: &mut [Op]) -> (usize, Vec<usize>) {
    let mut new: B256Map<u32> = B256Map::default();
    let mut new_parties: Vec<(AccountIndex, AccountIndex)> = Vec::new();
    let mut touched = Vec::new();
    let table = &state.channels;
    for op in ops {
        let Op::Channel(c) = op else { continue };
        let id = c.channel.id;
        let slot = match (table.position(&id), &c.kind) {
            (Some(pos), _) => Slot::Table(pos),
            (None, ChannelKind::Open { hub, .. }) => {
                let next = new_parties.len() as u32;
                let slot = *new.entry(id).or_insert(next);
                if slot == next {
                    new_parties.push((c.from, *hub));
                }
                Slot::New(slot)
            }
            (None, _) => new.get(&id).map_or(Slot::Missing, |&s| Slot::New(s)),
        };
        c.channel.slot = slot;
        match slot {
            Slot::Table(pos) => {
                let record = &table.records[pos as usize];
                c.channel.parties = (record.wallet, record.hub);
                touched.push(pos as usize);
                if let (
                    ChannelKind::Conclude { hashlocks },
                    ChannelStatus::Disputed { state, .. },
                ) = (&mut c.kind, &record.status)
                {
                    hashlocks.extend(state.locks.iter().map(|l| l.hashlock));
                    hashlocks.sort_unstable();
                    hashlocks.dedup();
                }
            }
            Slot::New(s) => c.channel.parties = new_parties[s as usize],
            Slot::Missing => {}
        }
    }
    (new_parties.len(), touched)
}

/// A transaction as an [`Op`] over the indexes of its address slots.
fn lower(tx: &Transaction, idx: [AccountIndex; 2], signers: &Signers<'_>) -> Op {
    let channel = |id| ChannelRef {
        id,
        slot: Slot::Missing,
        parties: (0, 0),
    };
    let settle = |action, s: &ChannelSettle| {
        Op::Channel(Box::new(ChannelOp {
            from: idx[0],
            nonce: s.nonce,
            fee: s.fee,
            channel: channel(s.state.channel_id),
            kind: ChannelKind::Settle {
                action,
                state: s.state.clone(),
                signers: signers(&s.state, &s.wallet_signature, &s.hub_signature),
            },
        }))
    };
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
        Transaction::ChannelOpen(t) => Op::Channel(Box::new(ChannelOp {
            from: idx[0],
            nonce: t.nonce,
            fee: t.fee,
            channel: channel(channel_id(&t.from, &t.hub, t.nonce)),
            kind: ChannelKind::Open {
                hub: idx[1],
                token: t.token,
                amount: t.amount,
            },
        })),
        Transaction::ChannelDeposit(t) => Op::Channel(Box::new(ChannelOp {
            from: idx[0],
            nonce: t.nonce,
            fee: t.fee,
            channel: channel(t.channel_id),
            kind: ChannelKind::Deposit {
                amount: t.amount,
                state: t.state.clone(),
                signers: signers(&t.state, &t.wallet_signature, &t.hub_signature),
            },
        })),
        Transaction::ChannelClose(s) => settle(SettleAction::Close, s),
        Transaction::ChannelRegister(s) => settle(SettleAction::Register, s),
        Transaction::ChannelRefute(s) => settle(SettleAction::Refute, s),
        Transaction::Evm(_) => Op::Evm { sender: idx[0] },
        Transaction::ChannelConclude(t) => Op::Channel(Box::new(ChannelOp {
            from: idx[0],
            nonce: t.nonce,
            fee: t.fee,
            channel: channel(t.channel_id),
            kind: ChannelKind::Conclude {
                hashlocks: Vec::new(),
            },
        })),
    }
}

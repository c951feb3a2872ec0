//! The channel kinds' rules: funding (open, deposit) and settlement (cooperative close,
//! register, refute, conclude with lock resolution). DESIGN.md, "Channels".
//!
//! A channel holds one token for a wallet and the hub. On the rollup it is a
//! [`ChannelRecord`]: who is in it, what each side put in, what it holds (`total`), and its
//! status. Off the rollup both parties co-sign [`crate::channel::ChannelState`]s that split
//! the total into two balances and pending hashlocked payments (locks).
//!
//! - `channelOpen` (the wallet): takes `amount` from the wallet into a new channel with
//!   `hub`, id [`crate::channel::channel_id`]`(wallet, hub, nonce)`. The hub gets its
//!   account index when the block is prepared, like any address a transaction names.
//! - `channelDeposit` (a participant, open channels): adds to the sender's side. It carries
//!   the channel's state after the deposit, signed by both, whose balances and locks sum
//!   to the new total: every total the channel ever holds is split by a co-signed state.
//! - `channelClose` (a participant, open or disputed): a final state without locks, signed
//!   by both, whose balances sum to the total, pays both balances out at once.
//! - `channelRegister` (a participant, open channels): a co-signed state whose balances and
//!   locks sum to the total becomes the registered state; the dispute ends after
//!   `number + dispute_window` (a chain parameter of the block's environment).
//! - `channelRefute` (a participant, until the deadline inclusive): a co-signed state of a
//!   strictly higher version and the same total replaces the registered one; the deadline
//!   stays.
//! - `channelConclude` (anyone, after the deadline): pays the registered state: both
//!   balances, and each lock to its receiver if its secret was revealed on the rollup in a
//!   block at or before the lock's expiry, otherwise back to its sender. A lock whose
//!   secret is not revealed by then returns to its sender even if it has not expired: the
//!   receiver has the whole dispute window to reveal it.
//!
//! Failures and their order are listed on [`FailureReason`]. Every failure after the
//! nonce consumes it; after the channel is found and the fee is paid (in the channel's
//! token) the fee stays paid.
//!
//! Co-signatures are recovered while the block is prepared (on the pool, see
//! `prepare.rs`); the rules compare the recovered accounts with the record's.

use crate::{
    channel::{ChannelRecord, ChannelState, ChannelStatus, LockDirection, MAX_LOCKS},
    execution::{
        FailureReason, Receipt,
        prepare::{ChannelKind, ChannelOp, SettleAction, Slot},
        rules::{BlockFacts, Ctx, debit_amount, pay_fee, take_fee, take_nonce},
    },
    primitives::{AccountIndex, Amount, TokenId},
};

/// Applies one channel kind; `tx` is its position in the block.
pub(super) fn apply(op: &ChannelOp, tx: u32, facts: &BlockFacts, ctx: &mut impl Ctx) -> Receipt {
    if let Err(r) = take_nonce(ctx, op.from, op.nonce) {
        return r;
    }
    let token = match op.kind {
        ChannelKind::Open { token, .. } if token >= facts.token_count => {
            return Receipt::failed(FailureReason::UnknownToken, 0);
        }
        ChannelKind::Open { token, .. } => token,
        _ => match ctx.channel(op.channel.slot) {
            Some(record) => record.token,
            None => return Receipt::failed(FailureReason::UnknownChannel, 0),
        },
    };
    if let Err(r) = take_fee(ctx, op.from, token, op.fee) {
        return r;
    }
    pay_fee(ctx, facts, token, op.fee);
    let outcome = match &op.kind {
        ChannelKind::Open { hub, amount, .. } => open(op, tx, *hub, token, *amount, ctx),
        ChannelKind::Deposit {
            amount,
            state,
            signers,
        } => deposit(op, *amount, state, *signers, ctx),
        ChannelKind::Settle {
            action,
            state,
            signers,
        } => settle(op, *action, state, *signers, facts, ctx),
        ChannelKind::Conclude { .. } => conclude(op, facts, ctx),
    };
    match outcome {
        Ok(()) => Receipt::success(op.fee),
        Err(reason) => Receipt::failed(reason, op.fee),
    }
}

/// The record of a channel found before the fee was charged.
fn record(ctx: &mut impl Ctx, slot: Slot) -> &mut ChannelRecord {
    ctx.channel(slot)
        .expect("the channel was found before the fee was charged")
}

fn open(
    op: &ChannelOp,
    tx: u32,
    hub: AccountIndex,
    token: TokenId,
    amount: Amount,
    ctx: &mut impl Ctx,
) -> Result<(), FailureReason> {
    if op.from == hub {
        return Err(FailureReason::SelfChannel);
    }
    let slot = match op.channel.slot {
        Slot::New(slot) if ctx.channel(op.channel.slot).is_none() => slot,
        _ => return Err(FailureReason::ChannelExists),
    };
    debit_amount(ctx, op.from, token, amount, op.fee)?;
    let record = ChannelRecord {
        id: op.channel.id,
        wallet: op.from,
        hub,
        token,
        total: amount,
        wallet_side: amount,
        hub_side: 0,
        status: ChannelStatus::Open,
    };
    ctx.open_channel(slot, record, tx);
    Ok(())
}

fn deposit(
    op: &ChannelOp,
    amount: Amount,
    state: &ChannelState,
    signers: Option<(AccountIndex, AccountIndex)>,
    ctx: &mut impl Ctx,
) -> Result<(), FailureReason> {
    let channel = record(ctx, op.channel.slot);
    if !channel.is_participant(op.from) {
        return Err(FailureReason::NotParticipant);
    }
    if channel.status != ChannelStatus::Open {
        return Err(FailureReason::ChannelNotOpen);
    }
    if amount == 0 {
        return Err(FailureReason::ZeroAmount);
    }
    // Only an amount that no balance can hold (supplies are bounded) gets the total past
    // 2^128 - 1: reported like an `amount + fee` overflow, before anything moves.
    let total = channel
        .total
        .checked_add(amount)
        .ok_or(FailureReason::AmountOverflow)?;
    // Both participants agreed how the grown total is split: a deposit nobody co-signed
    // would leave the channel with a total no co-signed state matches (nothing could
    // close, register or refute it). A state of another channel is no agreement here.
    if signers != Some((channel.wallet, channel.hub)) || state.channel_id != channel.id {
        return Err(FailureReason::InvalidCoSignature);
    }
    if state.total() != Some(total) {
        return Err(FailureReason::TotalMismatch);
    }
    let token = channel.token;
    debit_amount(ctx, op.from, token, amount, op.fee)?;
    let channel = record(ctx, op.channel.slot);
    channel.total = total;
    if op.from == channel.wallet {
        channel.wallet_side += amount;
    } else {
        channel.hub_side += amount;
    }
    Ok(())
}

fn settle(
    op: &ChannelOp,
    action: SettleAction,
    state: &ChannelState,
    signers: Option<(AccountIndex, AccountIndex)>,
    facts: &BlockFacts,
    ctx: &mut impl Ctx,
) -> Result<(), FailureReason> {
    let channel = record(ctx, op.channel.slot);
    if !channel.is_participant(op.from) {
        return Err(FailureReason::NotParticipant);
    }
    match (action, &channel.status) {
        (SettleAction::Close, ChannelStatus::Closed) => return Err(FailureReason::ChannelClosed),
        (SettleAction::Close, _) => {}
        (SettleAction::Register, ChannelStatus::Open) => {}
        (SettleAction::Register, _) => return Err(FailureReason::ChannelNotOpen),
        (SettleAction::Refute, ChannelStatus::Disputed { deadline, .. }) => {
            if facts.number > *deadline {
                return Err(FailureReason::DisputeExpired);
            }
        }
        (SettleAction::Refute, _) => return Err(FailureReason::ChannelNotDisputed),
    }
    if signers != Some((channel.wallet, channel.hub)) {
        return Err(FailureReason::InvalidCoSignature);
    }
    match action {
        SettleAction::Close if !state.is_final || !state.locks.is_empty() => {
            return Err(FailureReason::NotFinal);
        }
        SettleAction::Close => {}
        SettleAction::Register | SettleAction::Refute if state.locks.len() > MAX_LOCKS => {
            return Err(FailureReason::TooManyLocks);
        }
        SettleAction::Register | SettleAction::Refute => {}
    }
    if let ChannelStatus::Disputed {
        state: registered, ..
    } = &channel.status
        && action == SettleAction::Refute
        && state.version <= registered.version
    {
        return Err(FailureReason::StaleVersion);
    }
    if state.total() != Some(channel.total) {
        return Err(FailureReason::TotalMismatch);
    }
    match action {
        SettleAction::Close => {
            let (wallet, hub, token) = (channel.wallet, channel.hub, channel.token);
            channel.status = ChannelStatus::Closed;
            channel.total = 0;
            pay(ctx, wallet, token, state.balance_wallet);
            pay(ctx, hub, token, state.balance_hub);
        }
        SettleAction::Register => {
            channel.status = ChannelStatus::Disputed {
                state: state.clone(),
                deadline: facts.number.saturating_add(facts.dispute_window),
            };
        }
        SettleAction::Refute => {
            if let ChannelStatus::Disputed {
                state: registered, ..
            } = &mut channel.status
            {
                *registered = state.clone();
            }
        }
    }
    Ok(())
}

fn conclude(op: &ChannelOp, facts: &BlockFacts, ctx: &mut impl Ctx) -> Result<(), FailureReason> {
    let channel = record(ctx, op.channel.slot);
    match &channel.status {
        ChannelStatus::Disputed { deadline, .. } if facts.number <= *deadline => {
            return Err(FailureReason::DisputePending);
        }
        ChannelStatus::Disputed { .. } => {}
        _ => return Err(FailureReason::ChannelNotDisputed),
    }
    let ChannelStatus::Disputed { state, .. } =
        std::mem::replace(&mut channel.status, ChannelStatus::Closed)
    else {
        unreachable!("checked above")
    };
    let (wallet, hub, token, total) = (channel.wallet, channel.hub, channel.token, channel.total);
    channel.total = 0;
    let (mut to_wallet, mut to_hub) = (state.balance_wallet, state.balance_hub);
    for lock in &state.locks {
        debug_assert!(
            matches!(&op.kind, ChannelKind::Conclude { hashlocks } if hashlocks.contains(&lock.hashlock)),
            "a conclusion reads only the secrets its access set declares"
        );
        let revealed = ctx
            .revealed_at(&lock.hashlock)
            .is_some_and(|block| block <= lock.expiry);
        let to_hub_side = match lock.direction {
            LockDirection::WalletToHub => revealed,
            LockDirection::HubToWallet => !revealed,
        };
        if to_hub_side {
            to_hub += lock.amount;
        } else {
            to_wallet += lock.amount;
        }
    }
    debug_assert_eq!(
        to_wallet + to_hub,
        total,
        "registered states match the total"
    );
    pay(ctx, wallet, token, to_wallet);
    pay(ctx, hub, token, to_hub);
    Ok(())
}

/// Credits a payout (mode credit on the participant's account).
fn pay(ctx: &mut impl Ctx, to: AccountIndex, token: TokenId, amount: Amount) {
    if amount != 0 {
        ctx.credit(to, token, amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        channel::channel_id,
        execution::{BlockExecutor, FailureReason, ParallelExecutor, SequentialExecutor},
        primitives::Address,
        state::{Balance, GenesisAccount, State},
        testkit::{env, test_domain},
        transaction::{ChannelOpen, Transaction},
    };

    /// Ids derive from the opener's nonce, so an existing id can only be planted.
    #[test]
    fn an_open_whose_id_exists_fails_with_channel_exists_and_charges_the_fee() {
        let (wallet, hub) = (Address::repeat_byte(0xa1), Address::repeat_byte(0x40));
        let mut state = State::genesis(
            &[
                GenesisAccount {
                    address: wallet,
                    balances: vec![Balance {
                        token: 0,
                        amount: 100,
                    }],
                },
                GenesisAccount {
                    address: hub,
                    balances: vec![],
                },
            ],
            1,
        )
        .unwrap();
        let id = channel_id(&wallet, &hub, 0);
        let planted = ChannelRecord {
            id,
            wallet: 0,
            hub: 1,
            token: 0,
            total: 0,
            wallet_side: 0,
            hub_side: 0,
            status: ChannelStatus::Closed,
        };
        state.channels.commit(Vec::new(), vec![planted.clone()]);
        let open = Transaction::ChannelOpen(ChannelOpen {
            from: wallet,
            hub,
            token: 0,
            amount: 10,
            fee: 2,
            nonce: 0,
        })
        .assume_verified(&test_domain());
        let mut seq = state.clone();
        let out = SequentialExecutor
            .execute_block(&mut seq, &env(1), std::slice::from_ref(&open))
            .unwrap();
        let mut par = state;
        let par_out = ParallelExecutor::new(2)
            .always_parallel()
            .execute_block(&mut par, &env(1), &[open])
            .unwrap();
        assert_eq!(par_out, out);
        assert_eq!(
            out.receipts,
            vec![Receipt::failed(FailureReason::ChannelExists, 2)]
        );
        assert_eq!(seq.channels(), [planted]);
        let account = seq.account_by_address(&wallet).unwrap();
        assert_eq!((account.nonce, account.eth()), (1, 98));
    }
}

//! The state transition of each kind, written once against [`Ctx`], which each executor
//! implements over its own view of the state.

use crate::{
    channel::ChannelRecord,
    execution::{
        BlockEnv, FailureReason, Receipt, Withdrawal, channels,
        prepare::{Op, Prepared, Slot},
    },
    primitives::{AccountIndex, Amount, B256, ETH, Nonce, TokenId},
    state::Account,
};

/// The state as one transaction sees it.
pub(crate) trait Ctx {
    /// An account the transaction writes (in its access set with mode write).
    fn account(&mut self, idx: AccountIndex) -> &mut Account;
    /// Adds to an account's balance (mode credit).
    fn credit(&mut self, idx: AccountIndex, token: TokenId, amount: Amount);
    /// The cumulative supply of a known token (mode write on its supply key).
    fn supply(&mut self, token: TokenId) -> &mut Amount;
    /// The block in which a secret with this hashlock was revealed: an earlier block, or
    /// this one (by an earlier transaction of it). Mode read (or write) on its secret key.
    fn revealed_at(&self, hashlock: &B256) -> Option<u64>;
    /// Records a reveal by transaction `tx` of this block.
    fn reveal(&mut self, hashlock: B256, tx: u32);
    /// The channel record in `slot`, if the channel exists (mode write on its channel key).
    fn channel(&mut self, slot: Slot) -> Option<&mut ChannelRecord>;
    /// Fills the empty new-channel slot `slot` with a channel opened by transaction `tx`.
    fn open_channel(&mut self, slot: u32, record: ChannelRecord, tx: u32);
}

/// Static facts of the block every transaction needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockFacts {
    pub(crate) number: u64,
    pub(crate) fee_recipient: AccountIndex,
    pub(crate) token_count: u32,
    pub(crate) dispute_window: u64,
}

impl BlockFacts {
    pub(crate) fn of(env: &BlockEnv, prepared: &Prepared) -> Self {
        Self {
            number: env.number,
            fee_recipient: prepared.fee_recipient,
            token_count: prepared.token_count,
            dispute_window: env.dispute_window,
        }
    }
}

/// Checks and consumes the nonce of a signed kind.
pub(super) fn take_nonce(
    ctx: &mut impl Ctx,
    from: AccountIndex,
    nonce: Nonce,
) -> Result<(), Receipt> {
    let acc = ctx.account(from);
    if acc.nonce != nonce || nonce == Nonce::MAX {
        return Err(Receipt::failed(FailureReason::BadNonce, 0));
    }
    acc.nonce += 1;
    Ok(())
}

/// Takes the fee from the sender if it holds it; the fee recipient is credited separately
/// ([`pay_fee`]).
pub(super) fn take_fee(
    ctx: &mut impl Ctx,
    from: AccountIndex,
    token: TokenId,
    fee: Amount,
) -> Result<(), Receipt> {
    let acc = ctx.account(from);
    if acc.balance(token) < fee {
        return Err(Receipt::failed(FailureReason::InsufficientFee, 0));
    }
    if fee != 0 {
        acc.debit(token, fee);
    }
    Ok(())
}

/// The common prefix of every signed kind with a token of its own: check and consume the
/// nonce, check the token, charge the fee. On success the fee has left the sender but not
/// yet reached the fee recipient.
fn begin(
    ctx: &mut impl Ctx,
    facts: &BlockFacts,
    from: AccountIndex,
    nonce: Nonce,
    token: TokenId,
    fee: Amount,
) -> Result<(), Receipt> {
    take_nonce(ctx, from, nonce)?;
    if token >= facts.token_count {
        return Err(Receipt::failed(FailureReason::UnknownToken, 0));
    }
    take_fee(ctx, from, token, fee)
}

pub(super) fn pay_fee(ctx: &mut impl Ctx, facts: &BlockFacts, token: TokenId, fee: Amount) {
    if fee != 0 {
        ctx.credit(facts.fee_recipient, token, fee);
    }
}

/// Checks shared by transfers, withdrawals and channel funding once the fee is paid;
/// debits `amount`.
pub(super) fn debit_amount(
    ctx: &mut impl Ctx,
    from: AccountIndex,
    token: TokenId,
    amount: Amount,
    fee: Amount,
) -> Result<(), FailureReason> {
    if amount == 0 {
        return Err(FailureReason::ZeroAmount);
    }
    if amount.checked_add(fee).is_none() {
        return Err(FailureReason::AmountOverflow);
    }
    let acc = ctx.account(from);
    if acc.balance(token) < amount {
        return Err(FailureReason::InsufficientBalance);
    }
    acc.debit(token, amount);
    Ok(())
}

/// Applies one operation; `tx` is its position in the block.
pub(crate) fn apply(op: &Op, tx: u32, facts: &BlockFacts, ctx: &mut impl Ctx) -> Receipt {
    match *op {
        Op::Evm { .. } => unreachable!("EVM transactions run in execution::mixed"),
        Op::Channel(ref c) => channels::apply(c, tx, facts, ctx),
        Op::Transfer {
            from,
            to,
            token,
            amount,
            fee,
            nonce,
        } => {
            if let Err(r) = begin(ctx, facts, from, nonce, token, fee) {
                return r;
            }
            pay_fee(ctx, facts, token, fee);
            if from == to && amount != 0 {
                return Receipt::failed(FailureReason::SelfTransfer, fee);
            }
            match debit_amount(ctx, from, token, amount, fee) {
                Ok(()) => {
                    ctx.credit(to, token, amount);
                    Receipt::success(fee)
                }
                Err(reason) => Receipt::failed(reason, fee),
            }
        }
        Op::Withdraw {
            from,
            recipient,
            token,
            amount,
            fee,
            nonce,
        } => {
            if let Err(r) = begin(ctx, facts, from, nonce, token, fee) {
                return r;
            }
            pay_fee(ctx, facts, token, fee);
            match debit_amount(ctx, from, token, amount, fee) {
                Ok(()) => Receipt {
                    withdrawal: Some(Withdrawal {
                        recipient,
                        token,
                        amount,
                    }),
                    ..Receipt::success(fee)
                },
                Err(reason) => Receipt::failed(reason, fee),
            }
        }
        Op::Deposit { to, token, amount } => {
            let supply = ctx.supply(token);
            match supply.checked_add(amount) {
                Some(total) => {
                    *supply = total;
                    ctx.credit(to, token, amount);
                    Receipt::success(0)
                }
                None => Receipt::failed(FailureReason::SupplyOverflow, 0),
            }
        }
        Op::ForcedWithdraw { account, token } => {
            if token >= facts.token_count {
                return Receipt::failed(FailureReason::UnknownToken, 0);
            }
            let acc = ctx.account(account);
            let amount = acc.balance(token);
            if amount == 0 {
                return Receipt::failed(FailureReason::NothingToWithdraw, 0);
            }
            acc.debit(token, amount);
            let recipient = acc.address;
            Receipt {
                withdrawal: Some(Withdrawal {
                    recipient,
                    token,
                    amount,
                }),
                ..Receipt::success(0)
            }
        }
        Op::RevealSecret {
            from,
            hashlock,
            fee,
            nonce,
        } => {
            if let Err(r) = begin(ctx, facts, from, nonce, ETH, fee) {
                return r;
            }
            pay_fee(ctx, facts, ETH, fee);
            if ctx.revealed_at(&hashlock).is_some() {
                return Receipt::failed(FailureReason::SecretAlreadyRevealed, fee);
            }
            ctx.reveal(hashlock, tx);
            Receipt::success(fee)
        }
    }
}

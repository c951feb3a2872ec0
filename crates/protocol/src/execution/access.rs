//! Access sets: the keys each kind touches and how, declared before execution.

use crate::{
    execution::prepare::{ChannelKind, Op, SettleAction, Slot},
    primitives::{AccountIndex, B256, TokenId},
    state::{PARTITIONS, partition_of, position_of},
};

/// A piece of state a transaction can touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Account(AccountIndex),
    /// The cumulative supply of a token (written by deposits).
    Supply(TokenId),
    /// A hashlock in the secret registry.
    Secret(B256),
    /// A channel record, by channel id.
    Channel(B256),
}

/// How a key is touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Read only (channel conclusion reads the secret registry).
    Read,
    /// Read and written.
    Write,
    /// Only added to; commutes with other credits.
    Credit,
}

/// Calls `f` for each key `op` touches.
///
/// Channel kinds: the sender (write), the channel (write), the fee recipient (credit);
/// payouts (a close, a conclusion) credit the wallet and the hub, whose indexes `prepare`
/// resolved from the channel table; an open declares the hub as a credit so that its new
/// index enters the tree, though the open never pays it; a conclusion reads the secret of
/// each lock of the registered state.
#[inline]
pub(crate) fn for_each_access(op: &Op, fee_recipient: AccountIndex, mut f: impl FnMut(Key, Mode)) {
    use Key::Account as A;
    match *op {
        Op::Channel(ref c) => {
            f(A(c.from), Mode::Write);
            f(Key::Channel(c.channel.id), Mode::Write);
            f(A(fee_recipient), Mode::Credit);
            let pays = match &c.kind {
                ChannelKind::Open { hub, .. } => {
                    f(A(*hub), Mode::Credit);
                    false
                }
                ChannelKind::Settle { action, .. } => *action == SettleAction::Close,
                ChannelKind::Conclude { hashlocks } => {
                    for h in hashlocks {
                        f(Key::Secret(*h), Mode::Read);
                    }
                    true
                }
                ChannelKind::Deposit { .. } => false,
            };
            if pays && c.channel.slot != Slot::Missing {
                let (wallet, hub) = c.channel.parties;
                f(A(wallet), Mode::Credit);
                f(A(hub), Mode::Credit);
            }
        }
        Op::Transfer { from, to, .. } => {
            f(A(from), Mode::Write);
            f(A(to), Mode::Credit);
            f(A(fee_recipient), Mode::Credit);
        }
        Op::Withdraw { from, .. } => {
            f(A(from), Mode::Write);
            f(A(fee_recipient), Mode::Credit);
        }
        Op::Deposit { to, token, .. } => {
            f(Key::Supply(token), Mode::Write);
            f(A(to), Mode::Credit);
        }
        Op::ForcedWithdraw { account, .. } => f(A(account), Mode::Write),
        // What else it touches is known only by running it (`execution::mixed`).
        Op::Evm { sender } => f(A(sender), Mode::Write),
        Op::RevealSecret { from, hashlock, .. } => {
            f(A(from), Mode::Write);
            f(Key::Secret(hashlock), Mode::Write);
            f(A(fee_recipient), Mode::Credit);
        }
    }
}

/// The positions each partition's accounts are touched at, from the access sets (the
/// serial way; the parallel engine collects them while building its DAG).
pub(crate) fn touched_positions(ops: &[Op], fee_recipient: AccountIndex) -> Vec<Vec<usize>> {
    let mut touched: Vec<Vec<usize>> = vec![Vec::new(); PARTITIONS];
    touched[partition_of(fee_recipient)].push(position_of(fee_recipient));
    for op in ops {
        for_each_access(op, fee_recipient, |key, _| {
            if let Key::Account(a) = key {
                touched[partition_of(a)].push(position_of(a));
            }
        });
    }
    touched
}

//! What a channel watcher reads from the rollup's blocks: which channel a transaction
//! concerns and what it does to it. The hub's watcher and the wallet's both read blocks
//! through [`channel_event`].

use weft_protocol::{
    channel::ChannelState,
    primitives::{Address, B256},
    transaction::Transaction,
};

/// What a transaction does to a channel, as a watcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEvent {
    /// A state was registered: the dispute starts.
    Registered(ChannelState),
    /// A registered state was replaced by a newer one.
    Refuted(ChannelState),
    /// Paid out (cooperative close or conclusion).
    Closed,
    /// A deposit added to the channel.
    Deposit,
}

/// The channel a transaction concerns and what it does to it, with its sender.
pub fn channel_event(tx: &Transaction) -> Option<(B256, Address, ChannelEvent)> {
    Some(match tx {
        Transaction::ChannelRegister(s) => (
            s.state.channel_id,
            s.from,
            ChannelEvent::Registered(s.state.clone()),
        ),
        Transaction::ChannelRefute(s) => (
            s.state.channel_id,
            s.from,
            ChannelEvent::Refuted(s.state.clone()),
        ),
        Transaction::ChannelClose(s) => (s.state.channel_id, s.from, ChannelEvent::Closed),
        Transaction::ChannelConclude(c) => (c.channel_id, c.from, ChannelEvent::Closed),
        Transaction::ChannelDeposit(d) => (d.channel_id, d.from, ChannelEvent::Deposit),
        _ => return None,
    })
}

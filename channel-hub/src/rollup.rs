//! The hub's and the wallet client's access to the rollup: the sequencer's REST API through
//! the one typed client of `weft-api` (the chain parameters, the head, accounts, channel
//! records, a block's transactions; submitting and waiting), under the names the hub uses,
//! and what a channel watcher reads from a block's transactions ([`channel_event`]).

use weft_protocol::{
    channel::ChannelState,
    primitives::{Address, B256},
    transaction::Transaction,
};

/// An account as the sequencer shows it.
pub use weft_api::AccountView as RollupAccount;
/// A channel as the rollup records it, with the participants' addresses.
pub use weft_api::ChannelView as RollupChannel;
/// A client of one sequencer; cheap to clone.
pub use weft_api::Client as RollupClient;
/// A failure to talk to the sequencer, or its refusal.
pub use weft_api::ClientError as RollupError;
/// How often [`RollupClient::wait_executed`] polls.
pub use weft_api::POLL_INTERVAL;
pub use weft_api::{ChainInfo, IncludedTransaction};

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

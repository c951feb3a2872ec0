//! The hub's access to the rollup: the sequencer's REST API through the one typed client of
//! `weft-api` (the chain parameters, the head, accounts, channel records, a block's
//! transactions; submitting and waiting), under the names the hub uses. What a watcher reads
//! from a block's transactions is `weft_channel::channel_event`.

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

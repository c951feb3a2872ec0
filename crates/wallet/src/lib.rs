//! # weft-wallet
//!
//! The wallet side of channels (DESIGN.md, "Channels"): a library a wallet embeds to use a
//! Weft channel hub. It depends on the shared channel crate (`weft-channel`), the
//! sequencer's API client (`weft-api`) and SQLite through `weft-storage`; not on the hub,
//! the sequencer, a server framework or a PostgreSQL driver.
//!
//! A [`Wallet`] keeps its channels' states durable in its own SQLite file (`store.rs`),
//! builds every state it signs with [`weft_channel::transition`] (the same functions the
//! hub checks with), verifies the hub's signature of every state before relying on it,
//! talks to the hub over its WebSocket (payments; answering lock offers with the invoice's
//! secret, countersigning settlements and payments, syncing after the hub restarts) and
//! REST, and watches the rollup for registrations of its channels with stale states,
//! refuting them with its newest hub-signed state, and for its unsettled locks nearing
//! expiry, revealing their secrets there (`watch.rs`).
//!
//! Rules the client keeps: it stores a state (with the hub's signature) before it reveals a
//! secret for it or signs anything on top of it; it reveals a secret only for a lock the hub
//! has signed; it countersigns an offer only if it is exactly the state the update leads to;
//! it signs a lock it accepted by revealing only when it must present it (the only state it
//! holds at that version); it stores a payment's secret (its proof of payment) before `pay`
//! reports it settled.
//!
//! ## Where things are
//!
//! | file           | what                                                                 |
//! |----------------|----------------------------------------------------------------------|
//! | `wallet.rs`    | [`Wallet`]: opening, loading, the channel map and the helpers every operation shares (signing, verifying the hub, storing co-signed states, REST) |
//! | `config.rs`    | [`WalletConfig`] and its defaults                                    |
//! | `error.rs`     | [`ClientError`]                                                      |
//! | `channels.rs`  | [`WalletChannel`]; open, register, top up, close                     |
//! | `on_rollup.rs` | what the wallet submits to the rollup itself (register, refute, reveal, conclude) |
//! | `payments.rs`  | paying the hub, routed payments, invoices, proofs of payment         |
//! | `offers.rs`    | answering the hub's offers and acknowledgements                      |
//! | `sync.rs`      | sync after the hub restarts; the hub's view of a channel             |
//! | `socket.rs`    | the WebSocket to the hub                                             |
//! | `store.rs`     | the wallet's database ([`WalletStore`]), schema in `migrations/channel-hub/wallet/` |
//! | `watch.rs`     | the wallet's rollup watcher                                          |
#![warn(missing_docs)]

mod channels;
mod config;
mod error;
mod offers;
mod on_rollup;
mod payments;
mod socket;
mod store;
mod sync;
mod wallet;
mod watch;

pub use channels::WalletChannel;
pub use config::{
    DEFAULT_LOCK_EXTRA_BLOCKS, DEFAULT_REVEAL_GUARD_BLOCKS, DEFAULT_ROLLUP_TIMEOUT,
    DEFAULT_WATCH_INTERVAL, RECONNECT_DELAY, ROUTE_ANSWER_TIMEOUT, WalletConfig,
};
pub use error::ClientError;
pub use store::{WalletChannelRow, WalletState, WalletStore, WalletWrite};
pub use wallet::Wallet;

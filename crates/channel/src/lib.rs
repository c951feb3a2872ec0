//! # weft-channel
//!
//! What the channel hub (`weft-channel-hub`) and the wallets that use it (`weft-wallet`)
//! both need, so that neither depends on the other: the messages they exchange, the state
//! transitions both sides build and check, the signature of a hub request, and how a
//! watcher reads channel transactions off the rollup. Pure: no server, no database, no
//! runtime.
//!
//! A channel's states (DESIGN.md, "Channels") are co-signed
//! [`weft_protocol::channel::ChannelState`]s. Each side builds the state an update leads
//! to with the same function of [`transition`] and signs only that state: the hub compares
//! what a wallet signed with what it built, the wallet checks the hub's offers the same
//! way. The updates travel as the bodies and socket messages of `wire.rs`; reads and the
//! WebSocket upgrade carry a signed [`HubRequest`] instead of a signed state.
//!
//! ## Where things are
//!
//! | file            | what                                                                |
//! |-----------------|---------------------------------------------------------------------|
//! | `transition.rs` | [`transition`]: pay, lock, settle, resolve, deposit, finalize; [`TransitionError`] |
//! | `wire.rs`       | REST bodies ([`SignedUpdate`], [`RouteRequest`], [`SyncRequest`], ...), socket messages ([`HubMessage`], [`WalletMessage`]), [`ErrorBody`] |
//! | `auth.rs`       | [`HubRequest`] (EIP-712), its headers, [`AuthError`], [`now_secs`]  |
//! | `event.rs`      | [`channel_event`]: what a rollup transaction does to a channel      |
#![warn(missing_docs)]

mod auth;
mod event;
pub mod transition;
mod wire;

pub use auth::{
    AuthError, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_WALLET, HUB_LOGIN_TYPE, HUB_REQUEST_TYPE,
    HubLogin, HubRequest, now_secs,
};
pub use event::{ChannelEvent, channel_event};
pub use transition::{Side, TransitionError};
pub use wire::{
    Ack, AdminPayRequest, ChannelView, CloseReply, CloseRequest, ERROR_CODES, ErrorBody, HeldState,
    HubInfo, HubMessage, MAX_SOCKET_MESSAGE, Offer, OfferKind, RegisterReply, RouteReply,
    RouteRequest, RouteStatus, SOCKET_BUFFER, SignedUpdate, SyncReply, SyncRequest, WalletMessage,
    is_error_code,
};

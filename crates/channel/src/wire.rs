//! What the hub and a wallet say to each other: REST bodies and WebSocket messages, shared by
//! the service (`weft-channel-hub`) and the wallet library (`weft-wallet`). JSON, camelCase,
//! amounts as decimal strings (the protocol types' own serde), unknown fields rejected.
//!
//! Every state a wallet sends carries its own EIP-712 signature of that state, which is what
//! authenticates a state update; the hub answers with its signature of the same state.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use weft_protocol::{
    channel::ChannelState,
    eip712::Domain,
    primitives::{Address, Amount, B256, TokenId},
    signature::Signature,
};

/// Largest WebSocket message either side accepts: a sync with a state of
/// [`weft_protocol::channel::MAX_LOCKS`] locks and its offer stays under 64 KiB of JSON.
pub const MAX_SOCKET_MESSAGE: usize = 256 * 1024;

/// Read buffer of a WebSocket (a message larger than it takes several reads).
pub const SOCKET_BUFFER: usize = 8 * 1024;

/// A state signed by the wallet: the body of every state update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedUpdate {
    /// The proposed state.
    pub state: ChannelState,
    /// The wallet's signature of it.
    pub wallet_signature: Signature,
}

/// `POST /v1/channels/{id}/route`: a state locking `amount` to the hub for `payee`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteRequest {
    /// The payer's state with the new lock.
    pub state: ChannelState,
    /// The payer's signature of it.
    pub wallet_signature: Signature,
    /// The wallet to be paid (it has a channel with the hub in the same token).
    #[schemars(with = "weft_protocol::schema::Address")]
    pub payee: Address,
}

/// Every code a hub's error answer can carry, with what it means: the hub's OpenAPI
/// document lists them, `docs/channels.md` is checked against them, and the hub asserts in
/// debug builds that it answers no other.
pub const ERROR_CODES: &[(&str, &str)] = &[
    (
        "invalid_request",
        "the body, the path or the state's channel is not as documented (400)",
    ),
    ("not_found", "no such route (404)"),
    (
        "method_not_allowed",
        "the route exists for another method (405)",
    ),
    (
        "unauthorized",
        "a read's signed headers or the admin token do not check (401)",
    ),
    (
        "admin_disabled",
        "the hub has no admin token configured (403)",
    ),
    ("unknown_channel", "the hub does not know the channel (404)"),
    (
        "not_registrable",
        "the channel on the rollup cannot be registered as asked (400)",
    ),
    (
        "malformed_signature",
        "a signature is not 0x and 65 bytes (400)",
    ),
    (
        "high_s_signature",
        "a signature's s is in the upper half (400)",
    ),
    (
        "invalid_signature",
        "a signature is not the wallet's over the state (400)",
    ),
    ("system_kind", "a system kind cannot be signed (400)"),
    ("invalid_key", "a key is not a secp256k1 key (400)"),
    (
        "unexpected_state",
        "the state is not the one the update leads to; `expected` holds it (409)",
    ),
    (
        "stale_version",
        "the version is not above the hub's; `hubVersion` holds it (409)",
    ),
    (
        "sync_required",
        "the hub needs the wallet's latest state first (409)",
    ),
    ("offer_pending", "an offer awaits the wallet's answer (409)"),
    (
        "channel_busy",
        "another update of the channel is in progress (409)",
    ),
    (
        "channel_not_active",
        "the channel is disputed, closed or halted (409)",
    ),
    ("channel_halted", "the hub halted the channel (409)"),
    ("insufficient_balance", "the wallet's side cannot pay (400)"),
    ("insufficient_liquidity", "the hub's side cannot pay (409)"),
    (
        "invalid_update",
        "the update does not apply to the latest state (400)",
    ),
    (
        "deposit_pending",
        "a deposit to the channel has not executed yet (409)",
    ),
    (
        "payee_unavailable",
        "the payee has no usable channel or is not connected (409)",
    ),
    (
        "lock_expiry_too_soon",
        "a lock expires before the hub's minimum (400)",
    ),
    (
        "lock_expiry_too_late",
        "a lock expires after the hub's maximum (400)",
    ),
    (
        "version_too_high",
        "a synced state is beyond anything the hub signed (400)",
    ),
    (
        "duplicate_payment",
        "a payment with this hashlock is in flight (409)",
    ),
    (
        "wrong_secret",
        "the secret is not the lock's preimage (400)",
    ),
    (
        "too_many_payments",
        "too many payments in flight on the socket (429)",
    ),
    (
        "rollup_unavailable",
        "the sequencer could not be asked (502)",
    ),
    ("internal", "a fault of the hub, logged there (500)"),
];

/// Whether `code` is one of [`ERROR_CODES`].
pub fn is_error_code(code: &str) -> bool {
    ERROR_CODES.iter().any(|(c, _)| *c == code)
}

/// The schema of an error code: one of [`ERROR_CODES`].
struct ErrorCode;

impl JsonSchema for ErrorCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HubErrorCode".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let codes: Vec<&str> = ERROR_CODES.iter().map(|(c, _)| *c).collect();
        let meanings: String = ERROR_CODES
            .iter()
            .map(|(c, m)| format!("- `{c}`: {m}\n"))
            .collect();
        schemars::json_schema!({ "type": "string", "enum": codes, "description": meanings })
    }
}

/// The body of every error answer (REST, and [`HubMessage::Routed`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "HubErrorBody")]
pub struct ErrorBody {
    /// Stable code, one of [`ERROR_CODES`].
    #[schemars(with = "ErrorCode")]
    pub code: String,
    /// Detail for humans.
    pub message: String,
    /// For `unexpected_state`: the state the hub expected to be signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<ChannelState>,
    /// For `sync_required` and `stale_version`: the hub's highest signed version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_version: Option<u64>,
}

/// `POST /v1/channels/{id}/close`: a final state; the hub co-signs it and, if asked, submits
/// the `ChannelClose` itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloseRequest {
    /// The final state.
    pub state: ChannelState,
    /// The wallet's signature of it.
    pub wallet_signature: Signature,
    /// Whether the hub submits the close transaction.
    #[serde(default)]
    pub submit: bool,
}

/// `POST /v1/admin/channels/{id}/pay`: the operator has the hub pay the channel's wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdminPayRequest {
    /// What the hub pays, in base units of the channel's token (a decimal string).
    #[serde(with = "weft_protocol::primitives::serde_dec")]
    #[schemars(with = "weft_protocol::schema::Amount")]
    pub amount: Amount,
}

/// `POST /v1/channels/{id}/sync`: the wallet's latest state (or an offer it has not
/// answered), so a hub that lost its newest states can catch up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncRequest {
    /// The state.
    pub state: ChannelState,
    /// The wallet's signature, if it signed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet_signature: Option<Signature>,
    /// The hub's signature of it, unless it is one of the wallet's payments (which the hub
    /// accepts without signing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_signature: Option<Signature>,
    /// For a state without the hub's signature: the wallet's newest state with it, which
    /// the state is built on (the hub adopts the state only if it never pays the hub less).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Box<HeldState>>,
    /// Preimages the wallet knows of the state's locks (its invoices', and those the hub
    /// revealed to it), so a hub that lost them can still settle those locks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<weft_protocol::schema::Hash>")]
    pub secrets: Vec<B256>,
}

/// A channel's latest state with the signatures of it that exist: the hub's always; the
/// wallet's unless the wallet accepted the state by revealing a lock's secret instead of
/// signing (a lock to it, which only adds to its side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeldState {
    /// The state.
    pub state: ChannelState,
    /// The wallet's signature, if it signed the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet_signature: Option<Signature>,
    /// The hub's signature.
    pub hub_signature: Signature,
}

/// Why the hub offers a state for the wallet to countersign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OfferKind {
    /// The hub's deposit on its side (the wallet signs before the hub deposits).
    Funding,
    /// A lock from the hub to the wallet (a routed payment to it): answer with
    /// [`WalletMessage::Fulfil`] or [`WalletMessage::Reject`].
    Lock,
    /// Locks whose secrets were revealed paid to their receivers (`secrets` are their
    /// preimages): what a routed payment's locks become when no later payment settled them.
    Settle,
    /// The wallet's lock to the hub removed (the payment failed).
    Refund,
    /// A payment from the hub to the wallet.
    Payment,
}

/// A state the hub signed and offers the wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Offer {
    /// Why.
    pub kind: OfferKind,
    /// The state.
    pub state: ChannelState,
    /// The hub's signature of it.
    pub hub_signature: Signature,
    /// For [`OfferKind::Settle`]: the preimages of the locks it pays.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<weft_protocol::schema::Hash>")]
    pub secrets: Vec<B256>,
}

/// The hub's answer to a state update: its signature of the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ack {
    /// The channel.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub channel_id: B256,
    /// The state's version.
    pub version: u64,
    /// The hub's signature of the state.
    pub hub_signature: Signature,
}

/// The hub's answer to a routed payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteReply {
    /// `settled`: the payee was paid and `secret` is the lock's preimage (the proof of
    /// payment; the payer's next update pays the lock to the hub); `refunded`: `offer`
    /// removes the lock (countersign it); `pending`: the payee has not answered yet, an
    /// offer will follow on the WebSocket.
    pub status: RouteStatus,
    /// The lock's preimage, once the payee revealed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<weft_protocol::schema::Hash>")]
    pub secret: Option<B256>,
    /// The refund offer of a refused payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<Offer>,
}

/// Where a routed payment stands in the payer's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RouteStatus {
    /// The payee was paid; the reply carries the secret.
    Settled,
    /// The payee refused; the offer refunds the payer's lock.
    Refunded,
    /// The payee has not answered yet.
    Pending,
}

/// The hub's answer to a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterReply {
    /// The hub's signature of the opening state.
    pub hub_signature: Signature,
    /// The hub's offer to fund its side, if its policy funds this channel: countersign it
    /// with `POST /v1/channels/{id}/fund` and the hub deposits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funding: Option<Offer>,
}

/// The hub's answer to a cooperative close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloseReply {
    /// The hub's signature of the final state.
    pub hub_signature: Signature,
    /// The close transaction, if the hub submitted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<weft_protocol::schema::Hash>")]
    pub transaction: Option<B256>,
}

/// The hub's answer to a sync: its own latest co-signed state and pending offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncReply {
    /// The latest state.
    pub latest: HeldState,
    /// A newer state the hub offers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<Offer>,
}

/// A channel as the hub shows it to its wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelView {
    /// The channel.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub id: B256,
    /// The wallet.
    #[schemars(with = "weft_protocol::schema::Address")]
    pub wallet: Address,
    /// The token.
    pub token: TokenId,
    /// `active`, `unsynced`, `disputed`, `closed` or `halted`.
    pub status: String,
    /// What the rollup holds for the channel, as last seen.
    #[serde(with = "weft_protocol::primitives::serde_dec")]
    #[schemars(with = "weft_protocol::schema::Amount")]
    pub rollup_total: Amount,
    /// The latest state.
    pub latest: HeldState,
    /// A newer state the hub offers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<Offer>,
}

/// `GET /v1/info`: who the hub is and its policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HubInfo {
    /// The hub's address (the `hub` of `ChannelOpen`).
    #[schemars(with = "weft_protocol::schema::Address")]
    pub address: Address,
    /// The EIP-712 domain states are signed under.
    pub domain: Domain,
    /// The hub's latest view of the rollup head.
    pub head: u64,
    /// The hub matches a wallet's opening deposit up to this amount.
    #[serde(with = "weft_protocol::primitives::serde_dec")]
    #[schemars(with = "weft_protocol::schema::Amount")]
    pub match_cap: Amount,
    /// A payer's lock must expire at least this many blocks after `head`.
    pub min_lock_blocks: u64,
    /// A payer's lock must expire at most this many blocks after the last block the hub
    /// has scanned (at most `head`): the dispute window less the hub's reveal guard.
    pub max_lock_blocks: u64,
}

/// What the hub sends on a wallet's WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum HubMessage {
    /// The first message on a new socket: the one-time challenge the wallet signs to log
    /// in ([`WalletMessage::Login`]). Nothing else is sent or taken before the login.
    #[serde(rename_all = "camelCase")]
    Challenge {
        /// 32 random bytes, valid for this socket only and until its login deadline.
        #[schemars(with = "weft_protocol::schema::Hash")]
        challenge: B256,
    },
    /// The login was accepted: the socket is the wallet's session now.
    #[serde(rename_all = "camelCase")]
    LoggedIn {
        /// The wallet.
        #[schemars(with = "weft_protocol::schema::Address")]
        wallet: Address,
    },
    /// A state to answer (countersign, or fulfil/reject a lock).
    Offer(Offer),
    /// The hub's signature of a state the wallet sent on the socket.
    Ack(Ack),
    /// The hub needs the wallet's latest state of a channel before it signs anything on it.
    #[serde(rename_all = "camelCase")]
    SyncRequest {
        /// The channel.
        #[schemars(with = "weft_protocol::schema::Hash")]
        channel_id: B256,
        /// The hub's highest signed version.
        version: u64,
    },
    /// The hub's view after a sync on the socket.
    Synced(Box<SyncReply>),
    /// The answer to a payment the wallet sent on the socket ([`WalletMessage::Route`]):
    /// the route's reply, or why it was refused.
    #[serde(rename_all = "camelCase")]
    Routed {
        /// The payment's hashlock (the request this answers).
        #[schemars(with = "weft_protocol::schema::Hash")]
        hashlock: B256,
        /// The answer, as `POST /v1/channels/{id}/route` gives it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply: Option<Box<RouteReply>>,
        /// The refusal, as that route's error body.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<Box<ErrorBody>>,
    },
    /// A message the hub could not accept.
    #[serde(rename_all = "camelCase")]
    Error {
        /// The channel, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(with = "Option<weft_protocol::schema::Hash>")]
        channel_id: Option<B256>,
        /// Stable code.
        code: String,
        /// Detail.
        message: String,
    },
}

/// What a wallet sends on its WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum WalletMessage {
    /// The answer to the socket's [`HubMessage::Challenge`]: the wallet's signature of
    /// the EIP-712 `HubLogin(address wallet,bytes32 challenge)` ([`crate::auth::HubLogin`]).
    #[serde(rename_all = "camelCase")]
    Login {
        /// The wallet logging in.
        #[schemars(with = "weft_protocol::schema::Address")]
        wallet: Address,
        /// Its signature of the login.
        signature: Signature,
    },
    /// Accepts a lock offer by revealing the lock's secret: the offered state (which only
    /// adds to the wallet's side) becomes the channel's latest, and the next state the hub
    /// offers pays the lock to the wallet. Nothing to sign; no answer.
    #[serde(rename_all = "camelCase")]
    Fulfil {
        /// The channel.
        #[schemars(with = "weft_protocol::schema::Hash")]
        channel_id: B256,
        /// The preimage of the lock's hashlock.
        #[schemars(with = "weft_protocol::schema::Hash")]
        secret: B256,
    },
    /// Refuses a lock offer: the next state, with the lock returned to the hub.
    #[serde(rename_all = "camelCase")]
    Reject {
        /// The state without the lock (one version above the offer).
        state: ChannelState,
        /// The wallet's signature of it.
        wallet_signature: Signature,
    },
    /// Countersigns an offer (settle, refund, payment, funding).
    Countersign(SignedUpdate),
    /// Pays another wallet through the hub, as `POST /v1/channels/{id}/route` does; the
    /// answer is a [`HubMessage::Routed`]. Several may be in flight on one socket.
    Route(RouteRequest),
    /// Answers a sync request.
    Sync(SyncRequest),
}

//! Errors of the hub. Each has a stable snake_case [`HubError::code`] that the API returns
//! and an HTTP status ([`HubError::status`]); the wallet client reads the code back.

use axum::http::StatusCode;
use weft_channel::{AuthError, TransitionError};
use weft_protocol::{error::SignatureError, primitives::B256};

use crate::store::StoreError;

/// Why the hub refused or failed a request.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The database failed; nothing was signed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// The sequencer could not be asked or refused the hub's transaction.
    #[error("rollup: {0}")]
    Rollup(#[from] weft_api::ClientError),
    /// The configuration cannot be used.
    #[error("invalid config: {0}")]
    Config(String),
    /// No such channel (on the hub, or on the rollup when registering).
    #[error("channel {0} is not known")]
    UnknownChannel(B256),
    /// The channel on the rollup cannot be registered as asked.
    #[error("channel cannot be registered: {0}")]
    NotRegistrable(String),
    /// The request's signer is not the channel's wallet, or its request signature is bad.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// An operator route while the hub has no admin token configured.
    #[error("the admin routes are disabled: no admin token is configured")]
    AdminDisabled,
    /// A signature that does not verify.
    #[error("invalid signature: {0}")]
    Signature(#[from] SignatureError),
    /// The request is malformed.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The proposed state is not the one the update leads to from the hub's latest.
    #[error("the proposed state is not the expected one")]
    UnexpectedState {
        /// The state the hub expected to be signed.
        expected: Box<weft_protocol::channel::ChannelState>,
    },
    /// The proposal's version is not above the hub's latest signed one.
    #[error("stale version {proposed}: the hub has signed version {hub}")]
    StaleVersion {
        /// Proposed.
        proposed: u64,
        /// The hub's highest signed version.
        hub: u64,
    },
    /// The hub must learn the wallet's latest state before it signs anything on this
    /// channel (it restarted, or the wallet is ahead of it).
    #[error("sync required: the hub's latest version is {hub}")]
    SyncRequired {
        /// The hub's highest signed version.
        hub: u64,
    },
    /// The hub has offered a state the wallet must answer first.
    #[error("an offer of version {version} awaits the wallet's answer")]
    OfferPending {
        /// The offer's version.
        version: u64,
    },
    /// The channel is busy with another update.
    #[error("channel {0} is busy")]
    Busy(B256),
    /// The channel no longer takes updates (disputed, closed or halted).
    #[error("channel is {0}")]
    NotActive(&'static str),
    /// The update cannot be applied to the latest state (balances, locks).
    #[error("{0}")]
    Transition(#[from] TransitionError),
    /// The latest state holds more than the rollup shows: a deposit has not executed yet.
    #[error("a deposit to the channel has not executed yet")]
    DepositPending,
    /// The payee has no usable channel or is not connected.
    #[error("payee unavailable: {0}")]
    PayeeUnavailable(String),
    /// The payer's lock expires too soon.
    #[error("lock expiry {expiry} is too soon: at least {min}")]
    LockExpiry {
        /// The lock's expiry.
        expiry: u64,
        /// The earliest acceptable expiry.
        min: u64,
    },
    /// The payer's lock expires later than a dispute of its channel could last: the hub
    /// could not be sure to reveal its secret on the rollup before the channel concludes.
    #[error("lock expiry {expiry} is too late: at most {max}")]
    LockExpiryTooLate {
        /// The lock's expiry.
        expiry: u64,
        /// The latest acceptable expiry.
        max: u64,
    },
    /// A version the hub cannot build on (its successor would overflow).
    #[error("version {0} is above the largest the hub accepts")]
    VersionTooHigh(u64),
    /// The hashlock is already used by another payment.
    #[error("hashlock {0} is already used by a payment")]
    DuplicatePayment(B256),
    /// The channel was halted (a state conflicting with the hub's own signed history).
    #[error("channel halted: {0}")]
    Halted(String),
    /// A secret that does not hash to the lock's hashlock.
    #[error("the secret does not match the hashlock")]
    WrongSecret,
    /// The wallet has as many payments in flight on its socket as the hub allows.
    #[error("at most {0} payments in flight per socket")]
    TooManyPayments(usize),
}

/// A refused [`weft_channel::HubRequest`]: a request outside the window or signed by another
/// wallet is unauthorized, a signature that does not verify is a signature error.
impl From<AuthError> for HubError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Signature(e) => Self::Signature(e),
            AuthError::OutsideWindow | AuthError::WrongSigner => Self::Unauthorized(e.to_string()),
        }
    }
}

impl HubError {
    /// Stable error code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Store(_) | Self::Config(_) => "internal",
            Self::Rollup(_) => "rollup_unavailable",
            Self::UnknownChannel(_) => "unknown_channel",
            Self::NotRegistrable(_) => "not_registrable",
            Self::Unauthorized(_) => "unauthorized",
            Self::AdminDisabled => "admin_disabled",
            Self::Signature(e) => e.code(),
            Self::InvalidRequest(_) => "invalid_request",
            Self::UnexpectedState { .. } => "unexpected_state",
            Self::StaleVersion { .. } => "stale_version",
            Self::SyncRequired { .. } => "sync_required",
            Self::OfferPending { .. } => "offer_pending",
            Self::Busy(_) => "channel_busy",
            Self::NotActive(_) => "channel_not_active",
            Self::Transition(TransitionError::WalletBalance(_)) => "insufficient_balance",
            Self::Transition(TransitionError::HubBalance { .. }) => "insufficient_liquidity",
            Self::Transition(_) => "invalid_update",
            Self::DepositPending => "deposit_pending",
            Self::PayeeUnavailable(_) => "payee_unavailable",
            Self::LockExpiry { .. } => "lock_expiry_too_soon",
            Self::LockExpiryTooLate { .. } => "lock_expiry_too_late",
            Self::VersionTooHigh(_) => "version_too_high",
            Self::DuplicatePayment(_) => "duplicate_payment",
            Self::Halted(_) => "channel_halted",
            Self::WrongSecret => "wrong_secret",
            Self::TooManyPayments(_) => "too_many_payments",
        }
    }

    /// The HTTP status of the error response.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Store(_) | Self::Config(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Rollup(_) => StatusCode::BAD_GATEWAY,
            Self::UnknownChannel(_) => StatusCode::NOT_FOUND,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::AdminDisabled => StatusCode::FORBIDDEN,
            Self::UnexpectedState { .. }
            | Self::StaleVersion { .. }
            | Self::SyncRequired { .. }
            | Self::OfferPending { .. }
            | Self::Busy(_)
            | Self::NotActive(_)
            | Self::Transition(TransitionError::HubBalance { .. })
            | Self::DepositPending
            | Self::PayeeUnavailable(_)
            | Self::DuplicatePayment(_)
            | Self::Halted(_) => StatusCode::CONFLICT,
            Self::NotRegistrable(_)
            | Self::Signature(_)
            | Self::InvalidRequest(_)
            | Self::Transition(_)
            | Self::LockExpiry { .. }
            | Self::LockExpiryTooLate { .. }
            | Self::VersionTooHigh(_)
            | Self::WrongSecret => StatusCode::BAD_REQUEST,
            Self::TooManyPayments(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// Whether the failure is the hub's condition rather than the request's fault: the same
    /// request may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Store(_)
                | Self::Rollup(_)
                | Self::Busy(_)
                | Self::PayeeUnavailable(_)
                | Self::DepositPending
                | Self::TooManyPayments(_)
        )
    }
}

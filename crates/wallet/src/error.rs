//! Why a wallet operation fails: [`ClientError`].

use weft_channel::{ErrorBody, TransitionError};
use weft_protocol::primitives::B256;
use weft_storage::StoreError;

/// Why a wallet operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The hub refused (its stable code and message).
    #[error("hub refused: {}: {}", .0.code, .0.message)]
    Hub(Box<ErrorBody>),
    /// The hub could not be reached.
    #[error("hub unreachable: {0}")]
    Http(#[from] reqwest::Error),
    /// The rollup refused or could not be reached.
    #[error("rollup: {0}")]
    Rollup(#[from] weft_api::ClientError),
    /// The wallet's database failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// A signature that is not the hub's on a state it should have signed.
    #[error("the hub's signature does not verify")]
    BadHubSignature,
    /// The hub offered a state that is not what the update leads to.
    #[error("unacceptable offer: {0}")]
    BadOffer(String),
    /// No such channel in the wallet.
    #[error("channel {0} is not known to the wallet")]
    UnknownChannel(B256),
    /// The update is impossible from the latest state.
    #[error("{0}")]
    Transition(#[from] TransitionError),
    /// The hub and the sequencer name different deployments.
    #[error("the hub signs under another domain than the sequencer's")]
    DomainMismatch,
    /// No invoice of the wallet has this hashlock.
    #[error("no invoice with hashlock {0}")]
    UnknownInvoice(B256),
    /// The hub's socket closed (or stayed silent) before the hub answered.
    #[error("the hub did not answer on its socket")]
    Disconnected,
}

impl ClientError {
    /// The hub's error code, if the hub refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Hub(e) => Some(&e.code),
            _ => None,
        }
    }
}

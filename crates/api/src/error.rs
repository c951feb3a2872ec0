//! The error body of the API and the client's error.

use serde::{Deserialize, Serialize};
use weft_protocol::primitives::B256;

/// The body of every error response, and of a refused entry of a batch submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable snake_case code (`invalid_signature`, `not_found`, ...).
    pub code: String,
    /// Detail for humans.
    pub message: String,
}

/// A failure of a [`Client`](crate::Client) request, or the API's refusal.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request did not complete.
    #[error("sequencer unreachable: {0}")]
    Http(#[from] reqwest::Error),
    /// The sequencer refused the request with an error body (admission rejection and the
    /// like).
    #[error("sequencer refused: {code}: {message}")]
    Rejected {
        /// Its stable code.
        code: String,
        /// Its message.
        message: String,
    },
    /// The transaction was included but failed.
    #[error("transaction {hash} failed: {reason}")]
    Failed {
        /// Its hash.
        hash: B256,
        /// The failure reason's code.
        reason: String,
    },
    /// The transaction was not executed in time.
    #[error("transaction {0} not executed in time")]
    Timeout(B256),
    /// An answer of an unexpected shape.
    #[error("unexpected answer from the sequencer: {0}")]
    Unexpected(String),
}

impl ClientError {
    /// The API's error code when the sequencer refused the request.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl From<ErrorBody> for ClientError {
    fn from(e: ErrorBody) -> Self {
        Self::Rejected {
            code: e.code,
            message: e.message,
        }
    }
}

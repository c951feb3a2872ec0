//! Errors of L1 requests, with the policy the sequencer's watcher and poster and the prover
//! act on.

use std::time::Duration;

use crate::Rollup::RollupErrors;
use alloy::transports::TransportError;

/// An L1 request that failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum L1Error {
    /// No answer within the request timeout (a stopped or overloaded node).
    #[error("l1 request timed out after {0:?}")]
    Timeout(Duration),
    /// The node could not be reached or answered garbage.
    #[error("l1 transport: {0}")]
    Transport(String),
    /// The node answered with an error that is neither a revert nor missing funds.
    #[error("l1 node refused: {0}")]
    Rpc(String),
    /// The call reverts (decoded as a Rollup error when it is one).
    #[error("reverted: {0}")]
    Revert(String),
    /// The sender cannot pay for the transaction.
    #[error("insufficient funds: {0}")]
    InsufficientFunds(String),
    /// An answer that does not decode or contradicts itself, or a bad URL or key.
    #[error("unexpected l1 data: {0}")]
    Invalid(String),
    /// A transaction the client signs was asked of a client without a key.
    #[error("this l1 client has no signing key")]
    NoSigner,
}

impl L1Error {
    /// Whether the request would revert on chain: the poster halts rather than retry.
    pub fn is_revert(&self) -> bool {
        matches!(self, Self::Revert(_))
    }

    /// Whether repeating the request later may succeed without anyone acting (the node was
    /// unreachable, slow or busy).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Timeout(_) | Self::Transport(_) | Self::Rpc(_))
    }

    /// Classifies a JSON-RPC failure: reverts (with the Rollup error decoded), missing
    /// funds, other error responses, transport failures.
    pub fn from_rpc(e: &TransportError) -> Self {
        let Some(payload) = e.as_error_resp() else {
            return Self::Transport(e.to_string());
        };
        if let Some(decoded) = payload.as_decoded_interface_error::<RollupErrors>() {
            return Self::Revert(format!("{decoded:?}"));
        }
        let message = payload.message.to_string();
        let lower = message.to_ascii_lowercase();
        if lower.contains("revert") {
            Self::Revert(message)
        } else if lower.contains("insufficient funds") || lower.contains("funds for gas") {
            Self::InsufficientFunds(message)
        } else {
            Self::Rpc(format!("{message} (code {})", payload.code))
        }
    }

    /// Classifies a failed contract call.
    pub fn from_contract(e: &alloy::contract::Error) -> Self {
        match e {
            alloy::contract::Error::TransportError(t) => Self::from_rpc(t),
            other => Self::Invalid(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rollup;
    use alloy::{hex, sol_types::SolError};

    fn response(json: &str) -> TransportError {
        TransportError::ErrorResp(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn classifies_reverts_funds_and_refusals() {
        // A reverting estimate as anvil reports it, with the Rollup error as data.
        let data = Rollup::BatchIndexMismatch {
            expected: 2,
            got: 3,
        }
        .abi_encode();
        let revert = L1Error::from_rpc(&response(&format!(
            r#"{{"code":3,"message":"execution reverted: custom error","data":"{}"}}"#,
            hex::encode_prefixed(data)
        )));
        assert!(revert.is_revert(), "{revert}");
        assert!(
            revert.to_string().contains("BatchIndexMismatch"),
            "{revert}"
        );
        let funds = L1Error::from_rpc(&response(
            r#"{"code":-32003,"message":"Insufficient funds for gas * price + value"}"#,
        ));
        assert!(matches!(funds, L1Error::InsufficientFunds(_)), "{funds}");
        assert!(!funds.is_transient());
        let known = L1Error::from_rpc(&response(
            r#"{"code":-32000,"message":"transaction already imported"}"#,
        ));
        assert!(known.is_transient() && !known.is_revert());
    }
}

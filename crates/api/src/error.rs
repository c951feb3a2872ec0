//! The error body of the API and the client's error.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use weft_protocol::primitives::B256;

/// Every code an error body of the REST API can carry, with what it means: the one list
/// the OpenAPI document (`ErrorBody.code`) and `docs/api.md` are checked against, and the
/// server asserts in debug builds that it answers no other.
pub const ERROR_CODES: &[(&str, &str)] = &[
    // the request itself
    ("invalid_json", "the body is not JSON"),
    (
        "invalid_request",
        "the JSON does not have the documented shape",
    ),
    (
        "unsupported_media_type",
        "the body is not `Content-Type: application/json` (415)",
    ),
    ("body_too_large", "the body exceeds the limit (413)"),
    ("request_timeout", "the body did not arrive in time (408)"),
    ("invalid_path", "a path segment does not decode"),
    ("invalid_hash", "a path hash is not 0x and 32 bytes of hex"),
    (
        "invalid_address",
        "a path address is not 0x and 20 bytes of hex",
    ),
    (
        "invalid_block_id",
        "a block id is not a number, `latest` or a 0x hash",
    ),
    ("invalid_batch_index", "a batch index is not a number"),
    ("empty_batch", "a batch submission carries no transaction"),
    (
        "batch_too_large",
        "a batch submission carries more than the node's maximum",
    ),
    (
        "not_found",
        "no such route, or nothing under that key (404)",
    ),
    (
        "method_not_allowed",
        "the route exists for another method (405)",
    ),
    ("rate_limited", "the client's token bucket is empty (429)"),
    ("overloaded", "the server is at its connection cap (503)"),
    (
        "not_batched",
        "the transaction's block is not in a batch yet (409)",
    ),
    (
        "not_a_withdrawal",
        "the transaction paid no withdrawal (409)",
    ),
    ("internal", "a fault of the node, logged there (500)"),
    (
        "from_block_too_old",
        "the feed's `fromBlock` reaches further back than it replays",
    ),
    (
        "too_many_connections",
        "the feed serves as many sockets as it may (503)",
    ),
    // admission of a transaction
    ("mempool_full", "the mempool is at capacity (503)"),
    ("not_leader", "this node does not sequence now (503)"),
    (
        "unavailable",
        "an admission node cannot reach its stream (503)",
    ),
    ("wrong_chain_id", "the echoed chainId is not this chain's"),
    (
        "wrong_contract",
        "the echoed verifyingContract is not this deployment's",
    ),
    (
        "system_kind",
        "deposits and forced withdrawals come from L1 only",
    ),
    ("unsupported_kind", "the kind is not admitted by this node"),
    (
        "fee_too_low",
        "the fee is below the chain's minimum (`/v1/chain`)",
    ),
    ("zero_amount", "the amount is zero"),
    ("amount_overflow", "amount plus fee exceeds 2^128 - 1"),
    ("self_transfer", "a transfer to its own sender"),
    ("self_channel", "a channel with oneself"),
    ("unknown_token", "the token was never deposited"),
    ("unknown_channel", "the channel does not exist"),
    (
        "invalid_co_signature",
        "a channel state's co-signature does not verify",
    ),
    (
        "too_many_locks",
        "a channel state carries more locks than allowed",
    ),
    (
        "insufficient_balance",
        "the balance cannot pay amount and fee",
    ),
    ("nonce_too_low", "the nonce is used"),
    (
        "nonce_already_pending",
        "a transaction with this nonce is pending",
    ),
    ("nonce_too_high", "the nonce is beyond the admission window"),
    (
        "malformed_signature",
        "the signature is not 0x and 65 bytes with v in {0, 1, 27, 28}",
    ),
    (
        "high_s_signature",
        "the signature's s is in the upper half (EIP-2)",
    ),
    (
        "invalid_signature",
        "the signature is not the sender's over this transaction",
    ),
];

/// Whether `code` is one of [`ERROR_CODES`].
pub fn is_error_code(code: &str) -> bool {
    ERROR_CODES.iter().any(|(c, _)| *c == code)
}

/// The body of every error response, and of a refused entry of a batch submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable snake_case code (`invalid_signature`, `not_found`, ...), one of
    /// [`ERROR_CODES`].
    pub code: String,
    /// Detail for humans.
    pub message: String,
}

impl JsonSchema for ErrorBody {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorBody")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let codes: Vec<&str> = ERROR_CODES.iter().map(|(c, _)| *c).collect();
        let meanings: String = ERROR_CODES
            .iter()
            .map(|(c, m)| format!("- `{c}`: {m}\n"))
            .collect();
        json_schema!({
            "description": "An error: a stable code and a message for humans.",
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": { "type": "string", "enum": codes, "description": meanings },
                "message": { "type": "string" },
            },
        })
    }
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

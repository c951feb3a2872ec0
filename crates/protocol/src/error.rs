//! Errors of the protocol crate. Each has a stable snake_case `code()` that the API returns.

use crate::primitives::{Address, TokenId};

/// A signature that cannot be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Not 65 bytes.
    #[error("signature must be 65 bytes, got {0}")]
    Length(usize),
    /// Not `0x`-prefixed hex.
    #[error("signature must be 0x-prefixed hex")]
    NotHex,
    /// `v` is not 0, 1, 27 or 28.
    #[error("signature v must be 27 or 28 (or 0 or 1), got {0}")]
    InvalidV(u8),
    /// `s` in the upper half of the curve order (EIP-2).
    #[error("signature s is in the upper half of the curve order (EIP-2)")]
    HighS,
    /// `r` or `s` out of range.
    #[error("signature scalars are out of range")]
    Malformed,
    /// No public key recovers from it.
    #[error("no public key recovers from the signature")]
    Unrecoverable,
    /// The recovered signer is not the transaction's `from`.
    #[error("signature is by {recovered}, not by the sender {expected}")]
    WrongSigner {
        /// The `from` field of the transaction.
        expected: Address,
        /// Who actually signed.
        recovered: Address,
    },
    /// A system kind (deposit, forced withdrawal) carries no signature and cannot be submitted.
    #[error("system transactions come from the L1 queue and cannot be signed")]
    SystemKind,
    /// A secret key that is zero or not below the group order.
    #[error("invalid secret key")]
    InvalidKey,
}

impl SignatureError {
    /// Stable error code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Length(_) | Self::NotHex | Self::InvalidV(_) | Self::Malformed => {
                "malformed_signature"
            }
            Self::HighS => "high_s_signature",
            Self::Unrecoverable | Self::WrongSigner { .. } => "invalid_signature",
            Self::SystemKind => "system_kind",
            Self::InvalidKey => "invalid_key",
        }
    }
}

/// Bytes that do not decode to a value of the binary codec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Input ended early.
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// Unknown kind tag.
    #[error("unknown transaction kind tag {0}")]
    UnknownKind(u8),
    /// A length field above its limit.
    #[error("{what} length {len} exceeds the limit {max}")]
    TooLong {
        /// Which field.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Bytes left after a complete value.
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    /// A field with an invalid value.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// An invalid signature encoding.
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

/// A block that the executors refuse as a whole (a block builder bug, never a user error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// System transactions must consume the L1 queue in order.
    #[error("system transaction has queue index {got}, expected {expected}")]
    QueueOrder {
        /// The next unconsumed queue index.
        expected: u64,
        /// The index in the block.
        got: u64,
    },
    /// A deposit introduces a token id that skips the next free one.
    #[error("deposit introduces token {got}, the next new token id is {expected}")]
    TokenOrder {
        /// The next token id.
        expected: TokenId,
        /// The id in the deposit.
        got: TokenId,
    },
    /// The state would exceed 2^32 accounts.
    #[error("account index space exhausted")]
    AccountsExhausted,
}

/// A genesis allocation that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// The same address appears twice.
    #[error("duplicate genesis account {0}")]
    DuplicateAccount(Address),
    /// Allocations of one token sum past `u128::MAX`.
    #[error("genesis supply of token {0} overflows 128 bits")]
    SupplyOverflow(TokenId),
}

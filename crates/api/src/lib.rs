//! # weft-api
//!
//! The sequencer's REST API as types: every request body and every answer of `/v1` (and
//! `/health`) is one struct here, which the server's handlers encode and [`Client`]
//! decodes. A change to the wire on one side is a compile error on the other.
//!
//! ## Where things are
//!
//! | file              | what                                                          |
//! |-------------------|---------------------------------------------------------------|
//! | `transactions.rs` | [`Submission`], [`SubmitBatch`] and their replies, [`TransactionView`], [`WithdrawalView`] |
//! | `state.rs`        | [`AccountView`], [`ProofView`], [`ChannelView`], [`BlockView`], [`BlockTransactions`] |
//! | `batches.rs`      | [`BatchView`], [`BatchRef`], [`BatchStatus`], [`Witness`]      |
//! | `chain.rs`        | [`ChainInfo`] (`/v1/chain`), [`TypesView`], [`Health`]        |
//! | `error.rs`        | [`ErrorBody`] (`{code, message}`), [`ClientError`]            |
//! | `client.rs`       | [`Client`]: one method per route, over reqwest                |
//!
//! Amounts travel as decimal strings, hashes and addresses as `0x` hex; optional fields are
//! left out when absent unless a type says `null`. Every type here derives its JSON Schema
//! (schemars, from the same serde attributes); the sequencer builds its OpenAPI document
//! from them (`sequencer/src/api/openapi.rs`).
//!
//! This crate depends on the protocol's types, serde and reqwest only: no server framework,
//! no database, no L1 provider.

#![warn(missing_docs)]

mod batches;
mod chain;
mod client;
mod error;
mod state;
mod transactions;

pub use batches::{BatchRef, BatchStatus, BatchView, Witness, WitnessBlock, WitnessTransaction};
pub use chain::{
    ChainInfo, FeeRule, FeeToken, Health, HealthStatus, KindTypes, L1Health, TypesView,
};
pub use client::{Client, DEFAULT_REQUEST_TIMEOUT, POLL_INTERVAL, SUBMIT_BATCH_PATH, SUBMIT_PATH};
pub use error::{ClientError, ERROR_CODES, ErrorBody, is_error_code};
pub use state::{
    AccountView, BlockTransactions, BlockView, ChannelProofView, ChannelView, IncludedTransaction,
    ProofView, SecretProofView,
};
pub use transactions::{
    SignedKind, Submission, SubmitBatch, SubmitBatchReply, SubmitReply, SubmitResult,
    TransactionStatus, TransactionView, WithdrawalView,
};

/// How many submissions a batch may carry unless the node is configured otherwise.
pub const DEFAULT_MAX_BATCH: usize = 2_000;

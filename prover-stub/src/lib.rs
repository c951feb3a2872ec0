//! # weft-prover-stub
//!
//! Stands in for a validity prover: it checks for real everything a proof of a batch would
//! prove, and replaces only the proof itself by an ECDSA attestation that the L1 contract
//! verifies.
//!
//! - [`verify`]: the check ([`verify::check_batch`]): signatures, payload == witness,
//!   re-execution to the committed roots, queue entries.
//! - [`service`]: the loop that watches L1, fetches witnesses, attests, drives finality and
//!   survives restarts; [`store`] is its state file; [`chain`] its L1 calls.
//! - [`http`]: `/health` (503 with the reason while halted) and `/metrics`.

pub mod chain;
pub mod config;
pub mod http;
pub mod metrics;
pub mod service;
pub mod store;
pub mod verify;

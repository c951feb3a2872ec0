//! # weft-prover-stub
//!
//! Stands in for a validity prover: it checks for real everything a proof of a batch would
//! prove, and replaces only the proof itself by an ECDSA attestation that the L1 contract
//! verifies. [`verify::check_batch`] is the check; the service around it (watching L1,
//! fetching witnesses, attesting, restart safety) builds on it.

pub mod verify;

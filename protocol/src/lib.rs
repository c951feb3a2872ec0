//! # weft-protocol
//!
//! The rules of the Weft rollup: pure, deterministic, no I/O. The sequencer, the prover
//! and every verifier share this crate.
pub mod channel;
pub mod codec;
pub mod eip712;
pub mod error;
pub mod execution;
pub mod merkle;
pub mod primitives;
pub mod signature;
pub mod state;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod transaction;

//! # weft-l1
//!
//! Weft's L1 side: Rust bindings to the contracts of `deploy/contracts` and the hashes the
//! sequencer and the prover must compute exactly as the `Rollup` contract does.
//!
//! ## The contract in one paragraph
//!
//! `Rollup` keeps the L1 queue (deposits, forced withdrawals) as a hash chain whose entries
//! are the L2 transaction hashes of the system kinds ([`queue`]). The sequencer commits
//! batches (`commitBatch` with the DA payload as calldata, `commitBatchBlobs` with it in
//! blobs), each checked against the previous one and against the queue
//! chain; a prover proves them in order (`proveBatch`, an attestation over
//! [`commitment::attestation_digest`] checked by an `IBatchVerifier`); proven batches
//! finalize after a delay, and their withdrawals are paid against their withdrawals root
//! with the one Merkle rule of `weft_protocol::merkle`. If a forced withdrawal is ignored
//! past its deadline, anyone freezes the contract and users leave with account proofs
//! against the last finalized state root ([`exodus`]). The full description is in the
//! contract's NatSpec (`deploy/contracts/Rollup.sol`).
//!
//! ## Where things are
//!
//! - [`bindings`]: `sol!` bindings generated from the committed artifacts in
//!   `deploy/contracts/out` (rebuilt and checked by `make contracts`).
//! - [`queue`]: queue entry hashes and the queue hash chain.
//! - [`commitment`]: the batch commitment hash, the attestation digest, the attestation.
//! - [`beacon`]: blobs of blob-carried batches from the L1 beacon API, checked against
//!   their versioned hashes.
//! - [`exodus`]: the arguments of the exodus calls from the protocol's proofs;
//!   [`channel_exit`]: one participant's side of a channel's exit, step by step.
//! - `client.rs`: [`L1Client`], the L1 operations the sequencer and the prover need, its
//!   types, and [`AlloyL1`], its JSON-RPC implementation; `error.rs`: [`L1Error`] and its
//!   policy (revert, transient).
//! - [`deploy`]: deploying the contracts (the `weft-deploy` binary, the test kit).
//! - `testkit` (feature `testkit`): spawns anvil and deploys the contracts.

#![warn(missing_docs)]

pub mod beacon;
pub mod bindings;
pub mod channel_exit;
mod client;
pub mod commitment;
pub mod deploy;
mod error;
pub mod exodus;
pub mod queue;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use bindings::{BatchStatus, EcdsaAttestationVerifier, IBatchVerifier, Rollup, TestToken};
pub use client::{
    AlloyL1, BatchLog, CommitData, Deployment, Fees, L1Client, L1Receipt, L1Result, QueueLog,
    RollupView,
};
pub use commitment::{attest, attestation_digest, commitment_hash, from_sol, to_sol};
pub use error::L1Error;
pub use queue::QueueChain;

//! The L1 contracts against a real anvil: every revert path and every happy path of
//! `Rollup`, `EcdsaAttestationVerifier` and the queue, with the hashes, roots and proofs
//! computed by `weft_protocol` (one anvil per test; anvil from `npm ci`, see
//! `weft_l1::testkit`).

mod batches;
mod common;
mod deploy;
mod exodus;
mod exodus_channels;
mod queue;
mod withdrawals;

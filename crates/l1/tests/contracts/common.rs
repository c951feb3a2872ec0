//! Helpers shared by the contract tests (the rest is `weft_l1::testkit`).

use alloy::{
    contract::SolCallBuilder,
    primitives::{B256, Bytes, keccak256},
    providers::Provider,
    sol_types::SolCall,
};
use weft_l1::{BatchStatus, Rollup::RollupErrors, testkit::Devnet};

/// Sends a call that must revert with one of Rollup's custom errors, and returns it.
pub(crate) async fn reverts<P: Provider, C: SolCall>(call: SolCallBuilder<P, C>) -> RollupErrors {
    match call.send().await {
        Ok(_) => panic!("{} did not revert", C::SIGNATURE),
        Err(e) => e
            .as_decoded_interface_error::<RollupErrors>()
            .unwrap_or_else(|| panic!("{} reverted without a Rollup error: {e}", C::SIGNATURE)),
    }
}

/// Like [`reverts`], through `eth_call` (no transaction): for checks repeated many times.
pub(crate) async fn call_reverts<P: Provider, C: SolCall>(
    call: SolCallBuilder<P, C>,
) -> RollupErrors {
    match call.call().await {
        Ok(_) => panic!("{} did not revert", C::SIGNATURE),
        Err(e) => e
            .as_decoded_interface_error::<RollupErrors>()
            .unwrap_or_else(|| panic!("{} reverted without a Rollup error: {e}", C::SIGNATURE)),
    }
}

/// A DA payload of `len` bytes (its content does not matter to L1).
pub(crate) fn payload(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

/// A root that is not the root of anything.
pub(crate) fn some_root(tag: u8) -> B256 {
    keccak256([tag])
}

/// The status of batch `index`.
pub(crate) async fn status(dev: &Devnet, index: u64) -> BatchStatus {
    BatchStatus::try_from(dev.rollup.batchStatus(index).call().await.unwrap()).unwrap()
}

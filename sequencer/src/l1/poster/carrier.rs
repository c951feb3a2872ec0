//! Which carrier takes a batch's DA payload to L1 (`DaMode`), and a blob transaction's
//! sidecar.
//!
//! `auto` compares what differs between the two ways of posting the same commitment, as
//! the OP Stack batcher does: the payload's calldata gas at the base fee plus tip, against
//! its blobs' blob gas at the blob base fee. Calldata is priced at EIP-7623's floor (10 gas
//! per token; a zero byte is one token, any other byte four), which is what a
//! data-heavy transaction pays on every L1 from Prague on.

use alloy::eips::{
    eip4844::{BlobTransactionSidecar, env_settings::EnvKzgSettings},
    eip7594::{BlobTransactionSidecarEip7594, BlobTransactionSidecarVariant},
};
use weft_l1::Fees;
use weft_protocol::{batch::Carrier, da::blob};

use crate::config::{DaMode, SidecarFormat};

/// Gas per calldata token under EIP-7623's floor.
pub const FLOOR_GAS_PER_TOKEN: u64 = 10;

/// What carrying one payload costs each way at some fees (wei), and why a carrier was
/// chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// The carrier.
    pub carrier: Carrier,
    /// The payload's calldata gas at base fee plus tip.
    pub calldata_wei: u128,
    /// Its blobs' gas at the blob base fee.
    pub blobs_wei: u128,
    /// How many blobs it needs.
    pub blobs: usize,
    /// Why, for the log: `configured`, `cheaper`, `too large for blobs`.
    pub reason: &'static str,
}

/// The calldata gas of `payload` at EIP-7623's floor.
pub fn calldata_gas(payload: &[u8]) -> u64 {
    let zeros = payload.iter().filter(|&&b| b == 0).count() as u64;
    let tokens = zeros + 4 * (payload.len() as u64 - zeros);
    tokens * FLOOR_GAS_PER_TOKEN
}

/// The carrier of `payload` under `mode` at `fees`.
pub fn choose(mode: DaMode, payload: &[u8], fees: &Fees) -> Choice {
    let blobs = blob::blob_count(payload.len());
    let calldata_wei = u128::from(calldata_gas(payload))
        .saturating_mul(fees.base_fee_per_gas + fees.max_priority_fee_per_gas);
    let blobs_wei = u128::from(blob::BLOB_GAS * blobs as u64).saturating_mul(fees.blob_base_fee);
    let (carrier, reason) = match mode {
        DaMode::Calldata => (Carrier::Calldata, "configured"),
        _ if blobs > blob::MAX_BLOBS_PER_TX => (Carrier::Calldata, "too large for blobs"),
        DaMode::Blobs => (Carrier::Blobs, "configured"),
        DaMode::Auto if blobs_wei < calldata_wei => (Carrier::Blobs, "cheaper"),
        DaMode::Auto => (Carrier::Calldata, "cheaper"),
    };
    Choice {
        carrier,
        calldata_wei,
        blobs_wei,
        blobs,
        reason,
    }
}

/// Loads the KZG trusted setup (seconds on a slow core) so that the first blob commit does
/// not wait for it. Blocking: run it off the async threads.
pub fn warm_up() {
    EnvKzgSettings::Default.get();
}

/// The sidecar carrying `payload` in its canonical blobs, with KZG commitments and proofs
/// in `format`. Costly (cell proofs take a few hundred milliseconds per blob): run it off
/// the async threads.
pub fn sidecar(
    payload: &[u8],
    format: SidecarFormat,
) -> anyhow::Result<BlobTransactionSidecarVariant> {
    let blobs = blob::encode(payload);
    Ok(match format {
        SidecarFormat::Eip7594 => BlobTransactionSidecarVariant::Eip7594(
            BlobTransactionSidecarEip7594::try_from_blobs(blobs)?,
        ),
        SidecarFormat::Eip4844 => BlobTransactionSidecarVariant::Eip4844(
            BlobTransactionSidecar::try_from_blobs_with_settings(
                blobs,
                EnvKzgSettings::Default.get(),
            )?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fees(base: u128, blob: u128) -> Fees {
        Fees {
            base_fee_per_gas: base,
            max_priority_fee_per_gas: 0,
            blob_base_fee: blob,
        }
    }

    #[test]
    fn calldata_is_priced_at_the_floor() {
        assert_eq!(calldata_gas(&[0, 0, 1]), (2 + 4) * 10);
        assert_eq!(calldata_gas(&[]), 0);
    }

    #[test]
    fn auto_takes_the_cheaper_carrier_and_blobs_mode_falls_back_when_too_large() {
        let payload = vec![1u8; 10_000];
        // 400,000 calldata gas against 131,072 blob gas.
        let blob_cheap = choose(DaMode::Auto, &payload, &fees(10, 10));
        assert_eq!(
            (
                blob_cheap.carrier,
                blob_cheap.calldata_wei,
                blob_cheap.blobs_wei
            ),
            (Carrier::Blobs, 4_000_000, 1_310_720)
        );
        let calldata_cheap = choose(DaMode::Auto, &payload, &fees(1, 100));
        assert_eq!(calldata_cheap.carrier, Carrier::Calldata);
        assert_eq!(
            choose(DaMode::Calldata, &payload, &fees(10, 1)).carrier,
            Carrier::Calldata
        );
        assert_eq!(
            choose(DaMode::Blobs, &payload, &fees(1, 100)).carrier,
            Carrier::Blobs
        );
        let huge = vec![1u8; blob::BLOB_CAPACITY * blob::MAX_BLOBS_PER_TX];
        let too_large = choose(DaMode::Blobs, &huge, &fees(10, 1));
        assert_eq!(
            (too_large.carrier, too_large.reason, too_large.blobs),
            (Carrier::Calldata, "too large for blobs", 7)
        );
    }

    #[test]
    fn sidecars_commit_to_the_canonical_blobs() {
        let payload = b"a batch".to_vec();
        let expected = blob::versioned_hashes(&blob::encode(&payload));
        for format in [SidecarFormat::Eip7594, SidecarFormat::Eip4844] {
            let sidecar = sidecar(&payload, format).unwrap();
            assert_eq!(sidecar.versioned_hashes().collect::<Vec<_>>(), expected);
        }
    }
}

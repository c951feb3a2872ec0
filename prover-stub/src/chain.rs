//! What the prover reads from and sends to L1: the shared [`L1Client`] of `weft-l1`, signing
//! with the prover's key, plus the one read the prover composes from it
//! ([`queue_entries`]).

use std::time::Duration;

use alloy::primitives::B256;
use anyhow::{Context, bail};
use weft_l1::{AlloyL1, L1Client, beacon::Beacon};

use crate::config::Config;

/// How long one L1 request may take before it fails (and the step is retried).
pub const DEFAULT_L1_TIMEOUT: Duration = Duration::from_secs(30);

/// The L1 client of the prover, signing `proveBatch` and `finalizeBatch` with its key, and
/// the L1 chain id (bound into attestations).
pub async fn connect(config: &Config) -> anyhow::Result<(AlloyL1, u64)> {
    let beacon = Beacon::new(
        &config.l1_beacon,
        config.l1_beacon_block_id,
        DEFAULT_L1_TIMEOUT,
    )
    .context("beacon client")?;
    let l1 = AlloyL1::with_signer(
        &config.l1_rpc,
        config.rollup_address,
        DEFAULT_L1_TIMEOUT,
        &config.prover_key,
    )
    .context("L1 client")?
    .with_beacon(beacon);
    let chain_id = l1.chain_id().await.context("L1 chain id")?;
    Ok((l1, chain_id))
}

/// Entry hashes of the L1 queue at `from..to`.
pub async fn queue_entries(l1: &impl L1Client, from: u64, to: u64) -> anyhow::Result<Vec<B256>> {
    if from >= to {
        return Ok(Vec::new());
    }
    let head = l1.block_number().await?;
    let logs = l1.queue_logs(0, head).await.context("QueueEntry logs")?;
    let mut entries: Vec<(u64, B256)> = logs
        .into_iter()
        .map(|e| (e.queue_index, e.entry_hash))
        .filter(|(i, _)| (from..to).contains(i))
        .collect();
    entries.sort_unstable();
    entries.dedup_by_key(|(i, _)| *i);
    if entries.len() as u64 != to - from {
        bail!("L1 has {} of queue entries {from}..{to}", entries.len());
    }
    Ok(entries.into_iter().map(|(_, h)| h).collect())
}

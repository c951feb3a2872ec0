//! The poster: commits the batcher's batches to L1 with `commitBatch`, one transaction in
//! flight at a time.
//!
//! Each tick reads what L1 says (the rollup's `lastCommitted`, the key's nonce and balance)
//! and the signed transactions the store still calls `pending`, then does one of:
//!
//! 1. **Follow** the transaction in flight: a receipt that succeeded marks it `included` (the
//!    others signed for its nonce `replaced`); a receipt that reverted marks it `reverted`
//!    and **halts** the poster. Without a receipt: if L1's nonce moved past it, something
//!    else took the nonce (all of ours are `replaced`, and the next tick posts what L1
//!    still lacks); if it has waited `resend_after`, it is re-signed at the **same nonce**
//!    with fees raised by 12.5% (at least the 10% nodes require to replace; a blob
//!    transaction's three fees doubled, as geth's blob pool requires) or to the current
//!    level if higher, stored, and sent; otherwise the newest signature is sent
//!    again (harmless if the node has it; needed if the node lost it, e.g. restarted).
//! 2. **Post** the next batch, `lastCommitted + 1` on L1, from the store: choose its DA
//!    carrier ([`carrier`]: calldata or blobs, by the configured mode and the current fees),
//!    record the DA hash that carrier commits to, estimate (a revert **halts**), sign at
//!    L1's nonce, **store, then send**. A blob transaction is stored whole, sidecar
//!    included, so a restart or a fee bump re-sends it without recomputing the proofs.
//!
//! Restart safety follows: whatever was signed is in the store before it can be on L1, so
//! a restarted poster finds it and follows it; the next index comes from L1, never from
//! memory. No index is posted twice: one transaction is in flight at a time, replacements
//! reuse its nonce (only one of them can be included), and a batch whose commit is included
//! and still canonical is not posted again even if an L1 read lags. An L1 reorg that drops
//! an included commit lowers `lastCommitted` and the nonce; the batch is posted again.
//!
//! Halting means posting nothing more until the node restarts: a revert says this node and
//! the contract disagree (a diverged state, a queue reorged deeper than the confirmations),
//! which retrying cannot fix. It is reported by the metric `l1_poster_halted`, an error log
//! and `/health` (status `halted`, HTTP 503). Missing funds or an unreachable L1 only raise
//! an alert (`l1_poster_alert`, `/health` status `degraded`) and the poster retries.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use alloy::{
    network::{
        TxSignerSync,
        eip2718::{Decodable2718, Encodable2718},
    },
    primitives::{Address, B256, Bytes, Signature, TxKind, U256},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use alloy_consensus::{
    SignableTransaction, Signed, Transaction as _, TxEip1559, TxEip4844, TxEip4844Variant,
    TxEip4844WithSidecar, TxEnvelope,
};
use anyhow::{Context, anyhow};
use tokio::sync::watch;
use tracing::{debug, error, info, warn};
use weft_l1::Rollup;
use weft_protocol::{
    batch::{BatchCommitment, Carrier},
    da::blob,
    signature::SigningKey,
};

use weft_l1::Fees;

use super::{L1Client, L1Error};
use crate::{
    config::{DaMode, L1Config},
    metrics::{CarrierLabel, Reason},
    node::Node,
    store::StoredL1Transaction,
};

/// `purpose` of commit transactions in the store.
pub const PURPOSE_COMMIT: &str = "commit";
/// Headroom over the gas estimate: `commitBatch` costs the same on chain as in the estimate
/// unless the state changes between them; a fifth more covers that cheaply.
pub const GAS_LIMIT_MARGIN_PERCENT: u64 = 20;

/// Status names of stored L1 transactions.
mod status {
    pub(super) const PENDING: &str = "pending";
    pub(super) const INCLUDED: &str = "included";
    pub(super) const REVERTED: &str = "reverted";
    pub(super) const REPLACED: &str = "replaced";
}

/// Runs the poster until `stop` turns true.
pub async fn run<C: L1Client>(
    node: Arc<Node>,
    l1: Arc<C>,
    key: SigningKey,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let config = node
        .config
        .l1
        .clone()
        .context("the poster needs an L1 section")?;
    let poll = config.poll_interval;
    if config.da_mode != DaMode::Calldata {
        tokio::task::spawn_blocking(carrier::warm_up);
    }
    let mut poster = Poster::new(node.clone(), l1, &key, config)?;
    info!(address = %poster.address, "L1 poster started");
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        if !node.l1.halted() {
            // A tick cut short by the stop is safe: what was signed is stored before it is
            // sent, and the next start follows it.
            let ticked = tokio::select! {
                t = poster.tick() => t,
                _ = stop.changed() => return Ok(()),
            };
            let alert = match ticked {
                Ok(alert) => alert,
                Err(e) => Some(format!("{e:#}")),
            };
            match alert {
                Some(message) => {
                    warn!(alert = %message, "L1 poster cannot post");
                    node.l1.alert("poster", message);
                    node.metrics.l1_poster_alert.set(1);
                }
                None => {
                    node.l1.clear("poster");
                    node.metrics.l1_poster_alert.set(0);
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Stops posting for good (until a restart) and says why everywhere an operator looks.
pub fn halt(node: &Node, reason: String) {
    error!(reason = %reason, "L1 poster halted");
    node.metrics.l1_poster_halted.set(1);
    node.l1.update(|s| {
        s.poster_halted.get_or_insert(reason);
    });
}

/// The poster's state between ticks.
#[derive(Debug)]
pub struct Poster<C> {
    node: Arc<Node>,
    l1: Arc<C>,
    signer: PrivateKeySigner,
    address: Address,
    config: L1Config,
    /// Known once the deployment has been checked.
    chain_id: Option<u64>,
    /// When this process first signed a commit of each batch in flight (for the latency
    /// metric; after a restart the stored second of signing stands in).
    first_signed: HashMap<u64, Instant>,
}

impl<C: L1Client> Poster<C> {
    /// A poster signing with `key`.
    pub fn new(
        node: Arc<Node>,
        l1: Arc<C>,
        key: &SigningKey,
        config: L1Config,
    ) -> anyhow::Result<Self> {
        let signer = PrivateKeySigner::from_bytes(&key.secret_bytes())
            .map_err(|e| anyhow!("sequencer key: {e}"))?;
        Ok(Self {
            node,
            l1,
            address: key.address(),
            signer,
            config,
            chain_id: None,
            first_signed: HashMap::new(),
        })
    }

    /// One round: follow the transaction in flight or post the next batch. Returns the
    /// alert to raise, if any (`None` clears it); an error is an alert too.
    pub async fn tick(&mut self) -> anyhow::Result<Option<String>> {
        if self.chain_id.is_none() && !self.check_deployment().await? {
            return Ok(None);
        }
        let balance = self.l1.balance(self.address).await?;
        self.node
            .metrics
            .l1_poster_balance_wei
            .set(u128::try_from(balance).map_or(f64::MAX, |b| b as f64));
        let nonce = self.l1.nonce(self.address).await?;
        let view = self.l1.rollup_view(None).await?;
        self.node
            .l1
            .update(|s| s.last_committed = Some(view.last_committed));
        let mut pending: Vec<StoredL1Transaction> = self
            .node
            .store
            .pending_l1_transactions()
            .await?
            .into_iter()
            .filter(|t| t.purpose == PURPOSE_COMMIT)
            .collect();
        if let Some(lowest) = pending.first().map(|t| t.nonce) {
            pending.retain(|t| t.nonce == lowest);
            // Newest first: the highest fees are the latest signature.
            pending.sort_by_key(|t| std::cmp::Reverse((t.max_fee_per_gas, t.created_at)));
            return self.follow(&pending, nonce).await;
        }
        self.post_next(nonce, view.last_committed).await
    }

    /// Checks that this node and the deployed rollup agree: the key is the rollup's
    /// sequencer, the chain id and the genesis root are the node's. A mismatch halts.
    async fn check_deployment(&mut self) -> anyhow::Result<bool> {
        let d = self.l1.deployment().await?;
        let mismatch = if d.sequencer != self.address {
            Some(format!(
                "the rollup's sequencer is {}, this node's key is {}",
                d.sequencer, self.address
            ))
        } else if d.l2_chain_id != self.node.config.chain_id {
            Some(format!(
                "the rollup's L2 chain id is {}, this node's is {}",
                d.l2_chain_id, self.node.config.chain_id
            ))
        } else if d.genesis_state_root != self.node.genesis_root {
            Some(format!(
                "the rollup's genesis state root is {}, this node's is {}",
                d.genesis_state_root, self.node.genesis_root
            ))
        } else {
            None
        };
        if let Some(reason) = mismatch {
            halt(&self.node, reason);
            return Ok(false);
        }
        self.chain_id = Some(self.l1.chain_id().await?);
        Ok(true)
    }

    /// Follows the transactions signed for one nonce (newest first).
    async fn follow(
        &mut self,
        group: &[StoredL1Transaction],
        l1_nonce: u64,
    ) -> anyhow::Result<Option<String>> {
        let store = &self.node.store;
        for tx in group {
            let Some(receipt) = self.l1.receipt(tx.tx_hash).await? else {
                continue;
            };
            for other in group.iter().filter(|t| t.tx_hash != tx.tx_hash) {
                store
                    .set_l1_transaction_status(&other.tx_hash, status::REPLACED)
                    .await?;
            }
            let batch = tx.batch_index.unwrap_or_default();
            if !receipt.success {
                store
                    .set_l1_transaction_status(&tx.tx_hash, status::REVERTED)
                    .await?;
                halt(
                    &self.node,
                    format!(
                        "commitBatch of batch {batch} reverted on L1 (transaction {}, block {})",
                        tx.tx_hash, receipt.block_number
                    ),
                );
                return Ok(None);
            }
            store
                .set_l1_transaction_status(&tx.tx_hash, status::INCLUDED)
                .await?;
            let m = &self.node.metrics;
            let fee = receipt.fee() as f64;
            m.l1_fees_paid_wei.inc_by(fee);
            m.l1_gas_used.inc_by(receipt.gas_used);
            m.l1_blob_gas_used.inc_by(receipt.blob_gas_used);
            let waited = match self.first_signed.remove(&batch) {
                Some(at) => at.elapsed().as_secs_f64(),
                None => {
                    let first = group.iter().map(|t| t.created_at).min().unwrap_or(0);
                    unix_now().saturating_sub(first) as f64
                }
            };
            m.l1_commit_seconds.observe(waited);
            info!(
                batch,
                tx = %tx.tx_hash,
                l1_block = receipt.block_number,
                gas = receipt.gas_used,
                blob_gas = receipt.blob_gas_used,
                nonce = tx.nonce,
                seconds = waited,
                "batch committed on L1"
            );
            return Ok(None);
        }
        let nonce = group[0].nonce;
        if l1_nonce > nonce {
            // None of ours has a receipt, yet the nonce is used: another transaction took
            // it. Ours can never be included; what L1 still lacks is posted afresh.
            warn!(
                nonce,
                l1_nonce, "the nonce of the commit in flight was taken by another transaction"
            );
            for t in group {
                store
                    .set_l1_transaction_status(&t.tx_hash, status::REPLACED)
                    .await?;
            }
            return Ok(None);
        }
        let newest = &group[0];
        let waited = Duration::from_secs(unix_now().saturating_sub(newest.created_at));
        if waited >= self.config.resend_after {
            let fees = self.fees().await?;
            let replacement = self.bump(newest, fees)?;
            info!(
                batch = newest.batch_index,
                nonce,
                old = %newest.tx_hash,
                new = %replacement.tx_hash,
                max_fee_per_gas = replacement.max_fee_per_gas,
                waited_s = waited.as_secs(),
                "commit stuck: re-signed at the same nonce with higher fees"
            );
            return self.store_and_send(replacement, "bump").await;
        }
        match self.l1.send_raw(Bytes::from(newest.raw.clone())).await {
            Ok(_) => Ok(None),
            Err(L1Error::InsufficientFunds(e)) => Ok(Some(funds_alert(&e))),
            // Known, underpriced against our own newer one, or nonce taken: the next tick
            // sees which.
            Err(e) => {
                debug!(error = %e, tx = %newest.tx_hash, "rebroadcast refused");
                Ok(None)
            }
        }
    }

    /// Posts batch `last_committed + 1` if it is sealed.
    async fn post_next(
        &mut self,
        nonce: u64,
        last_committed: u64,
    ) -> anyhow::Result<Option<String>> {
        let store = &self.node.store;
        let index = last_committed + 1;
        let Some(batch) = store.batch(index).await? else {
            let sealed = store
                .latest_batch()
                .await?
                .map_or(0, |b| b.commitment.index);
            if sealed < last_committed {
                return Ok(Some(format!(
                    "L1 has {last_committed} committed batches, this node's store {sealed}: \
                     is this the rollup's data directory (or rebuild it from L1)?"
                )));
            }
            return Ok(None);
        };
        if self.commit_still_on_l1(index).await? {
            debug!(index, "L1 does not show the included commit yet");
            return Ok(None);
        }
        let fees = self.fees().await?;
        let choice = carrier::choose(self.config.da_mode, &batch.da_payload, &fees);
        let mut commitment = batch.commitment;
        let mut sidecar = None;
        let (input, blob_hashes) = match choice.carrier {
            Carrier::Calldata => {
                commitment.da_hash = Carrier::Calldata.da_hash(&batch.da_payload);
                (commit_calldata(&commitment, &batch.da_payload), Vec::new())
            }
            Carrier::Blobs => {
                let (payload, format) = (batch.da_payload.clone(), self.config.sidecar);
                let built = tokio::task::spawn_blocking(move || carrier::sidecar(&payload, format))
                    .await
                    .context("sidecar task")??;
                let hashes: Vec<B256> = built.versioned_hashes().collect();
                commitment.da_hash = blob::blobs_da_hash(&hashes);
                sidecar = Some(built);
                let input = Rollup::commitBatchBlobsCall {
                    c: (&commitment).into(),
                }
                .abi_encode();
                (input.into(), hashes)
            }
        };
        let m = &self.node.metrics;
        let label = CarrierLabel {
            carrier: choice.carrier.as_str().into(),
        };
        m.l1_da_choices.get_or_create(&label).inc();
        info!(
            batch = index,
            carrier = choice.carrier.as_str(),
            reason = choice.reason,
            calldata_wei = choice.calldata_wei,
            blobs_wei = choice.blobs_wei,
            blobs = choice.blobs,
            "DA carrier chosen"
        );
        // The DA hash is the carrier's: recorded before anything is signed, so the store
        // holds the commitment L1 will show.
        if commitment.da_hash != batch.commitment.da_hash {
            store.set_batch_da_hash(&commitment).await?;
        }
        let gas = match self
            .l1
            .estimate_gas(self.address, input.clone(), blob_hashes.clone())
            .await
        {
            Ok(gas) => gas,
            Err(L1Error::Revert(reason)) => {
                halt(
                    &self.node,
                    format!("commitBatch of batch {index} would revert: {reason}"),
                );
                return Ok(None);
            }
            Err(L1Error::InsufficientFunds(e)) => return Ok(Some(funds_alert(&e))),
            Err(e) => return Err(e.into()),
        };
        let chain_id = self.chain_id.context("deployment not checked")?;
        let gas_limit = gas + gas * GAS_LIMIT_MARGIN_PERCENT / 100;
        let max_fee_per_gas = fees.base_fee_per_gas * 2 + fees.max_priority_fee_per_gas;
        let rollup = self.node.config.rollup_address;
        let signed = match sidecar {
            None => self.sign(
                TxEip1559 {
                    chain_id,
                    nonce,
                    gas_limit,
                    max_fee_per_gas,
                    max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
                    to: TxKind::Call(rollup),
                    value: U256::ZERO,
                    access_list: Default::default(),
                    input,
                },
                Some(index),
            )?,
            Some(sidecar) => {
                let tx = TxEip4844 {
                    chain_id,
                    nonce,
                    gas_limit,
                    max_fee_per_gas,
                    max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
                    to: rollup,
                    value: U256::ZERO,
                    access_list: Default::default(),
                    blob_versioned_hashes: blob_hashes,
                    max_fee_per_blob_gas: (fees.blob_base_fee * 2).max(1),
                    input,
                };
                self.sign(
                    TxEip4844Variant::TxEip4844WithSidecar(
                        TxEip4844WithSidecar::from_tx_and_sidecar(tx, sidecar),
                    ),
                    Some(index),
                )?
            }
        };
        self.first_signed.entry(index).or_insert_with(Instant::now);
        info!(
            batch = index,
            nonce,
            tx = %signed.tx_hash,
            carrier = choice.carrier.as_str(),
            da_bytes = batch.da_payload.len(),
            gas_limit = gas,
            "posting batch"
        );
        self.store_and_send(signed, "new").await
    }

    /// Whether a commit of batch `index` is stored as included and L1 still has its
    /// receipt (then a lower `lastCommitted` is a lagging read, not a reorg). Included
    /// commits whose receipt is gone were dropped by a reorg: they become `replaced`, so at
    /// most one transaction per nonce is ever `included`.
    async fn commit_still_on_l1(&self, index: u64) -> anyhow::Result<bool> {
        for t in self.node.store.l1_transactions().await? {
            if t.batch_index != Some(index)
                || t.purpose != PURPOSE_COMMIT
                || t.status != status::INCLUDED
            {
                continue;
            }
            if self.l1.receipt(t.tx_hash).await?.is_some() {
                return Ok(true);
            }
            warn!(
                batch = index,
                tx = %t.tx_hash,
                nonce = t.nonce,
                "an L1 reorg dropped the commit: posting the batch again"
            );
            self.node
                .store
                .set_l1_transaction_status(&t.tx_hash, status::REPLACED)
                .await?;
        }
        Ok(false)
    }

    async fn fees(&self) -> anyhow::Result<Fees> {
        let fees = self.l1.fees().await?;
        self.node
            .metrics
            .l1_base_fee_wei
            .set(fees.base_fee_per_gas as f64);
        self.node
            .metrics
            .l1_blob_base_fee_wei
            .set(fees.blob_base_fee as f64);
        Ok(fees)
    }

    /// `old` re-signed with fees raised by at least 10% (12.5%), or to the current level; a
    /// blob transaction (its sidecar kept) with all three fees doubled.
    fn bump(&self, old: &StoredL1Transaction, fees: Fees) -> anyhow::Result<StoredL1Transaction> {
        let envelope = TxEnvelope::decode_2718(&mut old.raw.as_slice())
            .map_err(|e| anyhow!("stored transaction {} does not decode: {e}", old.tx_hash))?;
        match envelope {
            TxEnvelope::Eip1559(signed) => {
                let mut tx = signed.strip_signature();
                let (max_fee, tip) =
                    bumped_fees(tx.max_fee_per_gas, tx.max_priority_fee_per_gas, fees);
                tx.max_fee_per_gas = max_fee;
                tx.max_priority_fee_per_gas = tip;
                self.sign(tx, old.batch_index)
            }
            TxEnvelope::Eip4844(signed) => {
                let mut variant = signed.strip_signature();
                let TxEip4844Variant::TxEip4844WithSidecar(with) = &mut variant else {
                    anyhow::bail!("stored blob commit {} has no sidecar", old.tx_hash);
                };
                let tx = &mut with.tx;
                let (max_fee, tip, blob_fee) = bumped_blob_fees(
                    tx.max_fee_per_gas,
                    tx.max_priority_fee_per_gas,
                    tx.max_fee_per_blob_gas,
                    fees,
                );
                tx.max_fee_per_gas = max_fee;
                tx.max_priority_fee_per_gas = tip;
                tx.max_fee_per_blob_gas = blob_fee;
                self.sign(variant, old.batch_index)
            }
            other => anyhow::bail!(
                "stored commit {} is a {:?} transaction",
                old.tx_hash,
                other.tx_type()
            ),
        }
    }

    fn sign<T>(&self, mut tx: T, batch: Option<u64>) -> anyhow::Result<StoredL1Transaction>
    where
        T: SignableTransaction<Signature>,
        TxEnvelope: From<Signed<T>>,
    {
        let signature = self
            .signer
            .sign_transaction_sync(&mut tx)
            .map_err(|e| anyhow!("sign: {e}"))?;
        let envelope = TxEnvelope::from(tx.into_signed(signature));
        let (nonce, max_fee, tip) = (
            envelope.nonce(),
            envelope.max_fee_per_gas(),
            envelope.max_priority_fee_per_gas().unwrap_or_default(),
        );
        Ok(StoredL1Transaction {
            tx_hash: *envelope.tx_hash(),
            nonce,
            purpose: PURPOSE_COMMIT.into(),
            batch_index: batch,
            raw: envelope.encoded_2718(),
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            status: status::PENDING.into(),
            created_at: unix_now(),
        })
    }

    /// Stores the signed transaction, then sends it.
    async fn store_and_send(
        &self,
        tx: StoredL1Transaction,
        why: &str,
    ) -> anyhow::Result<Option<String>> {
        self.node.store.insert_l1_transaction(&tx).await?;
        self.node
            .metrics
            .l1_transactions_sent
            .get_or_create(&Reason { reason: why.into() })
            .inc();
        match self.l1.send_raw(Bytes::from(tx.raw)).await {
            Ok(_) => Ok(None),
            Err(L1Error::InsufficientFunds(e)) => Ok(Some(funds_alert(&e))),
            // Stored: the next ticks follow it (and send it again) whatever happened here.
            Err(e) if e.is_transient() => Err(e.into()),
            Err(e) => {
                warn!(error = %e, tx = %tx.tx_hash, "L1 refused the commit transaction");
                Ok(None)
            }
        }
    }
}

/// The calldata of `commitBatch(commitment, daPayload)`.
pub fn commit_calldata(commitment: &BatchCommitment, payload: &[u8]) -> Bytes {
    Rollup::commitBatchCall {
        c: commitment.into(),
        daPayload: Bytes::copy_from_slice(payload),
    }
    .abi_encode()
    .into()
}

/// Replacement fees: each raised by an eighth (rounded up, so always at least the 10%
/// nodes require to replace a transaction), or to the current level if that is higher.
pub fn bumped_fees(
    max_fee_per_gas: u128,
    max_priority_fee_per_gas: u128,
    now: Fees,
) -> (u128, u128) {
    let up = |v: u128| v.saturating_add(v.div_ceil(8));
    let tip = up(max_priority_fee_per_gas).max(now.max_priority_fee_per_gas);
    let max_fee =
        up(max_fee_per_gas).max(now.base_fee_per_gas.saturating_mul(2).saturating_add(tip));
    (max_fee, tip)
}

/// A blob transaction's replacement fees: each doubled (geth's blob pool wants 100% more
/// of every fee to replace one), or to the current level if that is higher.
pub fn bumped_blob_fees(
    max_fee_per_gas: u128,
    max_priority_fee_per_gas: u128,
    max_fee_per_blob_gas: u128,
    now: Fees,
) -> (u128, u128, u128) {
    let double = |v: u128| v.saturating_mul(2).max(1);
    let tip = double(max_priority_fee_per_gas).max(now.max_priority_fee_per_gas);
    let max_fee =
        double(max_fee_per_gas).max(now.base_fee_per_gas.saturating_mul(2).saturating_add(tip));
    let blob_fee = double(max_fee_per_blob_gas).max(now.blob_base_fee.saturating_mul(2));
    (max_fee, tip, blob_fee)
}

fn funds_alert(detail: &str) -> String {
    format!("the poster's L1 account cannot pay for commits: {detail}")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub mod carrier;
#[cfg(test)]
mod tests;

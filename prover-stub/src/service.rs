//! The prover loop: for each batch committed on L1, in order, fetch the payload (L1), the
//! witness (the sequencer) and the queue entries (L1), run [`check_batch`], and only then
//! attest (`proveBatch`). It drives finality for proven batches past their delay.
//!
//! Restart safety: the state file records the last checked batch, the state after it, and
//! an attestation in flight with its L1 nonce *before* it is sent. After a restart a batch
//! L1 already shows proven is never attested again, and an attestation in flight is resent
//! at the same nonce, so at most one `proveBatch` per batch can ever be mined.

use std::{sync::Arc, time::Instant};

use parking_lot::RwLock;
use serde::Serialize;
use tokio::sync::watch;
use tracing::{error, info, warn};
use weft_l1::{AlloyL1, CommitData, L1Client};
use weft_protocol::{
    batch::attestation_digest,
    eip712::Domain,
    execution::{ChainParams, ParallelExecutor},
    genesis::dev_allocations,
    state::State,
};

use crate::{
    chain,
    config::Config,
    metrics::Metrics,
    store::StateFile,
    verify::{PublishedChain, Witness, check_batch, check_chain},
};

/// What `/health` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum Health {
    /// Checking and attesting.
    #[serde(rename_all = "camelCase")]
    Ok {
        /// The last batch checked.
        checked: u64,
    },
    /// Refuses a batch and stays on it.
    #[serde(rename_all = "camelCase")]
    Halted {
        /// The refused batch.
        batch: u64,
        /// Stable code of the refusal.
        code: String,
        /// Why.
        reason: String,
    },
}

/// The prover's shared state.
#[derive(Debug)]
pub struct Prover {
    /// Its configuration.
    pub config: Config,
    /// L1, signing with the prover's key.
    pub l1: AlloyL1,
    /// The L1 chain id (bound into attestations).
    pub l1_chain_id: u64,
    /// The domain of the deployment.
    pub domain: Domain,
    /// Health for `/health`.
    pub health: RwLock<Health>,
    /// The sequencer's published chain parameters were found equal to the prover's.
    chain_confirmed: std::sync::atomic::AtomicBool,
    /// Metrics.
    pub metrics: Metrics,
    sequencer: weft_api::Client,
    file: StateFile,
}

impl Prover {
    /// Connects to L1 and opens the state file.
    pub async fn open(config: Config) -> anyhow::Result<Arc<Self>> {
        let (l1, l1_chain_id) = chain::connect(&config).await?;
        let file = StateFile::open(&config.data_dir)?;
        Ok(Arc::new(Self {
            domain: Domain::new(config.chain_id, config.rollup_address),
            l1,
            l1_chain_id,
            health: RwLock::new(Health::Ok { checked: 0 }),
            chain_confirmed: Default::default(),
            metrics: Metrics::default(),
            sequencer: weft_api::Client::new(&config.sequencer_url),
            file,
            config,
        }))
    }

    fn genesis(&self) -> anyhow::Result<State> {
        Ok(State::genesis(
            &dev_allocations(self.config.dev_accounts, self.config.dev_balance),
            1,
        )?)
    }

    /// The chain parameters the prover re-executes with.
    pub fn chain_params(&self) -> ChainParams {
        ChainParams {
            domain: self.domain,
            dispute_window: self.config.dispute_window,
        }
    }

    /// Whether the sequencer publishes the prover's chain parameters (asked until it does
    /// once); `Err` with the difference when it does not.
    async fn confirm_chain(&self) -> anyhow::Result<Result<(), String>> {
        use std::sync::atomic::Ordering;
        if self.chain_confirmed.load(Ordering::Acquire) {
            return Ok(Ok(()));
        }
        let published: PublishedChain = self.sequencer.chain().await?;
        let verdict = check_chain(&self.chain_params(), &published);
        if verdict.is_ok() {
            self.chain_confirmed.store(true, Ordering::Release);
        }
        Ok(verdict)
    }

    async fn witness(&self, index: u64) -> anyhow::Result<Witness> {
        self.sequencer
            .witness(index)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the sequencer has no witness of batch {index}"))
    }

    /// Halts on `batch` (logged once per distinct refusal, not on every poll).
    fn halt(&self, batch: u64, code: &str, reason: String) {
        let mut health = self.health.write();
        if !matches!(&*health, Health::Halted { batch: b, code: c, .. } if *b == batch && c == code)
        {
            error!(batch, code, %reason, "refusing batch: no attestation; halted on it");
        }
        self.metrics.halted.set(1);
        *health = Health::Halted {
            batch,
            code: code.into(),
            reason,
        };
    }
}

/// Runs until `shutdown` turns true.
pub async fn run(prover: Arc<Prover>, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let (mut checked, mut state, mut in_flight) = match prover.file.load()? {
        Some(s) => (s.checked, s.state, s.in_flight),
        None => (0, prover.genesis()?, None),
    };
    info!(checked, state_root = %state.state_root(), "prover state loaded");
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut executor = ParallelExecutor::new(cores);
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        match step(
            &prover,
            &mut checked,
            &mut state,
            &mut in_flight,
            &mut executor,
        )
        .await
        {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => warn!(error = %format!("{e:#}"), "prover step failed; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(prover.config.poll) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// One round; `Ok(true)` when it made progress and should go on at once.
async fn step(
    prover: &Prover,
    checked: &mut u64,
    state: &mut State,
    in_flight: &mut Option<(u64, u64)>,
    executor: &mut ParallelExecutor,
) -> anyhow::Result<bool> {
    let l1 = &prover.l1;
    let view = l1.rollup_view(None).await?;
    let (committed, proven, finalized) =
        (view.last_committed, view.last_proven, view.last_finalized);
    if finalized < proven {
        let index = finalized + 1;
        if l1.latest_timestamp().await? >= l1.finalizable_at(index).await? {
            let tx = l1.finalize_batch(index).await?;
            info!(index, %tx, "finalized");
            return Ok(true);
        }
    }
    if let Some((batch, nonce)) = *in_flight {
        if proven >= batch {
            *in_flight = None;
            prover.file.save(*checked, state, None)?;
            return Ok(true);
        }
        if l1.nonce(prover_address(prover)?).await? > nonce {
            prover.halt(
                batch,
                "attestation_failed",
                format!("proveBatch({batch}) at nonce {nonce} was mined but L1 shows it unproven"),
            );
            return Ok(false);
        }
        // Sent before a restart and not mined: send the same attestation at the same nonce.
        let committed = committed_batch(l1, batch).await?;
        attest(prover, batch, &committed.commitment, nonce).await?;
        return Ok(true);
    }
    let next = *checked + 1;
    if next > committed {
        return Ok(false);
    }
    if let Err(reason) = prover.confirm_chain().await? {
        prover.halt(next, "chain_mismatch", reason);
        return Ok(false);
    }
    let committed = committed_batch(l1, next).await?;
    let commitment = committed.commitment;
    let witness = prover.witness(next).await?;
    let queue = chain::queue_entries(l1, state.queue_position(), commitment.queue_position).await?;
    let started = Instant::now();
    if let Err(refusal) = check_batch(
        state,
        &prover.chain_params(),
        &committed,
        &witness,
        &queue,
        executor,
    ) {
        prover.halt(next, refusal.code(), refusal.to_string());
        return Ok(false);
    }
    let txs: usize = witness.blocks.iter().map(|b| b.transactions.len()).sum();
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    prover.metrics.transactions.inc_by(txs as u64);
    prover
        .metrics
        .last_batch_tps
        .set((txs as f64 / elapsed) as i64);
    prover.metrics.checked_batch.set(next as i64);
    prover.metrics.halted.set(0);
    *prover.health.write() = Health::Ok { checked: next };
    *checked = next;
    if proven >= next {
        // Already proven on L1 (by this prover before a restart, or another): no attestation.
        prover.file.save(next, state, None)?;
        return Ok(true);
    }
    let nonce = l1.pending_nonce(prover_address(prover)?).await?;
    *in_flight = Some((next, nonce));
    // Recorded before sending: a crash from here on resends at this nonce, never a second one.
    prover.file.save(next, state, *in_flight)?;
    attest(prover, next, &commitment, nonce).await?;
    info!(
        batch = next,
        txs,
        tps = (txs as f64 / elapsed) as u64,
        "batch checked and attested"
    );
    Ok(true)
}

async fn attest(
    prover: &Prover,
    index: u64,
    commitment: &weft_protocol::batch::BatchCommitment,
    nonce: u64,
) -> anyhow::Result<()> {
    let digest = attestation_digest(
        &prover.config.rollup_address,
        prover.l1_chain_id,
        &commitment.hash(),
    );
    let attestation = weft_l1::attest(&prover.config.prover_key, &digest);
    let tx = prover.l1.prove_batch(index, attestation, nonce).await?;
    prover.metrics.attested.inc();
    info!(index, %tx, "proveBatch mined");
    Ok(())
}

/// The account paying for the prover's L1 transactions.
fn prover_address(prover: &Prover) -> anyhow::Result<alloy::primitives::Address> {
    prover
        .l1
        .signer()
        .ok_or_else(|| anyhow::anyhow!("the prover's L1 client has no key"))
}

/// The commitment and DA payload of a batch L1 shows committed (from its blobs when it
/// was posted in blobs).
async fn committed_batch(l1: &impl L1Client, index: u64) -> anyhow::Result<CommitData> {
    l1.committed_batch(index)
        .await?
        .ok_or_else(|| anyhow::anyhow!("batch {index} has no BatchCommitted event"))
}

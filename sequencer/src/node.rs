//! The node's shared state and its start: open storage, rebuild the state from the latest
//! snapshot plus the stored blocks after it, and check every root on the way.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail, ensure};
use parking_lot::{Mutex, RwLock};
use tokio::sync::{Notify, watch};
use tracing::info;
use weft_protocol::{
    block::BlockHeader,
    eip712::Domain,
    execution::{BlockExecutor, ParallelExecutor},
    primitives::B256,
    state::State,
};

use crate::{config::Config, l1::L1Status, mempool::Mempool, metrics::Metrics, store::Store};

/// The latest stored block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Its number (0: genesis, nothing stored yet).
    pub number: u64,
    /// Its hash (zero for genesis).
    pub hash: B256,
    /// Its timestamp.
    pub timestamp: u64,
}

/// What the start's state rebuild did and where its time went.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Recovery {
    /// The block of the snapshot the rebuild started from (`None`: genesis).
    pub snapshot_block: Option<u64>,
    /// Stored blocks re-executed after it.
    pub blocks_replayed: u64,
    /// Their transactions.
    pub txs_replayed: u64,
    /// Reading and decoding the snapshot, rebuilding its trees, checking its root.
    pub load: Duration,
    /// Reading and decoding the stored blocks.
    pub read: Duration,
    /// Recomputing the stored transactions' hashes.
    pub hash: Duration,
    /// Re-executing the blocks (state roots included) and checking roots and receipts.
    pub execute: Duration,
    /// The whole rebuild.
    pub total: Duration,
}

/// Everything the API, admission and the block builder share.
#[derive(Debug)]
pub struct Node {
    /// The configuration.
    pub config: Config,
    /// The EIP-712 domain.
    pub domain: Domain,
    /// Durable storage.
    pub store: Store,
    /// The latest executed state.
    pub state: RwLock<State>,
    /// Admitted transactions waiting for a block.
    pub mempool: Mutex<Mempool>,
    /// The executor (owned by the block builder; also used to replay at start).
    pub executor: Mutex<ParallelExecutor>,
    /// Metrics.
    pub metrics: Metrics,
    /// Wakes the block builder when transactions become ready.
    pub ready: Notify,
    /// The latest stored block; watchers wake on every new block.
    pub head: watch::Sender<Head>,
    /// Recovers signatures on every core.
    pub signature_pool: rayon::ThreadPool,
    /// The genesis state's root (the first batch's previous root).
    pub genesis_root: B256,
    /// Accounts in the genesis state.
    pub genesis_accounts: u32,
    /// L1 queue entries stored (taken by the watcher).
    pub queue_len: AtomicU64,
    /// What the L1 side reports (health, alerts).
    pub l1: L1Status,
    /// How the state was rebuilt at start.
    pub recovery: Recovery,
}

impl Node {
    /// Opens storage and rebuilds the state; the node resumes at the block after the stored
    /// head, with the head's hash as parent.
    pub async fn open(config: Config) -> anyhow::Result<Arc<Self>> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("create data directory {}", config.data_dir.display()))?;
        let store = Store::connect(config.database_url.as_deref(), &config.data_dir)
            .await
            .context("open storage")?;
        check_chain_params(&store, &config).await?;
        let domain = config.domain();
        let mut executor = ParallelExecutor::new(config.executor_threads);
        let genesis = genesis_state(&config)?;
        let (genesis_root, genesis_accounts) = (genesis.state_root(), genesis.account_count());
        let (state, head, recovery) = recover(
            &store,
            genesis,
            &domain,
            config.dispute_window,
            &mut executor,
        )
        .await?;
        let store_queue_len = store.queue_len().await?;
        let metrics = Metrics::new();
        metrics.block_height.set(head.number as i64);
        metrics.l1_queue_entries.set(store_queue_len as i64);
        if let Some(batch) = store.latest_batch().await? {
            metrics.batches_sealed.set(batch.commitment.index as i64);
        }
        let signature_pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.signature_threads)
            .thread_name(|i| format!("weft-sig-{i}"))
            .build()
            .context("spawn signature threads")?;
        Ok(Arc::new(Self {
            mempool: Mutex::new(Mempool::new(config.mempool)),
            config,
            domain,
            store,
            state: RwLock::new(state),
            executor: Mutex::new(executor),
            metrics,
            ready: Notify::new(),
            head: watch::Sender::new(head),
            signature_pool,
            genesis_root,
            genesis_accounts,
            queue_len: AtomicU64::new(store_queue_len),
            l1: L1Status::default(),
            recovery,
        }))
    }

    /// The latest stored block.
    pub fn head(&self) -> Head {
        *self.head.borrow()
    }

    /// L1 queue entries stored but not yet in a block.
    pub fn pending_queue_entries(&self) -> u64 {
        let taken = self.queue_len.load(Ordering::Acquire);
        taken.saturating_sub(self.state.read().queue_position())
    }
}

/// The genesis state of `config`.
pub fn genesis_state(config: &Config) -> anyhow::Result<State> {
    State::genesis(&config.genesis.allocations(), 1).context("build genesis state")
}

/// Records the chain parameters on a new chain and refuses to resume a chain whose blocks
/// were executed with others. A chain stored before the parameters were recorded ran with
/// the defaults.
pub async fn check_chain_params(store: &Store, config: &Config) -> anyhow::Result<()> {
    let name = crate::store::DISPUTE_WINDOW_PARAM;
    let recorded = match store.chain_param(name).await? {
        Some(v) => v,
        None => {
            let ran_with = if store.head().await?.is_some() {
                weft_protocol::channel::DEFAULT_DISPUTE_WINDOW
            } else {
                config.dispute_window
            };
            store.record_chain_param(name, ran_with).await?;
            ran_with
        }
    };
    ensure!(
        recorded == config.dispute_window,
        "this chain's blocks were executed with a dispute window of {recorded} blocks; \
         the configuration says {}: the window cannot change once blocks exist",
        config.dispute_window
    );
    Ok(())
}

/// Rebuilds the state: latest snapshot, then every stored block after it, each checked
/// against its stored state root and receipts.
async fn recover(
    store: &Store,
    genesis: State,
    domain: &Domain,
    dispute_window: u64,
    executor: &mut ParallelExecutor,
) -> anyhow::Result<(State, Head, Recovery)> {
    let mut recovery = Recovery::default();
    let Some((head_header, head_hash)) = store.head().await? else {
        info!(state_root = %genesis.state_root(), "starting from genesis");
        return Ok((
            genesis,
            Head {
                number: 0,
                hash: B256::ZERO,
                timestamp: 0,
            },
            recovery,
        ));
    };
    let started = Instant::now();
    let (mut state, from) = match store.latest_snapshot().await? {
        Some(snap) if snap.block_number <= head_header.number => {
            let state = State::decode_snapshot(&snap.data).context("decode snapshot")?;
            let (header, _) = store
                .header_by_number(snap.block_number)
                .await?
                .context("snapshot of a block that is not stored")?;
            ensure!(
                state.state_root() == header.state_root && snap.state_root == header.state_root,
                "snapshot of block {} does not match its stored state root",
                snap.block_number
            );
            recovery.snapshot_block = Some(snap.block_number);
            (state, snap.block_number + 1)
        }
        _ => (genesis, 1),
    };
    recovery.load = started.elapsed();
    info!(from, to = head_header.number, "replaying stored blocks");
    for number in from..=head_header.number {
        let t = Instant::now();
        let (header, _) = store
            .header_by_number(number)
            .await?
            .with_context(|| format!("block {number} missing"))?;
        recovery.read += t.elapsed();
        replay_block(
            store,
            domain,
            dispute_window,
            executor,
            &mut state,
            &header,
            &mut recovery,
        )
        .await?;
        if number.is_multiple_of(1_000) {
            info!(number, to = head_header.number, "replaying");
        }
    }
    ensure!(
        state.state_root() == head_header.state_root,
        "rebuilt state root differs from the head's"
    );
    recovery.total = started.elapsed();
    info!(
        head = head_header.number,
        state_root = %head_header.state_root,
        blocks_replayed = recovery.blocks_replayed,
        txs_replayed = recovery.txs_replayed,
        load_ms = recovery.load.as_millis() as u64,
        read_ms = recovery.read.as_millis() as u64,
        hash_ms = recovery.hash.as_millis() as u64,
        execute_ms = recovery.execute.as_millis() as u64,
        elapsed_ms = recovery.total.as_millis() as u64,
        "state rebuilt"
    );
    Ok((
        state,
        Head {
            number: head_header.number,
            hash: head_hash,
            timestamp: head_header.timestamp,
        },
        recovery,
    ))
}

/// Re-executes one stored block and checks its state root and receipts.
async fn replay_block(
    store: &Store,
    domain: &Domain,
    dispute_window: u64,
    executor: &mut ParallelExecutor,
    state: &mut State,
    header: &BlockHeader,
    recovery: &mut Recovery,
) -> anyhow::Result<()> {
    let t = Instant::now();
    let stored = store.block_transactions(header.number).await?;
    recovery.read += t.elapsed();
    let t = Instant::now();
    let txs: Vec<_> = stored
        .iter()
        .map(|t| t.transaction.clone().assume_verified(domain))
        .collect();
    for (tx, s) in txs.iter().zip(&stored) {
        ensure!(
            tx.hash == s.hash,
            "stored transaction {} hashes differently",
            s.hash
        );
    }
    recovery.hash += t.elapsed();
    let t = Instant::now();
    let out = executor
        .execute_block(state, &header.env(*domain, dispute_window), &txs)
        .with_context(|| format!("replay block {}", header.number))?;
    if out.state_root != header.state_root {
        bail!(
            "replayed block {} gives state root {}, stored {}",
            header.number,
            out.state_root,
            header.state_root
        );
    }
    for (receipt, s) in out.receipts.iter().zip(&stored) {
        ensure!(
            *receipt == s.receipt,
            "replayed receipt of {} differs from the stored one",
            s.hash
        );
    }
    recovery.execute += t.elapsed();
    recovery.blocks_replayed += 1;
    recovery.txs_replayed += txs.len() as u64;
    Ok(())
}

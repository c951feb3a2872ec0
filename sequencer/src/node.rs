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
use rayon::prelude::*;
use tokio::sync::{Notify, watch};
use tracing::{debug, info, warn};
use weft_protocol::{
    block::BlockHeader,
    eip712::Domain,
    execution::{BlockExecutor, ParallelExecutor},
    primitives::B256,
    snapshot::{StateData, StateDelta},
    state::State,
    transaction::VerifiedTransaction,
};

use crate::{
    config::Config,
    l1::L1Status,
    mempool::Mempool,
    metrics::Metrics,
    store::{SealedBlock, Store},
};

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
    /// The block of the snapshot point the rebuild started from (`None`: genesis).
    pub snapshot_block: Option<u64>,
    /// Deltas applied on top of the full snapshot to reach that point.
    pub deltas_applied: u64,
    /// Bytes of the full snapshot read.
    pub snapshot_full_bytes: u64,
    /// Bytes of the deltas read.
    pub snapshot_delta_bytes: u64,
    /// Stored blocks re-executed after it.
    pub blocks_replayed: u64,
    /// Their transactions.
    pub txs_replayed: u64,
    /// Reading and decoding the snapshot and its deltas, rebuilding the trees, checking
    /// the root.
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
    /// The hashes of newly admitted transactions, for `newPendingTransactions`
    /// subscribers (a slow subscriber misses some rather than holding admission back).
    pub pending_txs: tokio::sync::broadcast::Sender<B256>,
    /// Stored blocks and batch status changes, for the live feed and `newHeads`.
    pub feed: crate::feed::Feed,
    /// Live-feed connections left (`api.max_feed_connections`).
    pub feed_slots: Arc<tokio::sync::Semaphore>,
    /// The leader lease this node holds (a leased node), or none (the only node).
    pub lease: Option<crate::lease::Lease>,
    /// A follower ([`follow_blocks`]): serves the read routes from the leader's database and
    /// refuses submissions (`not_leader`); it writes nothing.
    pub follower: bool,
    /// Ingress messages (JetStream) to acknowledge once their blocks are committed.
    pub ingress_acks: crate::ingress::Acks,
    /// Blocks stored and not batched yet, for the batcher (`recent`).
    pub recent_blocks: crate::recent::RecentBlocks,
}

impl Node {
    /// Block 0, the genesis: nothing executed, the genesis state's root, timestamp 0 and
    /// every other field zero. Its hash is zero by convention (block 1's `parentHash`, L1's
    /// batch 0), not the hash of this header.
    pub fn genesis_block(&self) -> (BlockHeader, B256) {
        let header = BlockHeader {
            number: 0,
            parent_hash: B256::ZERO,
            timestamp: 0,
            fee_recipient: Default::default(),
            tx_count: 0,
            transactions_root: B256::ZERO,
            state_root: self.genesis_root,
            withdrawals_root: B256::ZERO,
            queue_position: 0,
        };
        (header, B256::ZERO)
    }

    /// Opens storage and rebuilds the state; the node resumes at the block after the stored
    /// head, with the head's hash as parent.
    pub async fn open(config: Config) -> anyhow::Result<Arc<Self>> {
        Self::open_with_lease(config, None).await
    }

    /// [`Self::open`] for the holder of `lease`: its store's block and batch writes check
    /// the lease.
    pub async fn open_with_lease(
        config: Config,
        lease: Option<crate::lease::Lease>,
    ) -> anyhow::Result<Arc<Self>> {
        Self::open_leader(config, lease, None).await
    }

    /// [`Self::open_with_lease`] from `warm`, the state a standby kept current with the
    /// stored blocks ([`follow`]): only the blocks stored since are replayed.
    pub async fn open_leader(
        config: Config,
        lease: Option<crate::lease::Lease>,
        warm: Option<Warm>,
    ) -> anyhow::Result<Arc<Self>> {
        Self::open_as(config, lease, warm, false).await
    }

    /// A follower of the leader's database: the state rebuilt from it, kept current by
    /// [`follow_blocks`]; nothing is written.
    pub async fn open_follower(config: Config) -> anyhow::Result<Arc<Self>> {
        Self::open_as(config, None, None, true).await
    }

    async fn open_as(
        config: Config,
        lease: Option<crate::lease::Lease>,
        warm: Option<Warm>,
        follower: bool,
    ) -> anyhow::Result<Arc<Self>> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("create data directory {}", config.data_dir.display()))?;
        let mut store = Store::connect(config.database_url.as_deref(), &config.data_dir)
            .await
            .context("open storage")?;
        if let Some(lease) = &lease {
            store = store.fenced(lease.fence.clone());
        }
        if !follower {
            check_chain_params(&store, &config).await?;
        }
        let domain = config.domain();
        let genesis = genesis_state(&config)?;
        let (genesis_root, genesis_accounts) = (genesis.state_root(), genesis.account_count());
        let (executor, warm) = match warm {
            Some(w) => (w.executor, Some((w.state, w.head))),
            None => (ParallelExecutor::new(config.executor_threads), None),
        };
        let (state, head, recovery, executor) = recover(
            &store,
            move || Ok(genesis),
            warm,
            &domain,
            config.dispute_window,
            executor,
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
        let feed_slots = Arc::new(tokio::sync::Semaphore::new(config.api.max_feed_connections));
        // Room for two batches' transactions: the batcher is at most about one behind.
        let recent_blocks =
            crate::recent::RecentBlocks::new(2 * config.batch.max_txs.min(1 << 20) as usize);
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
            pending_txs: tokio::sync::broadcast::Sender::new(PENDING_TX_CHANNEL),
            feed: crate::feed::Feed::default(),
            feed_slots,
            lease,
            follower,
            ingress_acks: crate::ingress::Acks::default(),
            recent_blocks,
        }))
    }

    /// Whether this node may seal blocks now: always without a lease; with one, while it is
    /// valid by this node's clock.
    pub fn may_seal(&self) -> bool {
        self.lease.as_ref().is_none_or(crate::lease::Lease::valid)
    }

    /// The latest stored block.
    pub fn head(&self) -> Head {
        *self.head.borrow()
    }

    /// Tells `newPendingTransactions` subscribers, if any, of an admitted transaction.
    pub fn announce_pending(&self, hash: B256) {
        if self.pending_txs.receiver_count() > 0 {
            let _ = self.pending_txs.send(hash);
        }
    }

    /// L1 queue entries stored but not yet in a block.
    pub fn pending_queue_entries(&self) -> u64 {
        let taken = self.queue_len.load(Ordering::Acquire);
        taken.saturating_sub(self.state.read().queue_position())
    }
}

/// A state kept current with the stored blocks by a standby ([`follow`]), and its block.
#[derive(Debug)]
pub struct Warm {
    state: State,
    head: Head,
    /// Its executor (a thread pool), kept from one step to the next.
    executor: ParallelExecutor,
}

impl Warm {
    /// The block the state is at.
    pub fn head(&self) -> Head {
        self.head
    }
}

/// One step of a hot standby: brings `warm` (or, the first time, a state rebuilt from the
/// snapshot and the stored blocks) up to the newest stored block, re-executing each block
/// and checking its state root and receipts, as a start does.
pub async fn follow(config: &Config, store: &Store, warm: Option<Warm>) -> anyhow::Result<Warm> {
    let (executor, warm) = match warm {
        Some(w) => (w.executor, Some((w.state, w.head))),
        None => (ParallelExecutor::new(config.executor_threads), None),
    };
    let (mut state, head, _, executor) = recover(
        store,
        || genesis_state(config),
        warm,
        &config.domain(),
        config.dispute_window,
        executor,
    )
    .await?;
    // Nothing snapshots a standby's changes: dropped, not kept growing.
    state.take_changes();
    Ok(Warm {
        state,
        head,
        executor,
    })
}

/// How often a follower looks for new stored blocks.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// A follower's task until `stop`: every [`FOLLOW_POLL`], replays the blocks the leader has
/// stored since (each re-executed, its state root and receipts checked), then moves the
/// head and tells the feed, as the leader's builder does after a commit.
pub async fn follow_blocks(node: Arc<Node>, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    let mut executor = Some(ParallelExecutor::new(node.config.executor_threads));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
        let Some((stored_head, _)) = node.store.head().await? else {
            continue;
        };
        for number in node.head().number + 1..=stored_head.number {
            let (header, hash) = node
                .store
                .header_by_number(number)
                .await?
                .with_context(|| format!("block {number} missing"))?;
            let transactions = node.store.block_transactions(number).await?;
            let env = header.env(node.domain, node.config.dispute_window);
            let (mut ex, shared) = (executor.take().expect("returned"), node.clone());
            let block = SealedBlock {
                header,
                hash,
                transactions,
                // Only the feed reads this block, not its account count.
                account_count: None,
            };
            let (ex, block, replayed) = tokio::task::spawn_blocking(move || {
                let mut state = shared.state.write();
                let r = replay_block(
                    &shared.domain,
                    &mut ex,
                    &mut state,
                    &block.header,
                    &env,
                    &block.transactions,
                );
                // Nothing snapshots a follower's changes.
                state.take_changes();
                (ex, block, r)
            })
            .await
            .context("replay task")?;
            executor = Some(ex);
            replayed.with_context(|| format!("follow block {number}"))?;
            node.head.send_replace(Head {
                number,
                hash,
                timestamp: block.header.timestamp,
            });
            node.metrics.block_height.set(number as i64);
            node.feed.block(&block);
        }
    }
}

/// Admitted transaction hashes buffered for each `newPendingTransactions` subscriber.
const PENDING_TX_CHANNEL: usize = 4096;

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

/// Blocks read and decoded ahead of the one being replayed.
const REPLAY_READ_AHEAD: usize = 4;

/// Rebuilds the state: latest snapshot point (full snapshot plus deltas), then every stored
/// block after it, each checked against its stored state root and receipts. Turns change
/// tracking on from the point, so the first snapshot point after the start covers the
/// replayed blocks.
async fn recover(
    store: &Store,
    genesis: impl FnOnce() -> anyhow::Result<State>,
    warm: Option<(State, Head)>,
    domain: &Domain,
    dispute_window: u64,
    mut executor: ParallelExecutor,
) -> anyhow::Result<(State, Head, Recovery, ParallelExecutor)> {
    let mut recovery = Recovery::default();
    let quiet = warm.is_some();
    let Some((head_header, head_hash)) = store.head().await? else {
        let mut state = match warm {
            // A standby following an empty chain.
            Some((state, _)) => state,
            None => {
                let genesis = genesis()?;
                info!(state_root = %genesis.state_root(), "starting from genesis");
                genesis
            }
        };
        state.track_changes();
        return Ok((
            state,
            Head {
                number: 0,
                hash: B256::ZERO,
                timestamp: 0,
            },
            recovery,
            executor,
        ));
    };
    let started = Instant::now();
    let (mut state, from) = match warm {
        Some((state, head)) => {
            // Stored blocks never change (fenced writes, unique numbers): a mismatch means
            // another chain in this database.
            let stored = match head.number {
                0 => Some(B256::ZERO),
                n => store.header_by_number(n).await?.map(|(_, hash)| hash),
            };
            ensure!(
                stored == Some(head.hash),
                "the followed block {} is not the stored one",
                head.number
            );
            // Its changes since the last snapshot point are not tracked: `snapshot_block`
            // stays `None`, so the first point written is a full snapshot.
            (state, head.number + 1)
        }
        None => match load_snapshot(store, head_header.number, &mut recovery).await? {
            Some((state, point)) => (state, point + 1),
            None => (genesis()?, 1),
        },
    };
    state.track_changes();
    recovery.load = started.elapsed();
    if quiet {
        debug!(from, to = head_header.number, "following stored blocks");
    } else {
        info!(from, to = head_header.number, "replaying stored blocks");
    }
    // A reader task fetches and decodes the next blocks while this one executes.
    let (to_replay, mut reads) = tokio::sync::mpsc::channel(REPLAY_READ_AHEAD);
    let reader = {
        let (store, to) = (store.clone(), head_header.number);
        tokio::spawn(async move {
            for number in from..=to {
                let t = Instant::now();
                let read = async {
                    let (header, _) = store
                        .header_by_number(number)
                        .await?
                        .with_context(|| format!("block {number} missing"))?;
                    let stored = store.block_transactions(number).await?;
                    anyhow::Ok((header, stored))
                }
                .await;
                let failed = read.is_err();
                if to_replay.send((read, t.elapsed())).await.is_err() || failed {
                    break;
                }
            }
        })
    };
    let mut expected = from;
    while let Some((read, read_time)) = reads.recv().await {
        let (header, stored) = read?;
        ensure!(header.number == expected, "block {expected} missing");
        expected += 1;
        recovery.read += read_time;
        let env = header.env(*domain, dispute_window);
        let domain = *domain;
        let replayed = tokio::task::spawn_blocking(move || {
            let r = replay_block(&domain, &mut executor, &mut state, &header, &env, &stored);
            (executor, state, r)
        })
        .await
        .context("replay task")?;
        let (hash, execute, txs);
        (executor, state, (hash, execute, txs)) = (replayed.0, replayed.1, replayed.2?);
        recovery.hash += hash;
        recovery.execute += execute;
        recovery.txs_replayed += txs;
        recovery.blocks_replayed += 1;
        if (expected - 1).is_multiple_of(1_000) && !quiet {
            info!(number = expected - 1, to = head_header.number, "replaying");
        }
    }
    reader.await.context("block reader")?;
    ensure!(
        expected == head_header.number + 1,
        "replay stopped at block {expected}"
    );
    ensure!(
        state.state_root() == head_header.state_root,
        "rebuilt state root differs from the head's"
    );
    recovery.total = started.elapsed();
    if quiet {
        debug!(
            head = head_header.number,
            blocks = recovery.blocks_replayed,
            "followed"
        );
    } else {
        info!(
            head = head_header.number,
            state_root = %head_header.state_root,
            snapshot_block = recovery.snapshot_block,
            deltas_applied = recovery.deltas_applied,
            blocks_replayed = recovery.blocks_replayed,
            txs_replayed = recovery.txs_replayed,
            load_ms = recovery.load.as_millis() as u64,
            read_ms = recovery.read.as_millis() as u64,
            hash_ms = recovery.hash.as_millis() as u64,
            execute_ms = recovery.execute.as_millis() as u64,
            elapsed_ms = recovery.total.as_millis() as u64,
            "state rebuilt"
        );
    }
    Ok((
        state,
        Head {
            number: head_header.number,
            hash: head_hash,
            timestamp: head_header.timestamp,
        },
        recovery,
        executor,
    ))
}

/// The state at the newest snapshot point at or below `head`: the newest full snapshot with
/// the deltas after it applied in order, its trees built once and its root checked against
/// the stored header of the point's block. `None` without a full snapshot.
async fn load_snapshot(
    store: &Store,
    head: u64,
    recovery: &mut Recovery,
) -> anyhow::Result<Option<(State, u64)>> {
    let chain = store.snapshot_chain().await?;
    let Some((full, deltas)) = chain.split_first() else {
        return Ok(None);
    };
    if full.block_number > head {
        warn!(
            snapshot = full.block_number,
            head, "the newest snapshot is past the stored head; replaying from genesis"
        );
        return Ok(None);
    }
    let mut data = StateData::decode(&full.data).context("decode snapshot")?;
    recovery.snapshot_full_bytes = full.data.len() as u64;
    let (mut point, mut root) = (full.block_number, full.state_root);
    for row in deltas.iter().take_while(|d| d.block_number <= head) {
        let (base, delta) = StateDelta::decode(&row.data)
            .with_context(|| format!("decode the snapshot delta of block {}", row.block_number))?;
        if base != point {
            // Not written on top of this chain (a write this node never finished
            // cannot leave one; an operator's copy could): stop at the last point.
            warn!(
                delta = row.block_number,
                base, point, "snapshot delta not on top of the chain; ignored with those after it"
            );
            break;
        }
        data.apply(&delta)
            .with_context(|| format!("apply the snapshot delta of block {}", row.block_number))?;
        recovery.deltas_applied += 1;
        recovery.snapshot_delta_bytes += row.data.len() as u64;
        (point, root) = (row.block_number, row.state_root);
    }
    let state = tokio::task::spawn_blocking(move || State::from_data(data))
        .await
        .context("snapshot rebuild")?
        .context("rebuild the snapshot's state")?;
    let (header, _) = store
        .header_by_number(point)
        .await?
        .context("snapshot of a block that is not stored")?;
    ensure!(
        state.state_root() == header.state_root && root == header.state_root,
        "snapshot point of block {point} does not match its stored state root"
    );
    recovery.snapshot_block = Some(point);
    Ok(Some((state, point)))
}

/// Re-executes one stored block and checks its state root and receipts. The stored
/// transactions were admitted with their signatures checked and committed durably, so their
/// signatures are trusted; their hashes are recomputed (in parallel) and every root and
/// receipt is checked. Returns the time spent hashing, executing, and the transactions.
fn replay_block(
    domain: &Domain,
    executor: &mut ParallelExecutor,
    state: &mut State,
    header: &BlockHeader,
    env: &weft_protocol::execution::BlockEnv,
    stored: &[crate::store::StoredTransaction],
) -> anyhow::Result<(Duration, Duration, u64)> {
    let t = Instant::now();
    let txs: Vec<VerifiedTransaction> = stored
        .par_iter()
        .map(|t| t.transaction.clone().assume_verified(domain))
        .collect();
    for (tx, s) in txs.iter().zip(stored) {
        ensure!(
            tx.hash == s.hash,
            "stored transaction {} hashes differently",
            s.hash
        );
    }
    let hash = t.elapsed();
    let t = Instant::now();
    let out = executor
        .execute_block(state, env, &txs)
        .with_context(|| format!("replay block {}", header.number))?;
    if out.state_root != header.state_root {
        bail!(
            "replayed block {} gives state root {}, stored {}",
            header.number,
            out.state_root,
            header.state_root
        );
    }
    for (receipt, s) in out.receipts.iter().zip(stored) {
        ensure!(
            *receipt == s.receipt,
            "replayed receipt of {} differs from the stored one",
            s.hash
        );
    }
    // As the builder does once a block is sealed: BLOCKHASH of later blocks reads it.
    state.push_block_hash(header.number, header.hash());
    Ok((hash, t.elapsed(), txs.len() as u64))
}

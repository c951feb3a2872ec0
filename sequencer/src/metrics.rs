//! Prometheus metrics of the node: one struct, registered once, served at `/metrics`.

use std::sync::atomic::AtomicU64;

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

/// Label of a counter keyed by a reason or error code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    /// The stable code.
    pub reason: String,
}

/// Label of a counter keyed by a DA carrier (`calldata`, `blobs`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CarrierLabel {
    /// The carrier.
    pub carrier: String,
}

/// Every metric the sequencer exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Transactions in the mempool.
    pub mempool_txs: Gauge,
    /// Encoded bytes in the mempool.
    pub mempool_bytes: Gauge,
    /// Number of the latest stored block.
    pub block_height: Gauge,
    /// Transactions per sealed block.
    pub block_txs: Histogram,
    /// Blocks sealed, by seal rule.
    pub seals: Family<Reason, Counter>,
    /// Submissions rejected at admission, by error code.
    pub rejections: Family<Reason, Counter>,
    /// Transactions admitted to the mempool.
    pub admitted: Counter,
    /// JSON-RPC requests answered with an error, by JSON-RPC error code.
    pub rpc_errors: Family<Reason, Counter>,
    /// Transactions executed and stored.
    pub executed: Counter,
    /// Transactions a block took but left out for a later one (they did not fit its gas).
    pub left_out: Counter,
    /// Seconds to execute a block (state root included).
    pub executor_seconds: Histogram,
    /// Seconds to write a block to the database.
    pub store_seconds: Histogram,
    /// Index of the newest sealed batch.
    pub batches_sealed: Gauge,
    /// Blocks the batcher read back from the database (not handed over in memory: stored
    /// before a restart, or past the hand-over's bound).
    pub batcher_block_reads: Counter,
    /// Index of the newest batch committed on L1 (confirmed).
    pub batches_committed: Gauge,
    /// Index of the newest batch proven on L1 (confirmed).
    pub batches_proven: Gauge,
    /// Index of the newest batch finalized on L1 (confirmed).
    pub batches_finalized: Gauge,
    /// The latest L1 block seen.
    pub l1_head_block: Gauge,
    /// The newest L1 block whose events the watcher has taken.
    pub l1_safe_block: Gauge,
    /// L1 queue entries taken (the next queue index).
    pub l1_queue_entries: Gauge,
    /// 1 once the poster has halted on a revert (it posts nothing more until a restart).
    pub l1_poster_halted: Gauge,
    /// 1 while the poster cannot post for a reason that needs an operator (funds, L1 down).
    pub l1_poster_alert: Gauge,
    /// The poster's L1 balance in wei.
    pub l1_poster_balance_wei: Gauge<f64, AtomicU64>,
    /// Base fee of the latest L1 block, in wei per gas.
    pub l1_base_fee_wei: Gauge<f64, AtomicU64>,
    /// Fees paid by the poster's included transactions, in wei.
    pub l1_fees_paid_wei: Counter<f64, AtomicU64>,
    /// Gas used by the poster's included transactions.
    pub l1_gas_used: Counter,
    /// Blob gas used by the poster's included transactions.
    pub l1_blob_gas_used: Counter,
    /// Blob base fee of the next L1 block, in wei per blob gas.
    pub l1_blob_base_fee_wei: Gauge<f64, AtomicU64>,
    /// Batches posted, by the DA carrier the poster chose.
    pub l1_da_choices: Family<CarrierLabel, Counter>,
    /// Commit transactions signed and sent, by why (`new`, `bump`).
    pub l1_transactions_sent: Family<Reason, Counter>,
    /// Seconds from signing a batch's first commit transaction to seeing it included.
    pub l1_commit_seconds: Histogram,
    /// Open live-feed connections (`/v1/ws`).
    pub feed_connections: Gauge,
    /// Feed connections that lagged and caught up from the store.
    pub feed_resyncs: Counter,
    /// Feed connections closed because their socket did not drain.
    pub feed_dropped: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("weft");
        let m = Self {
            mempool_txs: Gauge::default(),
            mempool_bytes: Gauge::default(),
            block_height: Gauge::default(),
            block_txs: Histogram::new(exponential_buckets(1.0, 2.0, 16)),
            seals: Family::default(),
            rejections: Family::default(),
            admitted: Counter::default(),
            rpc_errors: Family::default(),
            executed: Counter::default(),
            left_out: Counter::default(),
            executor_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            store_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            batches_sealed: Gauge::default(),
            batcher_block_reads: Counter::default(),
            batches_committed: Gauge::default(),
            batches_proven: Gauge::default(),
            batches_finalized: Gauge::default(),
            l1_head_block: Gauge::default(),
            l1_safe_block: Gauge::default(),
            l1_queue_entries: Gauge::default(),
            l1_poster_halted: Gauge::default(),
            l1_poster_alert: Gauge::default(),
            l1_poster_balance_wei: Gauge::default(),
            l1_base_fee_wei: Gauge::default(),
            l1_fees_paid_wei: Counter::default(),
            l1_gas_used: Counter::default(),
            l1_blob_gas_used: Counter::default(),
            l1_blob_base_fee_wei: Gauge::default(),
            l1_da_choices: Family::default(),
            l1_transactions_sent: Family::default(),
            l1_commit_seconds: Histogram::new(exponential_buckets(0.05, 2.0, 14)),
            feed_connections: Gauge::default(),
            feed_resyncs: Counter::default(),
            feed_dropped: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "mempool_transactions",
            "Transactions in the mempool",
            m.mempool_txs.clone(),
        );
        registry.register(
            "mempool_bytes",
            "Encoded bytes in the mempool",
            m.mempool_bytes.clone(),
        );
        registry.register(
            "block_height",
            "Number of the latest stored block",
            m.block_height.clone(),
        );
        registry.register(
            "block_transactions",
            "Transactions per sealed block",
            m.block_txs.clone(),
        );
        registry.register(
            "block_seals",
            "Blocks sealed, by seal rule",
            m.seals.clone(),
        );
        registry.register(
            "rpc_errors",
            "JSON-RPC requests answered with an error, by error code",
            m.rpc_errors.clone(),
        );
        registry.register(
            "admission_rejections",
            "Submissions rejected at admission, by error code",
            m.rejections.clone(),
        );
        registry.register(
            "transactions_admitted",
            "Transactions admitted to the mempool",
            m.admitted.clone(),
        );
        registry.register(
            "transactions_executed",
            "Transactions executed and stored",
            m.executed.clone(),
        );
        registry.register(
            "transactions_left_out",
            "Transactions a block took but left out for a later one: they did not fit its gas",
            m.left_out.clone(),
        );
        registry.register(
            "batcher_block_reads",
            "Blocks the batcher read back from the database instead of taking them in memory",
            m.batcher_block_reads.clone(),
        );
        registry.register(
            "executor_seconds",
            "Seconds to execute a block, state root included",
            m.executor_seconds.clone(),
        );
        registry.register(
            "store_seconds",
            "Seconds to write a block to the database",
            m.store_seconds.clone(),
        );
        registry.register(
            "batches_sealed",
            "Index of the newest sealed batch",
            m.batches_sealed.clone(),
        );
        let gauges = [
            (
                "batches_committed",
                "Index of the newest batch committed on L1 (confirmed)",
                &m.batches_committed,
            ),
            (
                "batches_proven",
                "Index of the newest batch proven on L1 (confirmed)",
                &m.batches_proven,
            ),
            (
                "batches_finalized",
                "Index of the newest batch finalized on L1 (confirmed)",
                &m.batches_finalized,
            ),
            (
                "l1_head_block",
                "The latest L1 block seen",
                &m.l1_head_block,
            ),
            (
                "l1_safe_block",
                "The newest L1 block whose events the watcher has taken",
                &m.l1_safe_block,
            ),
            (
                "l1_queue_entries",
                "L1 queue entries taken (the next queue index)",
                &m.l1_queue_entries,
            ),
            (
                "l1_poster_halted",
                "1 once the poster has halted on a revert",
                &m.l1_poster_halted,
            ),
            (
                "l1_poster_alert",
                "1 while the poster cannot post for a reason that needs an operator",
                &m.l1_poster_alert,
            ),
        ];
        for (name, help, gauge) in gauges {
            registry.register(name, help, gauge.clone());
        }
        registry.register(
            "l1_poster_balance_wei",
            "The poster's L1 balance in wei",
            m.l1_poster_balance_wei.clone(),
        );
        registry.register(
            "l1_base_fee_wei",
            "Base fee of the latest L1 block, in wei per gas",
            m.l1_base_fee_wei.clone(),
        );
        registry.register(
            "l1_fees_paid_wei",
            "Fees paid by the poster's included transactions, in wei",
            m.l1_fees_paid_wei.clone(),
        );
        registry.register(
            "l1_gas_used",
            "Gas used by the poster's included transactions",
            m.l1_gas_used.clone(),
        );
        registry.register(
            "l1_blob_gas_used",
            "Blob gas used by the poster's included transactions",
            m.l1_blob_gas_used.clone(),
        );
        registry.register(
            "l1_blob_base_fee_wei",
            "Blob base fee of the next L1 block, in wei per blob gas",
            m.l1_blob_base_fee_wei.clone(),
        );
        registry.register(
            "l1_da_choices",
            "Batches posted, by the DA carrier chosen (calldata, blobs)",
            m.l1_da_choices.clone(),
        );
        registry.register(
            "l1_transactions_sent",
            "Commit transactions signed and sent, by why (new, bump)",
            m.l1_transactions_sent.clone(),
        );
        registry.register(
            "l1_commit_seconds",
            "Seconds from signing a batch's first commit transaction to its inclusion",
            m.l1_commit_seconds.clone(),
        );
        registry.register(
            "feed_connections",
            "Open live-feed connections (/v1/ws)",
            m.feed_connections.clone(),
        );
        registry.register(
            "feed_resyncs",
            "Feed connections that lagged and caught up from the store",
            m.feed_resyncs.clone(),
        );
        registry.register(
            "feed_dropped",
            "Feed connections closed because their socket did not drain",
            m.feed_dropped.clone(),
        );
        Self { registry, ..m }
    }

    /// Counts a rejection with its code.
    pub fn reject(&self, code: &str) {
        self.rejections
            .get_or_create(&Reason {
                reason: code.into(),
            })
            .inc();
    }

    /// Counts a JSON-RPC error with its code.
    pub fn rpc_error(&self, code: i64) {
        self.rpc_errors
            .get_or_create(&Reason {
                reason: code.to_string(),
            })
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

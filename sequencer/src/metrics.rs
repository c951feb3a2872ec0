//! Prometheus metrics of the node: one struct, registered once, served at `/metrics`.

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
    /// Transactions executed and stored.
    pub executed: Counter,
    /// Seconds to execute a block (state root included).
    pub executor_seconds: Histogram,
    /// Seconds to write a block to the database.
    pub store_seconds: Histogram,
    /// Index of the newest sealed batch.
    pub batches_sealed: Gauge,
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
            executed: Counter::default(),
            executor_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            store_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            batches_sealed: Gauge::default(),
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

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

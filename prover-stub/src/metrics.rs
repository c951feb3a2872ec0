//! The prover's Prometheus metrics.

use prometheus_client::{
    encoding::text::encode,
    metrics::{counter::Counter, gauge::Gauge},
    registry::Registry,
};

/// Every metric the prover exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// The last batch checked.
    pub checked_batch: Gauge,
    /// Batches attested by this prover.
    pub attested: Counter,
    /// 1 while halted on a batch it refuses.
    pub halted: Gauge,
    /// Transactions re-executed (signatures verified included).
    pub transactions: Counter,
    /// Re-execution rate of the last batch, transactions per second.
    pub last_batch_tps: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("weft_prover");
        let m = Self {
            checked_batch: Gauge::default(),
            attested: Counter::default(),
            halted: Gauge::default(),
            transactions: Counter::default(),
            last_batch_tps: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "checked_batch",
            "The last batch checked",
            m.checked_batch.clone(),
        );
        registry.register(
            "attested_batches",
            "Batches attested by this prover",
            m.attested.clone(),
        );
        registry.register(
            "halted",
            "1 while halted on a refused batch",
            m.halted.clone(),
        );
        registry.register(
            "transactions",
            "Transactions re-executed, signatures included",
            m.transactions.clone(),
        );
        registry.register(
            "last_batch_tps",
            "Re-execution rate of the last batch (tx/s)",
            m.last_batch_tps.clone(),
        );
        Self { registry, ..m }
    }
}

impl Metrics {
    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

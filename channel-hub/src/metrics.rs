//! Prometheus metrics of the hub: one struct, registered once, served at `/metrics`.

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
use weft_protocol::primitives::TokenId;

/// Label: a token id.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabel {
    /// The token.
    pub token: u32,
}

/// Label: how something ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `ok` or `failed`.
    pub outcome: &'static str,
}

/// Every metric the hub exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Channels the hub serves (registered and not closed).
    pub channels: Gauge,
    /// The hub's balance in its channels' latest co-signed states, per token (base units).
    pub liquidity: Family<TokenLabel, Gauge<f64, AtomicU64>>,
    /// Routed payments by outcome (`ok`: settled; `failed`: refunded).
    pub payments: Family<OutcomeLabel, Counter>,
    /// Connected wallets.
    pub sessions: Gauge,
    /// Seconds from a wallet's state update to the hub's answer.
    pub update_seconds: Histogram,
    /// Seconds to make a group of writes durable (queueing included).
    pub persist_seconds: Histogram,
    /// Routed payments' seconds from the payer's request to the payee's answer.
    pub route_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("weft_hub");
        let m = Self {
            channels: Gauge::default(),
            liquidity: Family::default(),
            payments: Family::default(),
            sessions: Gauge::default(),
            update_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            persist_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            route_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 18)),
            registry: Registry::default(),
        };
        registry.register("channels", "Channels served", m.channels.clone());
        registry.register(
            "liquidity",
            "The hub's balance in its channels' latest states, per token (base units)",
            m.liquidity.clone(),
        );
        registry.register("payments", "Routed payments by outcome", m.payments.clone());
        registry.register("sessions", "Connected wallets", m.sessions.clone());
        registry.register(
            "update_seconds",
            "Seconds from a wallet's state update to the hub's answer",
            m.update_seconds.clone(),
        );
        registry.register(
            "persist_seconds",
            "Seconds to make a group of writes durable",
            m.persist_seconds.clone(),
        );
        registry.register(
            "route_seconds",
            "Seconds from a routed payment's request to the payee's answer",
            m.route_seconds.clone(),
        );
        Self { registry, ..m }
    }

    /// Adds `delta` (may be negative) to the hub's liquidity in `token`.
    pub fn add_liquidity(&self, token: TokenId, delta: f64) {
        self.liquidity
            .get_or_create(&TokenLabel { token })
            .inc_by(delta);
    }

    /// Counts a routed payment's outcome.
    pub fn payment(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "failed" };
        self.payments.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

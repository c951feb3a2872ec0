//! Per-client rate limiting: a token bucket per client IP, charged by work and answered
//! with 429 `rate_limited`.
//!
//! Every request costs one token, taken by the [`rate_limit`] middleware before anything
//! else runs; a batch costs one token per transaction: its handler takes the rest through
//! [`RateCharge`] once the batch is parsed and before any signature is recovered. `/health`
//! and `/metrics` ([`UNMETERED_PATHS`]) are not charged, so probes and scrapes from a busy
//! client's address keep working.

use std::{
    collections::HashMap,
    convert::Infallible,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Instant,
};

use axum::{
    extract::{ConnectInfo, FromRequestParts, Request, State},
    http::{StatusCode, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use parking_lot::Mutex;

use crate::api::error::ApiError;

/// Most clients tracked before idle buckets are pruned.
const MAX_TRACKED_CLIENTS: usize = 100_000;

/// Paths that cost no token: probes and scrapes must not compete with the client's work.
pub const UNMETERED_PATHS: [&str; 2] = ["/health", "/metrics"];

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets keyed by client IP.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    /// `per_second` tokens sustained, `burst` at once.
    pub fn new(per_second: u64, burst: u32) -> Self {
        Self {
            per_second: per_second as f64,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        }
    }

    /// Takes one token for `ip`; `false` if its bucket is empty.
    pub fn allow(&self, ip: IpAddr) -> bool {
        self.take(ip, 1)
    }

    /// Takes `n` tokens for `ip`, all or none; `false` if its bucket holds fewer.
    pub fn take(&self, ip: IpAddr, n: usize) -> bool {
        let now = Instant::now();
        let mut buckets = self.buckets.lock();
        if buckets.len() >= MAX_TRACKED_CLIENTS {
            let full = self.burst / self.per_second;
            buckets.retain(|_, b| now.duration_since(b.updated).as_secs_f64() < full);
        }
        let b = buckets.entry(ip).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let refill = now.duration_since(b.updated).as_secs_f64() * self.per_second;
        b.tokens = (b.tokens + refill).min(self.burst);
        b.updated = now;
        let n = n as f64;
        if b.tokens >= n {
            b.tokens -= n;
            true
        } else {
            false
        }
    }
}

fn rate_limited(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
}

/// Middleware: one token per request (none for [`UNMETERED_PATHS`]), 429 `rate_limited`
/// when the client's bucket is empty; leaves a [`RateCharge`] for handlers that cost more.
/// Requests without a peer address (in-process tests) are not limited.
pub async fn rate_limit(
    State(limiter): State<Arc<RateLimiter>>,
    mut request: Request,
    next: Next,
) -> Response {
    if UNMETERED_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(ip) = peer {
        if !limiter.allow(ip) {
            return rate_limited("too many requests").into_response();
        }
        request
            .extensions_mut()
            .insert(RateCharge(Some((limiter, ip))));
    }
    next.run(request).await
}

/// A handler's access to its client's bucket, for work beyond the request's one token.
/// Without rate limiting (or a peer address) it charges nothing.
#[derive(Debug, Clone, Default)]
pub struct RateCharge(Option<(Arc<RateLimiter>, IpAddr)>);

impl RateCharge {
    /// Takes `n` more tokens, all or none: 429 `rate_limited` if the bucket holds fewer.
    pub fn take(&self, n: usize, what: &str) -> Result<(), ApiError> {
        match &self.0 {
            Some((limiter, ip)) if n > 0 && !limiter.take(*ip, n) => Err(rate_limited(format!(
                "{what} exceeds the client's rate limit"
            ))),
            _ => Ok(()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RateCharge {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(parts.extensions.get::<Self>().cloned().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_the_burst_then_refuses() {
        let limiter = RateLimiter::new(1, 3);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!((0..3).all(|_| limiter.allow(ip)));
        assert!(!limiter.allow(ip));
        assert!(
            limiter.allow("127.0.0.2".parse().unwrap()),
            "buckets are per client"
        );
    }

    #[test]
    fn taking_many_is_all_or_nothing() {
        let limiter = RateLimiter::new(1, 10);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(limiter.take(ip, 8));
        assert!(!limiter.take(ip, 8), "two left");
        assert!(limiter.take(ip, 2), "the refused take took nothing");
    }
}

//! Submission: the clients, pacing, and what the node answered.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering::Relaxed},
    },
    time::Duration,
};

use anyhow::{Context, Result, ensure};
use serde::Deserialize;
use weft_api::{Client, ErrorBody};

use crate::{
    NETWORK_ATTEMPTS, RETRY_DELAY, RETRYABLE,
    progress::Shared,
    workload::{PhaseRequests, Request},
};

/// Paces requests: request `k` is due at `start + k × interval`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pacing {
    pub(crate) start: tokio::time::Instant,
    pub(crate) interval: Duration,
}

impl Pacing {
    pub(crate) fn due(&self, k: usize) -> tokio::time::Instant {
        self.start + self.interval.mul_f64(k as f64)
    }
}

/// One client: takes the next request until none is left.
pub(crate) async fn client(
    api: Client,
    shared: Arc<Shared>,
    phase: Arc<PhaseRequests>,
    next: Arc<AtomicUsize>,
    pacing: Option<Pacing>,
) -> Result<()> {
    loop {
        let k = next.fetch_add(1, Relaxed);
        let Some(request) = phase.requests.get(k) else {
            return Ok(());
        };
        if let Some(p) = pacing {
            let due = p.due(k);
            tokio::time::sleep_until(due).await;
            let lag = tokio::time::Instant::now().saturating_duration_since(due);
            shared.max_lag_ns.fetch_max(lag.as_nanos() as u64, Relaxed);
        }
        submit(&api, &shared, &phase, request).await?;
    }
}

/// What the node answered to one request.
pub(crate) enum Answer {
    /// Refused for capacity: send it again.
    Retry(String),
    /// One entry per transaction: `None` accepted, `Some(code)` rejected.
    Results(Vec<Option<String>>),
}

/// Sends one request until the node takes it (resubmission is idempotent).
pub(crate) async fn submit(
    api: &Client,
    shared: &Shared,
    phase: &PhaseRequests,
    request: &Request,
) -> Result<()> {
    loop {
        shared.mark_sent(request.txs.clone(), shared.now_ns());
        let (status, body) = post(api, phase.path(), &request.body).await?;
        shared.last_reply_ns.fetch_max(shared.now_ns(), Relaxed);
        match parse_answer(phase.single, status, &body, request.txs.len())? {
            Answer::Retry(code) => {
                shared.retry(&code);
                tokio::time::sleep(RETRY_DELAY).await;
            }
            Answer::Results(results) => {
                for code in results.iter().flatten() {
                    shared.reject(code);
                }
                let accepted = results.iter().filter(|r| r.is_none()).count();
                shared.submitted.fetch_add(accepted as u64, Relaxed);
                return Ok(());
            }
        }
    }
}

pub(crate) fn parse_answer(
    single: bool,
    status: reqwest::StatusCode,
    body: &[u8],
    txs: usize,
) -> Result<Answer> {
    let text = || String::from_utf8_lossy(body).into_owned();
    if !status.is_success() {
        let error: ErrorBody = serde_json::from_slice(body)
            .with_context(|| format!("{status} without an error code: {}", text()))?;
        if RETRYABLE.contains(&error.code.as_str()) {
            return Ok(Answer::Retry(error.code));
        }
        ensure!(single, "batch refused: {status}: {}", text());
        return Ok(Answer::Results(vec![Some(error.code)]));
    }
    if single {
        return Ok(Answer::Results(vec![None]));
    }
    let reply: BatchErrors = serde_json::from_slice(body)
        .with_context(|| format!("unexpected batch reply: {}", text()))?;
    ensure!(
        reply.results.len() == txs,
        "batch reply has {} results for {txs} transactions",
        reply.results.len()
    );
    let codes: Vec<Option<String>> = reply
        .results
        .into_iter()
        .map(|r| r.error.map(|e| e.code))
        .collect();
    if let Some(code) = codes
        .iter()
        .flatten()
        .find(|c| RETRYABLE.contains(&c.as_str()))
    {
        return Ok(Answer::Retry(code.clone()));
    }
    Ok(Answer::Results(codes))
}

/// The refusals of a batch reply ([`weft_api::SubmitBatchReply`] with only each result's
/// `error` decoded): the clients count refusals and leave the accepted hashes undecoded.
#[derive(Debug, Deserialize)]
struct BatchErrors {
    results: Vec<ResultError>,
}

/// One result of [`BatchErrors`]: the [`weft_api::SubmitResult::Rejected`] error, if any.
#[derive(Debug, Deserialize)]
struct ResultError {
    #[serde(default)]
    error: Option<ErrorBody>,
}

/// POSTs a pre-serialized body; transport errors are retried a few times.
async fn post(api: &Client, path: &str, body: &[u8]) -> Result<(reqwest::StatusCode, Vec<u8>)> {
    let mut attempt = 1;
    loop {
        match api.send_encoded(path, body.to_vec()).await {
            Ok(ok) => return Ok(ok),
            Err(e) if attempt < NETWORK_ATTEMPTS => {
                eprintln!("POST {path}: {e}; retrying");
                attempt += 1;
                tokio::time::sleep(RETRY_DELAY).await;
            }
            Err(e) => return Err(e).with_context(|| format!("POST {}{path}", api.base())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_answers_count_rejections_and_ask_to_retry_when_full() {
        let ok = reqwest::StatusCode::OK;
        let body = br#"{"results":[{"hash":"0x00","status":"queued"},{"error":{"code":"nonce_too_low","message":"m"}}]}"#;
        match parse_answer(false, ok, body, 2).unwrap() {
            Answer::Results(r) => assert_eq!(r, vec![None, Some("nonce_too_low".to_string())]),
            Answer::Retry(_) => panic!("not a capacity refusal"),
        }
        let full = br#"{"results":[{"error":{"code":"mempool_full","message":"m"}}]}"#;
        assert!(
            matches!(parse_answer(false, ok, full, 1).unwrap(), Answer::Retry(c) if c == "mempool_full")
        );
        let limited = br#"{"code":"rate_limited","message":"m"}"#;
        let status = reqwest::StatusCode::TOO_MANY_REQUESTS;
        assert!(matches!(
            parse_answer(true, status, limited, 1).unwrap(),
            Answer::Retry(_)
        ));
        assert!(
            parse_answer(false, ok, full, 2).is_err(),
            "result count must match"
        );
    }
}

//! The workload: pre-signed transfers and pre-serialized request bodies, built before any timing.

use std::{ops::Range, sync::Arc};

use anyhow::{Context, Result, ensure};
use rayon::prelude::*;
use tokio::task::JoinSet;
use weft_api::Client;
use weft_protocol::genesis::dev_key;
use weft_protocol::{
    eip712::Domain,
    primitives::{Address, B256},
    signature::SigningKey,
    transaction::{SignedTransaction, Transaction, Transfer},
};

use crate::{AMOUNT, Args};

/// One pre-serialized request and the transactions it carries.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) body: Vec<u8>,
    pub(crate) txs: Range<usize>,
}

/// The requests of one phase.
#[derive(Debug)]
pub(crate) struct PhaseRequests {
    /// `POST /v1/transactions` (one each) rather than the batch route.
    pub(crate) single: bool,
    pub(crate) requests: Vec<Request>,
}

impl PhaseRequests {
    pub(crate) fn path(&self) -> &'static str {
        if self.single {
            weft_api::SUBMIT_PATH
        } else {
            weft_api::SUBMIT_BATCH_PATH
        }
    }

    pub(crate) fn txs(&self) -> Range<usize> {
        let start = self.requests.first().map_or(0, |r| r.txs.start);
        let end = self.requests.last().map_or(0, |r| r.txs.end);
        start..end
    }
}

/// Everything signed and serialized before timing.
#[derive(Debug)]
pub(crate) struct Workload {
    /// Canonical hash of every transaction, by index (throughput phase first).
    pub(crate) hashes: Vec<B256>,
    /// A few signed transactions for the signature ceiling.
    pub(crate) samples: Vec<SignedTransaction>,
    pub(crate) throughput: PhaseRequests,
    pub(crate) latency: PhaseRequests,
    /// Every signed transaction, by index (`--jetstream` publishes them).
    pub(crate) signed: Vec<SignedTransaction>,
}

/// The shape of the workload (the part of [`Args`] signing needs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WorkloadSpec {
    pub(crate) txs: usize,
    pub(crate) latency_txs: usize,
    pub(crate) batch: usize,
    pub(crate) latency_batch: usize,
    pub(crate) fee: u128,
    pub(crate) sig_samples: usize,
}

impl From<&Args> for WorkloadSpec {
    fn from(a: &Args) -> Self {
        Self {
            txs: a.txs,
            latency_txs: a.latency_txs(),
            batch: a.batch,
            latency_batch: a.latency_batch,
            fee: a.fee,
            sig_samples: a.sig_samples,
        }
    }
}

/// Transaction `i` goes from account `i % M` with that account's nonce `start + i / M`, so
/// consecutive transactions (one request) come from distinct senders and every sender's
/// nonces advance in submission order.
pub(crate) fn build_workload(
    args: WorkloadSpec,
    domain: &Domain,
    keys: &[SigningKey],
    start_nonces: &[u64],
) -> Workload {
    let m = keys.len();
    let total = args.txs + args.latency_txs;
    let signed: Vec<(B256, SignedTransaction, Vec<u8>)> = (0..total)
        .into_par_iter()
        .map(|i| {
            let (a, round) = (i % m, (i / m) as u64);
            let transaction = Transaction::Transfer(Transfer {
                from: keys[a].address(),
                to: keys[(a + 1) % m].address(),
                token: 0,
                amount: AMOUNT,
                fee: args.fee,
                nonce: start_nonces[a] + round,
            });
            let hash = transaction.hash(domain);
            let signed = SignedTransaction {
                signature: keys[a].sign_digest(&hash),
                transaction,
            };
            let json = serde_json::to_vec(&signed).expect("a transaction serializes");
            (hash, signed, json)
        })
        .collect();
    let hashes = signed.iter().map(|(h, _, _)| *h).collect();
    let samples = signed
        .iter()
        .take(args.sig_samples)
        .map(|(_, s, _)| s.clone())
        .collect();
    let jsons: Vec<&[u8]> = signed.iter().map(|(_, _, j)| j.as_slice()).collect();
    let throughput = phase_requests(&jsons, 0..args.txs, args.batch);
    let latency = phase_requests(&jsons, args.txs..total, args.latency_batch);
    Workload {
        hashes,
        samples,
        throughput,
        latency,
        signed: signed.into_iter().map(|(_, s, _)| s).collect(),
    }
}

pub(crate) fn phase_requests(jsons: &[&[u8]], txs: Range<usize>, batch: usize) -> PhaseRequests {
    let single = batch == 1;
    let starts: Vec<usize> = txs.clone().step_by(batch).collect();
    let requests = starts
        .into_par_iter()
        .map(|start| {
            let range = start..(start + batch).min(txs.end);
            let body = if single {
                jsons[start].to_vec()
            } else {
                batch_body(&jsons[range.clone()])
            };
            Request { body, txs: range }
        })
        .collect();
    PhaseRequests { single, requests }
}

pub(crate) fn batch_body(jsons: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::with_capacity(jsons.iter().map(|j| j.len() + 1).sum::<usize>() + 20);
    body.extend_from_slice(b"{\"transactions\":[");
    for (i, j) in jsons.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(j);
    }
    body.extend_from_slice(b"]}");
    body
}

/// The dev keys 0..M and their next nonces on the node; fails if one is not funded.
pub(crate) async fn dev_accounts(args: &Args, api: &Client) -> Result<(Vec<SigningKey>, Vec<u64>)> {
    let keys: Vec<SigningKey> = (0..args.accounts).into_par_iter().map(dev_key).collect();
    let addresses: Arc<Vec<Address>> = Arc::new(keys.iter().map(SigningKey::address).collect());
    let mut tasks = JoinSet::new();
    let chunk = addresses.len().div_ceil(args.clients);
    for start in (0..addresses.len()).step_by(chunk) {
        let (api, addresses) = (api.clone(), addresses.clone());
        tasks.spawn(async move {
            let mut nonces = Vec::new();
            for (i, address) in addresses.iter().enumerate().skip(start).take(chunk) {
                let account = api
                    .account(address)
                    .await
                    .with_context(|| format!("GET /v1/accounts/{address}"))?;
                let funded = account.balance(0) != 0;
                ensure!(
                    funded,
                    "dev account {i} ({address}) has no balance: the node must run with \
                     --dev-accounts >= {}",
                    addresses.len()
                );
                nonces.push(account.next_nonce);
            }
            Ok::<_, anyhow::Error>((start, nonces))
        });
    }
    let mut parts = Vec::new();
    while let Some(part) = tasks.join_next().await {
        parts.push(part.context("account task")??);
    }
    parts.sort_by_key(|(start, _)| *start);
    let nonces = parts.into_iter().flat_map(|(_, n)| n).collect();
    Ok((keys, nonces))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn batch_body_is_the_batch_route_shape() {
        let body = batch_body(&[br#"{"a":1}"#, br#"{"b":2}"#]);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v, json!({ "transactions": [{ "a": 1 }, { "b": 2 }] }));
    }
}

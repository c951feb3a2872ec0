//! The load generator: signed transfers from many dev accounts, submitted in batches to the
//! admission nodes round-robin. Every transaction an admission node accepted (published to
//! the stream and acknowledged there) is recorded; one that was refused or whose answer was
//! lost is submitted again, the same signed bytes (idempotent: the stream drops a copy by
//! its hash), so no account ever has a nonce gap of the generator's making.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use parking_lot::Mutex;
use weft_api::{Client, Submission, SubmitBatch, SubmitResult};
use weft_protocol::{
    eip712::Domain,
    genesis::dev_key,
    primitives::B256,
    transaction::{SignedTransaction, Transaction, Transfer},
};

/// What the generator counted.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Transactions accepted by an admission node.
    pub(crate) acked: Mutex<Vec<B256>>,
    /// Submissions refused (then retried).
    pub(crate) rejected: AtomicU64,
    /// Batch requests that failed at the transport or with an error status (retried).
    pub(crate) failed_requests: AtomicU64,
}

/// A running generator; [`Load::stop`] ends it.
pub(crate) struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pub(crate) counters: Arc<Counters>,
}

/// Settings of the generator.
pub(crate) struct Settings {
    /// Dev accounts used as senders: `0..accounts`.
    pub(crate) accounts: u32,
    /// Concurrent submitters; each owns `accounts / tasks` senders.
    pub(crate) tasks: u32,
    /// Transactions per batch request.
    pub(crate) batch: usize,
    /// Pause between two requests of one submitter.
    pub(crate) pause: Duration,
}

impl Load {
    /// Starts the submitters against `admission` (base URLs).
    pub(crate) fn start(settings: &Settings, domain: Domain, admission: &[String]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client");
        let clients: Vec<Client> = admission
            .iter()
            .map(|u| Client::with_http(u, http.clone()))
            .collect();
        let tasks = (0..settings.tasks)
            .map(|t| {
                let senders: Vec<u32> = (t..settings.accounts)
                    .step_by(settings.tasks as usize)
                    .collect();
                tokio::spawn(submitter(
                    senders,
                    settings.accounts,
                    settings.batch,
                    settings.pause,
                    domain,
                    clients.clone(),
                    t as usize,
                    stop.clone(),
                    counters.clone(),
                ))
            })
            .collect();
        Self {
            stop,
            tasks,
            counters,
        }
    }

    /// Stops submitting and waits for the submitters (a request in flight finishes).
    pub(crate) async fn stop(self) -> Arc<Counters> {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            task.await.expect("a submitter panicked");
        }
        self.counters
    }
}

struct Sender {
    index: u32,
    key: weft_protocol::signature::SigningKey,
    nonce: u64,
    /// Signed, not yet accepted: submitted again as it is.
    pending: Option<SignedTransaction>,
}

#[allow(clippy::too_many_arguments)]
async fn submitter(
    indexes: Vec<u32>,
    accounts: u32,
    batch: usize,
    pause: Duration,
    domain: Domain,
    clients: Vec<Client>,
    mut turn: usize,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
) {
    let mut senders: Vec<Sender> = indexes
        .into_iter()
        .map(|index| Sender {
            index,
            key: dev_key(index),
            nonce: 0,
            pending: None,
        })
        .collect();
    let mut next = 0;
    while !stop.load(Ordering::SeqCst) {
        // The next `batch` senders, round-robin.
        let chosen: Vec<usize> = (0..batch.min(senders.len()))
            .map(|i| (next + i) % senders.len())
            .collect();
        next = (next + chosen.len()) % senders.len();
        let txs: Vec<SignedTransaction> = chosen
            .iter()
            .map(|&i| {
                let s = &mut senders[i];
                s.pending
                    .get_or_insert_with(|| {
                        Transaction::Transfer(Transfer {
                            from: s.key.address(),
                            to: dev_key((s.index + 1) % accounts).address(),
                            token: 0,
                            amount: 1,
                            fee: 0,
                            nonce: s.nonce,
                        })
                        .sign(&s.key, &domain)
                    })
                    .clone()
            })
            .collect();
        let request = SubmitBatch {
            transactions: txs.into_iter().map(Submission::from).collect(),
        };
        let client = &clients[turn % clients.len()];
        turn += 1;
        match client.submit_batch(&request).await {
            Ok(reply) => {
                assert_eq!(
                    reply.results.len(),
                    chosen.len(),
                    "one result per submission"
                );
                for (&i, result) in chosen.iter().zip(reply.results) {
                    match result {
                        SubmitResult::Accepted(accepted) => {
                            counters.acked.lock().push(accepted.hash);
                            senders[i].nonce += 1;
                            senders[i].pending = None;
                        }
                        SubmitResult::Rejected { error } => {
                            counters.rejected.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(code = %error.code, message = %error.message, "refused; again");
                        }
                    }
                }
            }
            Err(e) => {
                counters.failed_requests.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "a batch request failed; again");
            }
        }
        tokio::time::sleep(pause).await;
    }
}

//! The leader's ingress from NATS JetStream (DESIGN.md, "Beyond one machine"): admission
//! nodes check and recover signatures and publish each signed transaction to a stream, with
//! `Nats-Msg-Id` = its hash (the stream drops a copy published again within
//! [`DUPLICATE_WINDOW`]); the leader pulls them through a durable consumer, admits them with
//! every check but signature recovery ([`admission::admit_verified`]) and acknowledges each
//! message only once the block holding its transaction is committed to the database. A
//! message redelivered after a crash whose transaction is already included is acknowledged
//! and skipped; one the leader refuses for good (a nonce already used, no funds) is
//! acknowledged as handled, logged and counted; one refused for capacity (mempool full) is
//! redelivered later.
//!
//! A standard Ethereum transaction travels as its EIP-2718 bytes with the sender the
//! admission node recovered in the header [`SENDER_HEADER`]; the leader runs every other
//! check of `eth_sendRawTransaction` on it.
//!
//! The stream's publish permission must be limited to the admission nodes (NATS accounts):
//! the leader trusts their signature check. The stream has work-queue retention: an
//! acknowledged message is gone, so the stream holds exactly what is not yet durable here.

use std::{collections::HashMap, sync::Arc, time::Duration};

use anyhow::Context;
use async_nats::jetstream::{
    self, AckKind,
    consumer::{AckPolicy, pull},
    message::Acker,
    stream::{self, RetentionPolicy},
};
use futures_util::StreamExt;
use parking_lot::Mutex;
use tokio::sync::watch;
use tracing::{info, warn};
use weft_protocol::{
    codec::{Decode, Encode},
    primitives::{Address, B256},
    transaction::SignedTransaction,
};

use crate::{
    admission::{self, Accepted, EvmAdmitted, Rejection},
    node::Node,
};

/// How long the stream remembers a message id to drop a copy published again.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// Messages pulled at once.
pub const FETCH_BATCH: usize = 2_000;
/// How long a pull waits for messages.
const FETCH_WAIT: Duration = Duration::from_millis(50);
/// How long the server waits for an acknowledgement before it redelivers (a crashed
/// leader's messages go to the next one after this).
pub const ACK_WAIT: Duration = Duration::from_secs(30);
/// The header carrying the recovered sender of an Ethereum transaction's message (its
/// payload is the EIP-2718 envelope); messages without it are native signed transactions.
pub const SENDER_HEADER: &str = "Weft-Sender";
/// Delay before a message refused for capacity comes back.
const RETRY_DELAY: Duration = Duration::from_millis(200);

/// Redelivery delay of a transaction refused as `nonce_too_high`: a gap before it is
/// usually transient (after a takeover, the sender's earlier transactions come back only
/// when the deposed leader's [`ACK_WAIT`] runs out), so it is retried, not dropped.
const GAP_RETRY_DELAY: Duration = Duration::from_secs(2);

/// How many deliveries a transaction with a nonce gap gets before it is dropped: retried
/// for 45 × 2 s = 90 s, three times the [`ACK_WAIT`] that brings its predecessors back.
const GAP_MAX_DELIVERIES: i64 = 45;

/// How a refused stream message is settled: redelivered later while the refusal may
/// pass (capacity, a nonce gap within its retries), acknowledged (dropped) otherwise.
fn refused(r: &Rejection, delivered: i64) -> AckKind {
    if r.is_unavailable() {
        return AckKind::Nak(Some(RETRY_DELAY));
    }
    if r.is_nonce_gap() && delivered < GAP_MAX_DELIVERIES {
        return AckKind::Nak(Some(GAP_RETRY_DELAY));
    }
    warn!(code = r.code, reason = %r.message, delivered, "ingress transaction refused");
    AckKind::Ack
}

/// Where the ingress stream is.
#[derive(Debug, Clone)]
pub struct IngressConfig {
    /// The NATS server (`nats://host:4222`).
    pub nats_url: String,
    /// The stream's name; its subject is the name in lower case.
    pub stream: String,
}

impl IngressConfig {
    /// The subject transactions are published on.
    pub fn subject(&self) -> String {
        format!("weft.{}", self.stream.to_lowercase())
    }
}

/// Connects to NATS and opens (creating) the ingress stream: file storage, work-queue
/// retention, the duplicate window.
pub async fn open_stream(
    config: &IngressConfig,
) -> anyhow::Result<(jetstream::Context, stream::Stream)> {
    let client = async_nats::connect(&config.nats_url)
        .await
        .with_context(|| format!("connect to NATS at {}", config.nats_url))?;
    let js = jetstream::new(client);
    let stream = js
        .get_or_create_stream(stream::Config {
            name: config.stream.clone(),
            subjects: vec![config.subject()],
            retention: RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("open the JetStream stream {}: {e}", config.stream))?;
    Ok((js, stream))
}

/// Publishes a signed transaction (an admission node's last step) and waits for the stream
/// to store it; `true` if the stream had it already (same hash within the window).
pub async fn publish(
    js: &jetstream::Context,
    subject: &str,
    hash: &B256,
    tx: &SignedTransaction,
) -> anyhow::Result<bool> {
    publish_with(js, subject, hash, None, tx.to_bytes()).await
}

/// Publishes a standard Ethereum transaction (its EIP-2718 bytes) with the sender the
/// admission node recovered; `true` if the stream had it already.
pub async fn publish_evm(
    js: &jetstream::Context,
    subject: &str,
    hash: &B256,
    raw: &[u8],
    sender: &Address,
) -> anyhow::Result<bool> {
    publish_with(js, subject, hash, Some(sender), raw.to_vec()).await
}

/// Publishes `payload` under the message id `hash` (and the sender header of an Ethereum
/// transaction) and waits for the stream to store it; `true` if it had it already.
async fn publish_with(
    js: &jetstream::Context,
    subject: &str,
    hash: &B256,
    sender: Option<&Address>,
    payload: Vec<u8>,
) -> anyhow::Result<bool> {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", hash.to_string().as_str());
    if let Some(sender) = sender {
        headers.insert(SENDER_HEADER, sender.to_string().as_str());
    }
    let ack = js
        .publish_with_headers(subject.to_string(), headers, payload.into())
        .await
        .map_err(|e| anyhow::anyhow!("publish: {e}"))?
        .await
        .map_err(|e| anyhow::anyhow!("publish not acknowledged: {e}"))?;
    Ok(ack.duplicate)
}

/// The acknowledgements held until their transactions' blocks are committed.
#[derive(Default)]
pub struct Acks {
    held: Mutex<HashMap<B256, Acker>>,
    /// Acknowledgements being sent (in the background, so a block's write never waits).
    sending: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The connection, to flush at a stop.
    client: std::sync::OnceLock<async_nats::Client>,
}

impl std::fmt::Debug for Acks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acks")
            .field("held", &self.held.lock().len())
            .finish()
    }
}

impl Acks {
    fn hold(&self, hash: B256, acker: Acker) {
        // A redelivered message replaces the earlier delivery's acker.
        self.held.lock().insert(hash, acker);
    }

    fn take(&self, hash: &B256) -> Option<Acker> {
        self.held.lock().remove(hash)
    }

    /// Hands every held message back to the stream at once (a leader whose lease lapsed
    /// seals none of them; the next leader takes them without waiting for [`ACK_WAIT`]).
    async fn release_all(&self) {
        let ackers: Vec<Acker> = self.held.lock().drain().map(|(_, a)| a).collect();
        if !ackers.is_empty() {
            warn!(
                messages = ackers.len(),
                "the lease lapsed: handing held messages back"
            );
        }
        for acker in ackers {
            let _ = acker.ack_with(AckKind::Nak(None)).await;
        }
    }

    /// Acknowledges the messages of a committed block's transactions (in the background).
    pub fn committed(&self, hashes: impl IntoIterator<Item = B256>) {
        let ackers: Vec<Acker> = {
            let mut held = self.held.lock();
            if held.is_empty() {
                return;
            }
            hashes.into_iter().filter_map(|h| held.remove(&h)).collect()
        };
        if ackers.is_empty() {
            return;
        }
        let task = tokio::spawn(async move {
            for acker in ackers {
                if let Err(e) = acker.ack().await {
                    // The message comes back after the ack wait and is then skipped as
                    // included.
                    warn!(error = %e, "acknowledging an ingress message failed");
                }
            }
        });
        let mut sending = self.sending.lock();
        sending.retain(|t| !t.is_finished());
        sending.push(task);
    }

    /// At a clean stop, after the last block is written: sends the acknowledgements still
    /// on their way, hands the messages still held (admitted too late for the last block)
    /// back for immediate redelivery to the next leader instead of after the ack wait, and
    /// flushes the connection.
    pub async fn finish(&self) {
        let sending: Vec<_> = self.sending.lock().drain(..).collect();
        for task in sending {
            let _ = task.await;
        }
        let held: Vec<Acker> = self.held.lock().drain().map(|(_, a)| a).collect();
        for acker in held {
            let _ = acker.ack_with(AckKind::Nak(None)).await;
        }
        if let Some(client) = self.client.get()
            && let Err(e) = client.flush().await
        {
            warn!(error = %e, "flushing the NATS connection failed");
        }
    }
}

/// Connects and opens the leader's durable consumer.
async fn open_consumer(
    node: &Node,
    config: &IngressConfig,
) -> anyhow::Result<jetstream::consumer::Consumer<pull::Config>> {
    let (js, stream) = open_stream(config).await?;
    let _ = node.ingress_acks.client.set(js.client());
    stream
        .get_or_create_consumer(
            "leader",
            pull::Config {
                durable_name: Some("leader".into()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                max_ack_pending: 1_000_000,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("open the JetStream consumer: {e}"))
}

/// Pulls the ingress stream until `stop`, admitting each batch of messages.
pub async fn run(
    node: Arc<Node>,
    config: IngressConfig,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    // NATS may be down when the leader starts, or restart: retry until it answers.
    let consumer = loop {
        match open_consumer(&node, &config).await {
            Ok(consumer) => break consumer,
            Err(e) => {
                warn!(error = %e, "the JetStream ingress is unavailable; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.wait_for(|s| *s) => return Ok(()),
                }
            }
        }
    };
    info!(stream = %config.stream, url = %config.nats_url, "ingress from JetStream started");
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        // A leader that may not seal (its lease lapsed, or not renewed in time) takes
        // nothing from the stream and gives back what it holds.
        if !node.may_seal() {
            node.ingress_acks.release_all().await;
            tokio::select! {
                _ = tokio::time::sleep(FETCH_WAIT) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let batch = consumer
            .fetch()
            .max_messages(FETCH_BATCH)
            .expires(FETCH_WAIT)
            .messages()
            .await;
        let mut batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                warn!(error = %e, "pulling from JetStream failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        };
        let mut txs = Vec::new();
        let mut ackers = Vec::new();
        let mut evm = Vec::new();
        while let Some(message) = batch.next().await {
            let Ok(message) = message else { break };
            let delivered = message.info().map_or(1, |i| i.delivered);
            let (message, acker) = message.split();
            if let Some(sender) = message.headers.as_ref().and_then(|h| h.get(SENDER_HEADER)) {
                match sender.as_str().parse::<Address>() {
                    Ok(sender) => evm.push((message.payload, sender, acker, delivered)),
                    Err(_) => {
                        warn!("an ingress message has a malformed sender: dropped");
                        let _ = acker.ack_with(AckKind::Term).await;
                    }
                }
                continue;
            }
            match SignedTransaction::from_bytes(&message.payload) {
                Ok(tx) => {
                    txs.push(tx);
                    ackers.push((acker, delivered));
                }
                Err(e) => {
                    warn!(error = %e, "an ingress message is not a signed transaction: dropped");
                    let _ = acker.ack_with(AckKind::Term).await;
                }
            }
        }
        if txs.is_empty() && evm.is_empty() {
            continue;
        }
        if *stop.borrow() {
            // Stopping: the last block may be sealed already; the next leader takes them.
            let ackers = ackers.into_iter().map(|(a, _)| a);
            for acker in ackers.chain(evm.into_iter().map(|(_, _, a, _)| a)) {
                let _ = acker.ack_with(AckKind::Nak(None)).await;
            }
            return Ok(());
        }
        for (raw, sender, acker, delivered) in evm {
            admit_evm(&node, &raw, sender, acker, delivered).await;
        }
        if txs.is_empty() {
            continue;
        }
        // Held before admission: the block holding a transaction can be committed before
        // admission returns, and its acknowledgement must find the message.
        let hashes: Vec<B256> = txs
            .iter()
            .map(|t| t.transaction.hash(&node.domain))
            .collect();
        let mut deliveries = Vec::with_capacity(ackers.len());
        for (hash, (acker, delivered)) in hashes.iter().zip(ackers) {
            node.ingress_acks.hold(*hash, acker);
            deliveries.push(delivered);
        }
        let outcomes = admission::admit_verified(&node, txs).await;
        for ((hash, outcome), delivered) in hashes.iter().zip(outcomes).zip(deliveries) {
            let settle = match outcome {
                Ok((_, Accepted::Queued | Accepted::AlreadyQueued)) => continue,
                Ok((_, Accepted::AlreadyIncluded { .. })) => AckKind::Ack,
                Err(r) => refused(&r, delivered),
            };
            if let Some(acker) = node.ingress_acks.take(hash) {
                let _ = acker.ack_with(settle).await;
            }
        }
    }
}

/// Admits one Ethereum transaction of the stream and settles its message as [`run`] does a
/// native one's: held until its block is committed, acknowledged now if it is included
/// already or refused for good, redelivered later if refused for capacity.
async fn admit_evm(node: &Arc<Node>, raw: &[u8], sender: Address, acker: Acker, delivered: i64) {
    // An Ethereum transaction's hash is keccak256 of its EIP-2718 bytes: no decoding here
    // (admission decodes once, and refuses bytes that are not one).
    let hash = weft_protocol::primitives::keccak256(raw);
    // Held before admission, as for native transactions.
    node.ingress_acks.hold(hash, acker);
    let settle = match admission::admit_trusted_evm(node, raw, sender).await {
        Ok((_, EvmAdmitted::Queued | EvmAdmitted::Known)) => return,
        Ok((_, EvmAdmitted::Included)) => AckKind::Ack,
        Err(r) => refused(&r, delivered),
    };
    if let Some(acker) = node.ingress_acks.take(&hash) {
        let _ = acker.ack_with(settle).await;
    }
}

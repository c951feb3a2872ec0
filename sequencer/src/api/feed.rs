//! The live feed: WebSocket `GET /v1/ws` (docs/api.md, "Live feed").
//!
//! Every connection receives `block` messages (each stored block, in order, none skipped)
//! and `batch` messages (a batch sealed, committed, proven, finalized, with its L1
//! transactions), and `tx` messages for the transactions it follows: hashes and addresses
//! it names in `{"watch": {"hashes": […], "addresses": […]}}`; each named hash's current
//! status is sent at once, then each change (executed or failed in a block; committed,
//! proven, finalized with its batch). `?fromBlock=N` resumes: blocks from `N` are sent from
//! the store before the live ones. `?blocks=false` / `?batches=false` turn those off.
//!
//! Messages are serialized once per event for all connections. A connection more than
//! [`crate::feed::CHANNEL`] events behind gets `{"type":"resync","fromBlock":…}` and the
//! blocks it missed from the store; one whose socket does not drain (its outbox full) is
//! closed. The server pings every [`PING_INTERVAL`] and closes a connection silent for
//! [`IDLE_TIMEOUT`]. Connections are capped ([`crate::config::ApiConfig::max_feed_connections`]).

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use axum::{
    extract::{
        Query, State,
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
    },
    http::StatusCode,
    response::{IntoResponse, Response},
};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{broadcast::error::RecvError, mpsc};
use weft_protocol::primitives::{Address, B256};

use crate::{
    api::ApiError,
    feed::{BatchEvent, BlockEvent, Event, block_message},
    node::Node,
};

/// Blocks a `fromBlock` may reach back (and a lagging connection may catch up).
pub const MAX_BACKFILL: u64 = 10_000;
/// Hashes a connection may follow.
pub const MAX_HASHES: usize = 10_000;
/// Addresses a connection may follow.
pub const MAX_ADDRESSES: usize = 100;
/// Messages queued for a connection's socket before it is closed as too slow.
const OUTBOX: usize = 4096;
/// How often the server pings.
pub const PING_INTERVAL: Duration = Duration::from_secs(20);
/// A connection silent (no pong, no message) this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Query of `GET /v1/ws`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FeedQuery {
    from_block: Option<u64>,
    blocks: Option<bool>,
    batches: Option<bool>,
}

/// A client's message.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
enum ClientMessage {
    Watch(Follow),
    Unwatch(Follow),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Follow {
    #[serde(default)]
    hashes: Vec<B256>,
    #[serde(default)]
    addresses: Vec<Address>,
}

/// `GET /v1/ws`.
pub async fn upgrade(
    State(node): State<Arc<Node>>,
    query: Result<Query<FeedQuery>, axum::extract::rejection::QueryRejection>,
    ws: WebSocketUpgrade,
) -> Response {
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return ApiError::bad_request(e.body_text()).into_response(),
    };
    let head = node.head().number;
    if let Some(from) = query.from_block
        && from + MAX_BACKFILL < head
    {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "from_block_too_old",
            format!("fromBlock may reach at most {MAX_BACKFILL} blocks back (head {head})"),
        )
        .into_response();
    }
    let Ok(permit) = node.feed_slots.clone().try_acquire_owned() else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_connections",
            "the feed has as many connections as it serves; retry later",
        )
        .into_response();
    };
    ws.max_message_size(64 * 1024)
        .on_upgrade(move |socket| async move {
            node.metrics.feed_connections.inc();
            serve(&node, socket, query).await;
            node.metrics.feed_connections.dec();
            drop(permit);
        })
}

/// One connection's filters and progress.
struct Conn {
    blocks: bool,
    batches: bool,
    hashes: HashSet<B256>,
    addresses: HashSet<Address>,
    /// Followed transactions seen in a block, by hash: the block, until finalized.
    placed: HashMap<B256, u64>,
    /// The last block sent (or skipped by the filters).
    sent: u64,
}

async fn serve(node: &Arc<Node>, socket: WebSocket, query: FeedQuery) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut outbox) = mpsc::channel::<Message>(OUTBOX);
    let writer = tokio::spawn(async move {
        while let Some(message) = outbox.recv().await {
            let close = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || close {
                break;
            }
        }
    });
    // Subscribe before reading the store, so nothing falls between the backfill and the
    // live events.
    let mut events = node.feed.subscribe();
    let mut conn = Conn {
        blocks: query.blocks.unwrap_or(true),
        batches: query.batches.unwrap_or(true),
        hashes: HashSet::new(),
        addresses: HashSet::new(),
        placed: HashMap::new(),
        sent: node.head().number,
    };
    let mut ok = true;
    if let Some(from) = query.from_block {
        conn.sent = from.saturating_sub(1);
        ok = backfill(node, &out, &mut conn, node.head().number).await;
    }
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await;
    let mut last_heard = tokio::time::Instant::now();
    while ok {
        tokio::select! {
            event = events.recv() => {
                ok = match event {
                    Ok(event) => on_event(node, &out, &mut conn, &event).await,
                    Err(RecvError::Lagged(missed)) => {
                        node.metrics.feed_resyncs.inc();
                        let message = json!({"type": "resync", "fromBlock": conn.sent + 1, "missed": missed});
                        send(&out, message.to_string())
                            && backfill(node, &out, &mut conn, node.head().number).await
                    }
                    Err(RecvError::Closed) => false,
                };
            }
            message = stream.next() => {
                last_heard = tokio::time::Instant::now();
                ok = match message {
                    Some(Ok(Message::Text(text))) => on_message(node, &out, &mut conn, text.as_bytes()).await,
                    Some(Ok(Message::Binary(bytes))) => on_message(node, &out, &mut conn, &bytes).await,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => false,
                    Some(Ok(_)) => true,
                };
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > IDLE_TIMEOUT {
                    break;
                }
                ok = out.try_send(Message::Ping(Vec::new().into())).is_ok();
            }
        }
    }
    if out.capacity() == 0 {
        node.metrics.feed_dropped.inc();
    }
    let _ = out.try_send(Message::Close(Some(CloseFrame {
        code: 1008,
        reason: "closed by the server".into(),
    })));
    drop(out);
    let _ = writer.await;
}

/// Queues a message; `false` when the connection is too slow (or gone).
fn send(out: &mpsc::Sender<Message>, text: String) -> bool {
    out.try_send(Message::Text(text.into())).is_ok()
}

async fn on_event(
    node: &Arc<Node>,
    out: &mpsc::Sender<Message>,
    conn: &mut Conn,
    event: &Event,
) -> bool {
    match event {
        Event::Block(block) => {
            if block.number <= conn.sent {
                return true;
            }
            if block.number > conn.sent + 1 {
                // Blocks stored before this connection subscribed, or missed.
                let ok = backfill(node, out, conn, block.number - 1).await;
                if !ok {
                    return false;
                }
            }
            on_block(out, conn, block)
        }
        Event::Batch(batch) => on_batch(out, conn, batch),
    }
}

fn on_block(out: &mpsc::Sender<Message>, conn: &mut Conn, block: &BlockEvent) -> bool {
    conn.sent = block.number;
    if conn.blocks && !send(out, block.message.clone()) {
        return false;
    }
    if conn.hashes.is_empty() && conn.addresses.is_empty() {
        return true;
    }
    for tx in &block.txs {
        let followed = conn.hashes.contains(&tx.hash)
            || tx
                .addresses
                .iter()
                .flatten()
                .any(|a| conn.addresses.contains(a));
        if !followed {
            continue;
        }
        let status = if tx.ok { "executed" } else { "failed" };
        if tx.ok && conn.placed.len() < MAX_HASHES {
            conn.placed.insert(tx.hash, block.number);
        }
        let message =
            json!({"type": "tx", "hash": tx.hash, "status": status, "blockNumber": block.number});
        if !send(out, message.to_string()) {
            return false;
        }
    }
    true
}

fn on_batch(out: &mpsc::Sender<Message>, conn: &mut Conn, batch: &BatchEvent) -> bool {
    if conn.batches && !send(out, batch.message.clone()) {
        return false;
    }
    if batch.status == "sealed" || conn.placed.is_empty() {
        return true;
    }
    let range = batch.from_block..=batch.to_block;
    let mut done = Vec::new();
    for (hash, block) in &conn.placed {
        if range.contains(block) {
            let message = json!({
                "type": "tx", "hash": hash, "status": batch.status,
                "blockNumber": block, "batchIndex": batch.index,
            });
            if !send(out, message.to_string()) {
                return false;
            }
            if batch.status == "finalized" {
                done.push(*hash);
            }
        }
    }
    for hash in done {
        conn.placed.remove(&hash);
    }
    true
}

/// Sends the stored blocks after `conn.sent` up to `to` (their `block` messages; followed
/// transactions are matched on live blocks only).
async fn backfill(node: &Arc<Node>, out: &mpsc::Sender<Message>, conn: &mut Conn, to: u64) -> bool {
    if to > conn.sent + MAX_BACKFILL {
        return false;
    }
    while conn.sent < to {
        let number = conn.sent + 1;
        match node.store.header_by_number(number).await {
            Ok(Some((header, hash))) => {
                if conn.blocks && !send(out, block_message(&header, &hash)) {
                    return false;
                }
            }
            Ok(None) | Err(_) => return true,
        }
        conn.sent = number;
        // Yield to the socket writer between blocks of a long backfill.
        if out.capacity() < OUTBOX / 2 {
            tokio::task::yield_now().await;
        }
    }
    true
}

async fn on_message(
    node: &Arc<Node>,
    out: &mpsc::Sender<Message>,
    conn: &mut Conn,
    body: &[u8],
) -> bool {
    let message: ClientMessage = match serde_json::from_slice(body) {
        Ok(m) => m,
        Err(e) => {
            let error = json!({"type": "error", "code": "invalid_message",
                "message": format!("{e}; expected {{\"watch\": {{\"hashes\": [...], \"addresses\": [...]}}}} or unwatch")});
            return send(out, error.to_string());
        }
    };
    let (watch, follow) = match message {
        ClientMessage::Watch(f) => (true, f),
        ClientMessage::Unwatch(f) => (false, f),
    };
    if !watch {
        for hash in &follow.hashes {
            conn.hashes.remove(hash);
            conn.placed.remove(hash);
        }
        for address in &follow.addresses {
            conn.addresses.remove(address);
        }
        return send(out, watching(conn));
    }
    if conn.hashes.len() + follow.hashes.len() > MAX_HASHES
        || conn.addresses.len() + follow.addresses.len() > MAX_ADDRESSES
    {
        let error = json!({"type": "error", "code": "limit",
            "message": format!("a connection follows at most {MAX_HASHES} hashes and {MAX_ADDRESSES} addresses")});
        return send(out, error.to_string());
    }
    conn.addresses.extend(follow.addresses);
    for hash in follow.hashes {
        if !conn.hashes.insert(hash) {
            continue;
        }
        // Its status now; changes follow.
        if let Some(message) = current_status(node, conn, hash).await
            && !send(out, message)
        {
            return false;
        }
    }
    send(out, watching(conn))
}

fn watching(conn: &Conn) -> String {
    json!({"type": "watching", "hashes": conn.hashes.len(), "addresses": conn.addresses.len()})
        .to_string()
}

/// The `tx` message of a followed hash's current status (`None` if unknown: it is sent
/// when the transaction lands in a block).
async fn current_status(node: &Node, conn: &mut Conn, hash: B256) -> Option<String> {
    let stored = node.store.transaction(&hash).await.ok().flatten();
    let Some(stored) = stored else {
        let queued = node.mempool.lock().get(&hash).is_some();
        return queued.then(|| json!({"type": "tx", "hash": hash, "status": "queued"}).to_string());
    };
    let block = stored.block_number;
    if !stored.receipt.is_success() {
        return Some(
            json!({"type": "tx", "hash": hash, "status": "failed", "blockNumber": block})
                .to_string(),
        );
    }
    let batch = node.store.batch_of_block(block).await.ok().flatten();
    let (status, index) = match &batch {
        Some(b) if b.status.as_str() != "sealed" => (b.status.as_str(), Some(b.commitment.index)),
        _ => ("executed", None),
    };
    if status != "finalized" && conn.placed.len() < MAX_HASHES {
        conn.placed.insert(hash, block);
    }
    Some(
        json!({"type": "tx", "hash": hash, "status": status, "blockNumber": block, "batchIndex": index})
            .to_string(),
    )
}

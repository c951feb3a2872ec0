//! JSON-RPC over WebSocket: the same methods, plus `eth_subscribe` (`newHeads`, `logs`,
//! `newPendingTransactions`) and `eth_unsubscribe`.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use alloy::rpc::types::Filter;
use axum::{
    extract::{
        State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    response::Response,
};
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::{
    sync::{broadcast::error::RecvError, mpsc},
    task::JoinHandle,
};

use super::{Params, RpcError, answer_body, code, eth, format};
use crate::{feed::Event, node::Node, store::LogFilter};

/// Most subscriptions one connection holds.
pub const MAX_SUBSCRIPTIONS: usize = 32;
/// Messages queued for a connection before its subscriptions wait for it.
const OUTBOX: usize = 1024;

/// `GET /rpc` with `Upgrade: websocket`.
pub async fn upgrade(State(node): State<Arc<Node>>, ws: WebSocketUpgrade) -> Response {
    let limit = node.config.api.max_body_bytes;
    ws.max_message_size(limit)
        .on_upgrade(move |socket| serve(node, socket))
}

/// One WebSocket connection's subscriptions.
pub(crate) struct Connection {
    out: mpsc::Sender<String>,
    subscriptions: Mutex<HashMap<String, JoinHandle<()>>>,
    next_id: AtomicU64,
}

impl Drop for Connection {
    fn drop(&mut self) {
        for (_, task) in self.subscriptions.lock().drain() {
            task.abort();
        }
    }
}

async fn serve(node: Arc<Node>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut outbox) = mpsc::channel::<String>(OUTBOX);
    let writer = tokio::spawn(async move {
        while let Some(message) = outbox.recv().await {
            if sink.send(Message::Text(message.into())).await.is_err() {
                break;
            }
        }
    });
    let connection = Connection {
        out: out.clone(),
        subscriptions: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
    };
    while let Some(Ok(message)) = stream.next().await {
        let body = match &message {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(bytes) => bytes.as_ref(),
            Message::Close(_) => break,
            _ => continue,
        };
        if let Some(answer) = answer_body(&node, body, Some(&connection)).await
            && out
                .send(String::from_utf8(answer).expect("serde_json writes UTF-8"))
                .await
                .is_err()
        {
            break;
        }
    }
    drop(connection);
    drop(out);
    let _ = writer.await;
}

impl Connection {
    /// `eth_subscribe` and `eth_unsubscribe`.
    pub(crate) async fn handle(
        &self,
        node: &Arc<Node>,
        method: &str,
        p: Params,
    ) -> Result<Value, RpcError> {
        if method == "eth_unsubscribe" {
            p.at_most(1)?;
            let id: String = p.get(0, "id")?;
            return Ok(json!(match self.subscriptions.lock().remove(&id) {
                Some(task) => {
                    task.abort();
                    true
                }
                None => false,
            }));
        }
        if method != "eth_subscribe" {
            return Err(RpcError::new(
                code::METHOD_NOT_FOUND,
                format!("the method {method} does not exist/is not available"),
            ));
        }
        p.at_most(2)?;
        let kind: String = p.get(0, "subscription")?;
        if self.subscriptions.lock().len() >= MAX_SUBSCRIPTIONS {
            return Err(RpcError::new(
                code::LIMIT,
                format!("at most {MAX_SUBSCRIPTIONS} subscriptions per connection"),
            ));
        }
        let id = format!("{:#x}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let sink = Notifier {
            out: self.out.clone(),
            id: id.clone(),
        };
        let node = node.clone();
        let task = match kind.as_str() {
            "newHeads" => {
                p.at_most(1)?;
                tokio::spawn(follow_heads(node, sink))
            }
            "logs" => {
                let filter: Filter = p.opt(1, "filter")?.unwrap_or_default();
                let query = eth::log_filter(&filter, 0, 0)?;
                tokio::spawn(follow_logs(node, sink, query))
            }
            "newPendingTransactions" => {
                p.at_most(2)?;
                let mut pending = node.pending_txs.subscribe();
                tokio::spawn(async move {
                    loop {
                        match pending.recv().await {
                            Ok(hash) => {
                                if !sink.send(json!(hash)).await {
                                    return;
                                }
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                        }
                    }
                })
            }
            other => {
                return Err(RpcError::params(format!(
                    "unsupported subscription {other:?}: newHeads, logs, newPendingTransactions"
                )));
            }
        };
        self.subscriptions.lock().insert(id.clone(), task);
        Ok(json!(id))
    }
}

/// Sends one subscription's notifications.
struct Notifier {
    out: mpsc::Sender<String>,
    id: String,
}

impl Notifier {
    /// `false` once the connection is gone.
    async fn send(&self, result: Value) -> bool {
        let message = json!({
            "jsonrpc": "2.0",
            "method": "eth_subscription",
            "params": { "subscription": self.id, "result": result },
        });
        self.out.send(message.to_string()).await.is_ok()
    }
}

/// `newHeads`: every stored block's header, in order, none skipped. Each header is
/// formatted once for all subscribers (the feed's event carries it); blocks missed (stored
/// before the subscription's first event, or while it lagged) are read from the store.
async fn follow_heads(node: Arc<Node>, sink: Notifier) {
    let mut events = node.feed.subscribe();
    let mut sent = node.head().number;
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        let Event::Block(block) = &*event else {
            continue;
        };
        let number = block.number;
        if number <= sent {
            continue;
        }
        if number > sent + 1 && !new_heads(&node, &sink, sent + 1, number - 1).await {
            return;
        }
        let head = block
            .eth_head
            .get_or_try_init(|| async { eth_head(&node, number).await.map(Arc::new).ok_or(()) })
            .await;
        match head {
            Ok(head) => {
                if !sink.send(Value::clone(head)).await {
                    return;
                }
            }
            Err(()) => return,
        }
        sent = number;
    }
}

/// `logs`: the logs of every new block matching the filter, in order.
async fn follow_logs(node: Arc<Node>, sink: Notifier, mut filter: LogFilter) {
    let mut heads = node.head.subscribe();
    let mut sent = heads.borrow_and_update().number;
    while heads.changed().await.is_ok() {
        let head = heads.borrow_and_update().number;
        if head <= sent {
            continue;
        }
        filter.from = sent + 1;
        filter.to = head;
        if !new_logs(&node, &sink, &filter).await {
            return;
        }
        sent = head;
    }
}

/// A block's `newHeads` header: the block without its transactions and uncles.
async fn eth_head(node: &Node, number: u64) -> Option<Value> {
    let mut block = eth::block(node, number, false).await.ok()?;
    if let Some(object) = block.as_object_mut() {
        object.remove("transactions");
        object.remove("uncles");
    }
    Some(block)
}

async fn new_heads(node: &Node, sink: &Notifier, from: u64, to: u64) -> bool {
    for number in from..=to {
        let Some(block) = eth_head(node, number).await else {
            return true;
        };
        if !sink.send(block).await {
            return false;
        }
    }
    true
}

async fn new_logs(node: &Node, sink: &Notifier, filter: &LogFilter) -> bool {
    let Ok(found) = node.store.logs(filter, usize::MAX >> 1).await else {
        return true;
    };
    for log in &found {
        if !sink.send(format::log(log)).await {
            return false;
        }
    }
    true
}

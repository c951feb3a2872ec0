//! The connected wallets: one outgoing queue per wallet, whatever transport carries it
//! (the WebSocket of [`crate::ws`] today). The hub pushes offers, acknowledgements and
//! sync requests here; the transport drains the queue. The map is a leaf lock: held for a
//! lookup or an insert, never across an await.

use std::{
    collections::HashMap,
    sync::atomic::{AtomicU64, Ordering},
};

use parking_lot::Mutex;
use tokio::sync::mpsc;
use weft_protocol::primitives::Address;

use weft_channel::HubMessage;

type Outbox = mpsc::UnboundedSender<HubMessage>;

/// The connected wallets and their outgoing queues.
#[derive(Debug, Default)]
pub struct Sessions {
    inner: Mutex<HashMap<Address, (u64, Outbox)>>,
    next: AtomicU64,
}

impl Sessions {
    /// Queues `message` for `wallet`; `false` if it is not connected.
    pub fn send(&self, wallet: &Address, message: HubMessage) -> bool {
        self.inner
            .lock()
            .get(wallet)
            .is_some_and(|(_, tx)| tx.send(message).is_ok())
    }

    /// Whether `wallet` has a session open.
    pub fn is_connected(&self, wallet: &Address) -> bool {
        self.inner
            .lock()
            .get(wallet)
            .is_some_and(|(_, tx)| !tx.is_closed())
    }

    /// Closes every session (the hub stops): each socket is closed, and its wallet
    /// reconnects to whatever listens next.
    pub fn close_all(&self) {
        self.inner.lock().clear();
    }

    /// A new session for `wallet`, whose socket just proved the wallet's key on a fresh
    /// challenge: its id and the queue the transport sends from. An older session is
    /// replaced (a wallet reconnecting before its dead socket timed out must not be locked
    /// out); it gets a last `session_replaced` error, then its socket closes.
    pub fn open(&self, wallet: Address) -> (u64, mpsc::UnboundedReceiver<HubMessage>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        if let Some((_, old)) = self.inner.lock().insert(wallet, (id, tx)) {
            let _ = old.send(HubMessage::Error {
                channel_id: None,
                code: "session_replaced".into(),
                message: "a newer login of this wallet replaced this session".into(),
            });
        }
        (id, rx)
    }

    /// Ends session `id` of `wallet`, unless a newer one replaced it.
    pub fn close(&self, wallet: &Address, id: u64) {
        let mut inner = self.inner.lock();
        if inner.get(wallet).is_some_and(|(current, _)| *current == id) {
            inner.remove(wallet);
        }
    }
}

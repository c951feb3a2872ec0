//! Connection slots: a cap on open connections that idle clients cannot hold.
//!
//! Each accepted connection takes a permit from the main pool, held by its socket (so an
//! upgraded connection, a WebSocket, keeps it until closed). When the pool is empty, the
//! oldest connection with no request in a handler (idle keep-alive, still sending its
//! request head, or receiving an answer already produced) is closed to make room: idle and
//! slow-header floods cannot lock clients out. A connection whose request is in a handler
//! (its body being received included) is never closed for room: the body timeout and the
//! handlers bound how long that lasts. When every connection is busy, a few reserved slots take the newcomer; they serve
//! only the [`RESERVED_PATHS`](super::RESERVED_PATHS) (one request each), so `/health`
//! answers while the public surface is saturated. Beyond those the newcomer is closed at
//! once: the process never runs out of file descriptors.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// How long the accept loop waits for an evicted connection to let go of its slot.
const EVICTION_WAIT: Duration = Duration::from_secs(1);

/// The open connections and their slots.
#[derive(Debug)]
pub(crate) struct Slots {
    main: Arc<Semaphore>,
    reserved: Arc<Semaphore>,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    next_id: u64,
    /// By age: ids only grow.
    conns: BTreeMap<u64, Arc<Conn>>,
}

/// One open connection, as the slots see it.
#[derive(Debug)]
pub(crate) struct Conn {
    reserved: bool,
    /// Requests of this connection inside a handler.
    busy: AtomicUsize,
    evicting: AtomicBool,
    evict: Notify,
}

impl Conn {
    /// Whether it holds a reserved slot.
    pub(crate) fn reserved(&self) -> bool {
        self.reserved
    }

    /// Marks a request in a handler until the guard drops.
    pub(crate) fn busy(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    /// Resolves when the connection is to be closed to make room.
    pub(crate) async fn evicted(&self) {
        self.evict.notified().await;
    }
}

/// A request inside a handler: its connection is not evicted.
#[derive(Debug)]
pub(crate) struct Busy(Arc<Conn>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An admitted connection: the slot's permit (to be held by the socket) and the
/// registration (to be held by the connection's task).
#[derive(Debug)]
pub(crate) struct Admitted {
    pub(crate) permit: OwnedSemaphorePermit,
    pub(crate) registration: Registration,
}

/// Removes the connection from the open set when dropped.
#[derive(Debug)]
pub(crate) struct Registration {
    slots: Arc<Slots>,
    id: u64,
    pub(crate) conn: Arc<Conn>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.slots.lock().conns.remove(&self.id);
    }
}

impl Slots {
    /// `main` slots for any request, `reserved` for the reserved paths.
    pub(crate) fn new(main: usize, reserved: usize) -> Arc<Self> {
        Arc::new(Self {
            main: Arc::new(Semaphore::new(main)),
            reserved: Arc::new(Semaphore::new(reserved)),
            open: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a new connection: a free main slot, else one freed by closing the oldest
    /// idle connection, else a reserved slot (likewise), else `None` (close the newcomer).
    pub(crate) async fn admit(self: &Arc<Self>) -> Option<Admitted> {
        for reserved in [false, true] {
            let pool = if reserved { &self.reserved } else { &self.main };
            if let Ok(permit) = pool.clone().try_acquire_owned() {
                return Some(self.register(permit, reserved));
            }
            if self.evict_oldest_idle(reserved)
                && let Ok(Ok(permit)) =
                    tokio::time::timeout(EVICTION_WAIT, pool.clone().acquire_owned()).await
            {
                return Some(self.register(permit, reserved));
            }
        }
        None
    }

    fn register(self: &Arc<Self>, permit: OwnedSemaphorePermit, reserved: bool) -> Admitted {
        let conn = Arc::new(Conn {
            reserved,
            busy: AtomicUsize::new(0),
            evicting: AtomicBool::new(false),
            evict: Notify::new(),
        });
        let mut open = self.lock();
        let id = open.next_id;
        open.next_id += 1;
        open.conns.insert(id, conn.clone());
        Admitted {
            permit,
            registration: Registration {
                slots: self.clone(),
                id,
                conn,
            },
        }
    }

    /// Tells the oldest idle connection of the pool to close; `false` if none is idle.
    fn evict_oldest_idle(&self, reserved: bool) -> bool {
        let open = self.lock();
        let victim = open.conns.values().find(|c| {
            c.reserved == reserved
                && c.busy.load(Ordering::Acquire) == 0
                && !c.evicting.load(Ordering::Acquire)
        });
        match victim {
            Some(c) => {
                c.evicting.store(true, Ordering::Release);
                // Stored if the task is not waiting yet: it sees it on its next wait.
                c.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays a connection task: holds the permit until evicted.
    fn serve(admitted: Admitted) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let Admitted {
                permit,
                registration,
            } = admitted;
            registration.conn.evicted().await;
            drop(permit);
        })
    }

    #[tokio::test]
    async fn a_newcomer_evicts_the_oldest_idle_connection() {
        let slots = Slots::new(2, 0);
        let first = serve(slots.admit().await.unwrap());
        let _second = serve(slots.admit().await.unwrap());
        let third = slots.admit().await.expect("room made");
        assert!(!third.registration.conn.reserved());
        first.await.unwrap();
    }

    #[tokio::test]
    async fn busy_connections_are_kept_and_the_reserve_is_used_then_refused() {
        let slots = Slots::new(1, 1);
        let a = slots.admit().await.unwrap();
        let _busy = a.registration.conn.busy();
        let b = slots.admit().await.expect("a reserved slot");
        assert!(b.registration.conn.reserved());
        let _busy_b = b.registration.conn.busy();
        assert!(slots.admit().await.is_none(), "all busy: refused");
    }
}

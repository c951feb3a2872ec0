//! [`Wallet`]: opening, loading, the channel map and the helpers every operation shares
//! (signing, verifying the hub, storing co-signed states, REST). The operations themselves
//! are `impl Wallet` blocks in the crate's other files.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use rand::{SeedableRng, rngs::StdRng};
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::{mpsc, watch as tokio_watch};
use weft_protocol::{
    channel::{ChannelState, LockDirection},
    eip712::{Domain, Eip712},
    primitives::{Address, Amount, B256},
    signature::Signature,
};

use weft_channel::{ErrorBody, HubInfo, Offer, OfferKind, WalletMessage, transition};

use crate::{
    ClientError, WalletChannel, WalletConfig, WalletState, WalletStore, offers::co_signed_write,
    payments::RouteWaiter, socket::socket_loop, watch,
};

/// The wallet's shared state: its configuration and identity, its database, the channels
/// as it holds them, and the socket's queues and waiters.
pub(crate) struct Inner {
    pub(crate) config: WalletConfig,
    pub(crate) address: Address,
    pub(crate) hub: Address,
    pub(crate) domain: Domain,
    /// The rollup's dispute window in blocks (from the sequencer's `/v1/chain`).
    pub(crate) dispute_window: u64,
    /// The hub's minimum lock lifetime (from `/v1/info`).
    pub(crate) min_lock_blocks: u64,
    /// The hub's maximum lock lifetime (from `/v1/info`).
    pub(crate) max_lock_blocks: u64,
    pub(crate) http: reqwest::Client,
    pub(crate) rollup: weft_api::Client,
    pub(crate) store: WalletStore,
    pub(crate) channels: Mutex<HashMap<B256, WalletChannel>>,
    /// Serializes the wallet's operations on one channel.
    pub(crate) ops: Mutex<HashMap<B256, Arc<tokio::sync::Mutex<()>>>>,
    pub(crate) invoices: Mutex<HashMap<B256, (B256, Amount)>>,
    /// States sent on the socket awaiting the hub's ack, with the wallet's signature.
    pub(crate) sent: Mutex<HashMap<(B256, u64), (ChannelState, Signature)>>,
    /// Signalled whenever the hub answers a state sent on the socket.
    pub(crate) answered: tokio::sync::Notify,
    /// Hashlocks whose secrets the watcher revealed on the rollup.
    pub(crate) revealing: Mutex<HashSet<B256>>,
    /// Payments sent on the socket, by hashlock, awaiting the hub's answer.
    pub(crate) routes: Mutex<HashMap<B256, RouteWaiter>>,
    pub(crate) socket: Mutex<Option<mpsc::UnboundedSender<WalletMessage>>>,
    pub(crate) connected: tokio_watch::Sender<bool>,
    pub(crate) answering: AtomicBool,
    pub(crate) head: Mutex<(Option<Instant>, u64)>,
    pub(crate) stop: tokio_watch::Sender<bool>,
    pub(crate) rng: Mutex<StdRng>,
}

/// A wallet using the hub; cheap to clone.
#[derive(Clone)]
pub struct Wallet {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet")
            .field("address", &self.inner.address)
            .finish_non_exhaustive()
    }
}

impl Wallet {
    /// Opens the wallet's database, asks the hub who it is, and connects its WebSocket and
    /// (if configured) its rollup watcher.
    pub async fn open(config: WalletConfig) -> Result<Self, ClientError> {
        let store = WalletStore::open(&config.data_dir).await?;
        Self::open_with_store(config, store).await
    }

    /// [`Self::open`] on a database shared with other wallets (a wallet service: their
    /// writes share commits). `config.data_dir` is not used.
    pub async fn open_with_store(
        config: WalletConfig,
        store: WalletStore,
    ) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build()?;
        let info: HubInfo = http
            .get(format!("{}/v1/info", config.hub_url))
            .send()
            .await?
            .json()
            .await?;
        let rollup = weft_api::Client::new(&config.sequencer_url);
        let chain = rollup.chain().await?;
        if chain.domain != info.domain {
            return Err(ClientError::DomainMismatch);
        }
        let address = config.key.address();
        let inner = Arc::new(Inner {
            address,
            hub: info.address,
            domain: info.domain,
            dispute_window: chain.dispute_window,
            min_lock_blocks: info.min_lock_blocks,
            max_lock_blocks: info.max_lock_blocks,
            http,
            rollup,
            store,
            channels: Mutex::default(),
            ops: Mutex::default(),
            invoices: Mutex::default(),
            sent: Mutex::default(),
            answered: tokio::sync::Notify::new(),
            revealing: Mutex::default(),
            routes: Mutex::default(),
            socket: Mutex::default(),
            connected: tokio_watch::Sender::new(false),
            answering: AtomicBool::new(true),
            head: Mutex::new((None, info.head)),
            stop: tokio_watch::Sender::new(false),
            rng: Mutex::new(StdRng::from_os_rng()),
            config,
        });
        let wallet = Self { inner };
        wallet.load().await?;
        tokio::spawn(socket_loop(wallet.clone()));
        if let Some(interval) = wallet.inner.config.watch_interval {
            tokio::spawn(watch::run(wallet.clone(), interval));
        }
        Ok(wallet)
    }

    async fn load(&self) -> Result<(), ClientError> {
        let s = &self.inner.store;
        for (hashlock, secret, amount) in s.secrets().await? {
            self.inner
                .invoices
                .lock()
                .insert(hashlock, (secret, amount));
        }
        for row in s.channels(&self.inner.address).await? {
            let states = s.states(&row.id).await?;
            let Some(agreed) = states.iter().rev().find(|w| w.is_agreed()) else {
                continue;
            };
            let latest = agreed.state.clone();
            let offer = states
                .iter()
                .rev()
                .find(|w| w.state.version > latest.version && w.hub_signature.is_some())
                .map(|w| Offer {
                    kind: if transition::settled_and_added(&latest, &w.state)
                        .is_some_and(|(_, l)| l.direction == LockDirection::HubToWallet)
                    {
                        OfferKind::Lock
                    } else {
                        OfferKind::Payment
                    },
                    state: w.state.clone(),
                    hub_signature: w.hub_signature.expect("filtered"),
                    secrets: Vec::new(),
                });
            let to_hub: Vec<B256> = latest
                .locks
                .iter()
                .filter(|l| l.direction == LockDirection::WalletToHub)
                .map(|l| l.hashlock)
                .collect();
            let paid = s.proofs(&to_hub).await?;
            self.inner.channels.lock().insert(
                row.id,
                WalletChannel {
                    id: row.id,
                    token: row.token,
                    wallet_signature: agreed.wallet_signature,
                    hub_signature: agreed.hub_signature,
                    latest,
                    paid,
                    offer,
                    status: row.status,
                },
            );
        }
        Ok(())
    }

    /// Stops the wallet's background tasks and closes its database (shared ones too).
    pub async fn close(&self) {
        self.inner.stop.send_replace(true);
        self.inner.socket.lock().take();
        self.inner.store.close().await;
    }

    /// The wallet's address.
    pub fn address(&self) -> Address {
        self.inner.address
    }

    /// The hub's address.
    pub fn hub(&self) -> Address {
        self.inner.hub
    }

    /// The rollup's dispute window in blocks, as the sequencer publishes it.
    pub fn dispute_window(&self) -> u64 {
        self.inner.dispute_window
    }

    /// The rollup client the wallet uses.
    pub fn rollup(&self) -> &weft_api::Client {
        &self.inner.rollup
    }

    /// A snapshot of a channel.
    pub fn channel(&self, id: &B256) -> Option<WalletChannel> {
        self.inner.channels.lock().get(id).cloned()
    }

    /// Snapshots of every channel of the wallet, sorted by id.
    pub fn channels(&self) -> Vec<WalletChannel> {
        let mut channels: Vec<WalletChannel> =
            self.inner.channels.lock().values().cloned().collect();
        channels.sort_by_key(|c| c.id);
        channels
    }

    /// Every stored state of a channel (history included).
    pub async fn history(&self, id: &B256) -> Result<Vec<WalletState>, ClientError> {
        Ok(self.inner.store.states(id).await?)
    }

    /// Stops (or resumes) answering the hub's lock offers: they stay stored, unanswered,
    /// as if the wallet were busy or offline (used by tests to hold a payment mid-way).
    pub fn set_answering(&self, on: bool) {
        self.inner.answering.store(on, Ordering::SeqCst);
        if on {
            let wallet = self.clone();
            tokio::spawn(async move { wallet.answer_stored_offers().await });
        }
    }

    /// Waits until the WebSocket is connected.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let mut rx = self.inner.connected.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|c| *c))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    pub(crate) fn op_lock(&self, id: &B256) -> Arc<tokio::sync::Mutex<()>> {
        self.inner.ops.lock().entry(*id).or_default().clone()
    }

    pub(crate) fn sign(&self, state: &ChannelState) -> Signature {
        self.inner
            .config
            .key
            .sign_digest(&state.signing_hash(&self.inner.domain))
    }

    pub(crate) fn check_hub(
        &self,
        state: &ChannelState,
        signature: &Signature,
    ) -> Result<(), ClientError> {
        match signature.recover(&state.signing_hash(&self.inner.domain)) {
            Ok(a) if a == self.inner.hub => Ok(()),
            _ => Err(ClientError::BadHubSignature),
        }
    }

    pub(crate) fn latest(&self, id: &B256) -> Result<WalletChannel, ClientError> {
        self.channel(id).ok_or(ClientError::UnknownChannel(*id))
    }

    pub(crate) async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R, ClientError> {
        let r = self
            .inner
            .http
            .post(format!("{}{path}", self.inner.config.hub_url))
            .json(body)
            .send()
            .await?;
        if r.status().is_success() {
            Ok(r.json().await?)
        } else {
            let status = r.status();
            Err(ClientError::Hub(Box::new(r.json().await.unwrap_or_else(
                |_| ErrorBody {
                    code: "http_error".into(),
                    message: status.to_string(),
                    expected: None,
                    hub_version: None,
                },
            ))))
        }
    }

    /// Stores `state` as co-signed and makes it the channel's latest.
    pub(crate) async fn store_co_signed(
        &self,
        state: ChannelState,
        wallet_signature: Signature,
        hub_signature: Signature,
    ) -> Result<(), ClientError> {
        self.inner
            .store
            .commit(vec![co_signed_write(
                &state,
                wallet_signature,
                hub_signature,
            )])
            .await?;
        self.set_latest(state, Some(wallet_signature), Some(hub_signature));
        Ok(())
    }

    /// Makes `state` (stored) the channel's latest, if it is newer; forgets the proofs of
    /// locks it no longer holds.
    pub(crate) fn set_latest(
        &self,
        state: ChannelState,
        wallet_signature: Option<Signature>,
        hub_signature: Option<Signature>,
    ) {
        let mut channels = self.inner.channels.lock();
        if let Some(c) = channels.get_mut(&state.channel_id)
            && state.version > c.latest.version
        {
            if c.offer
                .as_ref()
                .is_some_and(|o| o.state.version <= state.version)
            {
                c.offer = None;
            }
            c.paid
                .retain(|h, _| state.locks.iter().any(|l| &l.hashlock == h));
            c.latest = state;
            c.wallet_signature = wallet_signature;
            c.hub_signature = hub_signature;
        }
    }

    /// The wallet's signature of an agreed state: the stored one, or a fresh one for a lock
    /// it accepted by revealing (the only state it holds at that version).
    pub(crate) fn own_signature(
        &self,
        state: &ChannelState,
        stored: Option<Signature>,
    ) -> Signature {
        stored.unwrap_or_else(|| self.sign(state))
    }

    /// The preimages the wallet knows of `state`'s locks: its invoices' and its proofs.
    pub(crate) fn known_secrets(&self, state: &ChannelState) -> Vec<B256> {
        let invoices = self.inner.invoices.lock();
        let channels = self.inner.channels.lock();
        let paid = channels.get(&state.channel_id).map(|c| &c.paid);
        state
            .locks
            .iter()
            .filter_map(|l| {
                invoices
                    .get(&l.hashlock)
                    .map(|(s, _)| *s)
                    .or_else(|| paid.and_then(|p| p.get(&l.hashlock)).copied())
            })
            .collect()
    }

    /// The rollup head, re-read at most once a second.
    pub(crate) async fn head(&self) -> Result<u64, ClientError> {
        let cached = *self.inner.head.lock();
        if let (Some(at), head) = cached
            && at.elapsed() < Duration::from_secs(1)
        {
            return Ok(head);
        }
        let head = self.inner.rollup.head().await?;
        *self.inner.head.lock() = (Some(Instant::now()), head);
        Ok(head)
    }
}

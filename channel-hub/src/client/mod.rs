//! The wallet side of channels: a library a wallet embeds to use the hub.
//!
//! A [`Wallet`] keeps its channels' states durable in its own SQLite file (`store.rs`),
//! builds every state it signs with [`crate::transition`] (the same functions the hub
//! checks with), verifies the hub's signature of every state before relying on it, talks to
//! the hub over its WebSocket (payments; answering lock offers with the invoice's secret,
//! countersigning settlements and payments, syncing after the hub restarts) and REST, and
//! watches the rollup for registrations of its channels with stale states, refuting them
//! with its newest hub-signed state, and for its unsettled locks nearing expiry, revealing
//! their secrets there (`watch.rs`).
//!
//! Rules the client keeps: it stores a state (with the hub's signature) before it reveals a
//! secret for it or signs anything on top of it; it reveals a secret only for a lock the hub
//! has signed; it countersigns an offer only if it is exactly the state the update leads to;
//! it signs a lock it accepted by revealing only when it must present it (the only state it
//! holds at that version); it stores a payment's secret (its proof of payment) before `pay`
//! reports it settled.

mod store;
mod watch;

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use rand::{RngCore, SeedableRng, rngs::StdRng};
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::{mpsc, oneshot, watch as tokio_watch};
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, warn};
use weft_protocol::{
    channel::{ChannelState, Lock, LockDirection},
    eip712::{Domain, Eip712},
    primitives::{Address, Amount, B256, TokenId, keccak256},
    signature::{Signature, SigningKey},
    transaction::{
        ChannelConclude, ChannelDeposit, ChannelOpen, ChannelSettle, RevealSecret, Transaction,
    },
};

pub use store::{WalletState, WalletStore, WalletWrite};

use crate::{
    api::ErrorBody,
    auth::{HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_WALLET, HubRequest},
    rollup::{RollupClient, RollupError},
    store::{StoreError, now_secs},
    transition::{self, Side, TransitionError},
    wire::{
        Ack, ChannelView, CloseReply, CloseRequest, HeldState, HubInfo, HubMessage, Offer,
        OfferKind, RegisterReply, RouteReply, RouteRequest, RouteStatus, SignedUpdate, SyncReply,
        SyncRequest, WalletMessage,
    },
};

/// Default lifetime of the wallet's locks beyond the hub's minimum, in blocks.
pub const DEFAULT_LOCK_EXTRA_BLOCKS: u64 = 100;
/// Default interval of the wallet's rollup watcher.
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_millis(200);
/// Blocks before a lock to the wallet expires at which the watcher reveals its secret on
/// the rollup if the hub has not settled it yet (so any conclusion pays it to the wallet).
pub const DEFAULT_REVEAL_GUARD_BLOCKS: u64 = 20;
/// How long the wallet waits for its rollup transactions.
pub const DEFAULT_ROLLUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between WebSocket reconnection attempts.
pub const RECONNECT_DELAY: Duration = Duration::from_millis(100);
/// How long a payment sent on the socket waits for the hub's answer (the hub itself answers
/// `pending` after its route timeout).
pub const ROUTE_ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a wallet operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The hub refused (its stable code and message).
    #[error("hub refused: {}: {}", .0.code, .0.message)]
    Hub(Box<ErrorBody>),
    /// The hub could not be reached.
    #[error("hub unreachable: {0}")]
    Http(#[from] reqwest::Error),
    /// The rollup refused or could not be reached.
    #[error("rollup: {0}")]
    Rollup(#[from] RollupError),
    /// The wallet's database failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// A signature that is not the hub's on a state it should have signed.
    #[error("the hub's signature does not verify")]
    BadHubSignature,
    /// The hub offered a state that is not what the update leads to.
    #[error("unacceptable offer: {0}")]
    BadOffer(String),
    /// No such channel in the wallet.
    #[error("channel {0} is not known to the wallet")]
    UnknownChannel(B256),
    /// The update is impossible from the latest state.
    #[error("{0}")]
    Transition(#[from] TransitionError),
    /// The hub and the sequencer name different deployments.
    #[error("the hub signs under another domain than the sequencer's")]
    DomainMismatch,
    /// No invoice of the wallet has this hashlock.
    #[error("no invoice with hashlock {0}")]
    UnknownInvoice(B256),
    /// The hub's socket closed (or stayed silent) before the hub answered.
    #[error("the hub did not answer on its socket")]
    Disconnected,
}

impl ClientError {
    /// The hub's error code, if the hub refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Hub(e) => Some(&e.code),
            _ => None,
        }
    }
}

/// A wallet's configuration.
#[derive(Debug, Clone)]
pub struct WalletConfig {
    /// The hub's API (`http://host:port`).
    pub hub_url: String,
    /// The sequencer's API.
    pub sequencer_url: String,
    /// The wallet's key.
    pub key: SigningKey,
    /// Directory of the wallet's database.
    pub data_dir: PathBuf,
    /// Blocks a lock lives beyond the hub's minimum.
    pub lock_extra_blocks: u64,
    /// Fee of the wallet's rollup transactions.
    pub fee: Amount,
    /// Interval of the wallet's rollup watcher (`None`: no watcher).
    pub watch_interval: Option<Duration>,
    /// Blocks before a lock to the wallet expires at which the watcher reveals its secret
    /// on the rollup if the hub has not settled the lock.
    pub reveal_guard_blocks: u64,
}

impl WalletConfig {
    /// A configuration with the defaults.
    pub fn new(hub_url: &str, sequencer_url: &str, key: SigningKey, data_dir: PathBuf) -> Self {
        Self {
            hub_url: hub_url.trim_end_matches('/').into(),
            sequencer_url: sequencer_url.into(),
            key,
            data_dir,
            lock_extra_blocks: DEFAULT_LOCK_EXTRA_BLOCKS,
            fee: 0,
            watch_interval: Some(DEFAULT_WATCH_INTERVAL),
            reveal_guard_blocks: DEFAULT_REVEAL_GUARD_BLOCKS,
        }
    }
}

/// One of the wallet's channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletChannel {
    /// Its id.
    pub id: B256,
    /// The token.
    pub token: TokenId,
    /// The latest state both sides hold: co-signed, or a lock offer the wallet accepted by
    /// revealing the lock's secret.
    pub latest: ChannelState,
    /// The wallet's signature of it (none for a lock it accepted by revealing; the wallet
    /// signs it when it must present it).
    pub wallet_signature: Option<Signature>,
    /// The hub's signature of it (none for one of the wallet's payments, which the hub
    /// accepts without signing: they only give the hub value).
    pub hub_signature: Option<Signature>,
    /// Secrets the hub revealed for the wallet's locks to it in `latest` (proofs of
    /// payment): the wallet's next lock pays those locks to the hub.
    pub paid: HashMap<B256, B256>,
    /// A newer state the hub signed that the wallet has not answered (stored).
    pub offer: Option<Offer>,
    /// `active`, `closed`, `disputed`.
    pub status: String,
}

struct Inner {
    config: WalletConfig,
    address: Address,
    hub: Address,
    domain: Domain,
    /// The rollup's dispute window in blocks (from the sequencer's `/v1/chain`).
    dispute_window: u64,
    /// The hub's minimum lock lifetime (from `/v1/info`).
    min_lock_blocks: u64,
    http: reqwest::Client,
    rollup: RollupClient,
    store: WalletStore,
    channels: Mutex<HashMap<B256, WalletChannel>>,
    /// Serializes the wallet's operations on one channel.
    ops: Mutex<HashMap<B256, Arc<tokio::sync::Mutex<()>>>>,
    invoices: Mutex<HashMap<B256, (B256, Amount)>>,
    /// States sent on the socket awaiting the hub's ack, with the wallet's signature.
    sent: Mutex<HashMap<(B256, u64), (ChannelState, Signature)>>,
    /// Signalled whenever the hub answers a state sent on the socket.
    answered: tokio::sync::Notify,
    /// Hashlocks whose secrets the watcher revealed on the rollup.
    revealing: Mutex<HashSet<B256>>,
    /// Payments sent on the socket, by hashlock, awaiting the hub's answer.
    routes: Mutex<HashMap<B256, RouteWaiter>>,
    socket: Mutex<Option<mpsc::UnboundedSender<WalletMessage>>>,
    connected: tokio_watch::Sender<bool>,
    answering: AtomicBool,
    head: Mutex<(Option<Instant>, u64)>,
    stop: tokio_watch::Sender<bool>,
    rng: Mutex<StdRng>,
}

/// Where a payment sent on the socket hears its answer.
type RouteWaiter = oneshot::Sender<Result<RouteReply, ErrorBody>>;

/// A wallet using the hub; cheap to clone.
#[derive(Clone)]
pub struct Wallet {
    inner: Arc<Inner>,
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
        let rollup = RollupClient::new(&config.sequencer_url);
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
    pub fn rollup(&self) -> &RollupClient {
        &self.inner.rollup
    }

    /// A snapshot of a channel.
    pub fn channel(&self, id: &B256) -> Option<WalletChannel> {
        self.inner.channels.lock().get(id).cloned()
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

    fn op_lock(&self, id: &B256) -> Arc<tokio::sync::Mutex<()>> {
        self.inner.ops.lock().entry(*id).or_default().clone()
    }

    fn sign(&self, state: &ChannelState) -> Signature {
        self.inner
            .config
            .key
            .sign_digest(&state.signing_hash(&self.inner.domain))
    }

    fn check_hub(&self, state: &ChannelState, signature: &Signature) -> Result<(), ClientError> {
        match signature.recover(&state.signing_hash(&self.inner.domain)) {
            Ok(a) if a == self.inner.hub => Ok(()),
            _ => Err(ClientError::BadHubSignature),
        }
    }

    fn latest(&self, id: &B256) -> Result<WalletChannel, ClientError> {
        self.channel(id).ok_or(ClientError::UnknownChannel(*id))
    }

    async fn post<B: Serialize, R: DeserializeOwned>(
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
    async fn store_co_signed(
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
    fn set_latest(
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
    fn own_signature(&self, state: &ChannelState, stored: Option<Signature>) -> Signature {
        stored.unwrap_or_else(|| self.sign(state))
    }

    /// The preimages the wallet knows of `state`'s locks: its invoices' and its proofs.
    fn known_secrets(&self, state: &ChannelState) -> Vec<B256> {
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
    async fn head(&self) -> Result<u64, ClientError> {
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

    // ---------------------------------------------------------------------------------
    // Opening, funding, closing
    // ---------------------------------------------------------------------------------

    /// Opens a channel with the hub on the rollup, locking `amount` of `token`, registers
    /// it with the hub and accepts the hub's funding offer. Returns the channel id.
    pub async fn open_channel(&self, token: TokenId, amount: Amount) -> Result<B256, ClientError> {
        let (key, hub, fee) = (
            &self.inner.config.key,
            self.inner.hub,
            self.inner.config.fee,
        );
        let from = self.inner.address;
        let (hash, signed) = self
            .inner
            .rollup
            .sign_and_submit(key, &self.inner.domain, |nonce| {
                Transaction::ChannelOpen(ChannelOpen {
                    from,
                    hub,
                    token,
                    amount,
                    fee,
                    nonce,
                })
            })
            .await?;
        self.inner
            .rollup
            .wait_executed(&hash, DEFAULT_ROLLUP_TIMEOUT)
            .await?;
        let Transaction::ChannelOpen(open) = &signed.transaction else {
            unreachable!("built above")
        };
        let id = weft_protocol::channel::channel_id(&from, &hub, open.nonce);
        self.register(id).await?;
        Ok(id)
    }

    /// Registers a channel the wallet opened on the rollup and accepts the hub's funding.
    pub async fn register(&self, id: B256) -> Result<(), ClientError> {
        let remote = self
            .inner
            .rollup
            .channel(&id)
            .await?
            .ok_or(ClientError::UnknownChannel(id))?;
        let opening = ChannelState {
            channel_id: id,
            version: 1,
            balance_wallet: remote.record.wallet_side,
            balance_hub: remote.record.hub_side,
            locks: vec![],
            is_final: false,
        };
        let wallet_signature = self.sign(&opening);
        self.inner
            .store
            .commit(vec![
                WalletWrite::Channel {
                    id,
                    wallet: self.inner.address,
                    hub: self.inner.hub,
                    token: remote.record.token,
                },
                WalletWrite::State {
                    state: opening.clone(),
                    wallet_signature: Some(wallet_signature),
                    hub_signature: None,
                    accepted: false,
                },
            ])
            .await?;
        let reply: RegisterReply = self
            .post(
                "/v1/channels",
                &SignedUpdate {
                    state: opening.clone(),
                    wallet_signature,
                },
            )
            .await?;
        self.check_hub(&opening, &reply.hub_signature)?;
        self.inner.channels.lock().insert(
            id,
            WalletChannel {
                id,
                token: remote.record.token,
                latest: opening.clone(),
                wallet_signature: Some(wallet_signature),
                hub_signature: Some(reply.hub_signature),
                paid: HashMap::new(),
                offer: None,
                status: "active".into(),
            },
        );
        self.store_co_signed(opening, wallet_signature, reply.hub_signature)
            .await?;
        if let Some(offer) = reply.funding {
            let _op = self.op_lock(&id).lock_owned().await;
            let update = self.accept_offer(&offer).await?;
            let ack: Ack = self
                .post(&format!("/v1/channels/{id}/fund"), &update)
                .await?;
            self.check_hub(&update.state, &ack.hub_signature)?;
        }
        Ok(())
    }

    /// Adds `amount` to the wallet's side: the hub co-signs the larger state first, then the
    /// wallet deposits on the rollup.
    pub async fn top_up(&self, id: &B256, amount: Amount) -> Result<(), ClientError> {
        let _op = self.op_lock(id).lock_owned().await;
        self.settle_sent(id).await?;
        let state = transition::deposit(&self.latest(id)?.latest, Side::Wallet, amount)?;
        self.update(id, "topup", state).await?;
        let (key, fee, from, channel_id) = (
            &self.inner.config.key,
            self.inner.config.fee,
            self.inner.address,
            *id,
        );
        let (hash, _) = self
            .inner
            .rollup
            .sign_and_submit(key, &self.inner.domain, |nonce| {
                Transaction::ChannelDeposit(ChannelDeposit {
                    from,
                    channel_id,
                    amount,
                    fee,
                    nonce,
                })
            })
            .await?;
        self.inner
            .rollup
            .wait_executed(&hash, DEFAULT_ROLLUP_TIMEOUT)
            .await?;
        Ok(())
    }

    /// Closes the channel cooperatively: the hub co-signs the final state; it submits the
    /// close itself if `hub_submits`, otherwise the wallet does. Returns the close
    /// transaction's hash.
    pub async fn close_channel(&self, id: &B256, hub_submits: bool) -> Result<B256, ClientError> {
        let _op = self.op_lock(id).lock_owned().await;
        self.settle_sent(id).await?;
        let state = transition::finalize(&self.latest(id)?.latest)?;
        let wallet_signature = self.sign(&state);
        self.inner
            .store
            .commit(vec![
                WalletWrite::State {
                    state: state.clone(),
                    wallet_signature: Some(wallet_signature),
                    hub_signature: None,
                    accepted: false,
                },
                WalletWrite::Status {
                    id: *id,
                    status: "closing",
                },
            ])
            .await?;
        let reply: CloseReply = self
            .post(
                &format!("/v1/channels/{id}/close"),
                &CloseRequest {
                    state: state.clone(),
                    wallet_signature,
                    submit: hub_submits,
                },
            )
            .await?;
        self.check_hub(&state, &reply.hub_signature)?;
        self.store_co_signed(state.clone(), wallet_signature, reply.hub_signature)
            .await?;
        let hash = match reply.transaction {
            Some(hash) => hash,
            None => {
                let hash = self
                    .submit_settle(&state, wallet_signature, reply.hub_signature, Settle::Close)
                    .await?;
                self.inner
                    .rollup
                    .wait_executed(&hash, DEFAULT_ROLLUP_TIMEOUT)
                    .await?;
                hash
            }
        };
        self.set_status(id, "closed").await?;
        Ok(hash)
    }

    async fn set_status(&self, id: &B256, status: &'static str) -> Result<(), ClientError> {
        self.inner
            .store
            .commit(vec![WalletWrite::Status { id: *id, status }])
            .await?;
        if let Some(c) = self.inner.channels.lock().get_mut(id) {
            c.status = status.into();
        }
        Ok(())
    }

    /// Submits a co-signed state on the rollup (close, register or refute).
    async fn submit_settle(
        &self,
        state: &ChannelState,
        wallet_signature: Signature,
        hub_signature: Signature,
        kind: Settle,
    ) -> Result<B256, ClientError> {
        let body = ChannelSettle {
            from: self.inner.address,
            state: state.clone(),
            wallet_signature: wallet_signature.to_bytes().to_vec().into(),
            hub_signature: hub_signature.to_bytes().to_vec().into(),
            fee: self.inner.config.fee,
            nonce: 0,
        };
        let (hash, _) = self
            .inner
            .rollup
            .sign_and_submit(&self.inner.config.key, &self.inner.domain, |nonce| {
                let body = ChannelSettle { nonce, ..body };
                match kind {
                    Settle::Close => Transaction::ChannelClose(body),
                    Settle::Register => Transaction::ChannelRegister(body),
                    Settle::Refute => Transaction::ChannelRefute(body),
                }
            })
            .await?;
        Ok(hash)
    }

    /// Starts a dispute on the rollup with the co-signed state of `version` (default: the
    /// latest). Registering anything but the latest is what a cheating wallet does; the
    /// hub refutes it. Returns the transaction's hash once executed.
    pub async fn register_on_rollup(
        &self,
        id: &B256,
        version: Option<u64>,
    ) -> Result<B256, ClientError> {
        let (state, ws, hs) = self.co_signed_at(id, version).await?;
        let hash = self.submit_settle(&state, ws, hs, Settle::Register).await?;
        self.inner
            .rollup
            .wait_executed(&hash, DEFAULT_ROLLUP_TIMEOUT)
            .await?;
        self.set_status(id, "disputed").await?;
        Ok(hash)
    }

    /// Reveals the secret of the wallet's invoice `hashlock` on the rollup, so a lock to the
    /// wallet pays it when its channel is concluded (what a payee does when the hub stops
    /// answering). Returns the transaction's hash once executed.
    pub async fn reveal_on_rollup(&self, hashlock: &B256) -> Result<B256, ClientError> {
        let secret = self
            .inner
            .invoices
            .lock()
            .get(hashlock)
            .map(|&(secret, _)| secret)
            .ok_or(ClientError::UnknownInvoice(*hashlock))?;
        let (from, fee) = (self.inner.address, self.inner.config.fee);
        let (hash, _) = self
            .inner
            .rollup
            .sign_and_submit(&self.inner.config.key, &self.inner.domain, |nonce| {
                Transaction::RevealSecret(RevealSecret {
                    from,
                    secret,
                    fee,
                    nonce,
                })
            })
            .await?;
        self.inner
            .rollup
            .wait_executed(&hash, DEFAULT_ROLLUP_TIMEOUT)
            .await?;
        Ok(hash)
    }

    /// Concludes a dispute of channel `id` on the rollup (after its deadline: the
    /// registration's block plus [`Self::dispute_window`]). Returns the transaction's hash
    /// once executed.
    pub async fn conclude_on_rollup(&self, id: &B256) -> Result<B256, ClientError> {
        let (from, fee, channel_id) = (self.inner.address, self.inner.config.fee, *id);
        let (hash, _) = self
            .inner
            .rollup
            .sign_and_submit(&self.inner.config.key, &self.inner.domain, |nonce| {
                Transaction::ChannelConclude(ChannelConclude {
                    from,
                    channel_id,
                    fee,
                    nonce,
                })
            })
            .await?;
        self.inner
            .rollup
            .wait_executed(&hash, DEFAULT_ROLLUP_TIMEOUT)
            .await?;
        self.set_status(id, "closed").await?;
        Ok(hash)
    }

    async fn co_signed_at(
        &self,
        id: &B256,
        version: Option<u64>,
    ) -> Result<(ChannelState, Signature, Signature), ClientError> {
        let channel = self.latest(id)?;
        if version.is_none()
            && let Some(hub_signature) = channel.hub_signature
        {
            return Ok((
                channel.latest.clone(),
                self.own_signature(&channel.latest, channel.wallet_signature),
                hub_signature,
            ));
        }
        // The newest (or the asked) agreed state the hub signed: the wallet's own payments
        // since only gave the hub value, so it is the best the wallet can present.
        self.inner
            .store
            .states(id)
            .await?
            .into_iter()
            .rev()
            .filter(|w| w.is_agreed() && version.is_none_or(|v| w.state.version == v))
            .find_map(|w| {
                let hub_signature = w.hub_signature?;
                let wallet_signature = self.own_signature(&w.state, w.wallet_signature);
                Some((w.state, wallet_signature, hub_signature))
            })
            .ok_or_else(|| {
                ClientError::BadOffer(format!("no co-signed state at version {version:?}"))
            })
    }

    // ---------------------------------------------------------------------------------
    // Payments
    // ---------------------------------------------------------------------------------

    /// Sends a state update the wallet starts (`pay`, `topup`) and stores the co-signed
    /// result.
    async fn update(
        &self,
        id: &B256,
        route: &str,
        state: ChannelState,
    ) -> Result<Ack, ClientError> {
        let wallet_signature = self.sign(&state);
        let update = SignedUpdate {
            state: state.clone(),
            wallet_signature,
        };
        let ack: Ack = self
            .post(&format!("/v1/channels/{id}/{route}"), &update)
            .await?;
        self.check_hub(&state, &ack.hub_signature)?;
        self.store_co_signed(state, wallet_signature, ack.hub_signature)
            .await?;
        Ok(ack)
    }

    /// Pays the hub `amount` directly.
    pub async fn pay_hub(&self, id: &B256, amount: Amount) -> Result<(), ClientError> {
        let _op = self.op_lock(id).lock_owned().await;
        self.settle_sent(id).await?;
        let state = transition::pay(&self.latest(id)?.latest, Side::Wallet, amount)?;
        self.update(id, "pay", state).await.map(|_| ())
    }

    /// A new invoice for `amount`: a random secret, stored; returns its hashlock, which
    /// the payer locks to.
    pub async fn invoice(&self, amount: Amount) -> Result<B256, ClientError> {
        Ok(self.invoices(&[amount]).await?[0])
    }

    /// One invoice per amount, stored in one commit.
    pub async fn invoices(&self, amounts: &[Amount]) -> Result<Vec<B256>, ClientError> {
        let invoices: Vec<(B256, B256, Amount)> = amounts
            .iter()
            .map(|&amount| {
                let mut secret = B256::ZERO;
                self.inner.rng.lock().fill_bytes(secret.as_mut_slice());
                (keccak256(secret), secret, amount)
            })
            .collect();
        self.inner
            .store
            .commit(
                invoices
                    .iter()
                    .map(|&(hashlock, secret, amount)| WalletWrite::Secret {
                        hashlock,
                        secret,
                        amount,
                    })
                    .collect(),
            )
            .await?;
        let mut known = self.inner.invoices.lock();
        for &(hashlock, secret, amount) in &invoices {
            known.insert(hashlock, (secret, amount));
        }
        Ok(invoices.into_iter().map(|(h, _, _)| h).collect())
    }

    /// Pays `amount` to `payee` through the hub, locked to `hashlock` (the payee's
    /// invoice). Returns how it stands: `Settled` (the payee was paid; the secret, the proof
    /// of payment, is stored), `Refunded` (failed, nothing moved) or `Pending` (the payee
    /// has not answered; the hub will offer the outcome on the WebSocket, and the wallet
    /// answers it there).
    ///
    /// The state sent also pays the hub the wallet's earlier locks whose secrets the hub
    /// revealed: one signature per payment settles the previous one.
    pub async fn pay(
        &self,
        id: &B256,
        payee: Address,
        amount: Amount,
        hashlock: B256,
    ) -> Result<RouteStatus, ClientError> {
        let head = self.head().await?;
        let min = self.inner.min_lock_blocks;
        let lock = Lock {
            amount,
            hashlock,
            expiry: head + min + self.inner.config.lock_extra_blocks,
            direction: LockDirection::WalletToHub,
        };
        let _op = self.op_lock(id).lock_owned().await;
        self.settle_sent(id).await?;
        let mut answered_offer = false;
        let (state, wallet_signature, reply) = loop {
            let channel = self.latest(id)?;
            let settled: Vec<B256> = channel
                .latest
                .locks
                .iter()
                .filter(|l| {
                    l.direction == LockDirection::WalletToHub
                        && channel.paid.contains_key(&l.hashlock)
                })
                .map(|l| l.hashlock)
                .collect();
            let state = transition::add_lock_settling(&channel.latest, &settled, lock.clone())?;
            let wallet_signature = self.sign(&state);
            let req = RouteRequest {
                state: state.clone(),
                wallet_signature,
                payee,
            };
            match self.route(id, &req).await {
                Ok(reply) => break (state, wallet_signature, reply),
                // The hub offered something first (a settlement of an idle channel's
                // locks): answer it, then pay on top of it.
                Err(e) if e.code() == Some("offer_pending") && !answered_offer => {
                    answered_offer = true;
                    self.answer_outstanding_offer(id).await?;
                }
                Err(e) => return Err(e),
            }
        };
        // The hub accepted the state (it only gives the hub value: the hub does not sign it).
        let locked = WalletWrite::State {
            state: state.clone(),
            wallet_signature: Some(wallet_signature),
            hub_signature: None,
            accepted: true,
        };
        match reply.status {
            RouteStatus::Settled => {
                let secret = reply
                    .secret
                    .filter(|s| keccak256(s) == hashlock)
                    .ok_or_else(|| {
                        ClientError::BadOffer("a settled payment without its secret".into())
                    })?;
                self.inner
                    .store
                    .commit(vec![locked, WalletWrite::Proof { hashlock, secret }])
                    .await?;
                self.set_latest(state, Some(wallet_signature), None);
                self.record_paid(id, hashlock, secret);
            }
            RouteStatus::Refunded => {
                let offer = reply.offer.ok_or_else(|| {
                    ClientError::BadOffer("a refunded payment without its refund".into())
                })?;
                // The locked state and its refund are stored in one commit.
                self.set_latest(state, Some(wallet_signature), None);
                let update = self.accept_offer_with(&offer, vec![locked]).await?;
                let ack: Ack = self
                    .post(&format!("/v1/channels/{id}/countersign"), &update)
                    .await?;
                // The hub's signature is deterministic: the one already verified.
                if ack.hub_signature != offer.hub_signature {
                    return Err(ClientError::BadHubSignature);
                }
            }
            RouteStatus::Pending => {
                self.inner.store.commit(vec![locked]).await?;
                self.set_latest(state, Some(wallet_signature), None);
            }
        }
        Ok(reply.status)
    }

    /// Sends a payment to the hub: on the WebSocket when it is up (cheaper than a request,
    /// and several may be in flight), else as `POST /v1/channels/{id}/route`.
    async fn route(&self, id: &B256, req: &RouteRequest) -> Result<RouteReply, ClientError> {
        let hashlock = req
            .state
            .locks
            .last()
            .map(|l| l.hashlock)
            .ok_or_else(|| ClientError::BadOffer("a payment without its lock".into()))?;
        let (tx, rx) = oneshot::channel();
        let sent = {
            let socket = self.inner.socket.lock();
            socket.as_ref().is_some_and(|s| {
                self.inner.routes.lock().insert(hashlock, tx);
                s.send(WalletMessage::Route(req.clone())).is_ok()
            })
        };
        if !sent {
            self.inner.routes.lock().remove(&hashlock);
            return self.post(&format!("/v1/channels/{id}/route"), req).await;
        }
        match tokio::time::timeout(ROUTE_ANSWER_TIMEOUT, rx).await {
            Ok(Ok(Ok(reply))) => Ok(reply),
            Ok(Ok(Err(body))) => Err(ClientError::Hub(Box::new(body))),
            Ok(Err(_)) => Err(ClientError::Disconnected),
            Err(_) => {
                self.inner.routes.lock().remove(&hashlock);
                Err(ClientError::Disconnected)
            }
        }
    }

    /// The hub's answer to a payment sent on the socket.
    fn on_routed(
        &self,
        hashlock: B256,
        reply: Option<Box<RouteReply>>,
        error: Option<Box<ErrorBody>>,
    ) {
        let Some(waiter) = self.inner.routes.lock().remove(&hashlock) else {
            return;
        };
        let _ = waiter.send(match (reply, error) {
            (Some(reply), _) => Ok(*reply),
            (None, Some(error)) => Err(*error),
            (None, None) => Err(ErrorBody {
                code: "invalid_response".into(),
                message: "an answer with neither a reply nor an error".into(),
                expected: None,
                hub_version: None,
            }),
        });
    }

    /// Remembers the secret of a paid lock of channel `id` (its next update settles it).
    fn record_paid(&self, id: &B256, hashlock: B256, secret: B256) {
        if let Some(c) = self.inner.channels.lock().get_mut(id)
            && c.latest.locks.iter().any(|l| l.hashlock == hashlock)
        {
            c.paid.insert(hashlock, secret);
        }
    }

    /// The proof of payment of one of the wallet's routed payments: the secret of its
    /// hashlock, once the hub revealed it.
    pub async fn proof_of_payment(&self, hashlock: &B256) -> Result<Option<B256>, ClientError> {
        Ok(self
            .inner
            .store
            .proofs(&[*hashlock])
            .await?
            .remove(hashlock))
    }

    /// Answers the hub's outstanding offer on channel `id` (read from the hub), with the
    /// wallet's operation lock held by the caller.
    async fn answer_outstanding_offer(&self, id: &B256) -> Result<(), ClientError> {
        let view = self.hub_view(id).await?;
        let Some(offer) = view.offer else {
            return Ok(());
        };
        if offer.kind == OfferKind::Lock {
            return self.on_lock_offer(offer).await;
        }
        let update = self.accept_offer(&offer).await?;
        let ack: Ack = self
            .post(&format!("/v1/channels/{id}/countersign"), &update)
            .await?;
        if ack.hub_signature != offer.hub_signature {
            return Err(ClientError::BadHubSignature);
        }
        Ok(())
    }

    /// Checks an offer against the state its kind leads to from the latest one, stores it
    /// with both signatures and returns the countersignature to send.
    async fn accept_offer(&self, offer: &Offer) -> Result<SignedUpdate, ClientError> {
        self.accept_offer_with(offer, Vec::new()).await
    }

    /// [`Self::accept_offer`], committing `writes` with the accepted state.
    async fn accept_offer_with(
        &self,
        offer: &Offer,
        mut writes: Vec<WalletWrite>,
    ) -> Result<SignedUpdate, ClientError> {
        self.check_hub(&offer.state, &offer.hub_signature)?;
        let channel = self.latest(&offer.state.channel_id)?;
        let latest = &channel.latest;
        let next = &offer.state;
        let expected = match offer.kind {
            OfferKind::Funding => transition::deposit(
                latest,
                Side::Hub,
                next.balance_hub.saturating_sub(latest.balance_hub),
            )?,
            OfferKind::Payment => transition::pay(
                latest,
                Side::Hub,
                next.balance_wallet.saturating_sub(latest.balance_wallet),
            )?,
            OfferKind::Settle => {
                // Each lock it pays comes with its preimage: a lock to the hub is owed
                // once its secret is out (the payee holds the hub's lock with it).
                if offer.secrets.is_empty() {
                    return Err(ClientError::BadOffer("a settlement of nothing".into()));
                }
                let hashlocks: Vec<B256> = offer.secrets.iter().map(keccak256).collect();
                for (hashlock, secret) in hashlocks.iter().zip(&offer.secrets) {
                    if latest.locks.iter().any(|l| {
                        &l.hashlock == hashlock && l.direction == LockDirection::WalletToHub
                    }) {
                        writes.push(WalletWrite::Proof {
                            hashlock: *hashlock,
                            secret: *secret,
                        });
                    }
                }
                transition::settle(latest, &hashlocks)?
            }
            OfferKind::Refund => {
                let removed = latest
                    .locks
                    .iter()
                    .find(|l| !next.locks.contains(l))
                    .ok_or_else(|| ClientError::BadOffer("a refund that removes no lock".into()))?;
                transition::resolve_lock(latest, &removed.hashlock, false)?
            }
            OfferKind::Lock => {
                return Err(ClientError::BadOffer(
                    "a lock is answered with fulfil or reject".into(),
                ));
            }
        };
        if &expected != next {
            return Err(ClientError::BadOffer(format!(
                "{:?} offer is not the expected state",
                offer.kind
            )));
        }
        let wallet_signature = self.sign(next);
        writes.push(co_signed_write(next, wallet_signature, offer.hub_signature));
        self.inner.store.commit(writes).await?;
        self.set_latest(
            next.clone(),
            Some(wallet_signature),
            Some(offer.hub_signature),
        );
        Ok(SignedUpdate {
            state: next.clone(),
            wallet_signature,
        })
    }

    // ---------------------------------------------------------------------------------
    // The hub's messages
    // ---------------------------------------------------------------------------------

    async fn on_message(&self, message: HubMessage) {
        let result = match message {
            HubMessage::Offer(offer) => {
                let id = offer.state.channel_id;
                match self.on_offer(offer).await {
                    // An offer the wallet cannot place is built on a state it does not hold
                    // (the hub's answer to one of its requests was lost): sync, which
                    // brings the hub's latest state and the offer again.
                    Err(ClientError::Transition(_) | ClientError::BadOffer(_)) => {
                        self.sync(&id).await
                    }
                    other => other,
                }
            }
            HubMessage::Ack(ack) => self.on_ack(ack).await,
            HubMessage::SyncRequest { channel_id, .. } => self.send_sync(&channel_id).await,
            HubMessage::Synced(reply) => self.adopt(*reply).await,
            HubMessage::Routed {
                hashlock,
                reply,
                error,
            } => {
                self.on_routed(hashlock, reply, error);
                Ok(())
            }
            HubMessage::Error {
                channel_id,
                code,
                message,
            } => {
                warn!(channel = ?channel_id, %code, %message, "hub refused a socket message");
                if let Some(id) = channel_id {
                    self.inner.sent.lock().retain(|(c, _), _| c != &id);
                    self.inner.answered.notify_waiters();
                }
                Ok(())
            }
        };
        if let Err(e) = result {
            warn!(error = %e, "handling a hub message failed");
        }
    }

    async fn on_offer(&self, offer: Offer) -> Result<(), ClientError> {
        let id = offer.state.channel_id;
        let _op = self.op_lock(&id).lock_owned().await;
        let latest = self.latest(&id)?;
        if offer.state.version <= latest.latest.version {
            // Answered already. A lock the wallet accepted is re-offered when the hub did
            // not get the secret (a dropped socket): reveal it again.
            if offer.kind == OfferKind::Lock
                && offer.state == latest.latest
                && let Some(lock) = offer.state.locks.last()
                && let Some((secret, _)) = self.inner.invoices.lock().get(&lock.hashlock)
            {
                self.send(WalletMessage::Fulfil {
                    channel_id: id,
                    secret: *secret,
                });
            }
            return Ok(());
        }
        if offer.kind != OfferKind::Lock {
            let update = self.accept_offer(&offer).await?;
            let ack: Ack = self
                .post(&format!("/v1/channels/{id}/countersign"), &update)
                .await?;
            // The hub's signature is deterministic: the one already verified.
            if ack.hub_signature != offer.hub_signature {
                return Err(ClientError::BadHubSignature);
            }
            return Ok(());
        }
        self.on_lock_offer(offer).await
    }

    /// A lock to the wallet (with the operation lock held): check it, store it with the
    /// hub's signature before revealing anything, then answer: the secret if the wallet
    /// has the invoice (the state becomes the latest), else a signed refusal.
    async fn on_lock_offer(&self, offer: Offer) -> Result<(), ClientError> {
        let id = offer.state.channel_id;
        let latest = self.latest(&id)?;
        self.check_hub(&offer.state, &offer.hub_signature)?;
        // The hub may pay the wallet its revealed locks in the same state, nothing else.
        let (settled, lock) = transition::settled_and_added(&latest.latest, &offer.state)
            .filter(|(settled, l)| {
                l.direction == LockDirection::HubToWallet
                    && settled
                        .iter()
                        .all(|s| s.direction == LockDirection::HubToWallet)
            })
            .ok_or_else(|| {
                ClientError::BadOffer("a lock offer must add one lock to the wallet".into())
            })?;
        let settled: Vec<B256> = settled.iter().map(|l| l.hashlock).collect();
        if transition::add_lock_settling(&latest.latest, &settled, lock.clone())? != offer.state {
            return Err(ClientError::BadOffer(
                "the lock offer changes more than the lock".into(),
            ));
        }
        let answering = self.inner.answering.load(Ordering::SeqCst);
        if answering && let Some(secret) = self.fulfilment(&lock) {
            return self.fulfil_lock(&offer, secret).await;
        }
        self.inner
            .store
            .commit(vec![offer_write(&offer, false)])
            .await?;
        if let Some(c) = self.inner.channels.lock().get_mut(&id) {
            c.offer = Some(offer.clone());
        }
        if answering {
            self.answer_lock(&offer, &lock).await?;
        }
        Ok(())
    }

    /// Accepts a lock offer: stores it as agreed (with the hub's signature) before
    /// revealing the secret, makes it the latest, then reveals.
    async fn fulfil_lock(&self, offer: &Offer, secret: B256) -> Result<(), ClientError> {
        self.inner
            .store
            .commit(vec![offer_write(offer, true)])
            .await?;
        self.set_latest(offer.state.clone(), None, Some(offer.hub_signature));
        self.send(WalletMessage::Fulfil {
            channel_id: offer.state.channel_id,
            secret,
        });
        Ok(())
    }

    /// The secret the wallet reveals for `lock`: its invoice's, if the lock pays at least
    /// the invoiced amount and has not expired.
    fn fulfilment(&self, lock: &Lock) -> Option<B256> {
        let invoice = self.inner.invoices.lock().get(&lock.hashlock).copied();
        let head = self.inner.head.lock().1;
        invoice
            .filter(|(_, amount)| lock.amount >= *amount && lock.expiry > head)
            .map(|(s, _)| s)
    }

    /// Answers a stored lock offer: fulfils it if the wallet has the invoice (storing that
    /// it accepted the state first), rejects it with a signed refusal otherwise.
    async fn answer_lock(&self, offer: &Offer, lock: &Lock) -> Result<(), ClientError> {
        if let Some(secret) = self.fulfilment(lock) {
            return self.fulfil_lock(offer, secret).await;
        }
        let next = transition::resolve_lock(&offer.state, &lock.hashlock, false)?;
        let wallet_signature = self.sign(&next);
        self.inner.sent.lock().insert(
            (next.channel_id, next.version),
            (next.clone(), wallet_signature),
        );
        self.send(WalletMessage::Reject {
            state: next,
            wallet_signature,
        });
        Ok(())
    }

    async fn answer_stored_offers(&self) {
        let offers: Vec<Offer> = self
            .inner
            .channels
            .lock()
            .values()
            .filter_map(|c| c.offer.clone())
            .collect();
        for offer in offers {
            let id = offer.state.channel_id;
            let _op = self.op_lock(&id).lock_owned().await;
            let Some(latest) = self.channel(&id) else {
                continue;
            };
            if offer.kind != OfferKind::Lock || offer.state.version <= latest.latest.version {
                continue;
            }
            if let Some((_, lock)) = transition::settled_and_added(&latest.latest, &offer.state)
                && let Err(e) = self.answer_lock(&offer, &lock).await
            {
                warn!(error = %e, "answering a stored lock failed");
            }
        }
    }

    /// The hub acknowledged a state the wallet sent on the socket.
    async fn on_ack(&self, ack: Ack) -> Result<(), ClientError> {
        let key = (ack.channel_id, ack.version);
        let sent = self.inner.sent.lock().get(&key).cloned();
        let Some((state, wallet_signature)) = sent else {
            return Ok(());
        };
        let result = match self.check_hub(&state, &ack.hub_signature) {
            Ok(()) => {
                self.store_co_signed(state, wallet_signature, ack.hub_signature)
                    .await
            }
            Err(e) => Err(e),
        };
        self.inner.sent.lock().remove(&key);
        self.inner.answered.notify_waiters();
        result
    }

    /// Waits until the hub answered every state the wallet sent on the socket for this
    /// channel, so the next proposal builds on the hub's latest; syncs if it does not.
    async fn settle_sent(&self, id: &B256) -> Result<(), ClientError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let answered = self.inner.answered.notified();
            if !self.inner.sent.lock().keys().any(|(c, _)| c == id) {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, answered).await.is_err() {
                self.inner.sent.lock().retain(|(c, _), _| c != id);
                return self.sync(id).await;
            }
        }
    }

    fn send(&self, message: WalletMessage) {
        let sent = self
            .inner
            .socket
            .lock()
            .as_ref()
            .is_some_and(|tx| tx.send(message).is_ok());
        if !sent {
            debug!("socket down: the answer is sent again after the hub re-offers");
        }
    }

    /// Sends the wallet's latest state of a channel (for a hub that restarted).
    async fn send_sync(&self, id: &B256) -> Result<(), ClientError> {
        self.send(WalletMessage::Sync(self.sync_request(id).await?));
        Ok(())
    }

    /// The wallet's latest state (signed by it), or the offer it has not answered, with
    /// the secrets it knows; a latest state the hub accepted without signing comes with the
    /// newest state the hub signed below it.
    async fn sync_request(&self, id: &B256) -> Result<SyncRequest, ClientError> {
        let c = self.latest(id)?;
        if let Some(o) = &c.offer {
            return Ok(SyncRequest {
                secrets: self.known_secrets(&o.state),
                state: o.state.clone(),
                wallet_signature: None,
                hub_signature: Some(o.hub_signature),
                base: None,
            });
        }
        let base = match c.hub_signature {
            Some(_) => None,
            None => {
                let (state, wallet_signature, hub_signature) = self.co_signed_at(id, None).await?;
                Some(Box::new(HeldState {
                    state,
                    wallet_signature: Some(wallet_signature),
                    hub_signature,
                }))
            }
        };
        Ok(SyncRequest {
            secrets: self.known_secrets(&c.latest),
            wallet_signature: Some(self.own_signature(&c.latest, c.wallet_signature)),
            state: c.latest.clone(),
            hub_signature: c.hub_signature,
            base,
        })
    }

    /// Syncs a channel over REST (after a `sync_required` answer).
    pub async fn sync(&self, id: &B256) -> Result<(), ClientError> {
        let req = self.sync_request(id).await?;
        let reply: SyncReply = self.post(&format!("/v1/channels/{id}/sync"), &req).await?;
        self.adopt(reply).await
    }

    /// Adopts the hub's view after a sync where it is newer (both signatures checked).
    async fn adopt(&self, reply: SyncReply) -> Result<(), ClientError> {
        let latest = reply.latest;
        let id = latest.state.channel_id;
        let ours = self.latest(&id)?;
        if latest.state.version > ours.latest.version {
            self.check_hub(&latest.state, &latest.hub_signature)?;
            // Only a state the wallet signed itself: a newer one signed by the hub alone
            // cannot be checked against anything the wallet holds.
            let signed = latest.wallet_signature.filter(|s| {
                s.recover(&latest.state.signing_hash(&self.inner.domain))
                    .ok()
                    == Some(self.inner.address)
            });
            let Some(wallet_signature) = signed else {
                return Err(ClientError::BadOffer(
                    "a sync with a state the wallet did not sign".into(),
                ));
            };
            self.store_co_signed(latest.state, wallet_signature, latest.hub_signature)
                .await?;
        }
        if let Some(offer) = reply.offer {
            Box::pin(self.on_offer(offer)).await?;
        }
        Ok(())
    }

    /// The channel as the hub shows it (a signed read).
    pub async fn hub_view(&self, id: &B256) -> Result<ChannelView, ClientError> {
        let path = format!("/v1/channels/{id}");
        let timestamp = now_secs();
        let signature = HubRequest {
            wallet: self.inner.address,
            method: "GET",
            path: &path,
            timestamp,
        }
        .sign(&self.inner.config.key, &self.inner.domain);
        let r = self
            .inner
            .http
            .get(format!("{}{path}", self.inner.config.hub_url))
            .header(HEADER_WALLET, self.inner.address.to_string())
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_SIGNATURE, signature.to_string())
            .send()
            .await?;
        if r.status().is_success() {
            Ok(r.json().await?)
        } else {
            Err(ClientError::Hub(Box::new(r.json().await?)))
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Settle {
    Close,
    Register,
    Refute,
}

/// Keeps the wallet's WebSocket open, reconnecting after drops, until the wallet closes.
async fn socket_loop(wallet: Wallet) {
    let mut stop = wallet.inner.stop.subscribe();
    loop {
        if *stop.borrow() {
            return;
        }
        if let Err(e) = run_socket(&wallet, &mut stop).await {
            debug!(error = %e, "hub socket closed");
        }
        wallet.inner.connected.send_replace(false);
        wallet.inner.socket.lock().take();
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(RECONNECT_DELAY) => {}
        }
    }
}

async fn run_socket(
    wallet: &Wallet,
    stop: &mut tokio_watch::Receiver<bool>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let inner = &wallet.inner;
    let timestamp = now_secs();
    let signature = HubRequest {
        wallet: inner.address,
        method: "GET",
        path: "/v1/ws",
        timestamp,
    }
    .sign(&inner.config.key, &inner.domain);
    let url = format!(
        "{}/v1/ws?wallet={}&timestamp={timestamp}&signature={signature}",
        inner.config.hub_url.replacen("http", "ws", 1),
        inner.address
    );
    // Messages are a few KiB at most: small buffers (tungstenite zeroes its whole read
    // buffer on each read, 128 KiB by default) and no Nagle delay.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(crate::wire::SOCKET_BUFFER)
        .write_buffer_size(0)
        .max_message_size(Some(crate::wire::MAX_SOCKET_MESSAGE))
        .max_frame_size(Some(crate::wire::MAX_SOCKET_MESSAGE));
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true).await?;
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<WalletMessage>();
    *inner.socket.lock() = Some(tx);
    inner.connected.send_replace(true);
    let writer = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let text = serde_json::to_string(&m).expect("messages serialize");
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
    });
    let (handle, mut queued) = mpsc::unbounded_channel::<HubMessage>();
    let handler = wallet.clone();
    tokio::spawn(async move {
        while let Some(m) = queued.recv().await {
            handler.on_message(m).await;
        }
    });
    let result = loop {
        let frame = tokio::select! {
            _ = stop.wait_for(|s| *s) => break Ok(()),
            frame = stream.next() => frame,
        };
        let text = match frame {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(_))) | None => break Ok(()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => break Err(e.into()),
        };
        match serde_json::from_str::<HubMessage>(&text) {
            // Answers to payments go straight to their waiting `pay` (which may hold the
            // channel's operation lock that a queued offer waits for).
            Ok(HubMessage::Routed {
                hashlock,
                reply,
                error,
            }) => wallet.on_routed(hashlock, reply, error),
            // The rest in order, on the handler task.
            Ok(m) => {
                let _ = handle.send(m);
            }
            Err(e) => warn!(error = %e, "unreadable hub message"),
        }
    };
    writer.abort();
    // Payments waiting for an answer on this socket get none: their senders are dropped.
    inner.routes.lock().clear();
    result
}

/// The write of a hub offer: a lock the wallet accepts by revealing (`accepted`), or one it
/// holds unanswered.
fn offer_write(offer: &Offer, accepted: bool) -> WalletWrite {
    WalletWrite::State {
        state: offer.state.clone(),
        wallet_signature: None,
        hub_signature: Some(offer.hub_signature),
        accepted,
    }
}

/// The write of a state with both signatures.
fn co_signed_write(
    state: &ChannelState,
    wallet_signature: Signature,
    hub_signature: Signature,
) -> WalletWrite {
    WalletWrite::State {
        state: state.clone(),
        wallet_signature: Some(wallet_signature),
        hub_signature: Some(hub_signature),
        accepted: false,
    }
}

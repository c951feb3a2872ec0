//! The hub: its channels, the rules it signs by, and routed payments.
//!
//! Each channel lives in a [`Slot`] behind an async mutex; an update locks the channels it
//! touches (two, in id order, for a routed payment), checks the wallet's proposal against
//! the state the hub builds itself ([`crate::transition`]), commits the new state to the
//! database and only then signs it (or, for a routed payment's lock, which only gives the
//! hub value, answers without signing). Three rules hold for every signature:
//!
//! 1. **Durable first.** The state's row is committed before the hub computes or releases
//!    its signature (the signature is deterministic, RFC 6979, so it is not stored: it is
//!    recomputed from the stored state when needed).
//! 2. **One state per version.** The hub signs version `v + 1` only on top of its highest
//!    signed version `v`; the `states` primary key `(channel_id, version)` refuses a second
//!    row, so even a bug above cannot sign two states with one version.
//! 3. **Backed credits.** Every state the hub signs comes out of a transition from its own
//!    latest state, which refuses to debit the hub below zero; a lock or payment to a wallet
//!    is therefore always backed by the hub's balance in that channel.
//!
//! After a restart every channel starts *unsynced*: the database may be older than the
//! newest state the hub signed (a restored backup), so the hub asks the wallet for its latest
//! state (verifying its signatures; a state the wallet signed alone is taken only if it
//! never pays the hub less than what the hub holds) before it signs anything on the
//! channel, and halts the channel if the wallet holds a state that contradicts the hub's
//! own history.
//!
//! A routed payment A → hub → B: A proposes its state with a lock to the hub; the hub
//! commits it together with its own lock to B (expiring `margin` blocks earlier), signs the
//! latter and offers it to B over B's WebSocket. B stores it and reveals the secret (or
//! refuses with a signed state returning the lock); the hub commits the secret and answers
//! A with it. Each side signs only what it gives away, so nobody signs the locks'
//! settlement on its own: A's next lock pays A's earlier revealed locks to the hub in the
//! same update (A signs it), and the hub's next lock to B pays B's (the hub signs it). A
//! payment costs two signatures (A's lock, the hub's lock to B) and two verifications (the
//! hub's of A's, B's of the hub's). Locks of a channel that stays idle are settled by a
//! [`OfferKind::Settle`] offer the wallet countersigns ([`Hub::settle_idle`]). If B or A
//! stop answering, the locks stay signed and each side can enforce them on the rollup
//! (`RevealSecret` + `ChannelRegister`/`ChannelConclude`).

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use tokio::sync::{Notify, oneshot};
use tracing::{info, warn};
use weft_protocol::{
    channel::{ChannelState, ChannelStatus, Lock, LockDirection},
    codec::Encode,
    eip712::{Domain, Eip712},
    primitives::{Address, Amount, B256, Nonce, TokenId, keccak256},
    signature::{Signature, SigningKey},
    transaction::{ChannelConclude, ChannelDeposit, ChannelSettle, RevealSecret, Transaction},
};

use crate::{
    config::Config,
    error::HubError,
    metrics::Metrics,
    rollup::RollupClient,
    store::{HubStore, PaymentRow, PaymentStatus, RollupTxRow, Write},
    transition::{self, Side},
    wire::{
        Ack, ChannelView, CloseReply, HeldState, HubInfo, HubMessage, Offer, OfferKind,
        RegisterReply, RouteReply, RouteRequest, RouteStatus, SignedUpdate, SyncReply, SyncRequest,
    },
    ws::Sessions,
};

/// Where a channel stands for the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Takes updates.
    Active,
    /// The hub restarted and has not yet learned the wallet's latest state.
    Unsynced,
    /// Registered on the rollup: no more updates.
    Disputed,
    /// Closed on the rollup (or closing cooperatively).
    Closed,
    /// The wallet presented a state contradicting the hub's history: no more signatures.
    Halted,
}

impl Phase {
    /// The name the API shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Unsynced => "unsynced",
            Self::Disputed => "disputed",
            Self::Closed => "closed",
            Self::Halted => "halted",
        }
    }

    fn from_stored(s: &str) -> Self {
        match s {
            "disputed" => Self::Disputed,
            "closed" => Self::Closed,
            "halted" => Self::Halted,
            _ => Self::Unsynced,
        }
    }
}

/// A state the hub signed and offered, awaiting the wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingOffer {
    /// Why.
    pub kind: OfferKind,
    /// The state.
    pub state: ChannelState,
    /// The hub's signature.
    pub hub_signature: Signature,
    /// The routed payment it belongs to (a lock or a refund).
    pub payment: Option<B256>,
    /// For a settle offer, the preimages of the locks it pays.
    pub secrets: Vec<B256>,
}

impl PendingOffer {
    fn wire(&self) -> Offer {
        Offer {
            kind: self.kind,
            state: self.state.clone(),
            hub_signature: self.hub_signature,
            secrets: self.secrets.clone(),
        }
    }
}

/// One channel as the hub holds it.
#[derive(Debug)]
pub struct Channel {
    /// Its id.
    pub id: B256,
    /// The wallet.
    pub wallet: Address,
    /// The token.
    pub token: TokenId,
    /// What the rollup holds for it, as last read.
    pub rollup_total: Amount,
    /// The latest state both sides hold: co-signed, or a lock offer the wallet accepted by
    /// revealing the lock's secret (signed by the hub only).
    pub latest: ChannelState,
    /// The wallet's signature of `latest`, if it signed it.
    pub wallet_signature: Option<Signature>,
    /// The hub's signature of `latest`, when it came for free (an offer the hub made); the
    /// hub does not sign what a wallet gives away (its payments), and computes the
    /// signature when it has to show one ([`Hub::hub_signature`]).
    pub hub_signature: Option<Signature>,
    /// Preimages the hub knows of locks in `latest`, by hashlock: those locks pay their
    /// receivers, and the next update may settle them.
    pub revealed: HashMap<B256, B256>,
    /// A newer state the hub signed, awaiting the wallet.
    pub offer: Option<PendingOffer>,
    /// Where it stands.
    pub phase: Phase,
    /// When `latest` last changed (idle channels get their revealed locks settled).
    pub updated: Instant,
}

impl Channel {
    /// The highest version the hub has signed.
    pub fn highest_version(&self) -> u64 {
        self.offer
            .as_ref()
            .map_or(self.latest.version, |o| o.state.version)
    }

    /// Hashlocks of the locks in `latest` to the wallet whose secrets are known: the hub
    /// may pay them to the wallet in any state it signs next.
    fn settleable_to_wallet(&self) -> Vec<B256> {
        self.latest
            .locks
            .iter()
            .filter(|l| {
                l.direction == LockDirection::HubToWallet && self.revealed.contains_key(&l.hashlock)
            })
            .map(|l| l.hashlock)
            .collect()
    }

    fn view(&self, held: HeldState) -> ChannelView {
        ChannelView {
            id: self.id,
            wallet: self.wallet,
            token: self.token,
            status: self.phase.as_str().into(),
            rollup_total: self.rollup_total,
            latest: held,
            offer: self.offer.as_ref().map(PendingOffer::wire),
        }
    }

    /// Refuses updates unless the channel is active and has no offer outstanding.
    fn ready_for_wallet_update(&self, proposed: u64) -> Result<(), HubError> {
        self.check_phase()?;
        if let Some(o) = &self.offer {
            return Err(HubError::OfferPending {
                version: o.state.version,
            });
        }
        let hub = self.highest_version();
        if proposed <= hub {
            return Err(HubError::StaleVersion { proposed, hub });
        }
        if proposed > hub + 1 {
            // The wallet holds newer states than the hub: the hub's database is behind.
            return Err(HubError::SyncRequired { hub });
        }
        Ok(())
    }

    fn check_phase(&self) -> Result<(), HubError> {
        match self.phase {
            Phase::Active => Ok(()),
            Phase::Unsynced => Err(HubError::SyncRequired {
                hub: self.highest_version(),
            }),
            Phase::Halted => Err(HubError::Halted("the channel is halted".into())),
            Phase::Disputed => Err(HubError::NotActive("disputed")),
            Phase::Closed => Err(HubError::NotActive("closed")),
        }
    }
}

/// A channel's slot: the channel behind an async mutex, and a signal for waiters when an
/// offer on it is answered.
#[derive(Debug)]
pub struct Slot {
    /// The channel.
    pub channel: tokio::sync::Mutex<Channel>,
    freed: Notify,
}

/// How a routed payment ended, for the payer who waits for it.
#[derive(Debug)]
struct RouteOutcome {
    status: RouteStatus,
    secret: Option<B256>,
    offer: Option<Offer>,
}

/// A routed payment in flight: how to answer the payer who waits for it.
type RouteWaiter = oneshot::Sender<RouteOutcome>;

/// The hub's shared state.
#[derive(Debug)]
pub struct Hub {
    /// The configuration.
    pub config: Config,
    key: SigningKey,
    /// The hub's address.
    pub address: Address,
    /// The EIP-712 domain of the rollup.
    pub domain: Domain,
    /// The rollup's dispute window in blocks (read from the sequencer: a chain parameter).
    pub dispute_window: u64,
    /// Durable storage.
    pub store: HubStore,
    /// The sequencer.
    pub rollup: RollupClient,
    /// Metrics.
    pub metrics: Metrics,
    /// Connected wallets.
    pub sessions: Sessions,
    channels: parking_lot::RwLock<HashMap<B256, Arc<Slot>>>,
    by_wallet: parking_lot::RwLock<HashMap<(Address, TokenId), Vec<B256>>>,
    /// Payments not yet over, by hashlock.
    payments: Mutex<HashMap<B256, PaymentRow>>,
    waiters: Mutex<HashMap<B256, RouteWaiter>>,
    /// Funding offered but not yet deposited, per channel: (token, amount). An entry lives
    /// exactly as long as the channel's funding offer can still lead to a deposit.
    reserved: Mutex<HashMap<B256, (TokenId, Amount)>>,
    head: AtomicU64,
    /// Serializes the hub's own rollup transactions (their nonces).
    tx_lock: tokio::sync::Mutex<()>,
    /// Channels whose latest state holds revealed locks not yet settled.
    unsettled: Mutex<HashSet<B256>>,
    /// When [`Hub::settle_idle`] last looked through `unsettled`.
    settle_scan: Mutex<Option<Instant>>,
    /// The head [`Hub::enforce_stalled`] last looked at.
    enforced_at: AtomicU64,
}

impl Hub {
    /// Opens storage, reads the chain parameters from the sequencer and loads every channel
    /// (each unsynced until its wallet confirms its latest state).
    pub async fn open(config: Config) -> Result<Arc<Self>, HubError> {
        let store = HubStore::connect(config.database_url.as_deref(), &config.data_dir).await?;
        let rollup = RollupClient::new(&config.sequencer_url);
        let chain = rollup.chain().await?;
        let head = rollup.head().await?;
        let key = config.key.clone();
        let hub = Arc::new(Self {
            address: key.address(),
            key,
            domain: chain.domain,
            dispute_window: chain.dispute_window,
            store,
            rollup,
            metrics: Metrics::new(),
            sessions: Sessions::default(),
            channels: Default::default(),
            by_wallet: Default::default(),
            payments: Default::default(),
            waiters: Default::default(),
            reserved: Default::default(),
            head: AtomicU64::new(head),
            tx_lock: Default::default(),
            unsettled: Default::default(),
            settle_scan: Default::default(),
            enforced_at: AtomicU64::new(u64::MAX),
            config,
        });
        hub.load().await?;
        Ok(hub)
    }

    async fn load(&self) -> Result<(), HubError> {
        let stored = self.store.channels().await?;
        let count = stored.len();
        // The payments not over are those whose locks the channels' states still hold.
        let mut hashlocks: Vec<B256> = stored
            .iter()
            .flat_map(|s| {
                let offered = s.offer.iter().flat_map(|(o, _, _)| o.locks.iter());
                s.latest.0.locks.iter().chain(offered).map(|l| l.hashlock)
            })
            .collect();
        hashlocks.sort_unstable();
        hashlocks.dedup();
        let payments = self.store.payments(&hashlocks).await?;
        let secrets: HashMap<B256, B256> = payments
            .iter()
            .filter_map(|p| Some((p.hashlock, p.secret?)))
            .collect();
        let open: HashMap<B256, PaymentRow> = payments
            .into_iter()
            .filter(|p| !p.status.is_final())
            .map(|p| (p.hashlock, p))
            .collect();
        for s in stored {
            let (latest, wallet_signature) = s.latest;
            let revealed: HashMap<B256, B256> = latest
                .locks
                .iter()
                .filter_map(|l| Some((l.hashlock, *secrets.get(&l.hashlock)?)))
                .collect();
            let offer = s.offer.map(|(state, purpose, payment)| PendingOffer {
                kind: offer_kind(&purpose),
                hub_signature: self.sign(&state),
                secrets: if purpose == "settle" {
                    latest
                        .locks
                        .iter()
                        .filter(|l| !state.locks.contains(l))
                        .filter_map(|l| revealed.get(&l.hashlock).copied())
                        .collect()
                } else {
                    Vec::new()
                },
                state,
                payment,
            });
            if let Some(o) = offer.as_ref().filter(|o| o.kind == OfferKind::Funding) {
                // The offer still stands: its deposit stays reserved across the restart.
                let amount = o.state.balance_hub.saturating_sub(latest.balance_hub);
                if amount > 0 {
                    self.reserved.lock().insert(s.id, (s.token, amount));
                }
            }
            if !revealed.is_empty() {
                self.unsettled.lock().insert(s.id);
            }
            let channel = Channel {
                id: s.id,
                wallet: s.wallet,
                token: s.token,
                rollup_total: latest.total().unwrap_or(0),
                latest,
                wallet_signature,
                hub_signature: None,
                revealed,
                offer,
                phase: Phase::from_stored(&s.status),
                updated: Instant::now(),
            };
            self.insert_channel(channel);
        }
        *self.payments.lock() = open;
        info!(
            channels = count,
            "hub loaded its channels (unsynced until each wallet answers)"
        );
        Ok(())
    }

    fn insert_channel(&self, channel: Channel) {
        if channel.phase != Phase::Closed {
            self.metrics.channels.inc();
        }
        self.metrics
            .add_liquidity(channel.token, channel.latest.balance_hub as f64);
        self.by_wallet
            .write()
            .entry((channel.wallet, channel.token))
            .or_default()
            .push(channel.id);
        self.channels.write().insert(
            channel.id,
            Arc::new(Slot {
                channel: tokio::sync::Mutex::new(channel),
                freed: Notify::new(),
            }),
        );
    }

    /// The hub's signature of `state`. Call only for states whose row is committed.
    fn sign(&self, state: &ChannelState) -> Signature {
        self.key.sign_digest(&state.signing_hash(&self.domain))
    }

    /// An offer of `state` (its row committed), signed.
    fn offer(
        &self,
        kind: OfferKind,
        state: ChannelState,
        payment: Option<B256>,
        secrets: Vec<B256>,
    ) -> PendingOffer {
        PendingOffer {
            kind,
            hub_signature: self.sign(&state),
            state,
            payment,
            secrets,
        }
    }

    /// The hub's signature of a channel's latest state (deterministic: computed once, when
    /// it has to be shown).
    fn hub_signature(&self, ch: &mut Channel) -> Signature {
        match ch.hub_signature {
            Some(s) => s,
            None => *ch.hub_signature.insert(self.sign(&ch.latest)),
        }
    }

    /// The channel's latest state with its signatures (the hub's computed if need be).
    fn held(&self, ch: &mut Channel) -> HeldState {
        HeldState {
            hub_signature: self.hub_signature(ch),
            state: ch.latest.clone(),
            wallet_signature: ch.wallet_signature,
        }
    }

    fn verify_wallet(
        &self,
        wallet: &Address,
        state: &ChannelState,
        signature: &Signature,
    ) -> Result<(), HubError> {
        let signer = signature.recover(&state.signing_hash(&self.domain))?;
        if &signer != wallet {
            return Err(HubError::Unauthorized(
                "the state is not signed by the channel's wallet".into(),
            ));
        }
        Ok(())
    }

    fn check_hub_signature(
        &self,
        state: &ChannelState,
        signature: &Signature,
    ) -> Result<(), HubError> {
        let signer = signature.recover(&state.signing_hash(&self.domain))?;
        if signer != self.address {
            return Err(HubError::Unauthorized("not the hub's signature".into()));
        }
        Ok(())
    }

    /// The slot of a channel.
    pub fn slot(&self, id: &B256) -> Result<Arc<Slot>, HubError> {
        self.channels
            .read()
            .get(id)
            .cloned()
            .ok_or(HubError::UnknownChannel(*id))
    }

    /// Ids of every channel of `wallet`.
    pub fn channels_of(&self, wallet: &Address) -> Vec<B256> {
        self.by_wallet
            .read()
            .iter()
            .filter(|((w, _), _)| w == wallet)
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect()
    }

    /// Every channel id.
    pub fn channel_ids(&self) -> Vec<B256> {
        self.channels.read().keys().copied().collect()
    }

    /// The hub's latest view of the rollup head.
    pub fn head(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    /// Records a newer head.
    pub fn set_head(&self, head: u64) {
        self.head.fetch_max(head, Ordering::AcqRel);
    }

    /// `GET /v1/info`.
    pub fn info(&self) -> HubInfo {
        HubInfo {
            address: self.address,
            domain: self.domain,
            head: self.head(),
            match_cap: self.config.funding.match_cap,
            min_lock_blocks: self.config.locks.min_blocks + self.config.locks.margin_blocks,
        }
    }

    async fn commit(&self, writes: Vec<Write>) -> Result<(), HubError> {
        let started = Instant::now();
        self.store.commit(writes).await?;
        self.metrics
            .persist_seconds
            .observe(started.elapsed().as_secs_f64());
        Ok(())
    }

    /// Makes `state` (signed by the wallet) the channel's latest.
    fn set_latest(&self, ch: &mut Channel, state: ChannelState, wallet_signature: Signature) {
        self.set_latest_signed(ch, state, Some(wallet_signature), None);
    }

    /// [`Self::set_latest`] with the signatures at hand: the hub's of an offer it made;
    /// `wallet_signature` is `None` for a lock the wallet accepted by revealing its secret.
    /// Forgets the secrets of locks the state no longer holds.
    fn set_latest_signed(
        &self,
        ch: &mut Channel,
        state: ChannelState,
        wallet_signature: Option<Signature>,
        hub_signature: Option<Signature>,
    ) {
        let delta = state.balance_hub as f64 - ch.latest.balance_hub as f64;
        self.metrics.add_liquidity(ch.token, delta);
        if !ch.revealed.is_empty() {
            ch.revealed
                .retain(|h, _| state.locks.iter().any(|l| &l.hashlock == h));
            if ch.revealed.is_empty() {
                self.unsettled.lock().remove(&ch.id);
            }
        }
        ch.latest = state;
        ch.wallet_signature = wallet_signature;
        ch.hub_signature = hub_signature;
        ch.updated = Instant::now();
    }

    /// Records the secret of a lock in `ch`'s latest state.
    fn reveal(&self, ch: &mut Channel, hashlock: B256, secret: B256) {
        if ch.latest.locks.iter().any(|l| l.hashlock == hashlock) {
            if ch.revealed.is_empty() {
                self.unsettled.lock().insert(ch.id);
            }
            ch.revealed.insert(hashlock, secret);
        }
    }

    /// Checks that the rollup holds what the latest state splits, re-reading the record if
    /// it does not (a deposit may have executed since).
    async fn ensure_backed(&self, ch: &mut Channel) -> Result<(), HubError> {
        if ch.latest.total() == Some(ch.rollup_total) {
            return Ok(());
        }
        let record = self
            .rollup
            .channel(&ch.id)
            .await?
            .ok_or(HubError::UnknownChannel(ch.id))?
            .record;
        if record.status != ChannelStatus::Open {
            ch.phase = Phase::Disputed;
            return Err(HubError::NotActive("disputed"));
        }
        ch.rollup_total = record.total;
        if ch.latest.total() == Some(ch.rollup_total) {
            Ok(())
        } else {
            Err(HubError::DepositPending)
        }
    }

    fn push(&self, wallet: &Address, message: HubMessage) {
        self.sessions.send(wallet, message);
    }

    // ---------------------------------------------------------------------------------
    // Registration and funding
    // ---------------------------------------------------------------------------------

    /// `POST /v1/channels`: registers a channel the wallet opened on the rollup. The body is
    /// the opening state (version 1: the record's sides, no locks) signed by the wallet.
    pub async fn register(&self, update: SignedUpdate) -> Result<RegisterReply, HubError> {
        let id = update.state.channel_id;
        if let Ok(slot) = self.slot(&id) {
            // Idempotent: the same opening state gets the same answer.
            let ch = slot.channel.lock().await;
            let opening = self.store.state(&id, 1).await?;
            if opening.is_some_and(|s| s.state == update.state) {
                return Ok(RegisterReply {
                    hub_signature: self.sign(&update.state),
                    funding: ch
                        .offer
                        .as_ref()
                        .filter(|o| o.kind == OfferKind::Funding)
                        .map(PendingOffer::wire),
                });
            }
            return Err(HubError::NotRegistrable("already registered".into()));
        }
        let remote = self
            .rollup
            .channel(&id)
            .await?
            .ok_or(HubError::UnknownChannel(id))?;
        let record = &remote.record;
        if remote.hub_address != self.address {
            return Err(HubError::NotRegistrable(format!(
                "the channel's hub is {}, not this hub",
                remote.hub_address
            )));
        }
        if record.status != ChannelStatus::Open {
            return Err(HubError::NotRegistrable("the channel is not open".into()));
        }
        let wallet = remote.wallet_address;
        let expected = ChannelState {
            channel_id: id,
            version: 1,
            balance_wallet: record.wallet_side,
            balance_hub: record.hub_side,
            locks: vec![],
            is_final: false,
        };
        if update.state != expected {
            return Err(HubError::UnexpectedState {
                expected: Box::new(expected),
            });
        }
        self.verify_wallet(&wallet, &update.state, &update.wallet_signature)?;

        let deposit = self
            .reserve_funding(&id, record.token, record.wallet_side)
            .await?;
        // From here every failure releases the reservation: the offer never stood.
        let funding = match (deposit > 0)
            .then(|| transition::deposit(&expected, Side::Hub, deposit))
            .transpose()
        {
            Ok(f) => f,
            Err(e) => {
                self.release_funding(&id);
                return Err(e.into());
            }
        };
        let mut writes = vec![
            Write::Channel {
                id,
                wallet,
                token: record.token,
                registered_at: crate::store::now_secs(),
            },
            Write::State {
                state: expected.clone(),
                purpose: "open",
                payment: None,
            },
            Write::WalletSignature {
                channel_id: id,
                version: 1,
                signature: update.wallet_signature,
            },
        ];
        if let Some(f) = &funding {
            writes.push(Write::State {
                state: f.clone(),
                purpose: "funding",
                payment: None,
            });
        }
        if let Err(e) = self.commit(writes).await {
            self.release_funding(&id);
            return Err(e);
        }
        let hub_signature = self.sign(&expected);
        let offer = funding.map(|state| self.offer(OfferKind::Funding, state, None, Vec::new()));
        let reply = RegisterReply {
            hub_signature,
            funding: offer.as_ref().map(PendingOffer::wire),
        };
        info!(channel = %id, %wallet, token = record.token, deposit, "channel registered");
        self.insert_channel(Channel {
            id,
            wallet,
            token: record.token,
            rollup_total: record.total,
            latest: expected,
            wallet_signature: Some(update.wallet_signature),
            hub_signature: Some(hub_signature),
            revealed: HashMap::new(),
            offer,
            phase: Phase::Active,
            updated: Instant::now(),
        });
        Ok(reply)
    }

    /// Reserves the hub's deposit for new channel `id` out of its rollup balance.
    async fn reserve_funding(
        &self,
        id: &B256,
        token: TokenId,
        wallet_side: Amount,
    ) -> Result<Amount, HubError> {
        if self.config.funding.match_cap == 0 {
            return Ok(0);
        }
        let balance = self.rollup.account(&self.address).await?.balance(token);
        let mut reserved = self.reserved.lock();
        let held: Amount = reserved
            .values()
            .filter(|(t, _)| *t == token)
            .map(|(_, a)| *a)
            .sum();
        let available = balance.saturating_sub(held).saturating_sub(self.config.fee);
        let deposit = self.config.funding.deposit_for(wallet_side, available);
        if deposit > 0 {
            reserved.insert(*id, (token, deposit));
        }
        Ok(deposit)
    }

    /// Releases channel `id`'s reservation, if it holds one (idempotent): its deposit was
    /// made, or its funding offer can no longer lead to one.
    fn release_funding(&self, id: &B256) {
        self.reserved.lock().remove(id);
    }

    /// What the hub holds reserved for funding offers not yet deposited, in `token`.
    pub fn reserved_funding(&self, token: TokenId) -> Amount {
        self.reserved
            .lock()
            .values()
            .filter(|(t, _)| *t == token)
            .map(|(_, a)| *a)
            .sum()
    }

    /// `POST /v1/channels/{id}/fund`: the wallet countersigns the hub's funding offer; the
    /// hub deposits and answers once the deposit executed.
    /// It is also how a funding offer countersigned on another route (`countersign`, `sync`)
    /// is met: the countersigned funding state is never the latest without the deposit.
    pub async fn fund(&self, id: &B256, update: SignedUpdate) -> Result<Ack, HubError> {
        let slot = self.slot(id)?;
        let (ack, deposit) = {
            let mut ch = slot.channel.lock().await;
            // Countersigning the hub's own offer proves the wallet holds it (as in
            // `countersign`): an unsynced channel may take it.
            if ch.phase != Phase::Unsynced {
                ch.check_phase()?;
            }
            let offer = ch
                .offer
                .clone()
                .filter(|o| o.kind == OfferKind::Funding)
                .ok_or_else(|| HubError::InvalidRequest("no funding offer".into()))?;
            if update.state != offer.state {
                return Err(HubError::UnexpectedState {
                    expected: Box::new(offer.state),
                });
            }
            self.verify_wallet(&ch.wallet, &update.state, &update.wallet_signature)?;
            let deposit = offer.state.balance_hub - ch.latest.balance_hub;
            self.commit(vec![Write::WalletSignature {
                channel_id: *id,
                version: offer.state.version,
                signature: update.wallet_signature,
            }])
            .await?;
            let hub_signature = offer.hub_signature;
            self.set_latest_signed(
                &mut ch,
                offer.state.clone(),
                Some(update.wallet_signature),
                Some(hub_signature),
            );
            ch.offer = None;
            if ch.phase == Phase::Unsynced {
                ch.phase = Phase::Active;
            }
            (
                Ack {
                    channel_id: *id,
                    version: offer.state.version,
                    hub_signature,
                },
                deposit,
            )
        };
        slot.freed.notify_waiters();
        let result = self.deposit(id, deposit).await;
        self.release_funding(id);
        let block = result?;
        let mut ch = slot.channel.lock().await;
        ch.rollup_total = ch.rollup_total.max(ch.latest.total().unwrap_or(0));
        info!(channel = %id, deposit, block, "hub side funded");
        Ok(ack)
    }

    /// Sends the hub's `ChannelDeposit` and waits for it to execute.
    async fn deposit(&self, id: &B256, amount: Amount) -> Result<u64, HubError> {
        let fee = self.config.fee;
        let from = self.address;
        let channel_id = *id;
        let hash = self
            .send_transaction(Some(*id), move |nonce| {
                Transaction::ChannelDeposit(ChannelDeposit {
                    from,
                    channel_id,
                    amount,
                    fee,
                    nonce,
                })
            })
            .await?;
        self.wait_transaction(&hash).await
    }

    /// Signs the hub's rollup transaction at its next nonce, stores it, then submits it.
    pub async fn send_transaction(
        &self,
        channel: Option<B256>,
        build: impl FnOnce(Nonce) -> Transaction,
    ) -> Result<B256, HubError> {
        let _serial = self.tx_lock.lock().await;
        let nonce = self.rollup.account(&self.address).await?.next_nonce;
        let signed = build(nonce).sign(&self.key, &self.domain);
        let hash = signed.transaction.hash(&self.domain);
        self.commit(vec![Write::RollupTransaction(RollupTxRow {
            hash,
            nonce,
            kind: signed.transaction.kind(),
            channel_id: channel,
            encoded: signed.transaction.to_bytes(),
            signature: signed.signature,
        })])
        .await?;
        self.rollup.submit(&signed).await?;
        tracing::debug!(tx = %hash, kind = signed.transaction.kind(), nonce, "hub transaction sent");
        Ok(hash)
    }

    /// Waits for one of the hub's transactions and records how it ended.
    pub async fn wait_transaction(&self, hash: &B256) -> Result<u64, HubError> {
        let result = self
            .rollup
            .wait_executed(hash, self.config.rollup_timeout)
            .await;
        let status = match &result {
            Ok(_) => "executed",
            Err(crate::rollup::RollupError::Failed { .. }) => "failed",
            Err(_) => return Ok(result?),
        };
        self.commit(vec![Write::RollupTransactionStatus {
            hash: *hash,
            status,
        }])
        .await?;
        Ok(result?)
    }

    // ---------------------------------------------------------------------------------
    // Updates the wallet starts
    // ---------------------------------------------------------------------------------

    /// Checks a wallet's proposal against the state the hub builds, then commits and signs.
    async fn wallet_update(
        &self,
        id: &B256,
        update: SignedUpdate,
        purpose: &'static str,
        build: impl FnOnce(&ChannelState) -> Result<ChannelState, HubError>,
    ) -> Result<Ack, HubError> {
        let started = Instant::now();
        let slot = self.slot(id)?;
        let mut ch = slot.channel.lock().await;
        ch.ready_for_wallet_update(update.state.version)?;
        if purpose != "topup" {
            self.ensure_backed(&mut ch).await?;
        }
        let expected = build(&ch.latest)?;
        if update.state != expected {
            return Err(HubError::UnexpectedState {
                expected: Box::new(expected),
            });
        }
        self.verify_wallet(&ch.wallet, &update.state, &update.wallet_signature)?;
        self.commit(vec![
            Write::State {
                state: expected.clone(),
                purpose,
                payment: None,
            },
            Write::WalletSignature {
                channel_id: *id,
                version: expected.version,
                signature: update.wallet_signature,
            },
        ])
        .await?;
        let version = expected.version;
        let hub_signature = self.sign(&expected);
        self.set_latest_signed(
            &mut ch,
            expected,
            Some(update.wallet_signature),
            Some(hub_signature),
        );
        self.metrics
            .update_seconds
            .observe(started.elapsed().as_secs_f64());
        Ok(Ack {
            channel_id: *id,
            version,
            hub_signature,
        })
    }

    /// `POST /v1/channels/{id}/pay`: the wallet pays the hub.
    pub async fn pay(&self, id: &B256, update: SignedUpdate) -> Result<Ack, HubError> {
        let proposed = update.state.clone();
        self.wallet_update(id, update, "pay", |latest| {
            let amount = latest
                .balance_wallet
                .saturating_sub(proposed.balance_wallet);
            Ok(transition::pay(latest, Side::Wallet, amount)?)
        })
        .await
    }

    /// `POST /v1/channels/{id}/topup`: the wallet announces its own deposit; the hub signs
    /// the state with the larger balance before the wallet deposits (so the wallet never
    /// deposits into a channel whose new total no co-signed state splits), and takes no
    /// further update until the rollup shows the deposit.
    pub async fn top_up(&self, id: &B256, update: SignedUpdate) -> Result<Ack, HubError> {
        let proposed = update.state.clone();
        self.wallet_update(id, update, "topup", |latest| {
            let amount = proposed
                .balance_wallet
                .saturating_sub(latest.balance_wallet);
            Ok(transition::deposit(latest, Side::Wallet, amount)?)
        })
        .await
    }

    /// `POST /v1/channels/{id}/close`: co-signs the final state; submits the close if asked.
    pub async fn close(
        &self,
        id: &B256,
        update: SignedUpdate,
        submit: bool,
    ) -> Result<CloseReply, HubError> {
        let ack = self
            .wallet_update(id, update.clone(), "close", |latest| {
                Ok(transition::finalize(latest)?)
            })
            .await?;
        let slot = self.slot(id)?;
        slot.channel.lock().await.phase = Phase::Closed;
        self.metrics.channels.dec();
        let transaction = if submit {
            let from = self.address;
            let fee = self.config.fee;
            let settle = ChannelSettle {
                from,
                state: update.state,
                wallet_signature: update.wallet_signature.to_bytes().to_vec().into(),
                hub_signature: ack.hub_signature.to_bytes().to_vec().into(),
                fee,
                nonce: 0,
            };
            let hash = self
                .send_transaction(Some(*id), move |nonce| {
                    Transaction::ChannelClose(ChannelSettle { nonce, ..settle })
                })
                .await?;
            self.wait_transaction(&hash).await?;
            Some(hash)
        } else {
            None
        };
        self.commit(vec![Write::ChannelStatus {
            id: *id,
            status: "closed",
            reason: Some("cooperative close".into()),
        }])
        .await?;
        info!(channel = %id, submitted = submit, "channel closed cooperatively");
        Ok(CloseReply {
            hub_signature: ack.hub_signature,
            transaction,
        })
    }

    /// `POST /v1/channels/{id}/countersign` (or on the WebSocket): the wallet signs the
    /// hub's outstanding offer.
    pub async fn countersign(&self, id: &B256, update: SignedUpdate) -> Result<Ack, HubError> {
        let started = Instant::now();
        let slot = self.slot(id)?;
        let (ack, payer_done) = {
            let mut ch = slot.channel.lock().await;
            if ch.phase == Phase::Halted || ch.phase == Phase::Closed {
                ch.check_phase()?;
            }
            let offer = match &ch.offer {
                Some(o) if o.kind == OfferKind::Funding => {
                    // Met by the hub's deposit, whichever route countersigns it.
                    drop(ch);
                    return self.fund(id, update).await;
                }
                Some(o) if o.kind != OfferKind::Lock => o.clone(),
                Some(_) => {
                    return Err(HubError::InvalidRequest(
                        "a lock is answered with fulfil or reject".into(),
                    ));
                }
                None if update.state == ch.latest => {
                    // Already countersigned (a retry): the same answer.
                    return Ok(Ack {
                        channel_id: *id,
                        version: ch.latest.version,
                        hub_signature: self.hub_signature(&mut ch),
                    });
                }
                None => return Err(HubError::InvalidRequest("no offer to countersign".into())),
            };
            if update.state != offer.state {
                return Err(HubError::UnexpectedState {
                    expected: Box::new(offer.state),
                });
            }
            self.verify_wallet(&ch.wallet, &update.state, &update.wallet_signature)?;
            let mut writes = vec![Write::WalletSignature {
                channel_id: *id,
                version: offer.state.version,
                signature: update.wallet_signature,
            }];
            let finished = self.payments_ended_by(id, &offer, &mut writes);
            self.commit(writes).await?;
            let hub_signature = offer.hub_signature;
            self.set_latest_signed(
                &mut ch,
                offer.state.clone(),
                Some(update.wallet_signature),
                Some(hub_signature),
            );
            ch.offer = None;
            if ch.phase == Phase::Unsynced {
                // Countersigning the hub's own offer proves the wallet holds it.
                ch.phase = Phase::Active;
            }
            (
                Ack {
                    channel_id: *id,
                    version: offer.state.version,
                    hub_signature,
                },
                finished,
            )
        };
        {
            let mut payments = self.payments.lock();
            for p in payer_done {
                payments.remove(&p.hashlock);
            }
        }
        slot.freed.notify_waiters();
        self.metrics
            .update_seconds
            .observe(started.elapsed().as_secs_f64());
        self.settle_deferred(id).await;
        Ok(ack)
    }

    // ---------------------------------------------------------------------------------
    // Routed payments
    // ---------------------------------------------------------------------------------

    /// `POST /v1/channels/{id}/route`: a payment to `payee` through the hub, atomic by
    /// hashlock. Answers when the payee answered or after the route timeout (`pending`).
    pub async fn route(&self, id: &B256, req: RouteRequest) -> Result<RouteReply, HubError> {
        let started = Instant::now();
        let payer_slot = self.slot(id)?;
        let deadline = Instant::now() + self.config.busy_wait;
        let (hashlock, waiter) = loop {
            let payee_id = self.payee_channel(&req.payee, id).await?;
            let payee_slot = self.slot(&payee_id)?;
            let (mut payer, mut payee) = lock_pair(&payer_slot, &payee_slot).await;
            payer.ready_for_wallet_update(req.state.version)?;
            let payee_busy = payee.offer.is_some() || payee.phase == Phase::Unsynced;
            if payee_busy {
                drop((payer, payee));
                let freed = payee_slot.freed.notified();
                if Instant::now() >= deadline
                    || tokio::time::timeout_at(deadline.into(), freed)
                        .await
                        .is_err()
                {
                    return Err(HubError::Busy(payee_id));
                }
                continue;
            }
            break self.lock_route(&mut payer, &mut payee, &req).await?;
        };
        self.metrics
            .update_seconds
            .observe(started.elapsed().as_secs_f64());
        let outcome = match tokio::time::timeout(self.config.route_timeout, waiter).await {
            Ok(Ok(outcome)) => outcome,
            _ => {
                // The outcome, when it comes, is offered on the payer's socket instead.
                self.waiters.lock().remove(&hashlock);
                RouteOutcome {
                    status: RouteStatus::Pending,
                    secret: None,
                    offer: None,
                }
            }
        };
        self.metrics
            .route_seconds
            .observe(started.elapsed().as_secs_f64());
        Ok(RouteReply {
            status: outcome.status,
            secret: outcome.secret,
            offer: outcome.offer,
        })
    }

    /// The payee's channel in the payer's token: an active one of the payee's channels.
    async fn payee_channel(&self, payee: &Address, payer_id: &B256) -> Result<B256, HubError> {
        let token = self.slot(payer_id)?.channel.lock().await.token;
        let ids = self
            .by_wallet
            .read()
            .get(&(*payee, token))
            .cloned()
            .unwrap_or_default();
        for id in ids.iter().rev() {
            let slot = self.slot(id)?;
            let phase = slot.channel.lock().await.phase;
            if matches!(phase, Phase::Active | Phase::Unsynced) && id != payer_id {
                if !self.sessions.is_connected(payee) {
                    return Err(HubError::PayeeUnavailable(
                        "the payee is not connected".into(),
                    ));
                }
                return Ok(*id);
            }
        }
        Err(HubError::PayeeUnavailable(format!(
            "{payee} has no open channel in token {token}"
        )))
    }

    /// Commits the payer's lock (settling its revealed locks to the hub) and the hub's lock
    /// to the payee (settling the payee's revealed locks to it), offers the latter to the
    /// payee, and returns the waiter for the payee's answer. The payer's state gives value
    /// to the hub only: the hub accepts it without signing it.
    async fn lock_route(
        &self,
        payer: &mut Channel,
        payee: &mut Channel,
        req: &RouteRequest,
    ) -> Result<(B256, oneshot::Receiver<RouteOutcome>), HubError> {
        self.ensure_backed(payer).await?;
        self.ensure_backed(payee).await?;
        let (settled, lock) = transition::settled_and_added(&payer.latest, &req.state)
            .filter(|(_, l)| l.direction == LockDirection::WalletToHub)
            .ok_or_else(|| {
                HubError::InvalidRequest(
                    "the state must add one lock to the hub (and may settle revealed locks)".into(),
                )
            })?;
        // The wallet may pay the hub the locks whose secrets the hub revealed to it, and
        // nothing else: a lock to the wallet is settled by the hub's own states.
        if let Some(l) = settled.iter().find(|l| {
            l.direction != LockDirection::WalletToHub || !payer.revealed.contains_key(&l.hashlock)
        }) {
            return Err(HubError::InvalidRequest(format!(
                "the lock {} is not a revealed lock to the hub",
                l.hashlock
            )));
        }
        let settled: Vec<B256> = settled.iter().map(|l| l.hashlock).collect();
        let expected = transition::add_lock_settling(&payer.latest, &settled, lock.clone())?;
        if req.state != expected {
            return Err(HubError::UnexpectedState {
                expected: Box::new(expected),
            });
        }
        let min = self.head() + self.config.locks.min_blocks + self.config.locks.margin_blocks;
        if lock.expiry < min {
            return Err(HubError::LockExpiry {
                expiry: lock.expiry,
                min,
            });
        }
        let hashlock = lock.hashlock;
        // A payment in flight is refused here; one that is over, by the payments table's
        // primary key when the commit below inserts its row.
        if self.payments.lock().contains_key(&hashlock) {
            return Err(HubError::DuplicatePayment(hashlock));
        }
        self.verify_wallet(&payer.wallet, &req.state, &req.wallet_signature)?;
        let payee_state = transition::add_lock_settling(
            &payee.latest,
            &payee.settleable_to_wallet(),
            Lock {
                amount: lock.amount,
                hashlock,
                expiry: lock.expiry - self.config.locks.margin_blocks,
                direction: LockDirection::HubToWallet,
            },
        )?;
        let payment = PaymentRow {
            hashlock,
            payer_channel: payer.id,
            payee_channel: payee.id,
            amount: lock.amount,
            status: PaymentStatus::Offered,
            secret: None,
        };
        let mut writes = vec![
            Write::State {
                state: expected.clone(),
                purpose: "route",
                payment: Some(hashlock),
            },
            Write::WalletSignature {
                channel_id: payer.id,
                version: expected.version,
                signature: req.wallet_signature,
            },
            Write::State {
                state: payee_state.clone(),
                purpose: "lock",
                payment: Some(hashlock),
            },
            Write::Payment(payment.clone()),
        ];
        // The payer's earlier payments whose locks this state pays to the hub are over.
        let ended = self.payments_ended(&payer.id, &settled, PaymentStatus::Settled, &mut writes);
        let committed = self.commit(writes).await;
        if let Err(e) = committed {
            // Nothing of this commit was written: if the hashlock has a row, it is an
            // earlier payment's.
            return Err(match self.store.payment(&hashlock).await {
                Ok(Some(_)) => HubError::DuplicatePayment(hashlock),
                _ => e,
            });
        }
        self.set_latest(payer, expected, req.wallet_signature);
        let offer = self.offer(OfferKind::Lock, payee_state, Some(hashlock), Vec::new());
        let (tx, rx) = oneshot::channel();
        {
            let mut payments = self.payments.lock();
            for p in ended {
                payments.remove(&p.hashlock);
            }
            payments.insert(hashlock, payment);
        }
        self.waiters.lock().insert(hashlock, tx);
        self.push(&payee.wallet, HubMessage::Offer(offer.wire()));
        payee.offer = Some(offer);
        Ok((hashlock, rx))
    }

    /// The payments of `payer_id` among `hashlocks` that end with `status`; their rows'
    /// new status is added to `writes` (the caller drops them from memory once committed).
    fn payments_ended(
        &self,
        payer_id: &B256,
        hashlocks: &[B256],
        status: PaymentStatus,
        writes: &mut Vec<Write>,
    ) -> Vec<PaymentRow> {
        let payments = self.payments.lock();
        hashlocks
            .iter()
            .filter_map(|h| payments.get(h))
            .filter(|p| &p.payer_channel == payer_id)
            .map(|p| {
                let p = PaymentRow {
                    status,
                    ..p.clone()
                };
                writes.push(Write::Payment(p.clone()));
                p
            })
            .collect()
    }

    /// The payments an offer of channel `id` ends once its wallet countersigns it: a refund
    /// returns its payment's lock, a settlement pays the channel's locks to the hub.
    fn payments_ended_by(
        &self,
        id: &B256,
        offer: &PendingOffer,
        writes: &mut Vec<Write>,
    ) -> Vec<PaymentRow> {
        match offer.kind {
            OfferKind::Refund => {
                let hashlocks: Vec<B256> = offer.payment.into_iter().collect();
                self.payments_ended(id, &hashlocks, PaymentStatus::Refunded, writes)
            }
            OfferKind::Settle => {
                let hashlocks: Vec<B256> = offer.secrets.iter().map(keccak256).collect();
                self.payments_ended(id, &hashlocks, PaymentStatus::Settled, writes)
            }
            _ => Vec::new(),
        }
    }

    /// A payment by its hashlock: from memory while it is open, else from the database.
    async fn payment_row(&self, hashlock: &B256) -> Result<Option<PaymentRow>, HubError> {
        let cached = self.payments.lock().get(hashlock).cloned();
        Ok(match cached {
            Some(p) => Some(p),
            None => self.store.payment(hashlock).await?,
        })
    }

    /// The payee's acceptance of a lock offer (`fulfil` on its WebSocket): the lock's
    /// secret. The payee stored the offered state, signed by the hub, before revealing it;
    /// that state becomes the channel's latest without the payee's signature (it only adds
    /// to the payee's side), the payment is fulfilled, and the payer gets the secret: in
    /// its route's answer, or, if it stopped waiting, in an offer settling its lock.
    pub async fn fulfil(&self, wallet: &Address, id: &B256, secret: B256) -> Result<(), HubError> {
        let hashlock = keccak256(secret);
        let payee_slot = self.slot(id)?;
        {
            let ch = payee_slot.channel.lock().await;
            if &ch.wallet != wallet {
                return Err(HubError::Unauthorized("not the channel's wallet".into()));
            }
            if ch.revealed.contains_key(&hashlock) {
                return Ok(()); // fulfilled already (a resent answer)
            }
        }
        let payment = self.payment_row(&hashlock).await?;
        let payer_id = payment
            .as_ref()
            .map(|p| p.payer_channel)
            .filter(|p| p != id);
        let payer_slot = payer_id.map(|p| self.slot(&p)).transpose()?;
        let (waiter, settle_offer) = {
            let (mut payee, mut payer) = lock_with(&payee_slot, payer_slot.as_deref()).await;
            let offer = match &payee.offer {
                Some(o) if o.kind == OfferKind::Lock => o.clone(),
                _ if payee.revealed.contains_key(&hashlock) => return Ok(()),
                _ => return Err(HubError::InvalidRequest("no lock offered".into())),
            };
            if offer.state.locks.last().map(|l| l.hashlock) != Some(hashlock) {
                return Err(HubError::WrongSecret);
            }
            let mut writes = Vec::new();
            let payment = payment.map(|p| PaymentRow {
                status: PaymentStatus::Fulfilled,
                secret: Some(secret),
                ..p
            });
            if let Some(p) = &payment {
                writes.push(Write::Payment(p.clone()));
            }
            // A payer that no longer waits learns the secret from an offer settling its
            // lock, if its channel can take one now (else once it is idle).
            let waiter = self.waiters.lock().remove(&hashlock);
            let settle = match (&waiter, payer.as_deref()) {
                (None, Some(payer))
                    if payer.latest.locks.iter().any(|l| l.hashlock == hashlock) =>
                {
                    self.settle_state(payer, &[(hashlock, secret)], &mut writes)
                }
                _ => None,
            };
            self.commit(writes).await?;
            self.set_latest_signed(&mut payee, offer.state, None, Some(offer.hub_signature));
            payee.offer = None;
            self.reveal(&mut payee, hashlock, secret);
            if let Some(p) = payment {
                self.payments.lock().insert(hashlock, p);
            }
            let settle_offer = match payer.as_deref_mut() {
                Some(payer) => {
                    self.reveal(payer, hashlock, secret);
                    settle.map(|(state, secrets)| {
                        let offer = self.offer(OfferKind::Settle, state, None, secrets);
                        payer.offer = Some(offer.clone());
                        (payer.wallet, offer)
                    })
                }
                None => None,
            };
            (waiter, settle_offer)
        };
        payee_slot.freed.notify_waiters();
        self.metrics.payment(true);
        if let Some((payer_wallet, offer)) = settle_offer {
            self.push(&payer_wallet, HubMessage::Offer(offer.wire()));
        }
        if let Some(w) = waiter {
            let outcome = RouteOutcome {
                status: RouteStatus::Settled,
                secret: Some(secret),
                offer: None,
            };
            if w.send(outcome).is_err()
                && let Some(payer_id) = payer_id
            {
                // The payer stopped waiting just now.
                self.offer_settlement(&payer_id, Duration::ZERO).await?;
            }
        }
        Ok(())
    }

    /// The payee's refusal of a lock offer (`reject` on its WebSocket): its signed state
    /// returning the lock to the hub. Refunds the payer's lock (or defers that while the
    /// payer's channel is busy). The acknowledgement is also pushed on the payee's socket.
    pub async fn reject(&self, wallet: &Address, update: SignedUpdate) -> Result<Ack, HubError> {
        let payee_id = update.state.channel_id;
        let payee_slot = self.slot(&payee_id)?;
        let hashlock = {
            let mut ch = payee_slot.channel.lock().await;
            if &ch.wallet != wallet {
                return Err(HubError::Unauthorized("not the channel's wallet".into()));
            }
            match &ch.offer {
                Some(o) if o.kind == OfferKind::Lock => {
                    o.state.locks.last().map(|l| l.hashlock).ok_or_else(|| {
                        HubError::InvalidRequest("the offered lock is missing".into())
                    })?
                }
                _ if update.state == ch.latest => {
                    return Ok(Ack {
                        channel_id: payee_id,
                        version: ch.latest.version,
                        hub_signature: self.hub_signature(&mut ch),
                    });
                }
                _ => return Err(HubError::InvalidRequest("no lock offered".into())),
            }
        };
        let payment = self.payment_row(&hashlock).await?;
        let payer_slot = match &payment {
            Some(p) if p.payer_channel != payee_id => Some(self.slot(&p.payer_channel)?),
            _ => None,
        };
        let (ack, payer_offer) = {
            let (mut payee, mut payer) = lock_with(&payee_slot, payer_slot.as_deref()).await;
            let offer = payee
                .offer
                .clone()
                .filter(|o| o.kind == OfferKind::Lock)
                .ok_or_else(|| HubError::InvalidRequest("no lock offered".into()))?;
            let expected = transition::resolve_lock(&offer.state, &hashlock, false)?;
            if update.state != expected {
                return Err(HubError::UnexpectedState {
                    expected: Box::new(expected),
                });
            }
            self.verify_wallet(&payee.wallet, &update.state, &update.wallet_signature)?;
            let mut writes = vec![
                Write::State {
                    state: expected.clone(),
                    purpose: "reject",
                    payment: Some(hashlock),
                },
                Write::WalletSignature {
                    channel_id: payee_id,
                    version: expected.version,
                    signature: update.wallet_signature,
                },
            ];
            let payment = payment.map(|p| PaymentRow {
                status: PaymentStatus::Refused,
                ..p
            });
            if let Some(p) = &payment {
                writes.push(Write::Payment(p.clone()));
            }
            // The payer's side, unless its channel is busy with another offer.
            let refund = match (&payer, &payment) {
                (Some(payer), Some(p)) => self.refund_state(payer, p, &mut writes)?,
                _ => None,
            };
            self.commit(writes).await?;
            let version = expected.version;
            let hub_signature = self.sign(&expected);
            self.set_latest_signed(
                &mut payee,
                expected,
                Some(update.wallet_signature),
                Some(hub_signature),
            );
            payee.offer = None;
            if let Some(p) = payment {
                self.payments.lock().insert(p.hashlock, p);
            }
            let payer_offer = match (payer.as_mut(), refund) {
                (Some(payer), Some(state)) => {
                    let offer = self.offer(OfferKind::Refund, state, Some(hashlock), Vec::new());
                    payer.offer = Some(offer.clone());
                    Some((payer.wallet, offer))
                }
                _ => None,
            };
            (
                Ack {
                    channel_id: payee_id,
                    version,
                    hub_signature,
                },
                payer_offer,
            )
        };
        // The payee's acknowledgement is queued on its socket before anything can follow
        // it there: the payer's answer may start the next payment to the same payee at
        // once, and the payee must see this ack before that payment's lock.
        self.push(wallet, HubMessage::Ack(ack.clone()));
        payee_slot.freed.notify_waiters();
        self.metrics.payment(false);
        if let Some((payer_wallet, offer)) = payer_offer {
            self.deliver_refund(&payer_wallet, &hashlock, &offer);
        }
        Ok(ack)
    }

    /// The payer's state returning a refused payment's lock, if the payer's channel can
    /// take it now (no other offer outstanding, the lock still in its latest state).
    fn refund_state(
        &self,
        payer: &Channel,
        payment: &PaymentRow,
        writes: &mut Vec<Write>,
    ) -> Result<Option<ChannelState>, HubError> {
        if payer.offer.is_some()
            || payer.phase != Phase::Active
            || !payer
                .latest
                .locks
                .iter()
                .any(|l| l.hashlock == payment.hashlock)
        {
            return Ok(None);
        }
        let state = transition::resolve_lock(&payer.latest, &payment.hashlock, false)?;
        writes.push(Write::State {
            state: state.clone(),
            purpose: "refund",
            payment: Some(payment.hashlock),
        });
        Ok(Some(state))
    }

    /// The state paying every revealed lock of `ch` (and those of `extra`, known but not
    /// yet recorded) to its receiver, with the preimages, if the channel can take an offer
    /// now; its row is added to `writes`, committed by the caller before it signs.
    fn settle_state(
        &self,
        ch: &Channel,
        extra: &[(B256, B256)],
        writes: &mut Vec<Write>,
    ) -> Option<(ChannelState, Vec<B256>)> {
        if ch.offer.is_some() || ch.phase != Phase::Active {
            return None;
        }
        let (hashlocks, secrets): (Vec<B256>, Vec<B256>) = ch
            .latest
            .locks
            .iter()
            .filter_map(|l| {
                let secret = ch.revealed.get(&l.hashlock).copied().or_else(|| {
                    extra
                        .iter()
                        .find(|(h, _)| h == &l.hashlock)
                        .map(|(_, s)| *s)
                })?;
                Some((l.hashlock, secret))
            })
            .unzip();
        if hashlocks.is_empty() {
            return None;
        }
        let state = transition::settle(&ch.latest, &hashlocks).ok()?;
        writes.push(Write::State {
            state: state.clone(),
            purpose: "settle",
            payment: None,
        });
        Some((state, secrets))
    }

    /// Offers channel `id`'s wallet the settlement of its revealed locks if the channel
    /// has been idle for `idle`; whether it did.
    async fn offer_settlement(&self, id: &B256, idle: Duration) -> Result<bool, HubError> {
        let slot = self.slot(id)?;
        let mut ch = slot.channel.lock().await;
        if ch.updated.elapsed() < idle {
            return Ok(false);
        }
        let mut writes = Vec::new();
        let Some((state, secrets)) = self.settle_state(&ch, &[], &mut writes) else {
            return Ok(false);
        };
        self.commit(writes).await?;
        let offer = self.offer(OfferKind::Settle, state, None, secrets);
        self.push(&ch.wallet, HubMessage::Offer(offer.wire()));
        ch.offer = Some(offer);
        Ok(true)
    }

    /// Settles the revealed locks of channels idle for the configured `settle_idle` (no
    /// later payment settled them): each wallet is offered the state paying them to their
    /// receivers, and countersigns it. Returns how many offers were made. Under load most
    /// channels hold the last payment's revealed lock, so it looks through them at most
    /// twice per `settle_idle`.
    pub async fn settle_idle(&self) -> usize {
        {
            let mut last = self.settle_scan.lock();
            if last.is_some_and(|t| t.elapsed() < self.config.settle_idle / 2) {
                return 0;
            }
            *last = Some(Instant::now());
        }
        let ids: Vec<B256> = self.unsettled.lock().iter().copied().collect();
        let mut offered = 0;
        for id in ids {
            match self.offer_settlement(&id, self.config.settle_idle).await {
                Ok(true) => offered += 1,
                Ok(false) => {}
                Err(e) => warn!(channel = %id, error = %e, "offering a settlement failed"),
            }
        }
        offered
    }

    /// Hands a refund offer to the payer: in its route's answer if it still waits, else on
    /// its socket.
    fn deliver_refund(&self, wallet: &Address, hashlock: &B256, offer: &PendingOffer) {
        let waiter = self.waiters.lock().remove(hashlock);
        let outcome = RouteOutcome {
            status: RouteStatus::Refunded,
            secret: None,
            offer: Some(offer.wire()),
        };
        match waiter {
            Some(w) => {
                if let Err(outcome) = w.send(outcome) {
                    self.push(wallet, HubMessage::Offer(outcome.offer.expect("set above")));
                }
            }
            None => self.push(wallet, HubMessage::Offer(offer.wire())),
        }
    }

    /// Refunds payments refused while this (payer) channel was busy.
    async fn settle_deferred(&self, id: &B256) {
        let waiting: Vec<PaymentRow> = self
            .payments
            .lock()
            .values()
            .filter(|p| &p.payer_channel == id && p.status == PaymentStatus::Refused)
            .cloned()
            .collect();
        for p in waiting {
            if let Err(e) = self.refund_payer(&p).await {
                warn!(payment = %p.hashlock, error = %e, "could not offer the payer's refund");
            }
        }
    }

    async fn refund_payer(&self, p: &PaymentRow) -> Result<(), HubError> {
        let slot = self.slot(&p.payer_channel)?;
        let (wallet, offer) = {
            let mut payer = slot.channel.lock().await;
            let mut writes = Vec::new();
            let Some(state) = self.refund_state(&payer, p, &mut writes)? else {
                return Ok(());
            };
            self.commit(writes).await?;
            let offer = self.offer(OfferKind::Refund, state, Some(p.hashlock), Vec::new());
            payer.offer = Some(offer.clone());
            (payer.wallet, offer)
        };
        self.deliver_refund(&wallet, &p.hashlock, &offer);
        Ok(())
    }

    /// Pays `amount` from the hub to the wallet of channel `id`: offers the state on the
    /// wallet's WebSocket (the wallet countersigns it there).
    pub async fn pay_wallet(&self, id: &B256, amount: Amount) -> Result<Offer, HubError> {
        let slot = self.slot(id)?;
        let mut ch = slot.channel.lock().await;
        ch.check_phase()?;
        if let Some(o) = &ch.offer {
            return Err(HubError::OfferPending {
                version: o.state.version,
            });
        }
        self.ensure_backed(&mut ch).await?;
        let state = transition::pay(&ch.latest, Side::Hub, amount)?;
        self.commit(vec![Write::State {
            state: state.clone(),
            purpose: "payment",
            payment: None,
        }])
        .await?;
        let offer = self.offer(OfferKind::Payment, state, None, Vec::new());
        self.push(&ch.wallet, HubMessage::Offer(offer.wire()));
        let wire = offer.wire();
        ch.offer = Some(offer);
        Ok(wire)
    }

    // ---------------------------------------------------------------------------------
    // Reads, sync, sessions
    // ---------------------------------------------------------------------------------

    /// The channel as its wallet sees it.
    pub async fn view(&self, id: &B256, wallet: &Address) -> Result<ChannelView, HubError> {
        let slot = self.slot(id)?;
        let mut ch = slot.channel.lock().await;
        if &ch.wallet != wallet {
            return Err(HubError::Unauthorized(
                "not a participant of the channel".into(),
            ));
        }
        let held = self.held(&mut ch);
        Ok(ch.view(held))
    }

    /// `POST /v1/channels/{id}/sync`: the wallet's latest state the hub signed. The hub
    /// adopts a newer one (its database is behind), confirms an equal one, and halts the
    /// channel if the wallet's state contradicts a state the hub holds at that version.
    pub async fn sync(&self, id: &B256, req: SyncRequest) -> Result<SyncReply, HubError> {
        let slot = self.slot(id)?;
        if let Some(wallet_signature) = req.wallet_signature {
            let funding = slot
                .channel
                .lock()
                .await
                .offer
                .as_ref()
                .is_some_and(|o| o.kind == OfferKind::Funding && o.state == req.state);
            if funding {
                // The wallet signed the hub's funding offer: met by the deposit, as `fund`
                // (adopting it here would make it the latest with nothing deposited).
                self.fund(
                    id,
                    SignedUpdate {
                        state: req.state.clone(),
                        wallet_signature,
                    },
                )
                .await?;
            }
        }
        let reply = {
            let mut ch = slot.channel.lock().await;
            if req.state.channel_id != *id {
                return Err(HubError::InvalidRequest("state of another channel".into()));
            }
            match (&req.hub_signature, &req.wallet_signature) {
                (None, None) => {
                    return Err(HubError::InvalidRequest(
                        "a state with neither signature".into(),
                    ));
                }
                (Some(hub), _) => self.check_hub_signature(&req.state, hub)?,
                (None, Some(_)) => {}
            }
            if let Some(sig) = &req.wallet_signature {
                self.verify_wallet(&ch.wallet, &req.state, sig)?;
            }
            self.apply_sync(&mut ch, &req).await?;
            // The reply carries the hub's latest and its outstanding offer, which the
            // wallet answers as if it had just been offered.
            SyncReply {
                latest: self.held(&mut ch),
                offer: ch.offer.as_ref().map(PendingOffer::wire),
            }
        };
        slot.freed.notify_waiters();
        // Secrets the wallet knows of the state's locks: a hub restored from an older
        // database may have lost them.
        let secrets: Vec<(B256, B256)> = req
            .secrets
            .iter()
            .map(|s| (keccak256(s), *s))
            .filter(|(h, _)| req.state.locks.iter().any(|l| &l.hashlock == h))
            .collect();
        for (hashlock, secret) in secrets {
            self.learn_secret(id, hashlock, secret).await?;
        }
        self.settle_deferred(id).await;
        Ok(reply)
    }

    async fn apply_sync(&self, ch: &mut Channel, req: &SyncRequest) -> Result<(), HubError> {
        if ch.phase == Phase::Halted {
            return Err(HubError::Halted("the channel is halted".into()));
        }
        // The wallet's newest state signed by the hub, under a payment of its own the hub
        // may have lost: caught up with first.
        if let Some(base) = req.base.as_deref()
            && base.state.version > ch.highest_version()
            && base.state.version < req.state.version
        {
            self.check_hub_signature(&base.state, &base.hub_signature)?;
            if let Some(sig) = &base.wallet_signature {
                self.verify_wallet(&ch.wallet, &base.state, sig)?;
            }
            let base_req = SyncRequest {
                state: base.state.clone(),
                wallet_signature: base.wallet_signature,
                hub_signature: Some(base.hub_signature),
                base: None,
                secrets: Vec::new(),
            };
            Box::pin(self.apply_sync(ch, &base_req)).await?;
        }
        let theirs = &req.state;
        let hub_highest = ch.highest_version();
        if theirs.version <= hub_highest {
            // The hub knows this version: it must be the same state.
            let ours = if theirs.version == ch.latest.version {
                Some(ch.latest.clone())
            } else if ch.offer.as_ref().map(|o| o.state.version) == Some(theirs.version) {
                ch.offer.as_ref().map(|o| o.state.clone())
            } else {
                self.store
                    .state(&ch.id, theirs.version)
                    .await?
                    .map(|s| s.state)
            };
            if let Some(ours) = ours
                && &ours != theirs
            {
                return self
                    .halt(
                        ch,
                        format!(
                            "the wallet holds a different state at version {}",
                            theirs.version
                        ),
                    )
                    .await;
            }
            // An offer the wallet already signed becomes the latest.
            if let (Some(sig), Some(offer)) = (req.wallet_signature, ch.offer.clone())
                && offer.state == *theirs
            {
                let update = SignedUpdate {
                    state: offer.state,
                    wallet_signature: sig,
                };
                return self.adopt(ch, update).await;
            }
            if ch.phase == Phase::Unsynced {
                ch.phase = Phase::Active;
                info!(channel = %ch.id, version = hub_highest, "channel synced");
            }
            return Ok(());
        }
        // The wallet holds a state the hub signed or accepted but no longer has: the database
        // is older than the hub's latest state. Adopt it, never signing below it again. One
        // the hub did not sign (a payment of the wallet's) only if it gives the wallet
        // nothing more than what the hub holds.
        if req.hub_signature.is_none() {
            let ours = ch.offer.as_ref().map_or(&ch.latest, |o| &o.state);
            if !transition::never_pays_hub_less(ours, theirs) {
                return Err(HubError::Unauthorized(format!(
                    "version {} is not signed by the hub and pays it less than version {}",
                    theirs.version, ours.version
                )));
            }
        }
        warn!(channel = %ch.id, hub = hub_highest, wallet = theirs.version, "the hub's database is behind the wallet: adopting its latest state");
        let mut writes = vec![Write::State {
            state: theirs.clone(),
            purpose: "sync",
            payment: None,
        }];
        match req.wallet_signature {
            Some(sig) => {
                writes.push(Write::WalletSignature {
                    channel_id: ch.id,
                    version: theirs.version,
                    signature: sig,
                });
                self.commit(writes).await?;
                self.set_latest(ch, theirs.clone(), sig);
                ch.offer = None;
            }
            None => {
                self.commit(writes).await?;
                let hub_signature = req.hub_signature.ok_or_else(|| {
                    HubError::InvalidRequest("a state with neither signature".into())
                })?;
                ch.offer = Some(PendingOffer {
                    kind: recovered_offer_kind(&ch.latest, theirs),
                    hub_signature,
                    state: theirs.clone(),
                    payment: theirs.locks.last().map(|l| l.hashlock),
                    secrets: Vec::new(),
                });
            }
        }
        ch.phase = Phase::Active;
        Ok(())
    }

    /// Records a lock's secret that a wallet presented (a sync after the hub lost it): the
    /// payment is fulfilled, and the lock can be settled in the channels that hold it.
    async fn learn_secret(&self, id: &B256, hashlock: B256, secret: B256) -> Result<(), HubError> {
        let payment = self.payment_row(&hashlock).await?;
        let mut channels = vec![*id];
        if let Some(p) = payment.filter(|p| p.secret.is_none() && !p.status.is_final()) {
            channels.extend([p.payer_channel, p.payee_channel]);
            let p = PaymentRow {
                status: match p.status {
                    PaymentStatus::Offered => PaymentStatus::Fulfilled,
                    other => other,
                },
                secret: Some(secret),
                ..p
            };
            self.commit(vec![Write::Payment(p.clone())]).await?;
            self.payments.lock().insert(hashlock, p);
        }
        channels.sort_unstable();
        channels.dedup();
        for c in channels {
            let slot = self.slot(&c)?;
            let mut ch = slot.channel.lock().await;
            self.reveal(&mut ch, hashlock, secret);
        }
        Ok(())
    }

    async fn adopt(&self, ch: &mut Channel, update: SignedUpdate) -> Result<(), HubError> {
        self.commit(vec![Write::WalletSignature {
            channel_id: ch.id,
            version: update.state.version,
            signature: update.wallet_signature,
        }])
        .await?;
        self.set_latest(ch, update.state, update.wallet_signature);
        ch.offer = None;
        ch.phase = Phase::Active;
        Ok(())
    }

    async fn halt(&self, ch: &mut Channel, reason: String) -> Result<(), HubError> {
        warn!(channel = %ch.id, %reason, "channel halted");
        self.commit(vec![Write::ChannelStatus {
            id: ch.id,
            status: "halted",
            reason: Some(reason.clone()),
        }])
        .await?;
        ch.phase = Phase::Halted;
        Err(HubError::Halted(reason))
    }

    /// A wallet connected its WebSocket: ask it to sync unsynced channels and re-send
    /// every outstanding offer.
    pub async fn on_connect(&self, wallet: &Address) {
        for id in self.channels_of(wallet) {
            let Ok(slot) = self.slot(&id) else { continue };
            let ch = slot.channel.lock().await;
            match ch.phase {
                Phase::Unsynced => self.push(
                    wallet,
                    HubMessage::SyncRequest {
                        channel_id: id,
                        version: ch.highest_version(),
                    },
                ),
                Phase::Active => {
                    if let Some(o) = &ch.offer {
                        self.push(wallet, HubMessage::Offer(o.wire()));
                    }
                }
                _ => {}
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // Disputes (the watcher's side)
    // ---------------------------------------------------------------------------------

    /// A state of channel `id` was registered (or refuted) on the rollup in block
    /// `block`: stop updating the channel, refute with a newer co-signed state if the hub
    /// has one, and reveal the secrets of the wallet's locks that the hub can claim.
    pub async fn on_registered(
        &self,
        id: &B256,
        registered: &ChannelState,
    ) -> Result<(), HubError> {
        let slot = self.slot(id)?;
        let mut ch = slot.channel.lock().await;
        // A disputed channel takes no deposit: a funding offer can no longer be met.
        self.release_funding(id);
        if ch.phase != Phase::Disputed {
            ch.phase = Phase::Disputed;
            self.commit(vec![Write::ChannelStatus {
                id: *id,
                status: "disputed",
                reason: Some(format!(
                    "version {} registered on the rollup",
                    registered.version
                )),
            }])
            .await?;
        }
        let record = self.rollup.channel(id).await?.map(|c| c.record);
        let Some(record) = record else { return Ok(()) };
        let ChannelStatus::Disputed { state: current, .. } = &record.status else {
            return Ok(());
        };
        // The newest co-signed state the rollup accepts (its total must match).
        let best = self.best_co_signed(&ch, record.total).await?;
        let mut final_state = current.clone();
        if let Some((state, wallet_signature, hub_signature)) = best
            && state.version > current.version
        {
            let settle = ChannelSettle {
                from: self.address,
                state: state.clone(),
                wallet_signature: wallet_signature.to_bytes().to_vec().into(),
                hub_signature: hub_signature.to_bytes().to_vec().into(),
                fee: self.config.fee,
                nonce: 0,
            };
            warn!(channel = %id, registered = current.version, refute = state.version, "refuting a stale registration");
            let hash = self
                .send_transaction(Some(*id), move |nonce| {
                    Transaction::ChannelRefute(ChannelSettle { nonce, ..settle })
                })
                .await?;
            self.wait_transaction(&hash).await?;
            final_state = state;
        }
        drop(ch);
        self.reveal_claimable(&final_state).await
    }

    /// Enforces on the rollup the payments whose payer stopped answering: the payee was
    /// paid (the hub knows the secret) but no state of the payer's has settled the lock (no
    /// later payment, no countersigned settlement), and the lock is within half the lock
    /// margin of expiring. The hub reveals the secret (so the lock resolves to the hub
    /// whenever a state holding it concludes) and registers the payer's channel with its
    /// latest state the payer signed, which holds the lock; the watcher concludes it after
    /// the deadline. Returns the channels registered.
    pub async fn enforce_stalled(&self) -> Result<Vec<B256>, HubError> {
        let head = self.head();
        // Whether a lock is due depends on the head alone: under load every payer channel
        // holds a fulfilled lock, so they are looked through once per new head, not per poll.
        if self.enforced_at.swap(head, Ordering::AcqRel) == head {
            return Ok(Vec::new());
        }
        let guard = self.config.locks.margin_blocks / 2;
        let fulfilled: Vec<PaymentRow> = self
            .payments
            .lock()
            .values()
            .filter(|p| p.status == PaymentStatus::Fulfilled && p.secret.is_some())
            .cloned()
            .collect();
        let mut registered = Vec::new();
        for p in fulfilled {
            let slot = self.slot(&p.payer_channel)?;
            let mut ch = slot.channel.lock().await;
            if !matches!(ch.phase, Phase::Active | Phase::Unsynced) {
                continue;
            }
            let due = ch.latest.locks.iter().any(|l| {
                l.hashlock == p.hashlock
                    && l.direction == LockDirection::WalletToHub
                    && head.saturating_add(guard) >= l.expiry
            });
            let Some(secret) = p.secret.filter(|_| due) else {
                continue;
            };
            warn!(channel = %ch.id, payment = %p.hashlock, head, "the payer stopped answering: enforcing its lock on the rollup");
            // No more off-chain updates on this channel: the rollup decides it now.
            self.commit(vec![Write::ChannelStatus {
                id: ch.id,
                status: "disputed",
                reason: Some(format!("payer did not settle payment {}", p.hashlock)),
            }])
            .await?;
            ch.phase = Phase::Disputed;
            ch.offer = None;
            let id = ch.id;
            drop(ch);
            let from = self.address;
            let reveal = self
                .send_transaction(None, move |nonce| {
                    Transaction::RevealSecret(RevealSecret {
                        from,
                        secret,
                        fee: 0,
                        nonce,
                    })
                })
                .await?;
            if let Err(e) = self.wait_transaction(&reveal).await {
                // Revealed by someone else already (the payee on the rollup) is as good.
                warn!(error = %e, "revealing the secret failed");
            }
            self.register_on_rollup(&id, None).await?;
            registered.push(id);
        }
        Ok(registered)
    }

    async fn best_co_signed(
        &self,
        ch: &Channel,
        total: Amount,
    ) -> Result<Option<(ChannelState, Signature, Signature)>, HubError> {
        if ch.latest.total() == Some(total)
            && let Some(wallet_signature) = ch.wallet_signature
        {
            let hub_signature = ch.hub_signature.unwrap_or_else(|| self.sign(&ch.latest));
            return Ok(Some((ch.latest.clone(), wallet_signature, hub_signature)));
        }
        let states = self.store.states(&ch.id).await?;
        Ok(states
            .into_iter()
            .rev()
            .find_map(|s| {
                let sig = s.wallet_signature?;
                (s.state.total() == Some(total)).then_some((s.state, sig))
            })
            .map(|(state, sig)| {
                let hub = self.sign(&state);
                (state, sig, hub)
            }))
    }

    /// Reveals on the rollup the secrets the hub knows for the wallet's locks to it in
    /// `state`, so that conclusion pays them to the hub.
    async fn reveal_claimable(&self, state: &ChannelState) -> Result<(), HubError> {
        for lock in &state.locks {
            if lock.direction != LockDirection::WalletToHub {
                continue;
            }
            let secret = self
                .store
                .payment(&lock.hashlock)
                .await?
                .and_then(|p| p.secret);
            if let Some(secret) = secret {
                let from = self.address;
                let hash = self
                    .send_transaction(None, move |nonce| {
                        Transaction::RevealSecret(RevealSecret {
                            from,
                            secret,
                            fee: 0,
                            nonce,
                        })
                    })
                    .await?;
                if let Err(e) = self.wait_transaction(&hash).await {
                    warn!(error = %e, "reveal failed (already revealed?)");
                }
            }
        }
        Ok(())
    }

    /// Starts a dispute on the rollup (`ChannelRegister`) with the co-signed state of
    /// `version` (default: the hub's latest), e.g. when the wallet stopped answering; the
    /// watcher concludes it after the deadline. The state must be one the wallet signed and
    /// whose total the rollup holds. Registering anything but the latest is what a
    /// cheating hub does (the wallet's watcher refutes it); tests use it for that. Returns
    /// the transaction's hash once executed.
    pub async fn register_on_rollup(
        &self,
        id: &B256,
        version: Option<u64>,
    ) -> Result<B256, HubError> {
        let slot = self.slot(id)?;
        let mut ch = slot.channel.lock().await;
        // The latest if the wallet signed it; else the newest state it signed (a lock it
        // accepted by revealing only adds to its side: registering without it is the
        // wallet's loss to refute, not the hub's).
        let (state, wallet_signature) = match (version, ch.wallet_signature) {
            (None, Some(sig)) => (ch.latest.clone(), sig),
            _ => self
                .store
                .states(id)
                .await?
                .into_iter()
                .rev()
                .find_map(|s| {
                    let sig = s.wallet_signature?;
                    version
                        .is_none_or(|v| s.state.version == v)
                        .then_some((s.state, sig))
                })
                .ok_or_else(|| {
                    HubError::InvalidRequest(format!("no co-signed state at version {version:?}"))
                })?,
        };
        // Stored, so the hub signed it before; the signature is deterministic.
        let hub_signature = self.sign(&state);
        let settle = ChannelSettle {
            from: self.address,
            state: state.clone(),
            wallet_signature: wallet_signature.to_bytes().to_vec().into(),
            hub_signature: hub_signature.to_bytes().to_vec().into(),
            fee: self.config.fee,
            nonce: 0,
        };
        let hash = self
            .send_transaction(Some(*id), move |nonce| {
                Transaction::ChannelRegister(ChannelSettle { nonce, ..settle })
            })
            .await?;
        self.wait_transaction(&hash).await?;
        self.release_funding(id);
        if ch.phase != Phase::Disputed {
            ch.phase = Phase::Disputed;
            self.commit(vec![Write::ChannelStatus {
                id: *id,
                status: "disputed",
                reason: Some(format!(
                    "the hub registered version {} on the rollup",
                    state.version
                )),
            }])
            .await?;
        }
        drop(ch);
        info!(channel = %id, version = state.version, tx = %hash, "the hub registered a state on the rollup");
        self.reveal_claimable(&state).await?;
        Ok(hash)
    }

    /// Concludes a disputed channel after its deadline.
    pub async fn conclude(&self, id: &B256) -> Result<B256, HubError> {
        let from = self.address;
        let channel_id = *id;
        let fee = self.config.fee;
        let hash = self
            .send_transaction(Some(*id), move |nonce| {
                Transaction::ChannelConclude(ChannelConclude {
                    from,
                    channel_id,
                    fee,
                    nonce,
                })
            })
            .await?;
        self.wait_transaction(&hash).await?;
        self.on_closed(id).await?;
        Ok(hash)
    }

    /// The channel was closed on the rollup.
    pub async fn on_closed(&self, id: &B256) -> Result<(), HubError> {
        let slot = self.slot(id)?;
        let mut ch = slot.channel.lock().await;
        self.release_funding(id);
        if ch.phase != Phase::Closed {
            ch.phase = Phase::Closed;
            self.metrics.channels.dec();
            self.commit(vec![Write::ChannelStatus {
                id: *id,
                status: "closed",
                reason: Some("closed on the rollup".into()),
            }])
            .await?;
        }
        Ok(())
    }

    /// A deposit to channel `id` executed: refresh what the rollup holds.
    pub async fn on_deposit(&self, id: &B256) -> Result<(), HubError> {
        let slot = self.slot(id)?;
        let mut ch = slot.channel.lock().await;
        if let Some(c) = self.rollup.channel(id).await? {
            ch.rollup_total = c.record.total;
        }
        drop(ch);
        slot.freed.notify_waiters();
        Ok(())
    }

    /// Resubmits the hub's stored transactions that were never seen executed (a restart
    /// between storing and sending); resubmission of a known transaction is idempotent.
    pub async fn resend_pending(&self) -> Result<(), HubError> {
        use weft_protocol::codec::Decode;
        for (hash, encoded, signature) in self.store.pending_rollup_transactions().await? {
            let Ok(transaction) = Transaction::from_bytes(&encoded) else {
                continue;
            };
            let signed = weft_protocol::transaction::SignedTransaction {
                transaction,
                signature,
            };
            match self.rollup.submit(&signed).await {
                Ok(_) => {
                    let hub = self;
                    if let Err(e) = hub.wait_transaction(&hash).await {
                        warn!(tx = %hash, error = %e, "resent transaction did not execute");
                    }
                }
                Err(e) => {
                    warn!(tx = %hash, error = %e, "stored transaction refused on resend");
                    self.commit(vec![Write::RollupTransactionStatus {
                        hash,
                        status: "failed",
                    }])
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// Waits up to `timeout` for a channel to have no offer outstanding.
    pub async fn wait_idle(&self, id: &B256, timeout: Duration) -> bool {
        let Ok(slot) = self.slot(id) else {
            return false;
        };
        let deadline = Instant::now() + timeout;
        loop {
            let freed = slot.freed.notified();
            if slot.channel.lock().await.offer.is_none() {
                return true;
            }
            if tokio::time::timeout_at(deadline.into(), freed)
                .await
                .is_err()
            {
                return false;
            }
        }
    }
}

/// Locks two channels in one fixed order (by slot address), so two routes in opposite
/// directions cannot deadlock; returns the guards in the order asked.
async fn lock_pair<'a>(
    a: &'a Slot,
    b: &'a Slot,
) -> (
    tokio::sync::MutexGuard<'a, Channel>,
    tokio::sync::MutexGuard<'a, Channel>,
) {
    let a_first = std::ptr::from_ref(a) < std::ptr::from_ref(b);
    if a_first {
        let ga = a.channel.lock().await;
        let gb = b.channel.lock().await;
        (ga, gb)
    } else {
        let gb = b.channel.lock().await;
        let ga = a.channel.lock().await;
        (ga, gb)
    }
}

/// Locks a payee's channel and, if there is one, its payer's ([`lock_pair`]'s order).
async fn lock_with<'a>(
    payee: &'a Slot,
    payer: Option<&'a Slot>,
) -> (
    tokio::sync::MutexGuard<'a, Channel>,
    Option<tokio::sync::MutexGuard<'a, Channel>>,
) {
    match payer {
        Some(payer) => {
            let (a, b) = lock_pair(payee, payer).await;
            (a, Some(b))
        }
        None => (payee.channel.lock().await, None),
    }
}

fn offer_kind(purpose: &str) -> OfferKind {
    match purpose {
        "funding" => OfferKind::Funding,
        "lock" => OfferKind::Lock,
        "settle" => OfferKind::Settle,
        "refund" => OfferKind::Refund,
        _ => OfferKind::Payment,
    }
}

/// The kind of an offer the hub recovers from a wallet after losing it: a lock if it adds
/// one, otherwise a payment.
fn recovered_offer_kind(latest: &ChannelState, offered: &ChannelState) -> OfferKind {
    if transition::settled_and_added(latest, offered).is_some() {
        OfferKind::Lock
    } else {
        OfferKind::Payment
    }
}

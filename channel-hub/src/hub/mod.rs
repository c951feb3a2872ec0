//! The hub: its channels, the rules it signs by, and routed payments.
//!
//! Each channel lives in a [`Slot`] behind an async mutex; an update locks the channels it
//! touches (two, in id order, for a routed payment), checks the wallet's proposal against
//! the state the hub builds itself ([`weft_channel::transition`]), commits the new state to the
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
//!
//! ## Where things are
//!
//! The state is split by concern; each file owns its part of the state (its locks) and the
//! `impl Hub` block with the logic over it:
//!
//! - `mod.rs` (this file): [`Hub`], opening and loading, signing, committing, the head.
//! - `channel.rs`: the channel model ([`Channel`], [`Phase`], [`PendingOffer`]), the
//!   [`Slot`]s and their registry, the lock-pair order, the stored status and purpose
//!   vocabularies ([`StoredStatus`], [`Purpose`]).
//! - `funding.rs`: registration and the hub's funding (owns the funding reservations).
//! - `updates.rs`: the wallet's updates (`pay`, `topup`, `close`), countersigned offers,
//!   the hub's payments to a wallet, and how a state becomes a channel's latest.
//! - `routing.rs`: routed payments: lock, fulfil, reject (owns the payments in flight and
//!   the payers waiting for their answer).
//! - `settlement.rs`: settling revealed locks and refunding refused ones (owns the set of
//!   channels with revealed locks not yet settled).
//! - `sync.rs`: the wallet's view of a channel, sync after a restart, halting.
//! - `disputes.rs`: registrations, refutations, enforcement, conclusion (owns the head
//!   at which stalled payments were last looked for).
//! - `transactions.rs`: the hub's own rollup transactions, stored before they are sent
//!   (owns the lock serializing their nonces).
//! - `sessions.rs`: the connected wallets' outgoing queues ([`Sessions`]), which the
//!   transport ([`crate::ws`]) drains.
//!
//! ## Lock order
//!
//! A task takes locks only in this order, so no two tasks wait on each other:
//!
//! 1. **Channel slots** (`Slot::channel`, async): one at a time, or two through
//!    `lock_pair`/`lock_with` (by slot address). Held across awaits: the database commit,
//!    rollup reads, and the hub's rollup transactions. Never taken while another slot is
//!    held except through `lock_pair`.
//! 2. **The nonce lock** (`transactions.rs`, async): held from reading the hub's nonce
//!    until its transaction is stored and submitted; taken with or without a slot held,
//!    never the other way round.
//! 3. **Leaf locks** (`parking_lot`, sync): the slot registry (`channel.rs`), the funding
//!    reservations (`funding.rs`), the open payments and route waiters (`routing.rs`), the
//!    unsettled channels and scan time (`settlement.rs`), the secrets revealed on the rollup
//!    (`disputes.rs`), the sessions (`sessions.rs`). Each
//!    is held for a few statements, never across an await, and never while taking another
//!    lock.
//!
//! The group commit in [`crate::store`] is awaited with slots held; it takes none of these.

mod channel;
mod disputes;
mod funding;
mod routing;
mod sessions;
mod settlement;
mod sync;
mod transactions;
mod updates;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tracing::info;
use weft_protocol::{
    channel::ChannelState,
    eip712::{Domain, Eip712},
    primitives::{Address, B256},
    signature::{Signature, SigningKey},
};

pub use channel::{Channel, PendingOffer, Phase, Purpose, Slot, StoredStatus};
pub use sessions::Sessions;

use channel::{Channels, lock_pair, lock_with};
use disputes::Enforcement;
use funding::Reservations;
use routing::{Payments, RouteOutcome};
use settlement::Unsettled;
use transactions::Nonces;

use crate::{
    config::Config,
    error::HubError,
    metrics::Metrics,
    store::{HubStore, PaymentRow, Write},
};
use weft_channel::{HeldState, HubInfo, HubMessage, OfferKind};

/// The hub's shared state.
#[derive(Debug)]
pub struct Hub {
    /// The configuration.
    pub config: Config,
    pub(crate) key: SigningKey,
    /// The hub's address.
    pub address: Address,
    /// The EIP-712 domain of the rollup.
    pub domain: Domain,
    /// The rollup's dispute window in blocks (read from the sequencer: a chain parameter).
    pub dispute_window: u64,
    /// Durable storage.
    pub store: HubStore,
    /// The sequencer.
    pub rollup: weft_api::Client,
    /// Metrics.
    pub metrics: Metrics,
    /// Connected wallets.
    pub sessions: Sessions,
    channels: Channels,
    funding: Reservations,
    payments: Payments,
    unsettled: Unsettled,
    nonces: Nonces,
    enforcement: Enforcement,
    head: AtomicU64,
    scanned: AtomicU64,
}

impl Hub {
    /// Opens storage, reads the chain parameters from the sequencer and loads every channel
    /// (each unsynced until its wallet confirms its latest state).
    pub async fn open(config: Config) -> Result<Arc<Self>, HubError> {
        let store = HubStore::connect(config.database_url.as_deref(), &config.data_dir).await?;
        let rollup = weft_api::Client::new(&config.sequencer_url);
        let chain = rollup.chain().await?;
        let head = rollup.head().await?;
        // What the hub knows of its channels on the rollup is as of the last block its
        // watcher scanned (a fresh hub has no channels: the head).
        let scanned = store.meta(crate::watcher::CURSOR).await?.unwrap_or(head);
        let locks = &config.locks;
        let shortest = locks.min_blocks + locks.margin_blocks + locks.margin_blocks / 2;
        if shortest > chain.dispute_window {
            // No lock could be both long enough and short enough: nothing could be routed.
            return Err(HubError::Config(format!(
                "locks of at least {} blocks plus a reveal guard of {} do not fit the chain's \
                 dispute window of {} blocks",
                locks.min_blocks + locks.margin_blocks,
                locks.margin_blocks / 2,
                chain.dispute_window
            )));
        }
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
            channels: Channels::default(),
            funding: Reservations::default(),
            payments: Payments::default(),
            unsettled: Unsettled::default(),
            nonces: Nonces::default(),
            enforcement: Enforcement::default(),
            head: AtomicU64::new(head),
            scanned: AtomicU64::new(scanned),
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
            let offer = s
                .offer
                .map(|(state, purpose, payment)| {
                    Ok::<_, HubError>((state, Purpose::parse(&s.id, &purpose)?, payment))
                })
                .transpose()?
                .map(|(state, purpose, payment)| PendingOffer {
                    kind: purpose.offer_kind(),
                    hub_signature: self.sign(&state),
                    secrets: if purpose == Purpose::Settle {
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
                    self.funding.hold(s.id, s.token, amount);
                }
            }
            if !revealed.is_empty() {
                self.unsettled.insert(s.id);
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
                phase: Phase::on_load(StoredStatus::parse(&s.id, &s.status)?),
                updated: Instant::now(),
            };
            self.insert_channel(channel);
        }
        self.payments.load(open);
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
        self.channels.insert(channel);
    }

    /// The hub's signature of `state`. Call only for states whose row is committed.
    pub(crate) fn sign(&self, state: &ChannelState) -> Signature {
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
        self.channels.slot(id)
    }

    /// Refuses a request about channel `id` from anyone but its wallet.
    pub async fn authorize(&self, id: &B256, wallet: &Address) -> Result<(), HubError> {
        self.slot(id)?.channel.lock().await.check_wallet(wallet)
    }

    /// Ids of every channel of `wallet`.
    pub fn channels_of(&self, wallet: &Address) -> Vec<B256> {
        self.channels.of_wallet(wallet)
    }

    /// Every channel id.
    pub fn channel_ids(&self) -> Vec<B256> {
        self.channels.ids()
    }

    /// The hub's latest view of the rollup head.
    pub fn head(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    /// Records a newer head.
    pub fn set_head(&self, head: u64) {
        self.head.fetch_max(head, Ordering::AcqRel);
    }

    /// The last block the watcher has scanned: the hub's view of its channels on the
    /// rollup (registrations, closes, deposits) is complete up to it.
    pub fn scanned(&self) -> u64 {
        self.scanned.load(Ordering::Acquire)
    }

    /// Records that the watcher scanned every block up to `block`.
    pub fn set_scanned(&self, block: u64) {
        self.scanned.fetch_max(block, Ordering::AcqRel);
    }

    /// Blocks the hub keeps between learning a secret and the last block its reveal on the
    /// rollup still counts: half the lock margin. A payer's stalled lock is enforced this
    /// many blocks before it expires, and a lock may expire at most this many blocks before
    /// a dispute registered after the hub's view of the rollup could conclude.
    pub fn reveal_guard(&self) -> u64 {
        self.config.locks.margin_blocks / 2
    }

    /// The latest expiry the hub accepts for a payer's lock: a dispute of the payer's
    /// channel not yet seen by the watcher was registered after [`Self::scanned`], so it
    /// concludes after `scanned + dispute_window`; the lock, and the hub's reveal of its
    /// secret, come [`Self::reveal_guard`] blocks before that.
    pub fn max_lock_expiry(&self) -> u64 {
        self.scanned()
            .saturating_add(self.dispute_window)
            .saturating_sub(self.reveal_guard())
    }

    /// `GET /v1/info`.
    pub fn info(&self) -> HubInfo {
        HubInfo {
            address: self.address,
            domain: self.domain,
            head: self.head(),
            match_cap: self.config.funding.match_cap,
            min_lock_blocks: self.config.locks.min_blocks + self.config.locks.margin_blocks,
            max_lock_blocks: self.dispute_window.saturating_sub(self.reveal_guard()),
        }
    }

    /// Commits `writes` in one durable step (nothing is signed before it returns).
    async fn commit(&self, writes: Vec<Write>) -> Result<(), HubError> {
        let started = Instant::now();
        self.store.commit(writes).await?;
        self.metrics
            .persist_seconds
            .observe(started.elapsed().as_secs_f64());
        Ok(())
    }

    /// Commits channel `id`'s new `status`, with why.
    async fn commit_status(
        &self,
        id: &B256,
        status: StoredStatus,
        reason: String,
    ) -> Result<(), HubError> {
        self.commit(vec![Write::ChannelStatus {
            id: *id,
            status: status.as_str(),
            reason: Some(reason),
        }])
        .await
    }

    fn push(&self, wallet: &Address, message: HubMessage) {
        self.sessions.send(wallet, message);
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

/// The rows of a state the wallet signed: the state, then the wallet's signature.
fn wallet_signed_rows(
    state: &ChannelState,
    purpose: Purpose,
    payment: Option<B256>,
    signature: Signature,
) -> Vec<Write> {
    vec![
        Write::State {
            state: state.clone(),
            purpose: purpose.as_str(),
            payment,
        },
        Write::WalletSignature {
            channel_id: state.channel_id,
            version: state.version,
            signature,
        },
    ]
}

/// Refuses a proposed state that is not the one the hub expects.
fn expect_state(expected: &ChannelState, proposed: &ChannelState) -> Result<(), HubError> {
    if proposed == expected {
        Ok(())
    } else {
        Err(HubError::UnexpectedState {
            expected: Box::new(expected.clone()),
        })
    }
}

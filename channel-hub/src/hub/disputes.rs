//! Disputes, the watcher's side: a registration on the rollup stops a channel's updates
//! and is refuted with a newer co-signed state if the hub has one; payers that stopped
//! answering are enforced on the rollup; the hub registers and concludes disputes itself;
//! closes and deposits seen on the rollup update the channel. Owns the head at which
//! stalled payments were last looked for.

use std::{
    collections::HashSet,
    sync::atomic::{AtomicU64, Ordering},
};

use parking_lot::Mutex;

use tracing::{info, warn};
use weft_protocol::{
    channel::{ChannelState, ChannelStatus, LockDirection},
    primitives::{Amount, B256},
    signature::Signature,
    transaction::{ChannelConclude, Transaction},
};

use super::{Channel, Hub, Phase, StoredStatus};
use crate::{error::HubError, store::PaymentStatus};

/// The head [`Hub::enforce_stalled`] last looked at: whether a lock is due depends on the
/// head alone, so the fulfilled payments are looked through once per new head. Also the
/// secrets the hub has revealed on the rollup since it started (a leaf lock), so each is
/// sent once (after a restart, once more: a second reveal only fails).
#[derive(Debug)]
pub(super) struct Enforcement {
    looked_at: AtomicU64,
    revealed: Mutex<HashSet<B256>>,
}

impl Default for Enforcement {
    fn default() -> Self {
        Self {
            looked_at: AtomicU64::new(u64::MAX),
            revealed: Mutex::default(),
        }
    }
}

impl Enforcement {
    /// Whether `head` is new since the last look (which is now at `head`).
    fn first_look(&self, head: u64) -> bool {
        self.looked_at.swap(head, Ordering::AcqRel) != head
    }

    fn is_revealed(&self, hashlock: &B256) -> bool {
        self.revealed.lock().contains(hashlock)
    }
}

impl Hub {
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
        self.mark_disputed(&mut ch, || {
            format!("version {} registered on the rollup", registered.version)
        })
        .await?;
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
            warn!(channel = %id, registered = current.version, refute = state.version, "refuting a stale registration");
            self.settle_on_rollup(
                id,
                Transaction::ChannelRefute,
                state.clone(),
                wallet_signature,
                hub_signature,
            )
            .await?;
            final_state = state;
        }
        drop(ch);
        self.reveal_claimable(&final_state).await
    }

    /// Enforces on the rollup the payments whose payer stopped answering: the payee was
    /// paid (the hub knows the secret) but no state of the payer's has settled the lock (no
    /// later payment, no countersigned settlement). A payer's channel that is disputed
    /// already gets the secret revealed at once (its registered state may hold the lock,
    /// and only a reveal before the lock's expiry pays it to the hub). Any other (active,
    /// unsynced, halted) whose lock is within half the lock margin of expiring: the hub
    /// reveals the secret (so the lock resolves to the hub whenever a state holding it
    /// concludes) and registers the payer's channel with its latest state the payer signed,
    /// which holds the lock; the watcher concludes it after the deadline. Returns the
    /// channels registered.
    pub async fn enforce_stalled(&self) -> Result<Vec<B256>, HubError> {
        let head = self.head();
        // Whether a lock is due depends on the head alone: under load every payer channel
        // holds a fulfilled lock, so they are looked through once per new head, not per poll.
        if !self.enforcement.first_look(head) {
            return Ok(Vec::new());
        }
        let guard = self.reveal_guard();
        let fulfilled = self
            .payments
            .matching(|p| p.status == PaymentStatus::Fulfilled && p.secret.is_some());
        let mut registered = Vec::new();
        for p in fulfilled {
            let Some(secret) = p.secret else { continue };
            let slot = self.slot(&p.payer_channel)?;
            let mut ch = slot.channel.lock().await;
            match ch.phase {
                Phase::Closed => continue,
                Phase::Disputed => {
                    drop(ch);
                    if !self.enforcement.is_revealed(&p.hashlock) {
                        self.reveal_on_rollup(p.hashlock, secret).await?;
                    }
                    continue;
                }
                Phase::Active | Phase::Unsynced | Phase::Halted => {}
            }
            let due = ch.latest.locks.iter().any(|l| {
                l.hashlock == p.hashlock
                    && l.direction == LockDirection::WalletToHub
                    && head.saturating_add(guard) >= l.expiry
            });
            if !due {
                continue;
            }
            warn!(channel = %ch.id, payment = %p.hashlock, head, "the payer stopped answering: enforcing its lock on the rollup");
            // No more off-chain updates on this channel: the rollup decides it now.
            let reason = format!("payer did not settle payment {}", p.hashlock);
            self.commit_status(&ch.id, StoredStatus::Disputed, reason)
                .await?;
            ch.phase = Phase::Disputed;
            ch.offer = None;
            let id = ch.id;
            drop(ch);
            self.reveal_on_rollup(p.hashlock, secret).await?;
            self.register_on_rollup(&id, None).await?;
            registered.push(id);
        }
        Ok(registered)
    }

    /// Reveals `secret` on the rollup (`RevealSecret`) and waits for it, once: a lock to
    /// the hub under `hashlock` then resolves to the hub in any dispute that concludes with
    /// it. Revealed by someone else already (the payee) is as good.
    pub(super) async fn reveal_on_rollup(
        &self,
        hashlock: B256,
        secret: B256,
    ) -> Result<(), HubError> {
        if self.enforcement.is_revealed(&hashlock) {
            return Ok(());
        }
        let reveal = self.send_reveal(secret).await?;
        match self.wait_transaction(&reveal).await {
            Ok(_) => {}
            // Executed and failed: the secret is in the registry already.
            Err(HubError::Rollup(e @ weft_api::ClientError::Failed { .. })) => {
                warn!(payment = %hashlock, error = %e, "revealing the secret failed (revealed already?)");
            }
            Err(e) => return Err(e),
        }
        self.enforcement.revealed.lock().insert(hashlock);
        info!(payment = %hashlock, "revealed a payment's secret on the rollup");
        Ok(())
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
                self.reveal_on_rollup(lock.hashlock, secret).await?;
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
        let hash = self
            .settle_on_rollup(
                id,
                Transaction::ChannelRegister,
                state.clone(),
                wallet_signature,
                hub_signature,
            )
            .await?;
        self.release_funding(id);
        self.mark_disputed(&mut ch, || {
            format!("the hub registered version {} on the rollup", state.version)
        })
        .await?;
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
            self.commit_status(id, StoredStatus::Closed, "closed on the rollup".into())
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

    /// Stops channel `ch`'s off-chain updates for a dispute, recording why once.
    async fn mark_disputed(
        &self,
        ch: &mut Channel,
        reason: impl FnOnce() -> String,
    ) -> Result<(), HubError> {
        if ch.phase != Phase::Disputed {
            ch.phase = Phase::Disputed;
            self.commit_status(&ch.id, StoredStatus::Disputed, reason())
                .await?;
        }
        Ok(())
    }
}

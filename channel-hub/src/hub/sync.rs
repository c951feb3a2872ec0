//! Reads and recovery: the channel as its wallet sees it, and sync. After a restart every
//! channel is unsynced (the database may be older than what the hub signed): the wallet's
//! latest state is adopted if the hub signed it (or if, signed by the wallet alone, it
//! never pays the hub less), confirmed if equal, and the channel halted if it contradicts
//! the hub's own history. Also what the hub pushes when a wallet connects.

use tracing::{info, warn};
use weft_protocol::{
    channel::ChannelState,
    primitives::{Address, B256, keccak256},
};

use super::{Channel, Hub, PendingOffer, Phase, Purpose, StoredStatus};
use crate::{
    error::HubError,
    store::{PaymentRow, PaymentStatus, Write},
};
use weft_channel::{
    ChannelView, HubMessage, OfferKind, SignedUpdate, SyncReply, SyncRequest, transition,
};

impl Hub {
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
        // Sync recovers what the hub lost; it never brings back a channel the rollup (or the
        // hub) has taken out of off-chain updates.
        match ch.phase {
            Phase::Halted => return Err(HubError::Halted("the channel is halted".into())),
            Phase::Disputed | Phase::Closed => return Err(HubError::NotActive(ch.phase.as_str())),
            Phase::Active | Phase::Unsynced => {}
        }
        // The hub builds `version + 1` on whatever it adopts.
        if req.state.version > transition::MAX_VERSION {
            return Err(HubError::VersionTooHigh(req.state.version));
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
            purpose: Purpose::Sync.as_str(),
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
        let payer = payment.as_ref().map(|p| p.payer_channel);
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
            self.payments.record(p);
        }
        channels.sort_unstable();
        channels.dedup();
        let mut payer_active = true;
        for c in channels {
            let slot = self.slot(&c)?;
            let mut ch = slot.channel.lock().await;
            self.reveal(&mut ch, hashlock, secret);
            if Some(c) == payer && c != *id {
                payer_active = ch.phase == Phase::Active;
            }
        }
        if !payer_active {
            // As in `fulfil`: only the rollup can still pay the payer's lock to the hub.
            self.reveal_on_rollup(hashlock, secret).await?;
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
        self.commit_status(&ch.id, StoredStatus::Halted, reason.clone())
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

//! How locks leave the states once a payment is decided: revealed locks paid to their
//! receivers (on the next update, or by a [`OfferKind::Settle`] offer once a channel is
//! idle, [`Hub::settle_idle`]) and refused payments' locks returned to their payers
//! ([`OfferKind::Refund`], deferred while the payer's channel is busy). Owns the set of
//! channels holding revealed locks not yet settled.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use tracing::warn;
use weft_protocol::{
    channel::ChannelState,
    primitives::{Address, B256},
};

use super::{Channel, Hub, PendingOffer, Phase, Purpose, RouteOutcome};
use crate::{
    error::HubError,
    store::{PaymentRow, PaymentStatus, Write},
};
use weft_channel::{HubMessage, OfferKind, RouteStatus, transition};

/// Channels whose latest state holds revealed locks not yet settled, and when
/// [`Hub::settle_idle`] last looked through them. Leaf locks: held for a few statements,
/// never across an await or while taking another lock.
#[derive(Debug, Default)]
pub(super) struct Unsettled {
    channels: Mutex<HashSet<B256>>,
    scanned: Mutex<Option<Instant>>,
}

impl Unsettled {
    /// Channel `id` holds revealed locks.
    pub(super) fn insert(&self, id: B256) {
        self.channels.lock().insert(id);
    }

    /// Channel `id` no longer holds revealed locks.
    pub(super) fn remove(&self, id: &B256) {
        self.channels.lock().remove(id);
    }

    /// Whether a scan is due (none in the last `interval`); if so, it starts now.
    fn scan_due(&self, interval: Duration) -> bool {
        let mut last = self.scanned.lock();
        if last.is_some_and(|t| t.elapsed() < interval) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    fn ids(&self) -> Vec<B256> {
        self.channels.lock().iter().copied().collect()
    }
}

impl Hub {
    /// Records the secret of a lock in `ch`'s latest state.
    pub(super) fn reveal(&self, ch: &mut Channel, hashlock: B256, secret: B256) {
        if ch.latest.locks.iter().any(|l| l.hashlock == hashlock) {
            if ch.revealed.is_empty() {
                self.unsettled.insert(ch.id);
            }
            ch.revealed.insert(hashlock, secret);
        }
    }

    /// The payer's state returning a refused payment's lock, if the payer's channel can
    /// take it now (no other offer outstanding, the lock still in its latest state).
    pub(super) fn refund_state(
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
            purpose: Purpose::Refund.as_str(),
            payment: Some(payment.hashlock),
        });
        Ok(Some(state))
    }

    /// The state paying every revealed lock of `ch` (and those of `extra`, known but not
    /// yet recorded) to its receiver, with the preimages, if the channel can take an offer
    /// now; its row is added to `writes`, committed by the caller before it signs.
    pub(super) fn settle_state(
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
            purpose: Purpose::Settle.as_str(),
            payment: None,
        });
        Some((state, secrets))
    }

    /// Offers channel `id`'s wallet the settlement of its revealed locks if the channel
    /// has been idle for `idle`; whether it did.
    pub(super) async fn offer_settlement(
        &self,
        id: &B256,
        idle: Duration,
    ) -> Result<bool, HubError> {
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
        if !self.unsettled.scan_due(self.config.settle_idle / 2) {
            return 0;
        }
        let mut offered = 0;
        for id in self.unsettled.ids() {
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
    pub(super) fn deliver_refund(&self, wallet: &Address, hashlock: &B256, offer: &PendingOffer) {
        let waiter = self.payments.take_waiter(hashlock);
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
    pub(super) async fn settle_deferred(&self, id: &B256) {
        let waiting = self
            .payments
            .matching(|p| &p.payer_channel == id && p.status == PaymentStatus::Refused);
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
}

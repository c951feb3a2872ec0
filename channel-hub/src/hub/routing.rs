//! Routed payments A → hub → B, atomic by hashlock: the payer's lock, the hub's lock to
//! the payee, the payee's answer (the secret, or a refusal) and the payer's. Owns the
//! payments in flight (by hashlock, as their rows stand) and the payers waiting for their
//! route's answer. Settling the locks afterwards is [`super::settlement`]'s.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use tokio::sync::oneshot;
use tracing::warn;
use weft_protocol::{
    channel::{Lock, LockDirection},
    primitives::{Address, B256, keccak256},
};

use super::{Channel, Hub, PendingOffer, Phase, Purpose, lock_pair, lock_with};
use crate::{
    error::HubError,
    store::{PaymentRow, PaymentStatus, Write},
};
use weft_channel::{
    Ack, HubMessage, Offer, OfferKind, RouteReply, RouteRequest, RouteStatus, SignedUpdate,
    transition,
};

/// How a routed payment ended, for the payer who waits for it.
#[derive(Debug)]
pub(super) struct RouteOutcome {
    pub(super) status: RouteStatus,
    pub(super) secret: Option<B256>,
    pub(super) offer: Option<Offer>,
}

/// A routed payment in flight: how to answer the payer who waits for it.
pub(super) type RouteWaiter = oneshot::Sender<RouteOutcome>;

/// The payments not yet over and the payers waiting for an answer. Both maps are leaf
/// locks: held for a few statements, never across an await or while taking another lock.
#[derive(Debug, Default)]
pub(super) struct Payments {
    /// Payments not yet over, by hashlock.
    open: Mutex<HashMap<B256, PaymentRow>>,
    waiters: Mutex<HashMap<B256, RouteWaiter>>,
}

impl Payments {
    /// Replaces the open payments (at start).
    pub(super) fn load(&self, open: HashMap<B256, PaymentRow>) {
        *self.open.lock() = open;
    }

    pub(super) fn get(&self, hashlock: &B256) -> Option<PaymentRow> {
        self.open.lock().get(hashlock).cloned()
    }

    fn contains(&self, hashlock: &B256) -> bool {
        self.open.lock().contains_key(hashlock)
    }

    /// Records a payment's new row (committed).
    pub(super) fn record(&self, payment: PaymentRow) {
        self.open.lock().insert(payment.hashlock, payment);
    }

    /// Drops the payments that `ended` (their final rows committed) and records `new`, in
    /// one step.
    pub(super) fn end(&self, ended: Vec<PaymentRow>, new: Option<PaymentRow>) {
        let mut open = self.open.lock();
        for p in ended {
            open.remove(&p.hashlock);
        }
        if let Some(p) = new {
            open.insert(p.hashlock, p);
        }
    }

    /// The open payments that `filter` keeps.
    pub(super) fn matching(&self, filter: impl Fn(&PaymentRow) -> bool) -> Vec<PaymentRow> {
        self.open
            .lock()
            .values()
            .filter(|p| filter(p))
            .cloned()
            .collect()
    }

    /// The payments of `payer_id` among `hashlocks` that end with `status`; their rows'
    /// new status is added to `writes` (the caller drops them once committed, [`Self::end`]).
    fn ended(
        &self,
        payer_id: &B256,
        hashlocks: &[B256],
        status: PaymentStatus,
        writes: &mut Vec<Write>,
    ) -> Vec<PaymentRow> {
        let open = self.open.lock();
        hashlocks
            .iter()
            .filter_map(|h| open.get(h))
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

    /// Where the payer of `hashlock` hears the outcome.
    fn wait(&self, hashlock: B256) -> oneshot::Receiver<RouteOutcome> {
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().insert(hashlock, tx);
        rx
    }

    /// The payer waiting for `hashlock`'s outcome, if it still waits.
    pub(super) fn take_waiter(&self, hashlock: &B256) -> Option<RouteWaiter> {
        self.waiters.lock().remove(hashlock)
    }
}

impl Hub {
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
                self.payments.take_waiter(&hashlock);
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
        let ids = self.channels.of_wallet_in(payee, token);
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
        super::expect_state(&expected, &req.state)?;
        let min = self.head() + self.config.locks.min_blocks + self.config.locks.margin_blocks;
        if lock.expiry < min {
            return Err(HubError::LockExpiry {
                expiry: lock.expiry,
                min,
            });
        }
        // Both channels are active as of the last block the watcher scanned; a registration
        // after it concludes after `max` plus the reveal guard, so the payee's lock expires,
        // and the hub reveals the secret it learns, before either side's dispute can end.
        let max = self.max_lock_expiry();
        if lock.expiry > max {
            return Err(HubError::LockExpiryTooLate {
                expiry: lock.expiry,
                max,
            });
        }
        let hashlock = lock.hashlock;
        // A payment in flight is refused here; one that is over, by the payments table's
        // primary key when the commit below inserts its row.
        if self.payments.contains(&hashlock) {
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
        let mut writes = super::wallet_signed_rows(
            &expected,
            Purpose::Route,
            Some(hashlock),
            req.wallet_signature,
        );
        writes.extend([
            Write::State {
                state: payee_state.clone(),
                purpose: Purpose::Lock.as_str(),
                payment: Some(hashlock),
            },
            Write::Payment(payment.clone()),
        ]);
        // The payer's earlier payments whose locks this state pays to the hub are over.
        let ended = self
            .payments
            .ended(&payer.id, &settled, PaymentStatus::Settled, &mut writes);
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
        self.payments.end(ended, Some(payment));
        let rx = self.payments.wait(hashlock);
        self.push(&payee.wallet, HubMessage::Offer(offer.wire()));
        payee.offer = Some(offer);
        Ok((hashlock, rx))
    }

    /// The payments an offer of channel `id` ends once its wallet countersigns it: a refund
    /// returns its payment's lock, a settlement pays the channel's locks to the hub.
    pub(super) fn payments_ended_by(
        &self,
        id: &B256,
        offer: &PendingOffer,
        writes: &mut Vec<Write>,
    ) -> Vec<PaymentRow> {
        match offer.kind {
            OfferKind::Refund => {
                let hashlocks: Vec<B256> = offer.payment.into_iter().collect();
                self.payments
                    .ended(id, &hashlocks, PaymentStatus::Refunded, writes)
            }
            OfferKind::Settle => {
                let hashlocks: Vec<B256> = offer.secrets.iter().map(keccak256).collect();
                self.payments
                    .ended(id, &hashlocks, PaymentStatus::Settled, writes)
            }
            _ => Vec::new(),
        }
    }

    /// A payment by its hashlock: from memory while it is open, else from the database.
    pub(super) async fn payment_row(
        &self,
        hashlock: &B256,
    ) -> Result<Option<PaymentRow>, HubError> {
        Ok(match self.payments.get(hashlock) {
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
            ch.check_wallet(wallet)?;
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
        let (waiter, settle_offer, payer_active) = {
            let (mut payee, mut payer) = lock_with(&payee_slot, payer_slot.as_deref()).await;
            let offer = match &payee.offer {
                Some(o) if o.kind == OfferKind::Lock => o.clone(),
                _ if payee.revealed.contains_key(&hashlock) => return Ok(()),
                _ => return Err(HubError::InvalidRequest("no lock offered".into())),
            };
            let lock = offer.state.locks.last().filter(|l| l.hashlock == hashlock);
            let Some(lock) = lock else {
                return Err(HubError::WrongSecret);
            };
            // After its expiry the lock no longer pays the payee on the rollup, and the
            // hub may no longer be in time to collect from the payer: it is not paid.
            if self.head() > lock.expiry {
                return Err(HubError::InvalidRequest("the lock has expired".into()));
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
            let waiter = self.payments.take_waiter(&hashlock);
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
                self.payments.record(p);
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
            let payer_active = payer.as_deref().is_none_or(|p| p.phase == Phase::Active);
            (waiter, settle_offer, payer_active)
        };
        payee_slot.freed.notify_waiters();
        if !payer_active {
            // The payer's channel takes no settlement (disputed, closed, halted, unsynced):
            // only the rollup can pay its lock to the hub, and only if the secret is there
            // before the lock expires and the dispute concludes.
            if let Err(e) = self.reveal_on_rollup(hashlock, secret).await {
                // Retried by the enforcement of stalled payments, which covers disputes.
                warn!(payment = %hashlock, error = %e, "revealing the secret on the rollup failed");
            }
        }
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
            ch.check_wallet(wallet)?;
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
            super::expect_state(&expected, &update.state)?;
            self.verify_wallet(&payee.wallet, &update.state, &update.wallet_signature)?;
            let mut writes = super::wallet_signed_rows(
                &expected,
                Purpose::Reject,
                Some(hashlock),
                update.wallet_signature,
            );
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
                self.payments.record(p);
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
}

//! The hub's offers and acknowledgements: checking an offer against the state its kind
//! leads to, storing it before answering, revealing a lock's secret (or refusing the lock),
//! countersigning the rest, and waiting for the hub's answers to what the wallet sent.

use std::{sync::atomic::Ordering, time::Duration};

use tracing::warn;
use weft_protocol::{
    channel::{ChannelState, Lock, LockDirection},
    primitives::{B256, keccak256},
    signature::Signature,
};

use crate::{ClientError, Wallet, WalletWrite};
use weft_channel::{
    Ack, Offer, OfferKind, SignedUpdate, WalletMessage,
    transition::{self, Side},
};

impl Wallet {
    /// Answers the hub's outstanding offer on channel `id` (read from the hub), with the
    /// wallet's operation lock held by the caller.
    pub(super) async fn answer_outstanding_offer(&self, id: &B256) -> Result<(), ClientError> {
        let view = self.hub_view(id).await?;
        let Some(offer) = view.offer else {
            return Ok(());
        };
        if offer.kind == OfferKind::Lock {
            return self.on_lock_offer(offer).await;
        }
        self.countersign(id, &offer, Vec::new()).await
    }

    /// Accepts the hub's `offer` on channel `id` (committing `writes` with it) and sends the
    /// countersignature over REST.
    pub(super) async fn countersign(
        &self,
        id: &B256,
        offer: &Offer,
        writes: Vec<WalletWrite>,
    ) -> Result<(), ClientError> {
        let update = self.accept_offer_with(offer, writes).await?;
        let ack: Ack = self
            .post(&format!("/v1/channels/{id}/countersign"), &update)
            .await?;
        // The hub's signature is deterministic: the one already verified.
        if ack.hub_signature != offer.hub_signature {
            return Err(ClientError::BadHubSignature);
        }
        Ok(())
    }

    /// Checks an offer against the state its kind leads to from the latest one, stores it
    /// with both signatures and returns the countersignature to send.
    pub(super) async fn accept_offer(&self, offer: &Offer) -> Result<SignedUpdate, ClientError> {
        self.accept_offer_with(offer, Vec::new()).await
    }

    /// [`Self::accept_offer`], committing `writes` with the accepted state.
    pub(super) async fn accept_offer_with(
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

    pub(super) async fn on_offer(&self, offer: Offer) -> Result<(), ClientError> {
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
            return self.countersign(&id, &offer, Vec::new()).await;
        }
        self.on_lock_offer(offer).await
    }

    /// A lock to the wallet (with the operation lock held): check it, store it with the
    /// hub's signature before revealing anything, then answer: the secret if the wallet
    /// has the invoice (the state becomes the latest), else a signed refusal.
    pub(super) async fn on_lock_offer(&self, offer: Offer) -> Result<(), ClientError> {
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
    pub(super) async fn fulfil_lock(&self, offer: &Offer, secret: B256) -> Result<(), ClientError> {
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
    pub(super) fn fulfilment(&self, lock: &Lock) -> Option<B256> {
        let invoice = self.inner.invoices.lock().get(&lock.hashlock).copied();
        let head = self.inner.head.lock().1;
        invoice
            .filter(|(_, amount)| lock.amount >= *amount && lock.expiry > head)
            .map(|(s, _)| s)
    }

    /// Answers a stored lock offer: fulfils it if the wallet has the invoice (storing that
    /// it accepted the state first), rejects it with a signed refusal otherwise.
    pub(super) async fn answer_lock(&self, offer: &Offer, lock: &Lock) -> Result<(), ClientError> {
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

    pub(super) async fn answer_stored_offers(&self) {
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
    pub(super) async fn on_ack(&self, ack: Ack) -> Result<(), ClientError> {
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
    pub(super) async fn settle_sent(&self, id: &B256) -> Result<(), ClientError> {
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
}

/// The write of a hub offer: a lock the wallet accepts by revealing (`accepted`), or one it
/// holds unanswered.
pub(super) fn offer_write(offer: &Offer, accepted: bool) -> WalletWrite {
    WalletWrite::State {
        state: offer.state.clone(),
        wallet_signature: None,
        hub_signature: Some(offer.hub_signature),
        accepted,
    }
}

/// The write of a state with both signatures.
pub(super) fn co_signed_write(
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

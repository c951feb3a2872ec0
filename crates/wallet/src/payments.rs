//! Payments: to the hub directly, and routed to another wallet through the hub by
//! hashlock (on the socket when it is up, else over REST); invoices and proofs of payment.

use rand::RngCore;
use tokio::sync::oneshot;
use weft_protocol::{
    channel::{ChannelState, Lock, LockDirection},
    primitives::{Address, Amount, B256, keccak256},
};

use crate::{ClientError, ROUTE_ANSWER_TIMEOUT, Wallet, WalletWrite};
use weft_channel::{
    Ack, ErrorBody, RouteReply, RouteRequest, RouteStatus, SignedUpdate, WalletMessage,
    transition::{self, Side},
};

/// Where a payment sent on the socket hears its answer.
pub(super) type RouteWaiter = oneshot::Sender<Result<RouteReply, ErrorBody>>;

impl Wallet {
    /// Sends a state update the wallet starts (`pay`, `topup`) and stores the co-signed
    /// result.
    pub(super) async fn update(
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
        // Within the hub's bounds (a lock may not outlast a dispute of the channel); when
        // the extra blocks do not fit, halfway between them, so a hub whose watcher is a
        // few blocks behind the head still takes it.
        let max = self.inner.max_lock_blocks.max(min);
        let mut blocks = min + self.inner.config.lock_extra_blocks;
        if blocks > max {
            blocks = min + (max - min) / 2;
        }
        let lock = Lock {
            amount,
            hashlock,
            expiry: head + blocks,
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
                self.countersign(id, &offer, vec![locked]).await?;
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
    pub(super) async fn route(
        &self,
        id: &B256,
        req: &RouteRequest,
    ) -> Result<RouteReply, ClientError> {
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
    pub(super) fn on_routed(
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
    pub(super) fn record_paid(&self, id: &B256, hashlock: B256, secret: B256) {
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
}

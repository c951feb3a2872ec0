//! Updates of one channel: the wallet's own (`pay`, `topup`, `close`) checked against the
//! state the hub builds itself, the wallet's countersignature of the hub's offers, and
//! the hub's payments to the wallet. Also how a state becomes a channel's latest
//! ([`Hub::set_latest`]), which every other update goes through.

use std::time::Instant;

use tracing::info;
use weft_protocol::{
    channel::{ChannelState, ChannelStatus},
    primitives::{Amount, B256},
    signature::Signature,
    transaction::Transaction,
};

use super::{Channel, Hub, PendingOffer, Phase, Purpose, StoredStatus};
use crate::{error::HubError, store::Write};
use weft_channel::{
    Ack, CloseReply, HubMessage, Offer, OfferKind, SignedUpdate,
    transition::{self, Side},
};

impl Hub {
    /// Makes `state` (signed by the wallet) the channel's latest.
    pub(super) fn set_latest(
        &self,
        ch: &mut Channel,
        state: ChannelState,
        wallet_signature: Signature,
    ) {
        self.set_latest_signed(ch, state, Some(wallet_signature), None);
    }

    /// [`Self::set_latest`] with the signatures at hand: the hub's of an offer it made;
    /// `wallet_signature` is `None` for a lock the wallet accepted by revealing its secret.
    /// Forgets the secrets of locks the state no longer holds.
    pub(super) fn set_latest_signed(
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
                self.unsettled.remove(&ch.id);
            }
        }
        ch.latest = state;
        ch.wallet_signature = wallet_signature;
        ch.hub_signature = hub_signature;
        ch.updated = Instant::now();
    }

    /// Checks that the rollup holds what the latest state splits, re-reading the record if
    /// it does not (a deposit may have executed since).
    pub(super) async fn ensure_backed(&self, ch: &mut Channel) -> Result<(), HubError> {
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

    /// Checks a wallet's proposal against the state the hub builds, then commits and signs.
    async fn wallet_update(
        &self,
        id: &B256,
        update: SignedUpdate,
        purpose: Purpose,
        build: impl FnOnce(&ChannelState) -> Result<ChannelState, HubError>,
    ) -> Result<Ack, HubError> {
        let started = Instant::now();
        let slot = self.slot(id)?;
        let mut ch = slot.channel.lock().await;
        ch.ready_for_wallet_update(update.state.version)?;
        if purpose != Purpose::TopUp {
            self.ensure_backed(&mut ch).await?;
        }
        let expected = build(&ch.latest)?;
        super::expect_state(&expected, &update.state)?;
        self.verify_wallet(&ch.wallet, &update.state, &update.wallet_signature)?;
        self.commit(super::wallet_signed_rows(
            &expected,
            purpose,
            None,
            update.wallet_signature,
        ))
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
        self.wallet_update(id, update, Purpose::Pay, |latest| {
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
        self.wallet_update(id, update, Purpose::TopUp, |latest| {
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
            .wallet_update(id, update.clone(), Purpose::Close, |latest| {
                Ok(transition::finalize(latest)?)
            })
            .await?;
        let slot = self.slot(id)?;
        slot.channel.lock().await.phase = Phase::Closed;
        self.metrics.channels.dec();
        let transaction = if submit {
            let hash = self
                .settle_on_rollup(
                    id,
                    Transaction::ChannelClose,
                    update.state,
                    update.wallet_signature,
                    ack.hub_signature,
                )
                .await?;
            Some(hash)
        } else {
            None
        };
        self.commit_status(id, StoredStatus::Closed, "cooperative close".into())
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
            let mut ended = Vec::new();
            let finished = self.payments_ended_by(id, &offer, &mut ended);
            let ack = self
                .take_countersigned(&mut ch, &offer, &update, ended)
                .await?;
            (ack, finished)
        };
        self.payments.end(payer_done, None);
        slot.freed.notify_waiters();
        self.metrics
            .update_seconds
            .observe(started.elapsed().as_secs_f64());
        self.settle_deferred(id).await;
        Ok(ack)
    }

    /// Makes the hub's `offer`, countersigned by the wallet in `update`, the channel's
    /// latest: the signature is checked and committed first (with `writes`). Countersigning
    /// the hub's own offer proves the wallet holds it: an unsynced channel is synced.
    pub(super) async fn take_countersigned(
        &self,
        ch: &mut Channel,
        offer: &PendingOffer,
        update: &SignedUpdate,
        writes: Vec<Write>,
    ) -> Result<Ack, HubError> {
        super::expect_state(&offer.state, &update.state)?;
        self.verify_wallet(&ch.wallet, &update.state, &update.wallet_signature)?;
        let mut all = vec![Write::WalletSignature {
            channel_id: ch.id,
            version: offer.state.version,
            signature: update.wallet_signature,
        }];
        all.extend(writes);
        self.commit(all).await?;
        let hub_signature = offer.hub_signature;
        self.set_latest_signed(
            ch,
            offer.state.clone(),
            Some(update.wallet_signature),
            Some(hub_signature),
        );
        ch.offer = None;
        if ch.phase == Phase::Unsynced {
            ch.phase = Phase::Active;
        }
        Ok(Ack {
            channel_id: ch.id,
            version: offer.state.version,
            hub_signature,
        })
    }

    /// Pays `amount` from the hub to the wallet of channel `id`: offers the state on the
    /// wallet's WebSocket (the wallet countersigns it there).
    pub async fn pay_wallet(&self, id: &B256, amount: Amount) -> Result<Offer, HubError> {
        let slot = self.slot(id)?;
        let mut ch = slot.channel.lock().await;
        ch.ready_for_offer()?;
        self.ensure_backed(&mut ch).await?;
        let state = transition::pay(&ch.latest, Side::Hub, amount)?;
        self.commit(vec![Write::State {
            state: state.clone(),
            purpose: Purpose::Payment.as_str(),
            payment: None,
        }])
        .await?;
        let offer = self.offer(OfferKind::Payment, state, None, Vec::new());
        self.push(&ch.wallet, HubMessage::Offer(offer.wire()));
        let wire = offer.wire();
        ch.offer = Some(offer);
        Ok(wire)
    }
}

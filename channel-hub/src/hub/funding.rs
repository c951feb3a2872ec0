//! Registration and funding: a wallet registers the channel it opened on the rollup, the
//! hub offers its own deposit by its [`crate::config::FundingPolicy`], and deposits once
//! the wallet countersigned the offer. Owns the funding reservations (the hub's deposits
//! offered but not yet made), so two offers never promise the same balance.

use std::{collections::HashMap, time::Instant};

use parking_lot::Mutex;
use tracing::info;
use weft_protocol::{
    channel::{ChannelState, ChannelStatus},
    primitives::{Amount, B256, TokenId},
    signature::Signature,
    transaction::{ChannelDeposit, Transaction},
};

use super::{Channel, Hub, PendingOffer, Phase, Purpose};
use crate::{error::HubError, store::Write};
use weft_channel::{
    Ack, OfferKind, RegisterReply, SignedUpdate,
    transition::{self, Side},
};

/// Funding offered but not yet deposited, per channel: `(token, amount)`. An entry lives
/// exactly as long as the channel's funding offer can still lead to a deposit. A leaf
/// lock: never held across an await or while taking another lock.
#[derive(Debug, Default)]
pub(super) struct Reservations {
    reserved: Mutex<HashMap<B256, (TokenId, Amount)>>,
}

impl Reservations {
    /// Reserves up to what `deposit_for` grants out of `balance` less what other offers
    /// hold in `token` (and `fee`); returns the deposit, reserved if positive.
    fn reserve(
        &self,
        id: &B256,
        token: TokenId,
        balance: Amount,
        fee: Amount,
        deposit_for: impl FnOnce(Amount) -> Amount,
    ) -> Amount {
        let mut reserved = self.reserved.lock();
        let held = held_in(&reserved, token);
        let deposit = deposit_for(balance.saturating_sub(held).saturating_sub(fee));
        if deposit > 0 {
            reserved.insert(*id, (token, deposit));
        }
        deposit
    }

    /// Keeps `amount` reserved for channel `id` (a funding offer loaded at start).
    pub(super) fn hold(&self, id: B256, token: TokenId, amount: Amount) {
        self.reserved.lock().insert(id, (token, amount));
    }

    /// Releases channel `id`'s reservation, if it holds one (idempotent).
    pub(super) fn release(&self, id: &B256) {
        self.reserved.lock().remove(id);
    }

    /// What is reserved in `token`.
    fn held(&self, token: TokenId) -> Amount {
        held_in(&self.reserved.lock(), token)
    }
}

fn held_in(reserved: &HashMap<B256, (TokenId, Amount)>, token: TokenId) -> Amount {
    reserved
        .values()
        .filter(|(t, _)| *t == token)
        .map(|(_, a)| *a)
        .sum()
}

impl Hub {
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
        super::expect_state(&expected, &update.state)?;
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
        let mut writes = vec![Write::Channel {
            id,
            wallet,
            token: record.token,
            registered_at: weft_channel::now_secs(),
        }];
        writes.extend(super::wallet_signed_rows(
            &expected,
            Purpose::Open,
            None,
            update.wallet_signature,
        ));
        if let Some(f) = &funding {
            writes.push(Write::State {
                state: f.clone(),
                purpose: Purpose::Funding.as_str(),
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
        let policy = &self.config.funding;
        Ok(self
            .funding
            .reserve(id, token, balance, self.config.fee, |available| {
                policy.deposit_for(wallet_side, available)
            }))
    }

    /// Releases channel `id`'s reservation, if it holds one (idempotent): its deposit was
    /// made, or its funding offer can no longer lead to one.
    pub(super) fn release_funding(&self, id: &B256) {
        self.funding.release(id);
    }

    /// What the hub holds reserved for funding offers not yet deposited, in `token`.
    pub fn reserved_funding(&self, token: TokenId) -> Amount {
        self.funding.held(token)
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
            // The offer was built on the latest state, which cannot change under it.
            let deposit = offer.state.balance_hub - ch.latest.balance_hub;
            let ack = self
                .take_countersigned(&mut ch, &offer, &update, Vec::new())
                .await?;
            (ack, deposit)
        };
        slot.freed.notify_waiters();
        let result = self
            .deposit(id, deposit, &update.state, &update.wallet_signature)
            .await;
        self.release_funding(id);
        let block = result?;
        let mut ch = slot.channel.lock().await;
        ch.rollup_total = ch.rollup_total.max(ch.latest.total().unwrap_or(0));
        info!(channel = %id, deposit, block, "hub side funded");
        Ok(ack)
    }

    /// Sends the hub's `ChannelDeposit` with the countersigned funding state (the state
    /// after the deposit, which the rollup requires) and waits for it to execute.
    async fn deposit(
        &self,
        id: &B256,
        amount: Amount,
        state: &ChannelState,
        wallet_signature: &Signature,
    ) -> Result<u64, HubError> {
        let fee = self.config.fee;
        let from = self.address;
        let channel_id = *id;
        let state = state.clone();
        let hub_signature = self.sign(&state).to_bytes().to_vec().into();
        let wallet_signature = wallet_signature.to_bytes().to_vec().into();
        let hash = self
            .send_transaction(Some(*id), move |nonce| {
                Transaction::ChannelDeposit(ChannelDeposit {
                    from,
                    channel_id,
                    amount,
                    state,
                    wallet_signature,
                    hub_signature,
                    fee,
                    nonce,
                })
            })
            .await?;
        self.wait_transaction(&hash).await
    }
}

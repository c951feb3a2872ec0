//! The wallet's channels: [`WalletChannel`], opening one on the rollup and registering it
//! with the hub (accepting the hub's funding), topping up, closing cooperatively, and the
//! channel's stored status.

use std::collections::HashMap;

use weft_protocol::{
    channel::ChannelState,
    primitives::{Amount, B256, TokenId},
    signature::Signature,
    transaction::{ChannelDeposit, ChannelOpen, Transaction},
};

use crate::{ClientError, DEFAULT_ROLLUP_TIMEOUT, Wallet, WalletWrite, on_rollup::Settle};
use weft_channel::{
    Ack, CloseReply, CloseRequest, Offer, RegisterReply, SignedUpdate,
    transition::{self, Side},
};

/// One of the wallet's channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletChannel {
    /// Its id.
    pub id: B256,
    /// The token.
    pub token: TokenId,
    /// The latest state both sides hold: co-signed, or a lock offer the wallet accepted by
    /// revealing the lock's secret.
    pub latest: ChannelState,
    /// The wallet's signature of it (none for a lock it accepted by revealing; the wallet
    /// signs it when it must present it).
    pub wallet_signature: Option<Signature>,
    /// The hub's signature of it (none for one of the wallet's payments, which the hub
    /// accepts without signing: they only give the hub value).
    pub hub_signature: Option<Signature>,
    /// Secrets the hub revealed for the wallet's locks to it in `latest` (proofs of
    /// payment): the wallet's next lock pays those locks to the hub.
    pub paid: HashMap<B256, B256>,
    /// A newer state the hub signed that the wallet has not answered (stored).
    pub offer: Option<Offer>,
    /// `active`, `closed`, `disputed`.
    pub status: String,
}

impl Wallet {
    /// Opens a channel with the hub on the rollup, locking `amount` of `token`, registers
    /// it with the hub and accepts the hub's funding offer. Returns the channel id.
    pub async fn open_channel(&self, token: TokenId, amount: Amount) -> Result<B256, ClientError> {
        let (from, hub, fee) = (self.inner.address, self.inner.hub, self.inner.config.fee);
        let (_, signed) = self
            .submit_and_wait(|nonce| {
                Transaction::ChannelOpen(ChannelOpen {
                    from,
                    hub,
                    token,
                    amount,
                    fee,
                    nonce,
                })
            })
            .await?;
        let Transaction::ChannelOpen(open) = &signed.transaction else {
            unreachable!("built above")
        };
        let id = weft_protocol::channel::channel_id(&from, &hub, open.nonce);
        self.register(id).await?;
        Ok(id)
    }

    /// Registers a channel the wallet opened on the rollup and accepts the hub's funding.
    pub async fn register(&self, id: B256) -> Result<(), ClientError> {
        let remote = self
            .inner
            .rollup
            .channel(&id)
            .await?
            .ok_or(ClientError::UnknownChannel(id))?;
        let opening = ChannelState {
            channel_id: id,
            version: 1,
            balance_wallet: remote.record.wallet_side,
            balance_hub: remote.record.hub_side,
            locks: vec![],
            is_final: false,
        };
        let wallet_signature = self.sign(&opening);
        self.inner
            .store
            .commit(vec![
                WalletWrite::Channel {
                    id,
                    wallet: self.inner.address,
                    hub: self.inner.hub,
                    token: remote.record.token,
                },
                WalletWrite::State {
                    state: opening.clone(),
                    wallet_signature: Some(wallet_signature),
                    hub_signature: None,
                    accepted: false,
                },
            ])
            .await?;
        let reply: RegisterReply = self
            .post(
                "/v1/channels",
                &SignedUpdate {
                    state: opening.clone(),
                    wallet_signature,
                },
            )
            .await?;
        self.check_hub(&opening, &reply.hub_signature)?;
        self.inner.channels.lock().insert(
            id,
            WalletChannel {
                id,
                token: remote.record.token,
                latest: opening.clone(),
                wallet_signature: Some(wallet_signature),
                hub_signature: Some(reply.hub_signature),
                paid: HashMap::new(),
                offer: None,
                status: "active".into(),
            },
        );
        self.store_co_signed(opening, wallet_signature, reply.hub_signature)
            .await?;
        if let Some(offer) = reply.funding {
            let _op = self.op_lock(&id).lock_owned().await;
            let update = self.accept_offer(&offer).await?;
            let ack: Ack = self
                .post(&format!("/v1/channels/{id}/fund"), &update)
                .await?;
            self.check_hub(&update.state, &ack.hub_signature)?;
        }
        Ok(())
    }

    /// Adds `amount` to the wallet's side: the hub co-signs the larger state first, then the
    /// wallet deposits on the rollup with that co-signed state (the rollup takes no deposit
    /// without it).
    pub async fn top_up(&self, id: &B256, amount: Amount) -> Result<(), ClientError> {
        let _op = self.op_lock(id).lock_owned().await;
        self.settle_sent(id).await?;
        let state = transition::deposit(&self.latest(id)?.latest, Side::Wallet, amount)?;
        let ack = self.update(id, "topup", state.clone()).await?;
        let wallet_signature = self.sign(&state);
        let hub_signature = ack.hub_signature;
        let (from, fee, channel_id) = (self.inner.address, self.inner.config.fee, *id);
        self.submit_and_wait(|nonce| {
            Transaction::ChannelDeposit(ChannelDeposit {
                from,
                channel_id,
                amount,
                state,
                wallet_signature: wallet_signature.to_bytes().to_vec().into(),
                hub_signature: hub_signature.to_bytes().to_vec().into(),
                fee,
                nonce,
            })
        })
        .await?;
        Ok(())
    }

    /// Closes the channel cooperatively: the hub co-signs the final state; it submits the
    /// close itself if `hub_submits`, otherwise the wallet does. Returns the close
    /// transaction's hash.
    pub async fn close_channel(&self, id: &B256, hub_submits: bool) -> Result<B256, ClientError> {
        let _op = self.op_lock(id).lock_owned().await;
        self.settle_sent(id).await?;
        let state = transition::finalize(&self.latest(id)?.latest)?;
        let wallet_signature = self.sign(&state);
        self.inner
            .store
            .commit(vec![
                WalletWrite::State {
                    state: state.clone(),
                    wallet_signature: Some(wallet_signature),
                    hub_signature: None,
                    accepted: false,
                },
                WalletWrite::Status {
                    id: *id,
                    status: "closing",
                },
            ])
            .await?;
        let reply: CloseReply = self
            .post(
                &format!("/v1/channels/{id}/close"),
                &CloseRequest {
                    state: state.clone(),
                    wallet_signature,
                    submit: hub_submits,
                },
            )
            .await?;
        self.check_hub(&state, &reply.hub_signature)?;
        self.store_co_signed(state.clone(), wallet_signature, reply.hub_signature)
            .await?;
        let hash = match reply.transaction {
            Some(hash) => hash,
            None => {
                let hash = self
                    .submit_settle(&state, wallet_signature, reply.hub_signature, Settle::Close)
                    .await?;
                self.inner
                    .rollup
                    .wait_executed(&hash, DEFAULT_ROLLUP_TIMEOUT)
                    .await?;
                hash
            }
        };
        self.set_status(id, "closed").await?;
        Ok(hash)
    }

    pub(super) async fn set_status(
        &self,
        id: &B256,
        status: &'static str,
    ) -> Result<(), ClientError> {
        self.inner
            .store
            .commit(vec![WalletWrite::Status { id: *id, status }])
            .await?;
        if let Some(c) = self.inner.channels.lock().get_mut(id) {
            c.status = status.into();
        }
        Ok(())
    }
}

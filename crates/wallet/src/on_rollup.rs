//! What the wallet does on the rollup itself: submitting a co-signed state (close,
//! register, refute), revealing a secret, concluding a dispute, and choosing the co-signed
//! state to present.

use weft_protocol::{
    channel::ChannelState,
    primitives::{B256, Nonce},
    signature::Signature,
    transaction::{ChannelConclude, ChannelSettle, RevealSecret, SignedTransaction, Transaction},
};

use crate::{ClientError, DEFAULT_ROLLUP_TIMEOUT, Wallet};

impl Wallet {
    /// Signs the wallet's rollup transaction at its next nonce, submits it and waits for
    /// it to execute.
    pub(super) async fn submit_and_wait(
        &self,
        build: impl FnOnce(Nonce) -> Transaction,
    ) -> Result<(B256, SignedTransaction), ClientError> {
        let (hash, signed) = self
            .inner
            .rollup
            .sign_and_submit(&self.inner.config.key, &self.inner.domain, build)
            .await?;
        self.inner
            .rollup
            .wait_executed(&hash, DEFAULT_ROLLUP_TIMEOUT)
            .await?;
        Ok((hash, signed))
    }

    /// Submits a co-signed state on the rollup (close, register or refute).
    pub(super) async fn submit_settle(
        &self,
        state: &ChannelState,
        wallet_signature: Signature,
        hub_signature: Signature,
        kind: Settle,
    ) -> Result<B256, ClientError> {
        let body = ChannelSettle {
            from: self.inner.address,
            state: state.clone(),
            wallet_signature: wallet_signature.to_bytes().to_vec().into(),
            hub_signature: hub_signature.to_bytes().to_vec().into(),
            fee: self.inner.config.fee,
            nonce: 0,
        };
        let (hash, _) = self
            .inner
            .rollup
            .sign_and_submit(&self.inner.config.key, &self.inner.domain, |nonce| {
                let body = ChannelSettle { nonce, ..body };
                match kind {
                    Settle::Close => Transaction::ChannelClose(body),
                    Settle::Register => Transaction::ChannelRegister(body),
                    Settle::Refute => Transaction::ChannelRefute(body),
                }
            })
            .await?;
        Ok(hash)
    }

    /// Starts a dispute on the rollup with the co-signed state of `version` (default: the
    /// latest). Registering anything but the latest is what a cheating wallet does; the
    /// hub refutes it. Returns the transaction's hash once executed.
    pub async fn register_on_rollup(
        &self,
        id: &B256,
        version: Option<u64>,
    ) -> Result<B256, ClientError> {
        let (state, ws, hs) = self.co_signed_at(id, version).await?;
        let hash = self.submit_settle(&state, ws, hs, Settle::Register).await?;
        self.inner
            .rollup
            .wait_executed(&hash, DEFAULT_ROLLUP_TIMEOUT)
            .await?;
        self.set_status(id, "disputed").await?;
        Ok(hash)
    }

    /// Reveals the secret of the wallet's invoice `hashlock` on the rollup, so a lock to the
    /// wallet pays it when its channel is concluded (what a payee does when the hub stops
    /// answering). Returns the transaction's hash once executed.
    pub async fn reveal_on_rollup(&self, hashlock: &B256) -> Result<B256, ClientError> {
        let secret = self
            .inner
            .invoices
            .lock()
            .get(hashlock)
            .map(|&(secret, _)| secret)
            .ok_or(ClientError::UnknownInvoice(*hashlock))?;
        let (from, fee) = (self.inner.address, self.inner.config.fee);
        let (hash, _) = self
            .submit_and_wait(|nonce| {
                Transaction::RevealSecret(RevealSecret {
                    from,
                    secret,
                    fee,
                    nonce,
                })
            })
            .await?;
        Ok(hash)
    }

    /// Concludes a dispute of channel `id` on the rollup (after its deadline: the
    /// registration's block plus [`Self::dispute_window`]). Returns the transaction's hash
    /// once executed.
    pub async fn conclude_on_rollup(&self, id: &B256) -> Result<B256, ClientError> {
        let (from, fee, channel_id) = (self.inner.address, self.inner.config.fee, *id);
        let (hash, _) = self
            .submit_and_wait(|nonce| {
                Transaction::ChannelConclude(ChannelConclude {
                    from,
                    channel_id,
                    fee,
                    nonce,
                })
            })
            .await?;
        self.set_status(id, "closed").await?;
        Ok(hash)
    }

    pub(super) async fn co_signed_at(
        &self,
        id: &B256,
        version: Option<u64>,
    ) -> Result<(ChannelState, Signature, Signature), ClientError> {
        let channel = self.latest(id)?;
        if version.is_none()
            && let Some(hub_signature) = channel.hub_signature
        {
            return Ok((
                channel.latest.clone(),
                self.own_signature(&channel.latest, channel.wallet_signature),
                hub_signature,
            ));
        }
        // The newest (or the asked) agreed state the hub signed: the wallet's own payments
        // since only gave the hub value, so it is the best the wallet can present.
        self.inner
            .store
            .states(id)
            .await?
            .into_iter()
            .rev()
            .filter(|w| w.is_agreed() && version.is_none_or(|v| w.state.version == v))
            .find_map(|w| {
                let hub_signature = w.hub_signature?;
                let wallet_signature = self.own_signature(&w.state, w.wallet_signature);
                Some((w.state, wallet_signature, hub_signature))
            })
            .ok_or_else(|| {
                ClientError::BadOffer(format!("no co-signed state at version {version:?}"))
            })
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Settle {
    Close,
    Register,
    Refute,
}

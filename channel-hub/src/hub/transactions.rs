//! The hub's own rollup transactions (deposits, closes, registrations, refutations,
//! conclusions, revealed secrets): each is signed at the hub's next nonce, stored, and only
//! then submitted, so a restart resends what it may have lost ([`Hub::resend_pending`]).
//! Owns the lock that serializes them (their nonces).

use tracing::warn;
use weft_protocol::{
    channel::ChannelState,
    codec::{Decode, Encode},
    primitives::{B256, Nonce},
    signature::Signature,
    transaction::{ChannelSettle, RevealSecret, SignedTransaction, Transaction},
};

use super::Hub;
use crate::{
    error::HubError,
    store::{RollupTxRow, Write},
};

/// Serializes the hub's rollup transactions: held from reading the next nonce until the
/// transaction is stored and submitted. Taken after a channel's lock, never before one.
#[derive(Debug, Default)]
pub(super) struct Nonces {
    serial: tokio::sync::Mutex<()>,
}

/// The `rollup_transactions.status` of one that executed.
const EXECUTED: &str = "executed";
/// The `rollup_transactions.status` of one that failed or was refused.
const FAILED: &str = "failed";

impl Hub {
    /// Signs the hub's rollup transaction at its next nonce, stores it, then submits it.
    pub async fn send_transaction(
        &self,
        channel: Option<B256>,
        build: impl FnOnce(Nonce) -> Transaction,
    ) -> Result<B256, HubError> {
        let _serial = self.nonces.serial.lock().await;
        let nonce = self.rollup.account(&self.address).await?.next_nonce;
        let signed = build(nonce).sign(&self.key, &self.domain);
        let hash = signed.transaction.hash(&self.domain);
        self.commit(vec![Write::RollupTransaction(RollupTxRow {
            hash,
            nonce,
            kind: signed.transaction.kind(),
            channel_id: channel,
            encoded: signed.transaction.to_bytes(),
            signature: signed.signature,
        })])
        .await?;
        self.rollup.submit(&signed).await?;
        tracing::debug!(tx = %hash, kind = signed.transaction.kind(), nonce, "hub transaction sent");
        Ok(hash)
    }

    /// Waits for one of the hub's transactions and records how it ended.
    pub async fn wait_transaction(&self, hash: &B256) -> Result<u64, HubError> {
        let result = self
            .rollup
            .wait_executed(hash, self.config.rollup_timeout)
            .await;
        let status = match &result {
            Ok(_) => EXECUTED,
            Err(weft_api::ClientError::Failed { .. }) => FAILED,
            Err(_) => return Ok(result?),
        };
        self.commit(vec![Write::RollupTransactionStatus {
            hash: *hash,
            status,
        }])
        .await?;
        Ok(result?)
    }

    /// Resubmits the hub's stored transactions that were never seen executed (a restart
    /// between storing and sending); resubmission of a known transaction is idempotent.
    pub async fn resend_pending(&self) -> Result<(), HubError> {
        for (hash, encoded, signature) in self.store.pending_rollup_transactions().await? {
            let Ok(transaction) = Transaction::from_bytes(&encoded) else {
                continue;
            };
            let signed = SignedTransaction {
                transaction,
                signature,
            };
            match self.rollup.submit(&signed).await {
                Ok(_) => {
                    if let Err(e) = self.wait_transaction(&hash).await {
                        warn!(tx = %hash, error = %e, "resent transaction did not execute");
                    }
                }
                Err(e) => {
                    warn!(tx = %hash, error = %e, "stored transaction refused on resend");
                    self.commit(vec![Write::RollupTransactionStatus {
                        hash,
                        status: FAILED,
                    }])
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// Submits a co-signed state of channel `id` to the rollup as `kind` (a close, a
    /// registration or a refutation) and waits for it to execute.
    pub(super) async fn settle_on_rollup(
        &self,
        id: &B256,
        kind: fn(ChannelSettle) -> Transaction,
        state: ChannelState,
        wallet_signature: Signature,
        hub_signature: Signature,
    ) -> Result<B256, HubError> {
        let settle = ChannelSettle {
            from: self.address,
            state,
            wallet_signature: wallet_signature.to_bytes().to_vec().into(),
            hub_signature: hub_signature.to_bytes().to_vec().into(),
            fee: self.config.fee,
            nonce: 0,
        };
        let hash = self
            .send_transaction(Some(*id), move |nonce| {
                kind(ChannelSettle { nonce, ..settle })
            })
            .await?;
        self.wait_transaction(&hash).await?;
        Ok(hash)
    }

    /// Sends a `RevealSecret` of `secret` at the hub's fee (a rollup with a minimum fee
    /// refuses less); the caller waits for it.
    pub(super) async fn send_reveal(&self, secret: B256) -> Result<B256, HubError> {
        let (from, fee) = (self.address, self.config.fee);
        self.send_transaction(None, move |nonce| {
            Transaction::RevealSecret(RevealSecret {
                from,
                secret,
                fee,
                nonce,
            })
        })
        .await
    }
}

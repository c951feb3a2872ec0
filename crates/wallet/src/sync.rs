//! Sync with the hub: the wallet's latest state (with the secrets it knows) for a hub that
//! restarted, adopting the hub's newer view, and the hub's view of a channel (a signed
//! read).

use weft_protocol::{eip712::Eip712, primitives::B256};

use crate::{ClientError, Wallet};
use weft_channel::{
    ChannelView, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_WALLET, HeldState, HubRequest,
    SyncReply, SyncRequest, WalletMessage, now_secs,
};

impl Wallet {
    /// Sends the wallet's latest state of a channel (for a hub that restarted).
    pub(super) async fn send_sync(&self, id: &B256) -> Result<(), ClientError> {
        self.send(WalletMessage::Sync(self.sync_request(id).await?));
        Ok(())
    }

    /// The wallet's latest state (signed by it), or the offer it has not answered, with
    /// the secrets it knows; a latest state the hub accepted without signing comes with the
    /// newest state the hub signed below it.
    pub(super) async fn sync_request(&self, id: &B256) -> Result<SyncRequest, ClientError> {
        let c = self.latest(id)?;
        if let Some(o) = &c.offer {
            return Ok(SyncRequest {
                secrets: self.known_secrets(&o.state),
                state: o.state.clone(),
                wallet_signature: None,
                hub_signature: Some(o.hub_signature),
                base: None,
            });
        }
        let base = match c.hub_signature {
            Some(_) => None,
            None => {
                let (state, wallet_signature, hub_signature) = self.co_signed_at(id, None).await?;
                Some(Box::new(HeldState {
                    state,
                    wallet_signature: Some(wallet_signature),
                    hub_signature,
                }))
            }
        };
        Ok(SyncRequest {
            secrets: self.known_secrets(&c.latest),
            wallet_signature: Some(self.own_signature(&c.latest, c.wallet_signature)),
            state: c.latest.clone(),
            hub_signature: c.hub_signature,
            base,
        })
    }

    /// Syncs a channel over REST (after a `sync_required` answer).
    pub async fn sync(&self, id: &B256) -> Result<(), ClientError> {
        let req = self.sync_request(id).await?;
        let reply: SyncReply = self.post(&format!("/v1/channels/{id}/sync"), &req).await?;
        self.adopt(reply).await
    }

    /// Adopts the hub's view after a sync where it is newer (both signatures checked).
    pub(super) async fn adopt(&self, reply: SyncReply) -> Result<(), ClientError> {
        let latest = reply.latest;
        let id = latest.state.channel_id;
        let ours = self.latest(&id)?;
        if latest.state.version > ours.latest.version {
            self.check_hub(&latest.state, &latest.hub_signature)?;
            // Only a state the wallet signed itself: a newer one signed by the hub alone
            // cannot be checked against anything the wallet holds.
            let signed = latest.wallet_signature.filter(|s| {
                s.recover(&latest.state.signing_hash(&self.inner.domain))
                    .ok()
                    == Some(self.inner.address)
            });
            let Some(wallet_signature) = signed else {
                return Err(ClientError::BadOffer(
                    "a sync with a state the wallet did not sign".into(),
                ));
            };
            self.store_co_signed(latest.state, wallet_signature, latest.hub_signature)
                .await?;
        }
        if let Some(offer) = reply.offer {
            Box::pin(self.on_offer(offer)).await?;
        }
        Ok(())
    }

    /// The channel as the hub shows it (a signed read).
    pub async fn hub_view(&self, id: &B256) -> Result<ChannelView, ClientError> {
        let path = format!("/v1/channels/{id}");
        let timestamp = now_secs();
        let signature = HubRequest {
            wallet: self.inner.address,
            method: "GET",
            path: &path,
            timestamp,
        }
        .sign(&self.inner.config.key, &self.inner.domain);
        let r = self
            .inner
            .http
            .get(format!("{}{path}", self.inner.config.hub_url))
            .header(HEADER_WALLET, self.inner.address.to_string())
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_SIGNATURE, signature.to_string())
            .send()
            .await?;
        if r.status().is_success() {
            Ok(r.json().await?)
        } else {
            Err(ClientError::Hub(Box::new(r.json().await?)))
        }
    }
}

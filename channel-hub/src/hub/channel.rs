//! The channel model: one [`Channel`] as the hub holds it, its [`Phase`], the offer it may
//! have outstanding, the [`Slot`] (async mutex) it lives in, and the [`Channels`] registry
//! that owns the slots and the index by wallet. Also the vocabularies of the `channels.status`
//! and `states.purpose` columns ([`StoredStatus`], [`Purpose`]), which refuse values they do
//! not know: a row with one is corrupt, never read as a default.

use std::{collections::HashMap, sync::Arc, time::Instant};

use parking_lot::RwLock;
use tokio::sync::{Mutex, MutexGuard, Notify};
use weft_protocol::{
    channel::{ChannelState, LockDirection},
    primitives::{Address, Amount, B256, TokenId},
    signature::Signature,
};

use crate::{error::HubError, store::StoreError};
use weft_channel::{ChannelView, HeldState, Offer, OfferKind, transition::MAX_VERSION};

/// Where a channel stands for the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Takes updates.
    Active,
    /// The hub restarted and has not yet learned the wallet's latest state.
    Unsynced,
    /// Registered on the rollup: no more updates.
    Disputed,
    /// Closed on the rollup (or closing cooperatively).
    Closed,
    /// The wallet presented a state contradicting the hub's history: no more signatures.
    Halted,
}

impl Phase {
    /// The name the API shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Unsynced => "unsynced",
            Self::Disputed => "disputed",
            Self::Closed => "closed",
            Self::Halted => "halted",
        }
    }

    /// The phase a channel loaded with `status` starts in: an active one is unsynced until
    /// its wallet confirms its latest state.
    pub(super) fn on_load(status: StoredStatus) -> Self {
        match status {
            StoredStatus::Active => Self::Unsynced,
            StoredStatus::Disputed => Self::Disputed,
            StoredStatus::Closed => Self::Closed,
            StoredStatus::Halted => Self::Halted,
        }
    }
}

/// A channel's `status` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredStatus {
    /// Registered and taking updates.
    Active,
    /// Halted by the hub (a contradicting state).
    Halted,
    /// Registered on the rollup.
    Disputed,
    /// Closed, cooperatively or on the rollup.
    Closed,
}

impl StoredStatus {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Halted => "halted",
            Self::Disputed => "disputed",
            Self::Closed => "closed",
        }
    }

    /// The status of channel `id`'s row; a value the hub never writes is a corrupt row.
    pub fn parse(id: &B256, s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "active" => Self::Active,
            "halted" => Self::Halted,
            "disputed" => Self::Disputed,
            "closed" => Self::Closed,
            _ => return Err(corrupt("channels", id, "status", s)),
        })
    }
}

/// What a stored state did: the `states.purpose` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The opening state (version 1).
    Open,
    /// The hub's funding offer.
    Funding,
    /// The wallet's announced deposit.
    TopUp,
    /// The wallet paid the hub.
    Pay,
    /// The final state of a cooperative close.
    Close,
    /// The payer's lock of a routed payment.
    Route,
    /// The hub's lock to a payee.
    Lock,
    /// The payee's refusal of a lock.
    Reject,
    /// The payer's lock returned.
    Refund,
    /// Revealed locks paid to their receivers.
    Settle,
    /// The hub paid the wallet.
    Payment,
    /// A state adopted from the wallet after the hub lost it.
    Sync,
}

impl Purpose {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Funding => "funding",
            Self::TopUp => "topup",
            Self::Pay => "pay",
            Self::Close => "close",
            Self::Route => "route",
            Self::Lock => "lock",
            Self::Reject => "reject",
            Self::Refund => "refund",
            Self::Settle => "settle",
            Self::Payment => "payment",
            Self::Sync => "sync",
        }
    }

    /// The purpose of a state row of channel `id`; a value the hub never writes is a
    /// corrupt row.
    pub fn parse(id: &B256, s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "open" => Self::Open,
            "funding" => Self::Funding,
            "topup" => Self::TopUp,
            "pay" => Self::Pay,
            "close" => Self::Close,
            "route" => Self::Route,
            "lock" => Self::Lock,
            "reject" => Self::Reject,
            "refund" => Self::Refund,
            "settle" => Self::Settle,
            "payment" => Self::Payment,
            "sync" => Self::Sync,
            _ => return Err(corrupt("states", id, "purpose", s)),
        })
    }

    /// The kind of the offer a stored state of this purpose is, when the wallet has not
    /// answered it (a state adopted by sync is offered as a payment).
    pub(super) fn offer_kind(self) -> OfferKind {
        match self {
            Self::Funding => OfferKind::Funding,
            Self::Lock => OfferKind::Lock,
            Self::Settle => OfferKind::Settle,
            Self::Refund => OfferKind::Refund,
            _ => OfferKind::Payment,
        }
    }
}

fn corrupt(table: &'static str, id: &B256, column: &str, value: &str) -> StoreError {
    StoreError::Corrupt {
        table,
        key: id.to_string(),
        reason: format!("{column}: unknown value {value:?}"),
    }
}

/// A state the hub signed and offered, awaiting the wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingOffer {
    /// Why.
    pub kind: OfferKind,
    /// The state.
    pub state: ChannelState,
    /// The hub's signature.
    pub hub_signature: Signature,
    /// The routed payment it belongs to (a lock or a refund).
    pub payment: Option<B256>,
    /// For a settle offer, the preimages of the locks it pays.
    pub secrets: Vec<B256>,
}

impl PendingOffer {
    /// The offer as the wallet receives it.
    pub(super) fn wire(&self) -> Offer {
        Offer {
            kind: self.kind,
            state: self.state.clone(),
            hub_signature: self.hub_signature,
            secrets: self.secrets.clone(),
        }
    }
}

/// One channel as the hub holds it.
#[derive(Debug)]
pub struct Channel {
    /// Its id.
    pub id: B256,
    /// The wallet.
    pub wallet: Address,
    /// The token.
    pub token: TokenId,
    /// What the rollup holds for it, as last read.
    pub rollup_total: Amount,
    /// The latest state both sides hold: co-signed, or a lock offer the wallet accepted by
    /// revealing the lock's secret (signed by the hub only).
    pub latest: ChannelState,
    /// The wallet's signature of `latest`, if it signed it.
    pub wallet_signature: Option<Signature>,
    /// The hub's signature of `latest`, when it came for free (an offer the hub made); the
    /// hub does not sign what a wallet gives away (its payments), and computes the
    /// signature when it has to show one ([`super::Hub::hub_signature`]).
    pub hub_signature: Option<Signature>,
    /// Preimages the hub knows of locks in `latest`, by hashlock: those locks pay their
    /// receivers, and the next update may settle them.
    pub revealed: HashMap<B256, B256>,
    /// A newer state the hub signed, awaiting the wallet.
    pub offer: Option<PendingOffer>,
    /// Where it stands.
    pub phase: Phase,
    /// When `latest` last changed (idle channels get their revealed locks settled).
    pub updated: Instant,
}

impl Channel {
    /// The highest version the hub has signed.
    pub fn highest_version(&self) -> u64 {
        self.offer
            .as_ref()
            .map_or(self.latest.version, |o| o.state.version)
    }

    /// Hashlocks of the locks in `latest` to the wallet whose secrets are known: the hub
    /// may pay them to the wallet in any state it signs next.
    pub(super) fn settleable_to_wallet(&self) -> Vec<B256> {
        self.latest
            .locks
            .iter()
            .filter(|l| {
                l.direction == LockDirection::HubToWallet && self.revealed.contains_key(&l.hashlock)
            })
            .map(|l| l.hashlock)
            .collect()
    }

    pub(super) fn view(&self, held: HeldState) -> ChannelView {
        ChannelView {
            id: self.id,
            wallet: self.wallet,
            token: self.token,
            status: self.phase.as_str().into(),
            rollup_total: self.rollup_total,
            latest: held,
            offer: self.offer.as_ref().map(PendingOffer::wire),
        }
    }

    /// Refuses updates unless the channel is active and has no offer outstanding.
    pub(super) fn ready_for_wallet_update(&self, proposed: u64) -> Result<(), HubError> {
        self.ready_for_offer()?;
        if proposed > MAX_VERSION {
            return Err(HubError::VersionTooHigh(proposed));
        }
        let hub = self.highest_version();
        if proposed <= hub {
            return Err(HubError::StaleVersion { proposed, hub });
        }
        if proposed > hub.saturating_add(1) {
            // The wallet holds newer states than the hub: the hub's database is behind.
            return Err(HubError::SyncRequired { hub });
        }
        Ok(())
    }

    /// Refuses a new state unless the channel is active and has no offer outstanding.
    pub(super) fn ready_for_offer(&self) -> Result<(), HubError> {
        self.check_phase()?;
        match &self.offer {
            Some(o) => Err(HubError::OfferPending {
                version: o.state.version,
            }),
            None => Ok(()),
        }
    }

    pub(super) fn check_phase(&self) -> Result<(), HubError> {
        match self.phase {
            Phase::Active => Ok(()),
            Phase::Unsynced => Err(HubError::SyncRequired {
                hub: self.highest_version(),
            }),
            Phase::Halted => Err(HubError::Halted("the channel is halted".into())),
            Phase::Disputed => Err(HubError::NotActive("disputed")),
            Phase::Closed => Err(HubError::NotActive("closed")),
        }
    }

    /// Refuses a request about this channel from anyone but its wallet.
    pub(super) fn check_wallet(&self, wallet: &Address) -> Result<(), HubError> {
        if &self.wallet == wallet {
            Ok(())
        } else {
            Err(HubError::Unauthorized("not the channel's wallet".into()))
        }
    }
}

/// A channel's slot: the channel behind an async mutex, and a signal for waiters when an
/// offer on it is answered.
#[derive(Debug)]
pub struct Slot {
    /// The channel.
    pub channel: Mutex<Channel>,
    pub(super) freed: Notify,
}

/// Every channel's slot, by id and by `(wallet, token)`. Both maps are leaf locks: held
/// for a lookup or an insert, never across an await or while taking another lock.
#[derive(Debug, Default)]
pub(super) struct Channels {
    slots: RwLock<HashMap<B256, Arc<Slot>>>,
    by_wallet: RwLock<HashMap<(Address, TokenId), Vec<B256>>>,
}

impl Channels {
    pub(super) fn insert(&self, channel: Channel) {
        self.by_wallet
            .write()
            .entry((channel.wallet, channel.token))
            .or_default()
            .push(channel.id);
        self.slots.write().insert(
            channel.id,
            Arc::new(Slot {
                channel: Mutex::new(channel),
                freed: Notify::new(),
            }),
        );
    }

    pub(super) fn slot(&self, id: &B256) -> Result<Arc<Slot>, HubError> {
        self.slots
            .read()
            .get(id)
            .cloned()
            .ok_or(HubError::UnknownChannel(*id))
    }

    /// Ids of every channel of `wallet`.
    pub(super) fn of_wallet(&self, wallet: &Address) -> Vec<B256> {
        self.by_wallet
            .read()
            .iter()
            .filter(|((w, _), _)| w == wallet)
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect()
    }

    /// Ids of `wallet`'s channels in `token`, oldest first.
    pub(super) fn of_wallet_in(&self, wallet: &Address, token: TokenId) -> Vec<B256> {
        self.by_wallet
            .read()
            .get(&(*wallet, token))
            .cloned()
            .unwrap_or_default()
    }

    pub(super) fn ids(&self) -> Vec<B256> {
        self.slots.read().keys().copied().collect()
    }
}

/// Locks two channels in one fixed order (by slot address), so two routes in opposite
/// directions cannot deadlock; returns the guards in the order asked.
pub(super) async fn lock_pair<'a>(
    a: &'a Slot,
    b: &'a Slot,
) -> (MutexGuard<'a, Channel>, MutexGuard<'a, Channel>) {
    let a_first = std::ptr::from_ref(a) < std::ptr::from_ref(b);
    if a_first {
        let ga = a.channel.lock().await;
        let gb = b.channel.lock().await;
        (ga, gb)
    } else {
        let gb = b.channel.lock().await;
        let ga = a.channel.lock().await;
        (ga, gb)
    }
}

/// Locks a payee's channel and, if there is one, its payer's ([`lock_pair`]'s order).
pub(super) async fn lock_with<'a>(
    payee: &'a Slot,
    payer: Option<&'a Slot>,
) -> (MutexGuard<'a, Channel>, Option<MutexGuard<'a, Channel>>) {
    match payer {
        Some(payer) => {
            let (a, b) = lock_pair(payee, payer).await;
            (a, Some(b))
        }
        None => (payee.channel.lock().await, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_PURPOSES: [Purpose; 12] = [
        Purpose::Open,
        Purpose::Funding,
        Purpose::TopUp,
        Purpose::Pay,
        Purpose::Close,
        Purpose::Route,
        Purpose::Lock,
        Purpose::Reject,
        Purpose::Refund,
        Purpose::Settle,
        Purpose::Payment,
        Purpose::Sync,
    ];

    #[test]
    fn every_status_and_purpose_reads_back_as_written() {
        let id = B256::ZERO;
        for status in [
            StoredStatus::Active,
            StoredStatus::Halted,
            StoredStatus::Disputed,
            StoredStatus::Closed,
        ] {
            assert_eq!(StoredStatus::parse(&id, status.as_str()).unwrap(), status);
        }
        for purpose in ALL_PURPOSES {
            assert_eq!(Purpose::parse(&id, purpose.as_str()).unwrap(), purpose);
        }
    }

    #[test]
    fn rejects_an_unknown_status_or_purpose_as_a_corrupt_row() {
        let id = B256::repeat_byte(7);
        let status = StoredStatus::parse(&id, "paused").unwrap_err();
        assert!(
            matches!(&status, StoreError::Corrupt { table: "channels", key, .. } if key == &id.to_string()),
            "{status:?}"
        );
        let purpose = Purpose::parse(&id, "").unwrap_err();
        assert!(
            matches!(
                purpose,
                StoreError::Corrupt {
                    table: "states",
                    ..
                }
            ),
            "{purpose:?}"
        );
    }

    #[test]
    fn a_channel_active_before_a_restart_loads_unsynced() {
        assert_eq!(Phase::on_load(StoredStatus::Active), Phase::Unsynced);
        assert_eq!(Phase::on_load(StoredStatus::Halted), Phase::Halted);
    }
}

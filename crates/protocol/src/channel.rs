//! Channels (DESIGN.md, "Channels"): the state a wallet and the hub co-sign off-chain
//! ([`ChannelState`]) and the record the rollup keeps of each channel ([`ChannelRecord`]).
//!
//! The rules that fund and settle channels (open, deposit, close, register, refute,
//! conclude, lock resolution) are in `execution/channels.rs`; the table of records and its
//! tree are part of [`crate::state::State`].
//!
//! ## Channel record leaf
//!
//! The channels tree (depth [`crate::state::REGISTRY_DEPTH`]) holds one leaf per channel, in
//! open order. A leaf is `keccak256` of the packed record (`abi.encodePacked`):
//!
//! ```text
//! channelId (bytes32) ‖ wallet (uint32) ‖ hub (uint32) ‖ token (uint32)
//!   ‖ total (uint128) ‖ walletSide (uint128) ‖ hubSide (uint128) ‖ status (uint8)
//!   ‖ [status = 1 only: deadline (uint64) ‖ hashStruct(registered ChannelState) (bytes32)]
//! ```
//!
//! `wallet` and `hub` are account indexes; `status` is 0 Open, 1 Disputed, 2 Closed. The
//! registered state enters through its EIP-712 `hashStruct`, so a contract holding the state
//! can check it against a leaf with the same hashing it uses for signatures.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    eip712::{Eip712, FieldType, StructType, Value},
    primitives::{
        AccountIndex, Address, Amount, B256, Nonce, TokenId, keccak256, word_address, word_u64,
    },
};

/// Most locks one channel state may carry (bounds decoding and conclusion work).
pub const MAX_LOCKS: usize = 64;

/// Default blocks between a registration and the end of its dispute: a registered state
/// can be refuted in blocks `number ..= number + window` and concluded after. The window is
/// a chain parameter ([`crate::execution::BlockEnv::dispute_window`]), fixed in the
/// sequencer's configuration and given to every executor of the chain (the prover's and a
/// rebuild's re-execution included); this is its default.
///
/// Why 36,000: the window must outlast the time a watcher (the hub, a wallet's client)
/// needs to notice a stale registration and get its refutation included, restarts and a
/// full mempool included. The sequencer seals at most one block per block time (100 ms by
/// default) unless blocks fill up, and never seals an empty block, so 36,000 blocks is at
/// least an hour at full load and longer whenever traffic is lighter. It is counted in
/// blocks, not seconds, because block numbers are what every executor sees identically.
pub const DEFAULT_DISPUTE_WINDOW: u64 = 36_000;

/// Who pays whom when a lock resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum LockDirection {
    /// Locked from the wallet's balance, paid to the hub on reveal.
    WalletToHub,
    /// Locked from the hub's balance, paid to the wallet on reveal.
    HubToWallet,
}

impl LockDirection {
    /// The `uint8` of the EIP-712 encoding.
    pub fn as_u8(self) -> u8 {
        match self {
            Self::WalletToHub => 0,
            Self::HubToWallet => 1,
        }
    }

    /// The inverse of [`Self::as_u8`].
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::WalletToHub),
            1 => Some(Self::HubToWallet),
            _ => None,
        }
    }
}

/// A hashlocked conditional payment inside a channel state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Lock {
    /// Amount moved if the secret is revealed in time.
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub amount: Amount,
    /// `keccak256(secret)`.
    #[schemars(with = "crate::schema::Hash")]
    pub hashlock: B256,
    /// L2 block number by which the secret must be revealed on the rollup.
    pub expiry: u64,
    /// Who pays whom.
    pub direction: LockDirection,
}

/// A co-signed channel state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelState {
    /// The channel, see [`channel_id`].
    #[schemars(with = "crate::schema::Hash")]
    pub channel_id: B256,
    /// Strictly increasing; a higher version supersedes a lower one.
    pub version: u64,
    /// The wallet's balance, excluding locked amounts.
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub balance_wallet: Amount,
    /// The hub's balance, excluding locked amounts.
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub balance_hub: Amount,
    /// Pending conditional payments.
    pub locks: Vec<Lock>,
    /// A final state closes the channel cooperatively.
    pub is_final: bool,
}

/// EIP-712 type of [`Lock`].
pub static LOCK_TYPE: StructType = StructType::new(
    "Lock",
    &[
        ("amount", FieldType::Uint(128)),
        ("hashlock", FieldType::Bytes32),
        ("expiry", FieldType::Uint(64)),
        ("direction", FieldType::Uint(8)),
    ],
);

/// EIP-712 type of [`ChannelState`].
pub static CHANNEL_STATE_TYPE: StructType = StructType::new(
    "ChannelState",
    &[
        ("channelId", FieldType::Bytes32),
        ("version", FieldType::Uint(64)),
        ("balanceWallet", FieldType::Uint(128)),
        ("balanceHub", FieldType::Uint(128)),
        ("locks", FieldType::StructArray(&LOCK_TYPE)),
        ("isFinal", FieldType::Bool),
    ],
);

impl ChannelState {
    /// The amount held by the channel in this state: both balances plus every lock.
    /// `None` if it overflows (such a state can never be settled).
    pub fn total(&self) -> Option<Amount> {
        self.locks.iter().try_fold(
            self.balance_wallet.checked_add(self.balance_hub)?,
            |acc, l| acc.checked_add(l.amount),
        )
    }
}

impl Eip712 for ChannelState {
    fn struct_type(&self) -> &'static StructType {
        &CHANNEL_STATE_TYPE
    }

    fn values(&self) -> Vec<Value<'_>> {
        vec![
            Value::Bytes32(self.channel_id),
            Value::Uint(self.version.into()),
            Value::Uint(self.balance_wallet),
            Value::Uint(self.balance_hub),
            Value::Array(
                self.locks
                    .iter()
                    .map(|l| {
                        vec![
                            Value::Uint(l.amount),
                            Value::Bytes32(l.hashlock),
                            Value::Uint(l.expiry.into()),
                            Value::Uint(l.direction.as_u8().into()),
                        ]
                    })
                    .collect(),
            ),
            Value::Bool(self.is_final),
        ]
    }
}

/// The id of the channel opened by `opener` with `hub` in the opener's transaction of
/// `nonce`: `keccak256(abi.encode(opener, hub, nonce))`. Unique because nonces are.
pub fn channel_id(opener: &Address, hub: &Address, nonce: Nonce) -> B256 {
    let mut buf = [0u8; 96];
    buf[..32].copy_from_slice(&word_address(opener));
    buf[32..64].copy_from_slice(&word_address(hub));
    buf[64..].copy_from_slice(&word_u64(nonce));
    keccak256(buf)
}

/// Where a channel is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ChannelStatus {
    /// Funded; deposits, a cooperative close or a registration may follow.
    Open,
    /// A co-signed state was registered; it can be refuted by a higher version until
    /// `deadline` (inclusive) and concluded after it.
    #[serde(rename_all = "camelCase")]
    Disputed {
        /// The registered state (the highest version presented so far).
        state: ChannelState,
        /// The last block in which a refutation is accepted.
        deadline: u64,
    },
    /// Paid out (cooperatively or by conclusion); nothing more can happen to it.
    Closed,
}

impl ChannelStatus {
    /// The `uint8` of the leaf encoding: 0 Open, 1 Disputed, 2 Closed.
    pub fn as_u8(&self) -> u8 {
        match self {
            Self::Open => 0,
            Self::Disputed { .. } => 1,
            Self::Closed => 2,
        }
    }
}

/// The rollup's record of one channel (see the module docs for its leaf).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelRecord {
    /// [`channel_id`] of the opening transaction.
    #[schemars(with = "crate::schema::Hash")]
    pub id: B256,
    /// The wallet's account index (the opener).
    pub wallet: AccountIndex,
    /// The hub's account index.
    pub hub: AccountIndex,
    /// The one token the channel holds.
    pub token: TokenId,
    /// What the channel holds: `wallet_side + hub_side` until it closes, zero once paid out.
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub total: Amount,
    /// Everything the wallet put in on the rollup (open and deposits).
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub wallet_side: Amount,
    /// Everything the hub put in on the rollup (deposits).
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub hub_side: Amount,
    /// Open, disputed or closed.
    pub status: ChannelStatus,
}

impl ChannelRecord {
    /// The packed preimage of the leaf (see the module docs).
    pub fn leaf_preimage(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(133);
        buf.extend_from_slice(self.id.as_slice());
        buf.extend_from_slice(&self.wallet.to_be_bytes());
        buf.extend_from_slice(&self.hub.to_be_bytes());
        buf.extend_from_slice(&self.token.to_be_bytes());
        buf.extend_from_slice(&self.total.to_be_bytes());
        buf.extend_from_slice(&self.wallet_side.to_be_bytes());
        buf.extend_from_slice(&self.hub_side.to_be_bytes());
        buf.push(self.status.as_u8());
        if let ChannelStatus::Disputed { state, deadline } = &self.status {
            buf.extend_from_slice(&deadline.to_be_bytes());
            buf.extend_from_slice(state.struct_hash().as_slice());
        }
        buf
    }

    /// Its leaf in the channels tree: `keccak256` of [`Self::leaf_preimage`].
    pub fn leaf_hash(&self) -> B256 {
        keccak256(self.leaf_preimage())
    }

    /// Whether `account` is the wallet or the hub.
    pub fn is_participant(&self, account: AccountIndex) -> bool {
        account == self.wallet || account == self.hub
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ChannelState {
        ChannelState {
            channel_id: B256::repeat_byte(7),
            version: 3,
            balance_wallet: 10,
            balance_hub: 20,
            locks: vec![Lock {
                amount: 5,
                hashlock: keccak256(b"secret"),
                expiry: 100,
                direction: LockDirection::WalletToHub,
            }],
            is_final: false,
        }
    }

    #[test]
    fn state_type_string_includes_lock() {
        assert_eq!(
            CHANNEL_STATE_TYPE.encode_type(),
            "ChannelState(bytes32 channelId,uint64 version,uint128 balanceWallet,\
             uint128 balanceHub,Lock[] locks,bool isFinal)\
             Lock(uint128 amount,bytes32 hashlock,uint64 expiry,uint8 direction)"
        );
    }

    #[test]
    fn total_counts_locks_and_detects_overflow() {
        let mut s = state();
        assert_eq!(s.total(), Some(35));
        s.balance_hub = u128::MAX;
        assert_eq!(s.total(), None);
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = state().struct_hash();
        let mut variants = Vec::new();
        let mut s = state();
        s.version += 1;
        variants.push(s);
        let mut s = state();
        s.balance_wallet += 1;
        variants.push(s);
        let mut s = state();
        s.locks[0].direction = LockDirection::HubToWallet;
        variants.push(s);
        let mut s = state();
        s.is_final = true;
        variants.push(s);
        let mut s = state();
        s.locks.clear();
        variants.push(s);
        for v in variants {
            assert_ne!(v.struct_hash(), base, "{v:?}");
        }
    }

    fn record(status: ChannelStatus) -> ChannelRecord {
        ChannelRecord {
            id: B256::repeat_byte(7),
            wallet: 3,
            hub: 4,
            token: 1,
            total: 30,
            wallet_side: 25,
            hub_side: 5,
            status,
        }
    }

    #[test]
    fn record_leaf_is_the_documented_packed_encoding() {
        let open = record(ChannelStatus::Open);
        let mut expected = Vec::new();
        expected.extend_from_slice(&[7u8; 32]);
        expected.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 1]);
        for v in [30u128, 25, 5] {
            expected.extend_from_slice(&v.to_be_bytes());
        }
        expected.push(0);
        assert_eq!(open.leaf_preimage(), expected);
        assert_eq!(open.leaf_hash(), keccak256(&expected));

        let disputed = record(ChannelStatus::Disputed {
            state: state(),
            deadline: 0x0102,
        });
        expected.pop();
        expected.push(1);
        expected.extend_from_slice(&0x0102u64.to_be_bytes());
        expected.extend_from_slice(state().struct_hash().as_slice());
        assert_eq!(disputed.leaf_preimage(), expected);
        assert_eq!(disputed.leaf_preimage().len(), 133);

        let closed = record(ChannelStatus::Closed);
        assert_eq!(closed.leaf_preimage().len(), 93);
        assert_eq!(closed.leaf_preimage()[92], 2);
    }

    #[test]
    fn record_json_round_trips_with_decimal_amounts() {
        let r = record(ChannelStatus::Disputed {
            state: state(),
            deadline: 9,
        });
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["total"], "30");
        assert_eq!(json["status"]["type"], "disputed");
        assert_eq!(json["status"]["deadline"], 9);
        assert_eq!(serde_json::from_value::<ChannelRecord>(json).unwrap(), r);
    }

    #[test]
    fn every_record_field_changes_the_leaf() {
        let base = record(ChannelStatus::Open);
        let disputed = |version| {
            let mut s = state();
            s.version = version;
            record(ChannelStatus::Disputed {
                state: s,
                deadline: 9,
            })
        };
        let variants = [
            ChannelRecord {
                id: B256::repeat_byte(8),
                ..base.clone()
            },
            ChannelRecord {
                wallet: 9,
                ..base.clone()
            },
            ChannelRecord {
                hub: 9,
                ..base.clone()
            },
            ChannelRecord {
                token: 9,
                ..base.clone()
            },
            ChannelRecord {
                total: 9,
                ..base.clone()
            },
            ChannelRecord {
                wallet_side: 9,
                ..base.clone()
            },
            ChannelRecord {
                hub_side: 9,
                ..base.clone()
            },
            record(ChannelStatus::Closed),
            disputed(3),
            disputed(4),
        ];
        let mut leaves: Vec<B256> = variants.iter().map(ChannelRecord::leaf_hash).collect();
        leaves.push(base.leaf_hash());
        let count = leaves.len();
        leaves.sort_unstable();
        leaves.dedup();
        assert_eq!(leaves.len(), count);
    }

    #[test]
    fn channel_ids_differ_per_nonce() {
        let a = Address::repeat_byte(1);
        let h = Address::repeat_byte(2);
        assert_ne!(channel_id(&a, &h, 0), channel_id(&a, &h, 1));
        assert_ne!(channel_id(&a, &h, 0), channel_id(&h, &a, 0));
    }
}

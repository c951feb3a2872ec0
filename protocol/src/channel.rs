//! Channel states: what a wallet and the hub co-sign off-chain (DESIGN.md, "Channels").
//!
//! The rules that settle them on the rollup (register, refute, conclude, lock resolution)
//! belong to the channel kinds of the executor.

use serde::{Deserialize, Serialize};

use crate::{
    eip712::{Eip712, FieldType, StructType, Value},
    primitives::{Address, Amount, B256, Nonce, keccak256, word_address, word_u64},
};

/// Most locks one channel state may carry (bounds decoding and conclusion work).
pub const MAX_LOCKS: usize = 64;

/// Who pays whom when a lock resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Lock {
    /// Amount moved if the secret is revealed in time.
    #[serde(with = "crate::primitives::serde_dec")]
    pub amount: Amount,
    /// `keccak256(secret)`.
    pub hashlock: B256,
    /// L2 block number by which the secret must be revealed on the rollup.
    pub expiry: u64,
    /// Who pays whom.
    pub direction: LockDirection,
}

/// A co-signed channel state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelState {
    /// The channel, see [`channel_id`].
    pub channel_id: B256,
    /// Strictly increasing; a higher version supersedes a lower one.
    pub version: u64,
    /// The wallet's balance, excluding locked amounts.
    #[serde(with = "crate::primitives::serde_dec")]
    pub balance_wallet: Amount,
    /// The hub's balance, excluding locked amounts.
    #[serde(with = "crate::primitives::serde_dec")]
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

    #[test]
    fn channel_ids_differ_per_nonce() {
        let a = Address::repeat_byte(1);
        let h = Address::repeat_byte(2);
        assert_ne!(channel_id(&a, &h, 0), channel_id(&a, &h, 1));
        assert_ne!(channel_id(&a, &h, 0), channel_id(&h, &a, 0));
    }
}

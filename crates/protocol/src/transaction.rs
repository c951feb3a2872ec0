//! Transaction kinds, their EIP-712 types, signing and verification.
//!
//! Each Rust struct mirrors its EIP-712 struct field for field, so the JSON of the API,
//! the typed data a wallet signs and the binary codec all describe the same thing.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    channel::{CHANNEL_STATE_TYPE, ChannelState},
    eip712::{Domain, Eip712, FieldType, StructType, Value},
    error::SignatureError,
    evm::EvmTransaction,
    primitives::{Address, Amount, B256, Bytes, Nonce, TokenId},
    signature::{Signature, SigningKey},
};

/// Move `amount` of `token` from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Transfer {
    /// Sender and signer.
    #[schemars(with = "crate::schema::Address")]
    pub from: Address,
    /// Receiver.
    #[schemars(with = "crate::schema::Address")]
    pub to: Address,
    /// Token moved; the fee is paid in it too.
    pub token: TokenId,
    /// Amount moved, in base units.
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub amount: Amount,
    /// Fee to the sequencer, in `token`.
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub fee: Amount,
    /// The sender's next nonce.
    pub nonce: Nonce,
}

/// Burn `amount` of `token` on L2, claimable by `l1Recipient` on L1 once finalized.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Withdraw {
    /// Sender and signer.
    #[schemars(with = "crate::schema::Address")]
    pub from: Address,
    /// Who can claim on L1.
    #[schemars(with = "crate::schema::Address")]
    pub l1_recipient: Address,
    /// Token withdrawn; the fee is paid in it too.
    pub token: TokenId,
    /// Amount withdrawn.
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub amount: Amount,
    /// Fee, in `token`.
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub fee: Amount,
    /// The sender's next nonce.
    pub nonce: Nonce,
}

/// Open a channel with `hub`, locking `amount` of `token` as the opener's side.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelOpen {
    /// The wallet opening the channel.
    #[schemars(with = "crate::schema::Address")]
    pub from: Address,
    /// The hub.
    #[schemars(with = "crate::schema::Address")]
    pub hub: Address,
    /// The channel's token; the fee is paid in it too.
    pub token: TokenId,
    /// The opener's deposit.
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub amount: Amount,
    /// Fee, in `token`.
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub fee: Amount,
    /// The opener's next nonce (also makes the channel id unique).
    pub nonce: Nonce,
}

/// Top up one side of a channel: the side of `from`, who must be a participant. The
/// deposit carries the channel's state after it, co-signed by both participants, so no
/// deposit ever leaves the channel holding a total that no co-signed state splits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelDeposit {
    /// A participant.
    #[schemars(with = "crate::schema::Address")]
    pub from: Address,
    /// The channel.
    #[schemars(with = "crate::schema::Hash")]
    pub channel_id: B256,
    /// Added to `from`'s side.
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub amount: Amount,
    /// The channel's state once the deposit is in: its balances and locks sum to the
    /// channel's total plus `amount`.
    pub state: ChannelState,
    /// The wallet's signature over `state`.
    #[schemars(with = "crate::schema::HexBytes")]
    pub wallet_signature: Bytes,
    /// The hub's signature over `state`.
    #[schemars(with = "crate::schema::HexBytes")]
    pub hub_signature: Bytes,
    /// Fee, in the channel's token.
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub fee: Amount,
    /// `from`'s next nonce.
    pub nonce: Nonce,
}

/// A co-signed channel state presented on the rollup: the body of `ChannelClose`
/// (cooperative, `state.isFinal`), `ChannelRegister` (start a dispute) and `ChannelRefute`
/// (supersede a registered state with a higher version).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelSettle {
    /// A participant submitting the state.
    #[schemars(with = "crate::schema::Address")]
    pub from: Address,
    /// The co-signed state.
    pub state: ChannelState,
    /// The wallet's signature over `state`.
    #[schemars(with = "crate::schema::HexBytes")]
    pub wallet_signature: Bytes,
    /// The hub's signature over `state`.
    #[schemars(with = "crate::schema::HexBytes")]
    pub hub_signature: Bytes,
    /// Fee, in the channel's token.
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub fee: Amount,
    /// `from`'s next nonce.
    pub nonce: Nonce,
}

/// Pay out a registered channel after its dispute deadline.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelConclude {
    /// Anyone.
    #[schemars(with = "crate::schema::Address")]
    pub from: Address,
    /// The channel.
    #[schemars(with = "crate::schema::Hash")]
    pub channel_id: B256,
    /// Fee, in the channel's token.
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub fee: Amount,
    /// `from`'s next nonce.
    pub nonce: Nonce,
}

/// Record `secret` in the secret registry with the block it was revealed in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevealSecret {
    /// Anyone.
    #[schemars(with = "crate::schema::Address")]
    pub from: Address,
    /// The preimage; its hashlock is `keccak256(secret)`.
    #[schemars(with = "crate::schema::Hash")]
    pub secret: B256,
    /// Fee, in ETH.
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub fee: Amount,
    /// `from`'s next nonce.
    pub nonce: Nonce,
}

/// A deposit from the L1 queue (system kind, unsigned).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deposit {
    /// Position in the L1 queue.
    pub queue_index: u64,
    /// L2 recipient.
    #[schemars(with = "crate::schema::Address")]
    pub to: Address,
    /// Token id assigned by the L1 contract.
    pub token: TokenId,
    /// Amount deposited.
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub amount: Amount,
}

/// A forced withdrawal from the L1 queue (system kind, unsigned): withdraws `account`'s whole
/// balance of `token` to the same address on L1.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForcedWithdraw {
    /// Position in the L1 queue.
    pub queue_index: u64,
    /// The account (the L1 caller of `forceWithdraw`).
    #[schemars(with = "crate::schema::Address")]
    pub account: Address,
    /// The token to withdraw.
    pub token: TokenId,
}

/// Every kind of L2 transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Transaction {
    /// See [`Transfer`].
    Transfer(Transfer),
    /// See [`Withdraw`].
    Withdraw(Withdraw),
    /// See [`ChannelOpen`].
    ChannelOpen(ChannelOpen),
    /// See [`ChannelDeposit`].
    ChannelDeposit(ChannelDeposit),
    /// Cooperative close with a final co-signed state.
    ChannelClose(ChannelSettle),
    /// Start a dispute with a co-signed state; fixes the deadline.
    ChannelRegister(ChannelSettle),
    /// Supersede a registered state with a higher version before conclusion.
    ChannelRefute(ChannelSettle),
    /// See [`ChannelConclude`].
    ChannelConclude(ChannelConclude),
    /// See [`RevealSecret`].
    RevealSecret(RevealSecret),
    /// See [`Deposit`] (system kind).
    Deposit(Deposit),
    /// See [`ForcedWithdraw`] (system kind).
    ForcedWithdraw(ForcedWithdraw),
    /// A standard signed Ethereum transaction, run by the EVM (module [`crate::evm`]). It
    /// is signed as Ethereum transactions are, not with EIP-712: [`Eip712`] does not apply
    /// to it, and its hash is the Ethereum transaction hash.
    Evm(Box<EvmTransaction>),
}

macro_rules! struct_types {
    ($($name:ident = $ty:literal [$($field:literal : $ft:expr),* $(,)?];)*) => {
        $(
            #[doc = concat!("EIP-712 type of `", $ty, "`.")]
            pub static $name: StructType = StructType::new($ty, &[$(($field, $ft)),*]);
        )*
    };
}

const SETTLE_FIELDS: &[(&str, FieldType)] = &[
    ("from", FieldType::Address),
    ("state", FieldType::Struct(&CHANNEL_STATE_TYPE)),
    ("walletSignature", FieldType::Bytes),
    ("hubSignature", FieldType::Bytes),
    ("fee", FieldType::Uint(128)),
    ("nonce", FieldType::Uint(64)),
];

struct_types! {
    TRANSFER_TYPE = "Transfer" [
        "from": FieldType::Address, "to": FieldType::Address, "token": FieldType::Uint(32),
        "amount": FieldType::Uint(128), "fee": FieldType::Uint(128), "nonce": FieldType::Uint(64),
    ];
    WITHDRAW_TYPE = "Withdraw" [
        "from": FieldType::Address, "l1Recipient": FieldType::Address,
        "token": FieldType::Uint(32), "amount": FieldType::Uint(128),
        "fee": FieldType::Uint(128), "nonce": FieldType::Uint(64),
    ];
    CHANNEL_OPEN_TYPE = "ChannelOpen" [
        "from": FieldType::Address, "hub": FieldType::Address, "token": FieldType::Uint(32),
        "amount": FieldType::Uint(128), "fee": FieldType::Uint(128), "nonce": FieldType::Uint(64),
    ];
    CHANNEL_DEPOSIT_TYPE = "ChannelDeposit" [
        "from": FieldType::Address, "channelId": FieldType::Bytes32,
        "amount": FieldType::Uint(128), "state": FieldType::Struct(&CHANNEL_STATE_TYPE),
        "walletSignature": FieldType::Bytes, "hubSignature": FieldType::Bytes,
        "fee": FieldType::Uint(128), "nonce": FieldType::Uint(64),
    ];
    CHANNEL_CONCLUDE_TYPE = "ChannelConclude" [
        "from": FieldType::Address, "channelId": FieldType::Bytes32,
        "fee": FieldType::Uint(128), "nonce": FieldType::Uint(64),
    ];
    REVEAL_SECRET_TYPE = "RevealSecret" [
        "from": FieldType::Address, "secret": FieldType::Bytes32,
        "fee": FieldType::Uint(128), "nonce": FieldType::Uint(64),
    ];
    DEPOSIT_TYPE = "Deposit" [
        "queueIndex": FieldType::Uint(64), "to": FieldType::Address,
        "token": FieldType::Uint(32), "amount": FieldType::Uint(128),
    ];
    FORCED_WITHDRAW_TYPE = "ForcedWithdraw" [
        "queueIndex": FieldType::Uint(64), "account": FieldType::Address,
        "token": FieldType::Uint(32),
    ];
}

/// EIP-712 type of `ChannelClose`.
pub static CHANNEL_CLOSE_TYPE: StructType = StructType::new("ChannelClose", SETTLE_FIELDS);
/// EIP-712 type of `ChannelRegister`.
pub static CHANNEL_REGISTER_TYPE: StructType = StructType::new("ChannelRegister", SETTLE_FIELDS);
/// EIP-712 type of `ChannelRefute`.
pub static CHANNEL_REFUTE_TYPE: StructType = StructType::new("ChannelRefute", SETTLE_FIELDS);

/// The EIP-712 type of every kind, signed kinds first (what the API publishes for wallets).
pub static ALL_TYPES: [&StructType; 11] = [
    &TRANSFER_TYPE,
    &WITHDRAW_TYPE,
    &CHANNEL_OPEN_TYPE,
    &CHANNEL_DEPOSIT_TYPE,
    &CHANNEL_CLOSE_TYPE,
    &CHANNEL_REGISTER_TYPE,
    &CHANNEL_REFUTE_TYPE,
    &CHANNEL_CONCLUDE_TYPE,
    &REVEAL_SECRET_TYPE,
    &DEPOSIT_TYPE,
    &FORCED_WITHDRAW_TYPE,
];

impl ChannelSettle {
    fn values(&self) -> Vec<Value<'_>> {
        vec![
            Value::Address(self.from),
            Value::Struct(self.state.values()),
            Value::Bytes(&self.wallet_signature),
            Value::Bytes(&self.hub_signature),
            Value::Uint(self.fee),
            Value::Uint(self.nonce.into()),
        ]
    }
}

impl Eip712 for Transaction {
    fn struct_type(&self) -> &'static StructType {
        match self {
            Self::Transfer(_) => &TRANSFER_TYPE,
            Self::Withdraw(_) => &WITHDRAW_TYPE,
            Self::ChannelOpen(_) => &CHANNEL_OPEN_TYPE,
            Self::ChannelDeposit(_) => &CHANNEL_DEPOSIT_TYPE,
            Self::ChannelClose(_) => &CHANNEL_CLOSE_TYPE,
            Self::ChannelRegister(_) => &CHANNEL_REGISTER_TYPE,
            Self::ChannelRefute(_) => &CHANNEL_REFUTE_TYPE,
            Self::ChannelConclude(_) => &CHANNEL_CONCLUDE_TYPE,
            Self::RevealSecret(_) => &REVEAL_SECRET_TYPE,
            Self::Deposit(_) => &DEPOSIT_TYPE,
            Self::ForcedWithdraw(_) => &FORCED_WITHDRAW_TYPE,
            Self::Evm(_) => unreachable!("EVM transactions are not EIP-712 typed data"),
        }
    }

    fn values(&self) -> Vec<Value<'_>> {
        use Value::{Address as A, Bytes32 as H, Uint as U};
        match self {
            Self::Transfer(t) => vec![
                A(t.from),
                A(t.to),
                U(t.token.into()),
                U(t.amount),
                U(t.fee),
                U(t.nonce.into()),
            ],
            Self::Withdraw(t) => vec![
                A(t.from),
                A(t.l1_recipient),
                U(t.token.into()),
                U(t.amount),
                U(t.fee),
                U(t.nonce.into()),
            ],
            Self::ChannelOpen(t) => vec![
                A(t.from),
                A(t.hub),
                U(t.token.into()),
                U(t.amount),
                U(t.fee),
                U(t.nonce.into()),
            ],
            Self::ChannelDeposit(t) => {
                vec![
                    A(t.from),
                    H(t.channel_id),
                    U(t.amount),
                    Value::Struct(t.state.values()),
                    Value::Bytes(&t.wallet_signature),
                    Value::Bytes(&t.hub_signature),
                    U(t.fee),
                    U(t.nonce.into()),
                ]
            }
            Self::ChannelClose(t) | Self::ChannelRegister(t) | Self::ChannelRefute(t) => t.values(),
            Self::ChannelConclude(t) => {
                vec![A(t.from), H(t.channel_id), U(t.fee), U(t.nonce.into())]
            }
            Self::RevealSecret(t) => vec![A(t.from), H(t.secret), U(t.fee), U(t.nonce.into())],
            Self::Deposit(t) => {
                vec![
                    U(t.queue_index.into()),
                    A(t.to),
                    U(t.token.into()),
                    U(t.amount),
                ]
            }
            Self::ForcedWithdraw(t) => {
                vec![U(t.queue_index.into()), A(t.account), U(t.token.into())]
            }
            Self::Evm(_) => unreachable!("EVM transactions are not EIP-712 typed data"),
        }
    }
}

impl Transaction {
    /// The kind's name as in JSON (`"transfer"`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Transfer(_) => "transfer",
            Self::Withdraw(_) => "withdraw",
            Self::ChannelOpen(_) => "channelOpen",
            Self::ChannelDeposit(_) => "channelDeposit",
            Self::ChannelClose(_) => "channelClose",
            Self::ChannelRegister(_) => "channelRegister",
            Self::ChannelRefute(_) => "channelRefute",
            Self::ChannelConclude(_) => "channelConclude",
            Self::RevealSecret(_) => "revealSecret",
            Self::Deposit(_) => "deposit",
            Self::ForcedWithdraw(_) => "forcedWithdraw",
            Self::Evm(_) => "evm",
        }
    }

    /// Whether this is a system kind from the L1 queue (unsigned).
    pub fn is_system(&self) -> bool {
        matches!(self, Self::Deposit(_) | Self::ForcedWithdraw(_))
    }

    /// The L1 queue index of a system kind.
    pub fn queue_index(&self) -> Option<u64> {
        match self {
            Self::Deposit(d) => Some(d.queue_index),
            Self::ForcedWithdraw(f) => Some(f.queue_index),
            _ => None,
        }
    }

    /// `(from, nonce, fee)` of a signed kind; `None` for system kinds.
    pub fn signer_fields(&self) -> Option<(Address, Nonce, Amount)> {
        Some(match self {
            Self::Transfer(t) => (t.from, t.nonce, t.fee),
            Self::Withdraw(t) => (t.from, t.nonce, t.fee),
            Self::ChannelOpen(t) => (t.from, t.nonce, t.fee),
            Self::ChannelDeposit(t) => (t.from, t.nonce, t.fee),
            Self::ChannelClose(t) | Self::ChannelRegister(t) | Self::ChannelRefute(t) => {
                (t.from, t.nonce, t.fee)
            }
            Self::ChannelConclude(t) => (t.from, t.nonce, t.fee),
            Self::RevealSecret(t) => (t.from, t.nonce, t.fee),
            // The fee of an EVM transaction depends on the gas it uses: its cap here.
            Self::Evm(t) => (
                t.sender(),
                t.nonce(),
                u128::from(t.gas_limit()).saturating_mul(t.max_fee_per_gas()),
            ),
            Self::Deposit(_) | Self::ForcedWithdraw(_) => return None,
        })
    }

    /// The sender of a signed kind.
    pub fn sender(&self) -> Option<Address> {
        self.signer_fields().map(|(from, _, _)| from)
    }

    /// Who the transaction pays or calls besides its sender: a transfer's receiver, a
    /// withdrawal's L1 recipient, a deposit's receiver, a forced withdrawal's account, a
    /// channel's hub on opening, an EVM call's target. What indexes and feeds list an
    /// address's transactions by (with [`Self::sender`]).
    pub fn recipient(&self) -> Option<Address> {
        match self {
            Self::Transfer(t) => Some(t.to),
            Self::Withdraw(t) => Some(t.l1_recipient),
            Self::Deposit(d) => Some(d.to),
            Self::ForcedWithdraw(f) => Some(f.account),
            Self::ChannelOpen(o) => Some(o.hub),
            Self::Evm(e) => e.to(),
            Self::ChannelDeposit(_)
            | Self::ChannelClose(_)
            | Self::ChannelRegister(_)
            | Self::ChannelRefute(_)
            | Self::ChannelConclude(_)
            | Self::RevealSecret(_) => None,
        }
    }

    /// The canonical hash: the EIP-712 signing digest under `domain`. For signed kinds this
    /// is what the sender signs; it does not depend on the signature, so a resubmission
    /// with another valid signature is recognised as the same transaction.
    ///
    /// An EVM transaction's is its Ethereum hash ([`EvmTransaction::hash`]).
    pub fn hash(&self, domain: &Domain) -> B256 {
        match self {
            Self::Evm(t) => t.hash(),
            _ => self.signing_hash(domain),
        }
    }

    /// Its leaf in the block's transactions root: [`Self::hash`], except for an EVM
    /// transaction, whose Ethereum hash covers its signature, which the DA payload leaves
    /// out: `keccak256(sender ‖ signingHash)` ([`EvmTransaction::leaf`]). No leaf depends
    /// on a signature, so a block re-executed from L1 hashes as the sequencer's.
    pub fn leaf(&self, domain: &Domain) -> B256 {
        match self {
            Self::Evm(t) => t.leaf(),
            _ => self.signing_hash(domain),
        }
    }

    /// [`Self::leaf`] given the canonical hash ([`Self::hash`]) already known.
    pub fn leaf_with(&self, hash: B256) -> B256 {
        match self {
            Self::Evm(t) => t.leaf(),
            _ => hash,
        }
    }

    /// The transaction as the DA payload carries it: an EVM transaction loses its
    /// signature ([`EvmTransaction::without_signature`]), other kinds are unchanged.
    pub fn without_signature(&self) -> Self {
        match self {
            Self::Evm(t) => Self::Evm(Box::new(t.without_signature())),
            other => other.clone(),
        }
    }

    /// Signs a signed kind.
    ///
    /// # Panics
    ///
    /// On an EVM transaction, which is signed as an Ethereum transaction before it is one.
    pub fn sign(self, key: &SigningKey, domain: &Domain) -> SignedTransaction {
        let signature = key.sign_digest(&self.signing_hash(domain));
        SignedTransaction {
            transaction: self,
            signature,
        }
    }

    /// Wraps a transaction whose authenticity was established elsewhere (a system kind
    /// taken from L1, or a block re-executed from trusted storage).
    pub fn assume_verified(self, domain: &Domain) -> VerifiedTransaction {
        VerifiedTransaction {
            hash: self.hash(domain),
            transaction: self,
        }
    }
}

/// A signed kind with its sender's signature, as submitted to the API.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedTransaction {
    /// The transaction (a signed kind).
    pub transaction: Transaction,
    /// The sender's signature over its EIP-712 digest.
    pub signature: Signature,
}

impl SignedTransaction {
    /// Checks the signature: recovers the signer of the EIP-712 digest under `domain` and
    /// requires it to be the transaction's `from`. This is the expensive step of admission
    /// (one secp256k1 recovery).
    pub fn verify(&self, domain: &Domain) -> Result<VerifiedTransaction, SignatureError> {
        self.verify_hash(self.transaction.hash(domain))
    }

    /// [`Self::verify`] with the transaction's canonical hash already computed (admission
    /// computes it first, to recognise resubmissions before paying for a recovery). `hash`
    /// must be `self.transaction.hash(domain)`.
    pub fn verify_hash(&self, hash: B256) -> Result<VerifiedTransaction, SignatureError> {
        if matches!(self.transaction, Transaction::Evm(_)) {
            // Its own signature was recovered when it was decoded.
            return Err(SignatureError::SystemKind);
        }
        let expected = self
            .transaction
            .sender()
            .ok_or(SignatureError::SystemKind)?;
        let recovered = self.signature.recover(&hash)?;
        if recovered != expected {
            return Err(SignatureError::WrongSigner {
                expected,
                recovered,
            });
        }
        Ok(VerifiedTransaction {
            hash,
            transaction: self.transaction.clone(),
        })
    }
}

impl VerifiedTransaction {
    /// An EVM transaction (decoded, so its sender is recovered) checked for `chain_id`.
    pub fn evm(raw: &[u8], chain_id: u64) -> Result<Self, crate::evm::EvmTxError> {
        let tx = EvmTransaction::decode(raw)?;
        tx.check_chain(chain_id)?;
        Ok(Self {
            hash: tx.hash(),
            transaction: Transaction::Evm(Box::new(tx)),
        })
    }
}

/// A transaction ready for execution: its signature was checked (or it is a system kind)
/// and its canonical hash is known.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VerifiedTransaction {
    /// The canonical hash.
    pub hash: B256,
    /// The transaction.
    pub transaction: Transaction,
}

impl VerifiedTransaction {
    /// Its leaf in the block's transactions root ([`Transaction::leaf`]): the canonical
    /// hash, except for an EVM transaction.
    pub fn leaf(&self) -> B256 {
        self.transaction.leaf_with(self.hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::address;

    fn domain() -> Domain {
        Domain::new(31337, address!("5FbDB2315678afecb367f032d93F642f64180aa3"))
    }

    fn transfer(key: &SigningKey) -> Transaction {
        Transaction::Transfer(Transfer {
            from: key.address(),
            to: Address::repeat_byte(9),
            token: 0,
            amount: 1_000,
            fee: 1,
            nonce: 0,
        })
    }

    #[test]
    fn verify_accepts_own_signature_and_rejects_other_signer() {
        let alice = SigningKey::from_seed(b"alice");
        let signed = transfer(&alice).sign(&alice, &domain());
        let verified = signed.verify(&domain()).unwrap();
        assert_eq!(verified.hash, signed.transaction.hash(&domain()));

        let mallory = SigningKey::from_seed(b"mallory");
        let forged = transfer(&alice).sign(&mallory, &domain());
        assert!(matches!(
            forged.verify(&domain()),
            Err(SignatureError::WrongSigner { .. })
        ));
    }

    #[test]
    fn signature_is_bound_to_chain_and_contract() {
        let alice = SigningKey::from_seed(b"alice");
        let signed = transfer(&alice).sign(&alice, &domain());
        let other_chain = Domain::new(1, domain().verifying_contract());
        let other_contract = Domain::new(31337, Address::repeat_byte(1));
        assert!(signed.verify(&other_chain).is_err());
        assert!(signed.verify(&other_contract).is_err());
    }

    #[test]
    fn system_kinds_cannot_be_submitted_signed() {
        let key = SigningKey::from_seed(b"x");
        let dep = Transaction::Deposit(Deposit {
            queue_index: 0,
            to: key.address(),
            token: 0,
            amount: 5,
        });
        let signed = dep.sign(&key, &domain());
        assert_eq!(signed.verify(&domain()), Err(SignatureError::SystemKind));
    }

    #[test]
    fn json_form_uses_decimal_strings_and_rejects_unknown_fields() {
        let alice = SigningKey::from_seed(b"alice");
        let signed = transfer(&alice).sign(&alice, &domain());
        let json = serde_json::to_value(&signed).unwrap();
        assert_eq!(json["transaction"]["type"], "transfer");
        assert_eq!(json["transaction"]["amount"], "1000");
        let back: SignedTransaction = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, signed);

        let mut extra = json.clone();
        extra["transaction"]["memo"] = "hi".into();
        assert!(serde_json::from_value::<SignedTransaction>(extra).is_err());
        let mut numeric = json;
        numeric["transaction"]["amount"] = 1000.into();
        assert!(serde_json::from_value::<SignedTransaction>(numeric).is_err());
    }

    #[test]
    fn every_kind_has_a_distinct_type_name() {
        let mut names: Vec<_> = ALL_TYPES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL_TYPES.len());
    }
}

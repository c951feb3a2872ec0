//! Standard Ethereum transactions: decoding, chain and type checks, sender recovery.

use alloy_consensus::{
    SignableTransaction, Transaction as _, TxEip1559, TxEip2930, TxEnvelope, TxLegacy,
};
use alloy_eips::{
    Typed2718,
    eip2718::{Decodable2718, Encodable2718},
};
use serde::{Deserialize, Serialize};

use crate::{
    error::SignatureError,
    primitives::{Address, B256, Bytes, U256},
    signature::Signature,
};

/// Largest encoded transaction admitted (the size geth's pool allows, 128 KiB).
pub const MAX_TX_SIZE: usize = 128 * 1024;

/// Why bytes are not an admissible Ethereum transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvmTxError {
    /// Longer than [`MAX_TX_SIZE`].
    #[error("transaction is {0} bytes, more than {MAX_TX_SIZE}")]
    TooLarge(usize),
    /// Not an EIP-2718 envelope of a known type, or trailing bytes.
    #[error("transaction does not decode: {0}")]
    Rlp(String),
    /// EIP-4844 blob transactions carry data Weft does not keep.
    #[error("blob transactions (type 3) are not supported")]
    BlobUnsupported,
    /// EIP-7702 set-code transactions are refused (see `docs/evm.md`).
    #[error("set-code transactions (EIP-7702, type 4) are not supported")]
    SetCodeUnsupported,
    /// Any other envelope type.
    #[error("transaction type {0} is not supported")]
    UnsupportedType(u8),
    /// A legacy transaction without EIP-155 replay protection.
    #[error("legacy transaction without a chain id (EIP-155 is required)")]
    NoChainId,
    /// Signed for another chain.
    #[error("transaction is for chain {got}, this chain is {expected}")]
    WrongChain {
        /// This chain's id.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// The signature does not recover (high-s, malformed, unrecoverable).
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

impl EvmTxError {
    /// Stable error code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge(_) => "too_large",
            Self::Rlp(_) => "invalid_transaction",
            Self::BlobUnsupported | Self::SetCodeUnsupported | Self::UnsupportedType(_) => {
                "unsupported_type"
            }
            Self::NoChainId | Self::WrongChain { .. } => "wrong_chain",
            Self::Signature(e) => e.code(),
        }
    }
}

/// An Ethereum transaction (legacy with EIP-155, EIP-2930 or EIP-1559) with its sender.
///
/// Usually signed, decoded and recovered ([`EvmTransaction::decode`]). A transaction read
/// back from the DA payload has no signature (the payload leaves signatures out, the
/// prover checks them from its witness): [`EvmTransaction::from_unsigned`] builds it from
/// its fields and its sender, with an all-zero placeholder signature in the envelope.
/// Such a transaction executes exactly as its signed original, and its transactions-root
/// leaf ([`EvmTransaction::leaf`]) is the same; only its Ethereum hash is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmTransaction {
    envelope: TxEnvelope,
    sender: Address,
    signed: bool,
    /// [`Self::leaf`], computed once: the block's transactions root and its withdrawal ids
    /// need it, and the signing hash behind it costs an RLP encoding.
    leaf: B256,
}

/// The fields of an Ethereum transaction without its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnsignedEvm {
    /// Legacy; its chain id must be set (EIP-155).
    Legacy(TxLegacy),
    /// EIP-2930.
    Eip2930(TxEip2930),
    /// EIP-1559.
    Eip1559(TxEip1559),
}

/// The signature an unsigned transaction's envelope carries: `r = s = 0`, which no
/// recovery accepts.
fn placeholder_signature() -> alloy_primitives::Signature {
    alloy_primitives::Signature::new(U256::ZERO, U256::ZERO, false)
}

impl std::hash::Hash for EvmTransaction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.envelope.tx_hash().hash(state);
    }
}

impl EvmTransaction {
    /// Decodes an EIP-2718 envelope (`eth_sendRawTransaction`'s bytes), refuses the types
    /// Weft does not run and legacy transactions without a chain id, and recovers the
    /// sender (one libsecp256k1 recovery, EIP-2 low-s). The chain id is checked against
    /// the deployment by [`Self::check_chain`], not here, so that stored blocks decode
    /// whatever the node's configuration.
    pub fn decode(raw: &[u8]) -> Result<Self, EvmTxError> {
        Self::parse(raw)?.recover()
    }

    /// [`Self::decode`] without the recovery: what admission checks before it pays for one.
    pub fn parse(raw: &[u8]) -> Result<ParsedEvm, EvmTxError> {
        if raw.len() > MAX_TX_SIZE {
            return Err(EvmTxError::TooLarge(raw.len()));
        }
        let mut buf = raw;
        let envelope =
            TxEnvelope::decode_2718(&mut buf).map_err(|e| EvmTxError::Rlp(e.to_string()))?;
        if !buf.is_empty() {
            return Err(EvmTxError::Rlp(format!("{} trailing bytes", buf.len())));
        }
        match &envelope {
            TxEnvelope::Legacy(tx) if tx.tx().chain_id.is_none() => {
                return Err(EvmTxError::NoChainId);
            }
            TxEnvelope::Legacy(_) | TxEnvelope::Eip2930(_) | TxEnvelope::Eip1559(_) => {}
            TxEnvelope::Eip4844(_) => return Err(EvmTxError::BlobUnsupported),
            TxEnvelope::Eip7702(_) => return Err(EvmTxError::SetCodeUnsupported),
            #[allow(unreachable_patterns)]
            other => return Err(EvmTxError::UnsupportedType(other.ty())),
        }
        // Canonical bytes only: a re-encoding that differs (non-minimal RLP) is refused, so
        // one transaction has one encoding and one hash.
        if envelope.encoded_2718() != raw {
            return Err(EvmTxError::Rlp("non-canonical encoding".into()));
        }
        Ok(ParsedEvm { envelope })
    }

    /// The transaction of `fields` sent by `sender`, without a signature (read back from
    /// the DA payload, whose senders the prover checked against signatures). Refuses a
    /// legacy transaction without a chain id, as [`Self::decode`] does.
    pub fn from_unsigned(fields: UnsignedEvm, sender: Address) -> Result<Self, EvmTxError> {
        let sig = placeholder_signature();
        let envelope: TxEnvelope = match fields {
            UnsignedEvm::Legacy(tx) => {
                if tx.chain_id.is_none() {
                    return Err(EvmTxError::NoChainId);
                }
                tx.into_signed(sig).into()
            }
            UnsignedEvm::Eip2930(tx) => tx.into_signed(sig).into(),
            UnsignedEvm::Eip1559(tx) => tx.into_signed(sig).into(),
        };
        Ok(Self::new(envelope, sender, false, None))
    }

    /// The transaction with its leaf; `signing_hash` when the caller has it already.
    fn new(
        envelope: TxEnvelope,
        sender: Address,
        signed: bool,
        signing_hash: Option<B256>,
    ) -> Self {
        let signing_hash = signing_hash.unwrap_or_else(|| envelope.signature_hash());
        let mut buf = [0u8; 52];
        buf[..20].copy_from_slice(sender.as_slice());
        buf[20..].copy_from_slice(signing_hash.as_slice());
        Self {
            envelope,
            sender,
            signed,
            leaf: crate::primitives::keccak256(buf),
        }
    }

    /// The fields without the signature.
    pub fn unsigned_fields(&self) -> UnsignedEvm {
        match &self.envelope {
            TxEnvelope::Legacy(t) => UnsignedEvm::Legacy(t.tx().clone()),
            TxEnvelope::Eip2930(t) => UnsignedEvm::Eip2930(t.tx().clone()),
            TxEnvelope::Eip1559(t) => UnsignedEvm::Eip1559(t.tx().clone()),
            _ => unreachable!("only admissible types are constructed"),
        }
    }

    /// The same transaction without its signature: what the DA payload carries and
    /// decodes to.
    pub fn without_signature(&self) -> Self {
        if !self.signed {
            return self.clone();
        }
        Self::from_unsigned(self.unsigned_fields(), self.sender)
            .expect("a decoded transaction has a chain id")
    }

    /// Whether it carries its signature (false for a transaction read back from the DA
    /// payload).
    pub fn is_signed(&self) -> bool {
        self.signed
    }

    /// Requires the transaction to be signed for `chain_id`.
    pub fn check_chain(&self, chain_id: u64) -> Result<(), EvmTxError> {
        check_chain(&self.envelope, chain_id)
    }

    /// The envelope's signature (all zero when [`Self::is_signed`] is false).
    pub fn signature(&self) -> Signature {
        signature_of(&self.envelope)
    }

    /// The Ethereum transaction hash (keccak256 of the envelope): its identity for the
    /// RPC and the REST API. A transaction without its signature has none; its
    /// [`Self::leaf`] stands in.
    pub fn hash(&self) -> B256 {
        if self.signed {
            *self.envelope.tx_hash()
        } else {
            self.leaf()
        }
    }

    /// The hash the sender signs (EIP-155, EIP-2930 or EIP-1559 signing payload).
    pub fn signing_hash(&self) -> B256 {
        self.envelope.signature_hash()
    }

    /// Its leaf in the block's transactions root: `keccak256(sender ‖ signingHash)`, 52
    /// bytes. It does not depend on the signature, so a block rebuilt from the DA payload
    /// (which has none) hashes as the sequencer's, and `BLOCKHASH` re-executes alike.
    pub fn leaf(&self) -> B256 {
        self.leaf
    }

    /// The recovered sender.
    pub fn sender(&self) -> Address {
        self.sender
    }

    /// The EIP-2718 bytes (with the all-zero placeholder signature when
    /// [`Self::is_signed`] is false).
    pub fn encoded(&self) -> Bytes {
        self.envelope.encoded_2718().into()
    }

    /// The decoded envelope.
    pub fn envelope(&self) -> &TxEnvelope {
        &self.envelope
    }

    /// The sender's nonce it uses.
    pub fn nonce(&self) -> u64 {
        self.envelope.nonce()
    }

    /// Its gas limit.
    pub fn gas_limit(&self) -> u64 {
        self.envelope.gas_limit()
    }

    /// The most it pays per gas (`gasPrice` for legacy and EIP-2930).
    pub fn max_fee_per_gas(&self) -> u128 {
        self.envelope.max_fee_per_gas()
    }

    /// The tip cap (EIP-1559), if any.
    pub fn max_priority_fee_per_gas(&self) -> Option<u128> {
        self.envelope.max_priority_fee_per_gas()
    }

    /// The callee, or `None` for a contract creation.
    pub fn to(&self) -> Option<Address> {
        self.envelope.to()
    }

    /// The ETH value sent.
    pub fn value(&self) -> U256 {
        self.envelope.value()
    }

    /// The call data or init code.
    pub fn input(&self) -> &Bytes {
        self.envelope.input()
    }

    /// The most the transaction can cost its sender: `gasLimit × maxFee + value`, what
    /// admission and execution require the sender's balance to cover.
    pub fn max_cost(&self) -> U256 {
        U256::from(self.gas_limit()) * U256::from(self.max_fee_per_gas()) + self.value()
    }

    /// The gas it must carry before executing anything: the intrinsic gas (21,000, 53,000
    /// for a creation, calldata, access list, init-code words) or, when larger, the
    /// EIP-7623 calldata floor. Execution refuses a lower gas limit
    /// (`intrinsic_gas_too_low`); admission checks it first.
    pub fn intrinsic_gas(&self) -> u64 {
        intrinsic_gas(&self.envelope)
    }

    /// The price per gas it pays under `base_fee`: `min(maxFee, baseFee + tip)` (the gas
    /// price for legacy and EIP-2930).
    pub fn effective_gas_price(&self, base_fee: u64) -> u128 {
        self.envelope.effective_gas_price(Some(base_fee))
    }
}

/// A decoded envelope of an admissible type, in canonical encoding, whose sender is not
/// recovered yet ([`EvmTransaction::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEvm {
    envelope: TxEnvelope,
}

impl ParsedEvm {
    /// The decoded envelope.
    pub fn envelope(&self) -> &TxEnvelope {
        &self.envelope
    }

    /// The Ethereum transaction hash.
    pub fn hash(&self) -> B256 {
        *self.envelope.tx_hash()
    }

    /// Requires the transaction to be signed for `chain_id`.
    pub fn check_chain(&self, chain_id: u64) -> Result<(), EvmTxError> {
        check_chain(&self.envelope, chain_id)
    }

    /// See [`EvmTransaction::intrinsic_gas`].
    pub fn intrinsic_gas(&self) -> u64 {
        intrinsic_gas(&self.envelope)
    }

    /// The transaction with `sender` taken as its sender, without a recovery: only for a
    /// sender recovered from these very bytes before (a stored transaction read back).
    pub fn assume_sender(self, sender: Address) -> EvmTransaction {
        EvmTransaction::new(self.envelope, sender, true, None)
    }

    /// The transaction without a signature sent by `sender`: for the stored form of
    /// [`EvmTransaction::from_unsigned`], whose envelope must carry the all-zero
    /// placeholder signature.
    pub fn into_unsigned(self, sender: Address) -> Result<EvmTransaction, EvmTxError> {
        if *self.envelope.signature() != placeholder_signature() {
            return Err(EvmTxError::Rlp(
                "an unsigned transaction carries a signature".into(),
            ));
        }
        Ok(EvmTransaction::new(self.envelope, sender, false, None))
    }

    /// Recovers the sender (one libsecp256k1 recovery, EIP-2 low-s).
    pub fn recover(self) -> Result<EvmTransaction, EvmTxError> {
        let signing_hash = self.envelope.signature_hash();
        let sender = signature_of(&self.envelope).recover(&signing_hash)?;
        Ok(EvmTransaction::new(
            self.envelope,
            sender,
            true,
            Some(signing_hash),
        ))
    }
}

fn signature_of(envelope: &TxEnvelope) -> Signature {
    let sig = envelope.signature();
    Signature {
        r: B256::from(sig.r()),
        s: B256::from(sig.s()),
        y_parity: sig.v(),
    }
}

fn check_chain(envelope: &TxEnvelope, chain_id: u64) -> Result<(), EvmTxError> {
    match envelope.chain_id() {
        Some(got) if got == chain_id => Ok(()),
        Some(got) => Err(EvmTxError::WrongChain {
            expected: chain_id,
            got,
        }),
        None => Err(EvmTxError::NoChainId),
    }
}

fn intrinsic_gas(envelope: &TxEnvelope) -> u64 {
    let (accounts, slots) = envelope.access_list().map_or((0, 0), |list| {
        let slots = list.iter().map(|item| item.storage_keys.len() as u64).sum();
        (list.len() as u64, slots)
    });
    let gas = revm::context_interface::cfg::gas::calculate_initial_tx_gas(
        crate::evm::SPEC,
        envelope.input(),
        envelope.to().is_none(),
        accounts,
        slots,
        0,
        None,
    );
    (gas.initial_regular_gas + gas.initial_state_gas).max(gas.floor_gas)
}

/// The JSON form: the EIP-2718 bytes, hex; a transaction without its signature adds its
/// `sender` (and its bytes carry the all-zero placeholder signature).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RawEvm {
    raw: Bytes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sender: Option<Address>,
}

impl Serialize for EvmTransaction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RawEvm {
            raw: self.encoded(),
            sender: (!self.signed).then_some(self.sender),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for EvmTransaction {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawEvm::deserialize(d)?;
        match raw.sender {
            None => Self::decode(&raw.raw),
            Some(sender) => Self::parse(&raw.raw).and_then(|p| p.into_unsigned(sender)),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{TxEip1559, TxLegacy};
    use alloy_primitives::TxKind;

    use crate::signature::SigningKey;

    fn sign<T>(tx: T, key: &SigningKey) -> Vec<u8>
    where
        T: alloy_consensus::SignableTransaction<alloy_primitives::Signature>,
        TxEnvelope: From<alloy_consensus::Signed<T>>,
    {
        crate::testkit::evm::seal(tx, key).encoded_2718()
    }

    #[test]
    fn decodes_recovers_and_checks_the_chain() {
        let key = SigningKey::from_seed(b"evm");
        let raw = sign(
            TxEip1559 {
                chain_id: 7,
                nonce: 3,
                gas_limit: 21_000,
                max_fee_per_gas: 10,
                max_priority_fee_per_gas: 1,
                to: TxKind::Call(Address::repeat_byte(1)),
                value: U256::from(5),
                ..Default::default()
            },
            &key,
        );
        let tx = EvmTransaction::decode(&raw).unwrap();
        assert_eq!(tx.sender(), key.address());
        assert_eq!(tx.hash(), crate::primitives::keccak256(&raw));
        assert_eq!(tx.nonce(), 3);
        assert_eq!(tx.max_cost(), U256::from(21_000 * 10 + 5));
        assert_eq!(tx.effective_gas_price(4), 5);
        tx.check_chain(7).unwrap();
        assert_eq!(
            tx.check_chain(8),
            Err(EvmTxError::WrongChain {
                expected: 8,
                got: 7
            })
        );
        let json = serde_json::to_string(&tx).unwrap();
        assert_eq!(serde_json::from_str::<EvmTransaction>(&json).unwrap(), tx);
    }

    #[test]
    fn refuses_pre_eip155_and_trailing_bytes() {
        let key = SigningKey::from_seed(b"evm");
        let raw = sign(
            TxLegacy {
                chain_id: None,
                gas_limit: 21_000,
                to: TxKind::Create,
                ..Default::default()
            },
            &key,
        );
        assert_eq!(EvmTransaction::decode(&raw), Err(EvmTxError::NoChainId));
        let mut raw = sign(
            TxLegacy {
                chain_id: Some(1),
                gas_limit: 21_000,
                to: TxKind::Create,
                ..Default::default()
            },
            &key,
        );
        EvmTransaction::decode(&raw).unwrap();
        raw.push(0);
        assert!(matches!(
            EvmTransaction::decode(&raw),
            Err(EvmTxError::Rlp(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn no_byte_string_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = EvmTransaction::decode(&bytes);
            let mut typed = vec![2u8];
            typed.extend_from_slice(&bytes);
            let _ = EvmTransaction::decode(&typed);
        }
    }
}

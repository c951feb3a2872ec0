//! The compact binary encoding of transactions, used for storage and the prover's witness.
//!
//! The format is canonical: every value has exactly one encoding, and every byte string
//! that decodes is the encoding of the value it decodes to.
//!
//! - A [`Transaction`] is a kind tag byte followed by the kind's fields in EIP-712 order:
//!
//!   | tag | kind              | tag | kind              |
//!   |-----|-------------------|-----|-------------------|
//!   | 1   | `Transfer`        | 7   | `ChannelRefute`   |
//!   | 2   | `Withdraw`        | 8   | `ChannelConclude` |
//!   | 3   | `ChannelOpen`     | 9   | `RevealSecret`    |
//!   | 4   | `ChannelDeposit`  | 16  | `Deposit`         |
//!   | 5   | `ChannelClose`    | 17  | `ForcedWithdraw`  |
//!   | 6   | `ChannelRegister` |     |                   |
//!
//! - An EVM transaction is tag 32, a `u32` length and its EIP-2718 bytes (at most
//!   [`crate::evm::MAX_TX_SIZE`]); one without its signature (read back from the DA
//!   payload, [`crate::evm::EvmTransaction::from_unsigned`]) is tag 33, its 20-byte sender,
//!   then the same with the all-zero placeholder signature in the envelope.
//! - Fixed-width fields are big-endian: an address is 20 bytes, `uint32` 4, `uint64` 8,
//!   `uint128` 16, `bytes32` 32; a `bool` is one byte that must be 0 or 1, a lock direction
//!   one byte that must be 0 (`WalletToHub`) or 1 (`HubToWallet`).
//! - A co-signature (`bytes`) is a `u16` length and that many bytes, at most
//!   [`MAX_CO_SIGNATURE_LEN`].
//! - A [`ChannelState`] is its fields in EIP-712 order, its locks as a `u8` count (at most
//!   [`MAX_LOCKS`]) followed by each [`Lock`].
//! - The body of each kind (`Transfer`, ..., `ChannelSettle`, shared by tags 5 to 7) also
//!   encodes on its own: its fields, without a tag.
//! - A [`SignedTransaction`] is its transaction followed by the 65-byte signature
//!   `r ‖ s ‖ v`, `v` 27 or 28.
//!
//! Decoding never panics, and never allocates more than the input it has read justifies:
//! every length is checked against its limit and against the remaining input first.

use crate::{
    channel::{ChannelState, Lock, LockDirection, MAX_LOCKS},
    error::{DecodeError, SignatureError},
    primitives::{Address, B256, Bytes},
    signature::Signature,
    transaction::{
        ChannelConclude, ChannelDeposit, ChannelOpen, ChannelSettle, Deposit, ForcedWithdraw,
        RevealSecret, SignedTransaction, Transaction, Transfer, Withdraw,
    },
};

/// Longest co-signature (`walletSignature`, `hubSignature`) a channel kind may carry: one
/// `r ‖ s ‖ v` signature.
pub const MAX_CO_SIGNATURE_LEN: usize = Signature::LEN;

/// Encoded length of one [`Lock`]: amount, hashlock, expiry, direction.
const LOCK_LEN: usize = 16 + 32 + 8 + 1;

/// A value with a binary encoding.
///
/// Encoding never fails. A value over a decoding limit (a co-signature longer than
/// [`MAX_CO_SIGNATURE_LEN`], more than [`MAX_LOCKS`] locks) still encodes, to bytes that
/// [`Decode`] rejects with [`DecodeError::TooLong`].
pub trait Encode {
    /// Appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// The encoding of `self`.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// A value that decodes from its binary encoding.
pub trait Decode: Sized {
    /// Decodes one value from the front of `buf` and advances `buf` past it. On error, how
    /// far `buf` has advanced is unspecified.
    fn decode(buf: &mut &[u8]) -> Result<Self, DecodeError>;

    /// Decodes a value that must span all of `bytes`.
    fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut buf = bytes;
        let value = Self::decode(&mut buf)?;
        if buf.is_empty() {
            Ok(value)
        } else {
            Err(DecodeError::TrailingBytes(buf.len()))
        }
    }
}

/// Kind tags of [`Transaction`].
mod tag {
    pub(super) const TRANSFER: u8 = 1;
    pub(super) const WITHDRAW: u8 = 2;
    pub(super) const CHANNEL_OPEN: u8 = 3;
    pub(super) const CHANNEL_DEPOSIT: u8 = 4;
    pub(super) const CHANNEL_CLOSE: u8 = 5;
    pub(super) const CHANNEL_REGISTER: u8 = 6;
    pub(super) const CHANNEL_REFUTE: u8 = 7;
    pub(super) const CHANNEL_CONCLUDE: u8 = 8;
    pub(super) const REVEAL_SECRET: u8 = 9;
    pub(super) const DEPOSIT: u8 = 16;
    pub(super) const FORCED_WITHDRAW: u8 = 17;
    pub(super) const EVM: u8 = 32;
    pub(super) const EVM_UNSIGNED: u8 = 33;
}

/// Writes fields; each method's name matches the [`Reader`] method that reads it back.
pub(crate) struct Writer<'a>(pub(crate) &'a mut Vec<u8>);

impl Writer<'_> {
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    pub(crate) fn u32(&mut self, v: &u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn u64(&mut self, v: &u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn u128(&mut self, v: &u128) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn address(&mut self, v: &Address) {
        self.0.extend_from_slice(v.as_slice());
    }

    pub(crate) fn b256(&mut self, v: &B256) {
        self.0.extend_from_slice(v.as_slice());
    }

    pub(crate) fn bool(&mut self, v: &bool) {
        self.u8(u8::from(*v));
    }

    pub(crate) fn direction(&mut self, v: &LockDirection) {
        self.u8(v.as_u8());
    }

    /// A `u16` length and the bytes. A length past `u16::MAX` is written as `u16::MAX`,
    /// which is above every limit, so the result never decodes.
    pub(crate) fn bytes(&mut self, v: &[u8]) {
        let len = u16::try_from(v.len()).unwrap_or(u16::MAX);
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(v);
    }

    pub(crate) fn co_signature(&mut self, v: &Bytes) {
        self.bytes(v);
    }

    /// A `u8` count and the locks. A count past `u8::MAX` is written as `u8::MAX`, which is
    /// above [`MAX_LOCKS`], so the result never decodes.
    pub(crate) fn locks(&mut self, locks: &[Lock]) {
        self.u8(u8::try_from(locks.len()).unwrap_or(u8::MAX));
        for lock in locks {
            lock.encode(self.0);
        }
    }

    /// `r ‖ s ‖ v` with `v ∈ {27, 28}`.
    pub(crate) fn signature(&mut self, v: &Signature) {
        self.0.extend_from_slice(&v.to_bytes());
    }

    pub(crate) fn value<T: Encode>(&mut self, v: &T) {
        v.encode(self.0);
    }
}

/// Reads fields from the front of a buffer, advancing it; every read checks the remaining
/// length first.
pub(crate) struct Reader<'a, 'b>(pub(crate) &'a mut &'b [u8]);

impl<'b> Reader<'_, 'b> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'b [u8], DecodeError> {
        let buf: &'b [u8] = self.0;
        let (head, rest) = buf.split_at_checked(n).ok_or(DecodeError::UnexpectedEnd)?;
        *self.0 = rest;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let buf: &'b [u8] = self.0;
        let (head, rest) = buf
            .split_first_chunk::<N>()
            .ok_or(DecodeError::UnexpectedEnd)?;
        *self.0 = rest;
        Ok(*head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        self.array().map(u8::from_be_bytes)
    }

    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_be_bytes)
    }

    pub(crate) fn u128(&mut self) -> Result<u128, DecodeError> {
        self.array().map(u128::from_be_bytes)
    }

    pub(crate) fn address(&mut self) -> Result<Address, DecodeError> {
        self.array().map(Address::from)
    }

    pub(crate) fn b256(&mut self) -> Result<B256, DecodeError> {
        self.array().map(B256::from)
    }

    pub(crate) fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Invalid(what)),
        }
    }

    pub(crate) fn direction(&mut self) -> Result<LockDirection, DecodeError> {
        LockDirection::from_u8(self.u8()?).ok_or(DecodeError::Invalid("lock direction"))
    }

    /// A `u16` length of at most `max`, then that many bytes.
    pub(crate) fn bytes(&mut self, what: &'static str, max: usize) -> Result<Bytes, DecodeError> {
        let len = usize::from(self.u16()?);
        if len > max {
            return Err(DecodeError::TooLong { what, len, max });
        }
        self.take(len).map(Bytes::copy_from_slice)
    }

    pub(crate) fn co_signature(&mut self, what: &'static str) -> Result<Bytes, DecodeError> {
        self.bytes(what, MAX_CO_SIGNATURE_LEN)
    }

    /// A `u8` count of at most [`MAX_LOCKS`], then the locks.
    pub(crate) fn locks(&mut self) -> Result<Vec<Lock>, DecodeError> {
        let count = usize::from(self.u8()?);
        if count > MAX_LOCKS {
            return Err(DecodeError::TooLong {
                what: "locks",
                len: count,
                max: MAX_LOCKS,
            });
        }
        // Allocate only for locks the remaining input can hold.
        if self.0.len() < count * LOCK_LEN {
            return Err(DecodeError::UnexpectedEnd);
        }
        let mut locks = Vec::with_capacity(count);
        for _ in 0..count {
            locks.push(self.value()?);
        }
        Ok(locks)
    }

    /// `r ‖ s ‖ v`, taking only `v ∈ {27, 28}` (unlike [`Signature::from_bytes`], which
    /// also takes 0 and 1) so that the encoding stays canonical.
    pub(crate) fn signature(&mut self) -> Result<Signature, DecodeError> {
        let r = self.b256()?;
        let s = self.b256()?;
        let y_parity = match self.u8()? {
            27 => false,
            28 => true,
            v => return Err(SignatureError::InvalidV(v).into()),
        };
        Ok(Signature { r, s, y_parity })
    }

    pub(crate) fn value<T: Decode>(&mut self) -> Result<T, DecodeError> {
        T::decode(self.0)
    }
}

/// Implements [`Encode`] and [`Decode`] for structs, from their fields in encoding (EIP-712)
/// order. Each field names the [`Writer`] and [`Reader`] method of its wire type; arguments
/// in parentheses go to the reader only (field names for errors, limits).
macro_rules! struct_codec {
    ($($ty:ident { $($field:ident: $wire:ident $(($($arg:expr),*))?),+ $(,)? })*) => {$(
        impl Encode for $ty {
            fn encode(&self, out: &mut Vec<u8>) {
                let mut w = Writer(out);
                $(w.$wire(&self.$field);)+
            }
        }

        impl Decode for $ty {
            fn decode(buf: &mut &[u8]) -> Result<Self, DecodeError> {
                let mut r = Reader(buf);
                // Struct expressions evaluate their fields in the order written.
                Ok(Self { $($field: r.$wire($($($arg),*)?)?,)+ })
            }
        }
    )*};
}

struct_codec! {
    Transfer { from: address, to: address, token: u32, amount: u128, fee: u128, nonce: u64 }
    Withdraw {
        from: address,
        l1_recipient: address,
        token: u32,
        amount: u128,
        fee: u128,
        nonce: u64,
    }
    ChannelOpen { from: address, hub: address, token: u32, amount: u128, fee: u128, nonce: u64 }
    ChannelDeposit {
        from: address,
        channel_id: b256,
        amount: u128,
        state: value,
        wallet_signature: co_signature("walletSignature"),
        hub_signature: co_signature("hubSignature"),
        fee: u128,
        nonce: u64,
    }
    ChannelSettle {
        from: address,
        state: value,
        wallet_signature: co_signature("walletSignature"),
        hub_signature: co_signature("hubSignature"),
        fee: u128,
        nonce: u64,
    }
    ChannelConclude { from: address, channel_id: b256, fee: u128, nonce: u64 }
    RevealSecret { from: address, secret: b256, fee: u128, nonce: u64 }
    Deposit { queue_index: u64, to: address, token: u32, amount: u128 }
    ForcedWithdraw { queue_index: u64, account: address, token: u32 }
    Lock { amount: u128, hashlock: b256, expiry: u64, direction: direction }
    ChannelState {
        channel_id: b256,
        version: u64,
        balance_wallet: u128,
        balance_hub: u128,
        locks: locks,
        is_final: bool("isFinal"),
    }
}

impl Encode for Transaction {
    fn encode(&self, out: &mut Vec<u8>) {
        if let Self::Evm(t) = self {
            let raw = t.encoded();
            if t.is_signed() {
                out.push(tag::EVM);
            } else {
                out.push(tag::EVM_UNSIGNED);
                out.extend_from_slice(t.sender().as_slice());
            }
            out.extend_from_slice(&(raw.len() as u32).to_be_bytes());
            out.extend_from_slice(&raw);
            return;
        }
        let (kind, body): (u8, &dyn Encode) = match self {
            Self::Transfer(t) => (tag::TRANSFER, t),
            Self::Withdraw(t) => (tag::WITHDRAW, t),
            Self::ChannelOpen(t) => (tag::CHANNEL_OPEN, t),
            Self::ChannelDeposit(t) => (tag::CHANNEL_DEPOSIT, t),
            Self::ChannelClose(t) => (tag::CHANNEL_CLOSE, t),
            Self::ChannelRegister(t) => (tag::CHANNEL_REGISTER, t),
            Self::ChannelRefute(t) => (tag::CHANNEL_REFUTE, t),
            Self::ChannelConclude(t) => (tag::CHANNEL_CONCLUDE, t),
            Self::RevealSecret(t) => (tag::REVEAL_SECRET, t),
            Self::Deposit(t) => (tag::DEPOSIT, t),
            Self::ForcedWithdraw(t) => (tag::FORCED_WITHDRAW, t),
            Self::Evm(_) => unreachable!("encoded above"),
        };
        out.push(kind);
        body.encode(out);
    }
}

impl Decode for Transaction {
    fn decode(buf: &mut &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader(buf);
        Ok(match r.u8()? {
            tag::TRANSFER => Self::Transfer(r.value()?),
            tag::WITHDRAW => Self::Withdraw(r.value()?),
            tag::CHANNEL_OPEN => Self::ChannelOpen(r.value()?),
            tag::CHANNEL_DEPOSIT => Self::ChannelDeposit(r.value()?),
            tag::CHANNEL_CLOSE => Self::ChannelClose(r.value()?),
            tag::CHANNEL_REGISTER => Self::ChannelRegister(r.value()?),
            tag::CHANNEL_REFUTE => Self::ChannelRefute(r.value()?),
            tag::CHANNEL_CONCLUDE => Self::ChannelConclude(r.value()?),
            tag::REVEAL_SECRET => Self::RevealSecret(r.value()?),
            tag::DEPOSIT => Self::Deposit(r.value()?),
            tag::FORCED_WITHDRAW => Self::ForcedWithdraw(r.value()?),
            tag @ (tag::EVM | tag::EVM_UNSIGNED) => {
                let sender = (tag == tag::EVM_UNSIGNED)
                    .then(|| r.address())
                    .transpose()?;
                let len = r.u32()? as usize;
                if len > crate::evm::MAX_TX_SIZE {
                    return Err(DecodeError::TooLong {
                        what: "EVM transaction",
                        len,
                        max: crate::evm::MAX_TX_SIZE,
                    });
                }
                let raw = r.take(len)?;
                let tx = match sender {
                    None => crate::evm::EvmTransaction::decode(raw),
                    Some(sender) => {
                        crate::evm::EvmTransaction::parse(raw).and_then(|p| p.into_unsigned(sender))
                    }
                }
                .map_err(|_| DecodeError::Invalid("EVM transaction"))?;
                Self::Evm(Box::new(tx))
            }
            unknown => return Err(DecodeError::UnknownKind(unknown)),
        })
    }
}

impl Transaction {
    /// [`Decode::from_bytes`], except that an EVM transaction takes `evm_sender` as its
    /// sender instead of recovering it: for transactions the node admitted (recovering the
    /// sender then) and stored with their sender, which it reads back many times (receipts,
    /// blocks, batches, replay). The caller vouches for the sender, as a store does for
    /// the signatures it kept.
    pub fn from_stored_bytes(
        bytes: &[u8],
        evm_sender: Option<Address>,
    ) -> Result<Self, DecodeError> {
        let (Some(sender), [tag::EVM, len @ ..]) = (evm_sender, bytes) else {
            return Self::from_bytes(bytes);
        };
        let (len, raw) = len
            .split_at_checked(4)
            .ok_or(DecodeError::Invalid("EVM transaction"))?;
        let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
        if len != raw.len() || len > crate::evm::MAX_TX_SIZE {
            return Err(DecodeError::Invalid("EVM transaction"));
        }
        let tx = crate::evm::EvmTransaction::parse(raw)
            .map_err(|_| DecodeError::Invalid("EVM transaction"))?
            .assume_sender(sender);
        Ok(Self::Evm(Box::new(tx)))
    }
}

// The transaction (tag and body), then `r ‖ s ‖ v`.
struct_codec! {
    SignedTransaction { transaction: value, signature: signature }
}

#[cfg(test)]
mod tests;

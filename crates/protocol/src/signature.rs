//! secp256k1 signatures over EIP-712 digests: recovery (libsecp256k1), EIP-2 low-s rule,
//! and a signing key for wallets, tests and the load generator.

use std::{fmt, str::FromStr, sync::LazyLock};

use secp256k1::{
    Message, PublicKey, Secp256k1, SecretKey,
    ecdsa::{RecoverableSignature, RecoveryId},
};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

use crate::{
    error::SignatureError,
    primitives::{Address, B256, keccak256},
};

/// Half the secp256k1 group order: EIP-2 rejects any `s` above it.
const SECP256K1_HALF_N: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

static SECP: LazyLock<Secp256k1<secp256k1::All>> = LazyLock::new(Secp256k1::new);

/// A recoverable ECDSA signature `(r, s, y-parity)`.
///
/// Wire form: 65 bytes `r ‖ s ‖ v` with `v ∈ {27, 28}` (what `eth_signTypedData_v4` and
/// `cast wallet sign` print); `v ∈ {0, 1}` is accepted on input.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature {
    /// The `r` scalar, big-endian.
    pub r: B256,
    /// The `s` scalar, big-endian.
    pub s: B256,
    /// The y-parity of the nonce point (0 or 1).
    pub y_parity: bool,
}

impl Signature {
    /// Length of the wire form.
    pub const LEN: usize = 65;

    /// Parses `r ‖ s ‖ v`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SignatureError> {
        let bytes: &[u8; 65] = bytes
            .try_into()
            .map_err(|_| SignatureError::Length(bytes.len()))?;
        let y_parity = match bytes[64] {
            0 | 27 => false,
            1 | 28 => true,
            v => return Err(SignatureError::InvalidV(v)),
        };
        Ok(Self {
            r: B256::from_slice(&bytes[..32]),
            s: B256::from_slice(&bytes[32..64]),
            y_parity,
        })
    }

    /// `r ‖ s ‖ v` with `v ∈ {27, 28}`.
    pub fn to_bytes(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[..32].copy_from_slice(self.r.as_slice());
        out[32..64].copy_from_slice(self.s.as_slice());
        out[64] = 27 + self.y_parity as u8;
        out
    }

    /// Whether `s` is in the upper half of the group order (forbidden by EIP-2).
    pub fn is_high_s(&self) -> bool {
        self.s.0 > SECP256K1_HALF_N
    }

    /// Recovers the signer of `digest`. Rejects high-s signatures before doing any
    /// curve arithmetic.
    pub fn recover(&self, digest: &B256) -> Result<Address, SignatureError> {
        if self.is_high_s() {
            return Err(SignatureError::HighS);
        }
        let mut compact = [0u8; 64];
        compact[..32].copy_from_slice(self.r.as_slice());
        compact[32..].copy_from_slice(self.s.as_slice());
        let recid = RecoveryId::from_u8_masked(self.y_parity as u8);
        let sig = RecoverableSignature::from_compact(&compact, recid)
            .map_err(|_| SignatureError::Malformed)?;
        let key = SECP
            .recover_ecdsa(Message::from_digest(digest.0), &sig)
            .map_err(|_| SignatureError::Unrecoverable)?;
        Ok(public_key_address(&key))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", alloy_primitives::hex::encode(self.to_bytes()))
    }
}

impl FromStr for Signature {
    type Err = SignatureError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s.strip_prefix("0x").ok_or(SignatureError::NotHex)?;
        let bytes = alloy_primitives::hex::decode(hex).map_err(|_| SignatureError::NotHex)?;
        Self::from_bytes(&bytes)
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }
}

/// The Ethereum address of a public key: the last 20 bytes of keccak256 of its
/// uncompressed form without the `0x04` prefix.
fn public_key_address(key: &PublicKey) -> Address {
    let uncompressed = key.serialize_uncompressed();
    Address::from_slice(&keccak256(&uncompressed[1..])[12..])
}

/// A secp256k1 private key that signs EIP-712 digests.
///
/// For wallets, tests and the load generator; the sequencer itself never signs
/// transactions. `Debug` never prints the key.
#[derive(Clone)]
pub struct SigningKey {
    secret: SecretKey,
    address: Address,
}

impl SigningKey {
    /// A key from its 32 secret bytes.
    pub fn from_bytes(bytes: &B256) -> Result<Self, SignatureError> {
        let secret = SecretKey::from_byte_array(bytes.0).map_err(|_| SignatureError::InvalidKey)?;
        let address = public_key_address(&secret.public_key(&SECP));
        Ok(Self { secret, address })
    }

    /// A deterministic key for tests and dev genesis: keccak256 of `seed`, re-hashed in the
    /// (negligible) case that it is not a valid scalar.
    pub fn from_seed(seed: &[u8]) -> Self {
        let mut bytes = keccak256(seed);
        loop {
            if let Ok(key) = Self::from_bytes(&bytes) {
                return key;
            }
            bytes = keccak256(bytes);
        }
    }

    /// The key's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The secret scalar (for exporting a dev key).
    pub fn secret_bytes(&self) -> B256 {
        B256::from(self.secret.secret_bytes())
    }

    /// Signs a 32-byte digest (RFC 6979 nonce; libsecp256k1 always produces low-s).
    pub fn sign_digest(&self, digest: &B256) -> Signature {
        let sig = SECP.sign_ecdsa_recoverable(Message::from_digest(digest.0), &self.secret);
        let (recid, compact) = sig.serialize_compact();
        Signature {
            r: B256::from_slice(&compact[..32]),
            s: B256::from_slice(&compact[32..]),
            y_parity: i32::from(recid) == 1,
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::{U256, address, b256};

    /// secp256k1 group order.
    const N: U256 = U256::from_be_bytes([
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36,
        0x41, 0x41,
    ]);

    #[test]
    fn known_private_key_has_known_address() {
        // anvil's first dev account.
        let key = SigningKey::from_bytes(&b256!(
            "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
        ))
        .unwrap();
        assert_eq!(
            key.address(),
            address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
        );
    }

    #[test]
    fn signs_and_recovers_the_same_address() {
        let key = SigningKey::from_seed(b"alice");
        let digest = keccak256(b"message");
        let sig = key.sign_digest(&digest);
        assert!(!sig.is_high_s());
        assert_eq!(sig.recover(&digest).unwrap(), key.address());
        assert_ne!(sig.recover(&keccak256(b"other")).ok(), Some(key.address()));
    }

    #[test]
    fn rejects_high_s_signature() {
        let key = SigningKey::from_seed(b"bob");
        let digest = keccak256(b"message");
        let sig = key.sign_digest(&digest);
        // (r, n - s, !v) is the same signature's malleated twin.
        let s = U256::from_be_bytes(sig.s.0);
        let high = Signature {
            r: sig.r,
            s: B256::from(N - s),
            y_parity: !sig.y_parity,
        };
        assert!(high.is_high_s());
        assert_eq!(high.recover(&digest), Err(SignatureError::HighS));
    }

    #[test]
    fn wire_form_round_trips_and_accepts_both_v_conventions() {
        let key = SigningKey::from_seed(b"carol");
        let sig = key.sign_digest(&keccak256(b"m"));
        let text = sig.to_string();
        assert_eq!(text.len(), 2 + 130);
        assert_eq!(text.parse::<Signature>().unwrap(), sig);
        let mut raw = sig.to_bytes();
        raw[64] -= 27;
        assert_eq!(Signature::from_bytes(&raw).unwrap(), sig);
        raw[64] = 29;
        assert_eq!(
            Signature::from_bytes(&raw),
            Err(SignatureError::InvalidV(29))
        );
        assert_eq!(
            Signature::from_bytes(&raw[..64]),
            Err(SignatureError::Length(64))
        );
    }

    #[test]
    fn zero_signature_is_rejected() {
        let sig = Signature {
            r: B256::ZERO,
            s: B256::ZERO,
            y_parity: false,
        };
        assert!(sig.recover(&keccak256(b"m")).is_err());
    }
}

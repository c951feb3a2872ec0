//! Scalar types of the protocol and the one hash function everything commits with.

pub use alloy_primitives::{Address, B256, Bytes, U256, address, b256};

/// Token identifier. `0` is ETH; ERC-20 tokens get the next id when first deposited on L1.
pub type TokenId = u32;
/// Amounts are base units (wei for ETH).
pub type Amount = u128;
/// Per-account transaction counter; strictly sequential.
pub type Nonce = u64;
/// Dense account index, assigned on first appearance in block order.
pub type AccountIndex = u32;

/// The token id of ETH.
pub const ETH: TokenId = 0;

/// keccak256 of `data`.
///
/// Backed by XKCP's assembly keccak (`alloy-primitives/asm-keccak`); `cargo bench -p
/// weft-protocol` prints the comparison with `sha3` and `tiny-keccak` that chose it.
#[inline]
pub fn keccak256(data: impl AsRef<[u8]>) -> B256 {
    alloy_primitives::keccak256(data)
}

/// keccak256 of the 64-byte concatenation `left ‖ right`: the inner node of every Merkle tree.
#[inline]
pub fn hash_pair(left: &B256, right: &B256) -> B256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(left.as_slice());
    buf[32..].copy_from_slice(right.as_slice());
    keccak256(buf)
}

/// A `u128` as a 32-byte big-endian ABI word.
#[inline]
pub(crate) fn word_u128(v: u128) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[16..].copy_from_slice(&v.to_be_bytes());
    w
}

/// A `u64` as a 32-byte big-endian ABI word.
#[inline]
pub(crate) fn word_u64(v: u64) -> [u8; 32] {
    word_u128(v as u128)
}

/// An address as a 32-byte left-padded ABI word.
#[inline]
pub(crate) fn word_address(a: &Address) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(a.as_slice());
    w
}

/// Serde helpers for the JSON forms of the API: `u128` amounts travel as decimal strings
/// (JSON numbers lose precision past 2^53 in most clients).
pub mod serde_dec {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    /// Serialises a `u128` as a decimal string.
    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    /// Parses a decimal string (digits only, no sign, no leading `+`, at most 39 digits).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse_u128(&s).map_err(D::Error::custom)
    }

    /// Parses a canonical decimal `u128`.
    pub fn parse_u128(s: &str) -> Result<u128, &'static str> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err("expected a decimal string of digits");
        }
        if s.len() > 1 && s.starts_with('0') {
            return Err("decimal amount has a leading zero");
        }
        s.parse::<u128>()
            .map_err(|_| "amount does not fit in 128 bits")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keccak_of_empty_input_is_the_known_constant() {
        assert_eq!(
            keccak256([]),
            b256!("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
        );
    }

    #[test]
    fn decimal_amounts_parse_strictly() {
        assert_eq!(serde_dec::parse_u128("0"), Ok(0));
        assert_eq!(serde_dec::parse_u128(&u128::MAX.to_string()), Ok(u128::MAX));
        assert!(serde_dec::parse_u128("340282366920938463463374607431768211456").is_err());
        assert!(serde_dec::parse_u128("01").is_err());
        assert!(serde_dec::parse_u128("-1").is_err());
        assert!(serde_dec::parse_u128("+1").is_err());
        assert!(serde_dec::parse_u128("1e3").is_err());
        assert!(serde_dec::parse_u128("").is_err());
    }
}

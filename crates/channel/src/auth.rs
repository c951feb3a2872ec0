//! Request authentication for what is not a signed state. A read of a channel is an
//! EIP-712 `HubRequest` (same domain as the wallet's states, so any Ethereum wallet can
//! sign it) over the method, the path and a timestamp:
//!
//! ```text
//! HubRequest(address wallet,string method,string path,uint64 timestamp)
//! ```
//!
//! sent as the `x-weft-wallet`, `x-weft-timestamp` (Unix seconds) and `x-weft-signature`
//! headers. The hub accepts a timestamp within its window of its own clock. Such requests
//! change nothing, so a replay inside the window only repeats a read; every request that
//! changes a channel carries the wallet's signature of the new state instead.
//!
//! The WebSocket carries what a read does not: lock offers and the secrets of settle
//! offers. Its login is a one-time challenge instead ([`HubLogin`]):
//!
//! ```text
//! HubLogin(address wallet,bytes32 challenge)
//! ```
//!
//! signed over the random challenge the hub sent first on that very socket.

use std::time::Duration;

use weft_protocol::{
    eip712::{Domain, Eip712, FieldType, StructType, Value},
    error::SignatureError,
    primitives::{Address, B256},
    signature::{Signature, SigningKey},
};

/// Header naming the wallet.
pub const HEADER_WALLET: &str = "x-weft-wallet";
/// Header with the Unix timestamp in seconds.
pub const HEADER_TIMESTAMP: &str = "x-weft-timestamp";
/// Header with the signature of the [`HubRequest`].
pub const HEADER_SIGNATURE: &str = "x-weft-signature";

/// EIP-712 type of [`HubRequest`].
pub static HUB_REQUEST_TYPE: StructType = StructType::new(
    "HubRequest",
    &[
        ("wallet", FieldType::Address),
        ("method", FieldType::String),
        ("path", FieldType::String),
        ("timestamp", FieldType::Uint(64)),
    ],
);

/// EIP-712 type of [`HubLogin`].
pub static HUB_LOGIN_TYPE: StructType = StructType::new(
    "HubLogin",
    &[
        ("wallet", FieldType::Address),
        ("challenge", FieldType::Bytes32),
    ],
);

/// A WebSocket login: the wallet signs the challenge the hub sent on that socket. The
/// challenge is random, lives in that socket alone and is taken by its first message, so a
/// captured login opens no other socket (unlike a timestamped request, which could be
/// replayed within its window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubLogin {
    /// Who logs in.
    pub wallet: Address,
    /// The socket's challenge.
    pub challenge: B256,
}

impl Eip712 for HubLogin {
    fn struct_type(&self) -> &'static StructType {
        &HUB_LOGIN_TYPE
    }

    fn values(&self) -> Vec<Value<'_>> {
        vec![Value::Address(self.wallet), Value::Bytes32(self.challenge)]
    }
}

impl HubLogin {
    /// Signs the login with the wallet's key.
    pub fn sign(&self, key: &SigningKey, domain: &Domain) -> Signature {
        key.sign_digest(&self.signing_hash(domain))
    }

    /// Checks that `signature` is the wallet's over this login.
    pub fn verify(&self, signature: &Signature, domain: &Domain) -> Result<(), AuthError> {
        let signer = signature.recover(&self.signing_hash(domain))?;
        if signer != self.wallet {
            return Err(AuthError::WrongSigner);
        }
        Ok(())
    }
}

/// A signed read request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubRequest<'a> {
    /// Who asks.
    pub wallet: Address,
    /// HTTP method, upper case.
    pub method: &'a str,
    /// The path, without query.
    pub path: &'a str,
    /// Unix seconds.
    pub timestamp: u64,
}

impl Eip712 for HubRequest<'_> {
    fn struct_type(&self) -> &'static StructType {
        &HUB_REQUEST_TYPE
    }

    fn values(&self) -> Vec<Value<'_>> {
        vec![
            Value::Address(self.wallet),
            Value::Bytes(self.method.as_bytes()),
            Value::Bytes(self.path.as_bytes()),
            Value::Uint(self.timestamp.into()),
        ]
    }
}

impl HubRequest<'_> {
    /// Signs the request with the wallet's key.
    pub fn sign(&self, key: &SigningKey, domain: &Domain) -> Signature {
        key.sign_digest(&self.signing_hash(domain))
    }

    /// Checks the signature and the timestamp against `now` (Unix seconds).
    pub fn verify(
        &self,
        signature: &Signature,
        domain: &Domain,
        now: u64,
        window: Duration,
    ) -> Result<(), AuthError> {
        if now.abs_diff(self.timestamp) > window.as_secs() {
            return Err(AuthError::OutsideWindow);
        }
        let signer = signature.recover(&self.signing_hash(domain))?;
        if signer != self.wallet {
            return Err(AuthError::WrongSigner);
        }
        Ok(())
    }
}

/// Why a [`HubRequest`] is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The timestamp is further from the verifier's clock than its window.
    #[error("request timestamp outside the accepted window")]
    OutsideWindow,
    /// The signature is valid but not the named wallet's.
    #[error("request not signed by the wallet")]
    WrongSigner,
    /// The signature does not verify at all.
    #[error("invalid signature: {0}")]
    Signature(#[from] SignatureError),
}

/// Unix seconds now, the clock [`HubRequest`] timestamps are made and checked with (0 if
/// the clock is before 1970).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain() -> Domain {
        Domain::new(7, Address::repeat_byte(1))
    }

    #[test]
    fn a_signed_request_verifies_only_for_its_wallet_path_and_time() {
        let key = SigningKey::from_seed(b"auth wallet");
        let req = HubRequest {
            wallet: key.address(),
            method: "GET",
            path: "/v1/channels/0x01",
            timestamp: 1_000,
        };
        let sig = req.sign(&key, &domain());
        let window = Duration::from_secs(60);
        req.verify(&sig, &domain(), 1_030, window).unwrap();
        assert!(req.verify(&sig, &domain(), 1_100, window).is_err());
        let other_path = HubRequest {
            path: "/v1/channels/0x02",
            ..req
        };
        assert!(other_path.verify(&sig, &domain(), 1_000, window).is_err());
        let other_wallet = HubRequest {
            wallet: Address::repeat_byte(9),
            ..req
        };
        assert!(other_wallet.verify(&sig, &domain(), 1_000, window).is_err());
        assert!(
            req.verify(
                &sig,
                &Domain::new(8, Address::repeat_byte(1)),
                1_000,
                window
            )
            .is_err()
        );
    }

    #[test]
    fn the_type_string_is_stable() {
        assert_eq!(
            HUB_REQUEST_TYPE.encode_type(),
            "HubRequest(address wallet,string method,string path,uint64 timestamp)"
        );
    }
}

//! The DA payload as EIP-4844 blobs: the canonical blob encoding of a payload, its KZG
//! versioned hashes, and the DA hash a blob-carried batch commits to.
//!
//! A batch's DA payload travels to L1 by one of two carriers ([`Carrier`]):
//!
//! - **calldata**: the payload is the `daPayload` argument of `commitBatch`, and the
//!   commitment's DA hash is `keccak256(payload)`;
//! - **blobs**: the payload is encoded into the blobs of the `commitBatchBlobs` transaction,
//!   and the commitment's DA hash is `keccak256(h₀ ‖ h₁ ‖ …)` over the blobs' versioned
//!   hashes in transaction order, which the contract reads with `BLOBHASH`. A versioned
//!   hash binds its blob through its KZG commitment, so the DA hash binds the payload.
//!
//! The encoding is canonical: one payload has exactly one blob encoding (so one list of
//! versioned hashes), and [`decode`] refuses anything [`encode`] cannot produce. Each
//! 32-byte field element carries 31 bytes of data after a zero byte (which keeps it below
//! the BLS modulus); the first field element holds the payload's length (4 bytes, big
//! endian), then the payload follows in 31-byte pieces, and everything after it is zero.
//! A blob holds 4096 × 31 − 4 = 126,972 payload bytes when it is the first; the encoding
//! wastes 1/32 of the blob space and needs no bit packing.

use alloy_eips::eip4844::{
    BYTES_PER_BLOB, Blob, DATA_GAS_PER_BLOB, FIELD_ELEMENTS_PER_BLOB, env_settings::EnvKzgSettings,
    kzg_to_versioned_hash,
};

use crate::primitives::{B256, keccak256};

/// Data bytes in one field element.
const DATA_PER_FE: usize = 31;
/// Bytes of the length header.
const HEADER: usize = 4;
/// Payload bytes one blob carries.
pub const BLOB_CAPACITY: usize = FIELD_ELEMENTS_PER_BLOB as usize * DATA_PER_FE;
/// Blob gas of one blob.
pub const BLOB_GAS: u64 = DATA_GAS_PER_BLOB;
/// Most blobs one transaction may carry since Osaka (EIP-7594); a payload needing more
/// travels as calldata.
pub const MAX_BLOBS_PER_TX: usize = 6;

/// How a batch's DA payload reaches L1, which decides what its DA hash is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Carrier {
    /// The `daPayload` argument of `commitBatch`.
    Calldata,
    /// The blobs of a `commitBatchBlobs` transaction.
    Blobs,
}

impl Carrier {
    /// Its name in configuration, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Calldata => "calldata",
            Self::Blobs => "blobs",
        }
    }

    /// The DA hash a batch carried this way commits to.
    pub fn da_hash(self, payload: &[u8]) -> B256 {
        match self {
            Self::Calldata => keccak256(payload),
            Self::Blobs => blobs_da_hash(&versioned_hashes(&encode(payload))),
        }
    }
}

/// Why blobs are not the canonical encoding of a payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// No blob at all.
    #[error("no blobs")]
    Empty,
    /// A field element's first byte is not zero.
    #[error("field element {0} does not start with a zero byte")]
    FieldElement(usize),
    /// The length header says more than the blobs hold.
    #[error("the length header says {0} bytes, more than the blobs hold")]
    Length(usize),
    /// Bytes after the payload are not zero, or a whole blob is unused.
    #[error("the blobs are not the canonical encoding (non-zero padding or an unused blob)")]
    NotCanonical,
}

/// How many blobs `len` payload bytes need.
pub fn blob_count(len: usize) -> usize {
    (HEADER + len).div_ceil(BLOB_CAPACITY).max(1)
}

/// The canonical blob encoding of `payload`.
pub fn encode(payload: &[u8]) -> Vec<Blob> {
    let header = u32::try_from(payload.len())
        .expect("a DA payload is far below 4 GiB")
        .to_be_bytes();
    let mut blobs = vec![Blob::ZERO; blob_count(payload.len())];
    let data = header.iter().chain(payload);
    for (i, byte) in data.enumerate() {
        let (fe, offset) = (i / DATA_PER_FE, i % DATA_PER_FE);
        let at = fe * 32 + 1 + offset;
        blobs[at / BYTES_PER_BLOB][at % BYTES_PER_BLOB] = *byte;
    }
    blobs
}

/// The payload `blobs` encode; refuses any encoding [`encode`] would not produce.
pub fn decode(blobs: &[Blob]) -> Result<Vec<u8>, BlobError> {
    if blobs.is_empty() {
        return Err(BlobError::Empty);
    }
    let mut data = Vec::with_capacity(blobs.len() * BLOB_CAPACITY);
    for (i, fe) in blobs.iter().flat_map(|b| b.chunks_exact(32)).enumerate() {
        if fe[0] != 0 {
            return Err(BlobError::FieldElement(i));
        }
        data.extend_from_slice(&fe[1..]);
    }
    let len = u32::from_be_bytes(data[..HEADER].try_into().expect("4 bytes")) as usize;
    let end = HEADER
        .checked_add(len)
        .filter(|&end| end <= data.len())
        .ok_or(BlobError::Length(len))?;
    if blob_count(len) != blobs.len() || data[end..].iter().any(|&b| b != 0) {
        return Err(BlobError::NotCanonical);
    }
    data.truncate(end);
    data.drain(..HEADER);
    Ok(data)
}

/// The versioned hash of each blob (`0x01 ‖ sha256(kzg_commitment)[1..]`), in order.
pub fn versioned_hashes(blobs: &[Blob]) -> Vec<B256> {
    let settings = EnvKzgSettings::Default.get();
    blobs
        .iter()
        .map(|blob| {
            let blob = alloy_eips::eip4844::c_kzg::Blob::new(blob.0);
            let commitment = settings
                .blob_to_kzg_commitment(&blob)
                .expect("every field element of a canonical blob is below the modulus");
            kzg_to_versioned_hash(commitment.as_slice())
        })
        .collect()
}

/// The DA hash of a blob-carried batch: `keccak256` of its blobs' versioned hashes,
/// concatenated in transaction order (what `commitBatchBlobs` computes with `BLOBHASH`).
pub fn blobs_da_hash(hashes: &[B256]) -> B256 {
    keccak256(hashes.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_at_every_boundary() {
        for len in [
            0,
            1,
            27,
            31,
            BLOB_CAPACITY - HEADER - 1,
            BLOB_CAPACITY - HEADER,
            BLOB_CAPACITY - HEADER + 1,
            3 * BLOB_CAPACITY,
        ] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let blobs = encode(&payload);
            assert_eq!(blobs.len(), blob_count(len), "len {len}");
            assert_eq!(decode(&blobs).unwrap(), payload, "len {len}");
        }
        assert_eq!(blob_count(BLOB_CAPACITY - HEADER), 1);
        assert_eq!(blob_count(BLOB_CAPACITY - HEADER + 1), 2);
    }

    #[test]
    fn only_the_canonical_encoding_decodes() {
        let payload = b"weft batch".to_vec();
        let blobs = encode(&payload);
        assert_eq!(decode(&[]), Err(BlobError::Empty));

        let mut high = blobs.clone();
        high[0][32 * 5] = 1;
        assert_eq!(decode(&high), Err(BlobError::FieldElement(5)));

        let mut padding = blobs.clone();
        padding[0][32 * 9 + 4] = 1;
        assert_eq!(decode(&padding), Err(BlobError::NotCanonical));

        let mut extra = blobs.clone();
        extra.push(Blob::ZERO);
        assert_eq!(decode(&extra), Err(BlobError::NotCanonical));

        let mut long = blobs;
        long[0][1..5].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(decode(&long), Err(BlobError::Length(u32::MAX as usize)));
    }

    #[test]
    fn the_blob_da_hash_binds_the_payload() {
        let payload = vec![0xab; 200_000];
        let blobs = encode(&payload);
        let hashes = versioned_hashes(&blobs);
        assert_eq!(hashes.len(), 2);
        assert!(hashes.iter().all(|h| h[0] == 1));
        assert_eq!(Carrier::Blobs.da_hash(&payload), blobs_da_hash(&hashes));
        let mut other = payload.clone();
        other[150_000] ^= 1;
        assert_ne!(
            Carrier::Blobs.da_hash(&other),
            Carrier::Blobs.da_hash(&payload)
        );
        assert_ne!(
            Carrier::Blobs.da_hash(&payload),
            Carrier::Calldata.da_hash(&payload)
        );
        assert_eq!(Carrier::Calldata.da_hash(&payload), keccak256(&payload));
    }
}

//! Blobs from the L1 beacon API: what the prover and a rebuild from L1 read a blob-carried
//! batch from (`GET /eth/v1/beacon/blobs/{block_id}`, the Fusaka replacement of
//! `blob_sidecars`).
//!
//! Execution nodes keep only the versioned hashes of a blob transaction; the blobs
//! themselves live on the consensus layer for about 18 days. Every blob fetched is checked
//! against the versioned hash its transaction carries (its KZG commitment recomputed), so a
//! wrong or lying beacon node makes the read fail, never a wrong payload.
//!
//! The block id: anvil serves the API itself and takes the execution block number
//! ([`BlockId::Number`]); a real beacon node takes the slot ([`BlockId::Slot`]), computed
//! from the block's timestamp and the chain's genesis time (`/eth/v1/beacon/genesis`).

use std::{str::FromStr, time::Duration};

use alloy::{
    eips::eip4844::{BYTES_PER_BLOB, Blob},
    primitives::{B256, hex},
    transports::http::reqwest,
};
use serde::Deserialize;
use weft_protocol::da::blob;

use crate::{L1Error, L1Result};

/// Seconds per slot of every Ethereum network so far.
pub const SECONDS_PER_SLOT: u64 = 12;

/// How the beacon API names the block holding a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BlockId {
    /// The execution block number (anvil).
    #[default]
    Number,
    /// The slot: `(timestamp - genesis_time) / 12` (a consensus client).
    Slot,
}

impl FromStr for BlockId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "number" => Ok(Self::Number),
            "slot" => Ok(Self::Slot),
            _ => Err(format!("beacon block id {s:?}: expected number or slot")),
        }
    }
}

/// A client of one beacon API.
#[derive(Debug, Clone)]
pub struct Beacon {
    url: String,
    block_id: BlockId,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Deserialize)]
struct Genesis {
    genesis_time: String,
}

impl Beacon {
    /// A client of the beacon API at `url` (no trailing path), each request bounded by
    /// `timeout`.
    pub fn new(url: &str, block_id: BlockId, timeout: Duration) -> L1Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| L1Error::Invalid(format!("beacon client: {e}")))?;
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            block_id,
            http,
        })
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> L1Result<T> {
        let url = format!("{}{path}", self.url);
        let response = self
            .http
            .get(&url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| L1Error::Transport(format!("beacon {url}: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(L1Error::Rpc(format!(
                "beacon {url}: {status} {}",
                body.chars().take(200).collect::<String>()
            )));
        }
        let body: Data<T> = response
            .json()
            .await
            .map_err(|e| L1Error::Invalid(format!("beacon {url}: {e}")))?;
        Ok(body.data)
    }

    /// The beacon block id of the execution block `number` with `timestamp`.
    async fn block_id(&self, number: u64, timestamp: u64) -> L1Result<String> {
        Ok(match self.block_id {
            BlockId::Number => number.to_string(),
            BlockId::Slot => {
                let genesis: Genesis = self.get("/eth/v1/beacon/genesis").await?;
                let genesis_time: u64 = genesis
                    .genesis_time
                    .parse()
                    .map_err(|e| L1Error::Invalid(format!("beacon genesis time: {e}")))?;
                slot(timestamp, genesis_time)?.to_string()
            }
        })
    }

    /// The blobs with `hashes`, in that order, of the execution block `number` (with
    /// `timestamp`), each checked against its versioned hash.
    pub async fn blobs(&self, number: u64, timestamp: u64, hashes: &[B256]) -> L1Result<Vec<Blob>> {
        let id = self.block_id(number, timestamp).await?;
        let query: Vec<String> = hashes
            .iter()
            .map(|h| format!("versioned_hashes={h}"))
            .collect();
        let found: Vec<String> = self
            .get(&format!("/eth/v1/beacon/blobs/{id}?{}", query.join("&")))
            .await?;
        let mut blobs = Vec::with_capacity(found.len());
        for text in &found {
            let bytes = hex::decode(text)
                .map_err(|e| L1Error::Invalid(format!("beacon blob of block {id}: {e}")))?;
            if bytes.len() != BYTES_PER_BLOB {
                return Err(L1Error::Invalid(format!(
                    "beacon blob of block {id}: {} bytes",
                    bytes.len()
                )));
            }
            blobs.push(Blob::from_slice(&bytes));
        }
        order(&blobs, hashes, &id)
    }
}

/// The slot of a block with `timestamp` on a chain that started at `genesis_time`.
pub fn slot(timestamp: u64, genesis_time: u64) -> L1Result<u64> {
    timestamp
        .checked_sub(genesis_time)
        .map(|s| s / SECONDS_PER_SLOT)
        .ok_or_else(|| {
            L1Error::Invalid(format!(
                "block time {timestamp} is before the beacon genesis {genesis_time}"
            ))
        })
}

/// `blobs` put in the order of `hashes` by their recomputed versioned hashes; every hash
/// must be found.
fn order(blobs: &[Blob], hashes: &[B256], id: &str) -> L1Result<Vec<Blob>> {
    let computed = blob::versioned_hashes(blobs);
    hashes
        .iter()
        .map(|want| {
            computed
                .iter()
                .position(|h| h == want)
                .map(|i| blobs[i])
                .ok_or_else(|| {
                    // Pruned, not yet served, or a beacon node serving other data: either
                    // way another read (or another node) is needed.
                    L1Error::Rpc(format!(
                        "the beacon API has no blob with versioned hash {want} at block {id}"
                    ))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_count_twelve_seconds_from_genesis() {
        assert_eq!(slot(1_000, 1_000).unwrap(), 0);
        assert_eq!(slot(1_011, 1_000).unwrap(), 0);
        assert_eq!(slot(1_012, 1_000).unwrap(), 1);
        assert!(slot(999, 1_000).is_err());
        assert_eq!("slot".parse::<BlockId>(), Ok(BlockId::Slot));
        assert!("head".parse::<BlockId>().is_err());
    }

    #[test]
    fn blobs_are_matched_to_their_versioned_hashes() {
        let payload = vec![7u8; 200_000];
        let blobs = blob::encode(&payload);
        let hashes = blob::versioned_hashes(&blobs);
        let reversed: Vec<Blob> = blobs.iter().rev().copied().collect();
        assert_eq!(order(&reversed, &hashes, "1").unwrap(), blobs);
        let other = blob::encode(b"something else");
        assert!(order(&other, &hashes, "1").is_err());
    }
}

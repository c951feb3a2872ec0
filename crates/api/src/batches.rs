//! Batches and their witnesses: `/v1/batches…`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use weft_protocol::{
    batch::BatchCommitment, block::BlockHeader, primitives::B256, signature::Signature,
    transaction::Transaction,
};

/// Where a batch stands on L1.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum BatchStatus {
    /// Built and stored, not yet accepted by L1.
    Sealed,
    /// `commitBatch` included on L1.
    Committed,
    /// Attested by the prover.
    Proven,
    /// Final: its withdrawals are claimable.
    Finalized,
}

/// Where a batch stands on L1, with the L1 transactions that moved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchRef {
    /// Batch index.
    pub index: u64,
    /// Its status.
    pub status: BatchStatus,
    /// The L1 transaction that committed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<weft_protocol::schema::Hash>")]
    pub commit_l1_tx: Option<B256>,
    /// The L1 transaction that proved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<weft_protocol::schema::Hash>")]
    pub prove_l1_tx: Option<B256>,
    /// The L1 transaction that finalized it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<weft_protocol::schema::Hash>")]
    pub finalize_l1_tx: Option<B256>,
}

/// A batch (`GET /v1/batches/{index}`): the commitment, the L1 status, the DA size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchView {
    /// Batch index.
    pub index: u64,
    /// Its status.
    pub status: BatchStatus,
    /// What `commitBatch` records.
    pub commitment: BatchCommitment,
    /// The commitment's hash.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub commitment_hash: B256,
    /// Size of the DA payload in bytes.
    pub da_bytes: u64,
    /// The L1 side.
    pub l1: BatchRef,
}

/// A batch's witness (`GET /v1/batches/{index}/witness`): every block with its
/// transactions and their signatures, in order: what a prover needs besides L1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Witness {
    /// The batch index.
    pub index: u64,
    /// The commitment as the sequencer stored it (a prover takes L1's).
    pub commitment: BatchCommitment,
    /// The blocks.
    pub blocks: Vec<WitnessBlock>,
}

/// One block of a [`Witness`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WitnessBlock {
    /// The block's header.
    pub header: BlockHeader,
    /// The header's hash.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub hash: B256,
    /// Its transactions in order.
    pub transactions: Vec<WitnessTransaction>,
}

/// One transaction of a [`Witness`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WitnessTransaction {
    /// Its hash as the sequencer reports it.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub hash: B256,
    /// The transaction.
    pub transaction: Transaction,
    /// Its signature (`null` for system kinds).
    pub signature: Option<Signature>,
}

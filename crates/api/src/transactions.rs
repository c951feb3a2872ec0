//! Submitting transactions and reading them back: `/v1/transactions…`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use weft_protocol::{
    execution::Receipt,
    primitives::{Address, Amount, B256, TokenId},
    signature::Signature,
    transaction::{
        ChannelConclude, ChannelDeposit, ChannelOpen, ChannelSettle, RevealSecret,
        SignedTransaction, Transaction, Transfer, Withdraw,
    },
};

use crate::{batches::BatchRef, batches::BatchStatus, error::ErrorBody};

/// A submission (`POST /v1/transactions`, and each entry of a batch): a signed transaction,
/// optionally echoing the domain the client signed for (so a wrong chain or contract gets
/// its own error instead of `invalid_signature`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Submission {
    /// The transaction (a signed kind).
    #[schemars(with = "SignedKind")]
    pub transaction: Transaction,
    /// The sender's signature over its EIP-712 digest.
    pub signature: Signature,
    /// The `chainId` the client signed with, if it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
    /// The `verifyingContract` the client signed with, if it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<weft_protocol::schema::Address>")]
    pub verifying_contract: Option<Address>,
}

impl From<SignedTransaction> for Submission {
    fn from(s: SignedTransaction) -> Self {
        Self {
            transaction: s.transaction,
            signature: s.signature,
            chain_id: None,
            verifying_contract: None,
        }
    }
}

/// The kinds a submission carries: every kind signed with EIP-712 (system kinds come from
/// L1, Ethereum transactions through JSON-RPC). It describes `Submission.transaction` in
/// the OpenAPI document; the wire type is [`Transaction`], whose other kinds admission
/// refuses with `system_kind` or `unsupported_kind`.
#[derive(Debug, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum SignedKind {
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
    /// Start a dispute with a co-signed state.
    ChannelRegister(ChannelSettle),
    /// Supersede a registered state with a higher version.
    ChannelRefute(ChannelSettle),
    /// See [`ChannelConclude`].
    ChannelConclude(ChannelConclude),
    /// See [`RevealSecret`].
    RevealSecret(RevealSecret),
}

/// Where a transaction stands, as every transaction view and submission reply says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TransactionStatus {
    /// In the mempool.
    Queued,
    /// In a sealed, stored L2 block.
    Executed,
    /// Included in a block but failed (its nonce consumed); see `reason`.
    Failed,
    /// Executed, and its batch is committed on L1.
    Committed,
    /// Executed, and its batch is proven.
    Proven,
    /// Executed, and its batch is final.
    Finalized,
}

impl TransactionStatus {
    /// Whether the transaction is in a stored block and succeeded (whatever its batch's
    /// progress on L1).
    pub fn is_executed(self) -> bool {
        matches!(
            self,
            Self::Executed | Self::Committed | Self::Proven | Self::Finalized
        )
    }
}

/// The reply to an accepted submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmitReply {
    /// Canonical hash.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub hash: B256,
    /// `queued` or `executed`.
    pub status: TransactionStatus,
    /// The block, if already executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_number: Option<u64>,
}

/// Body of `POST /v1/transactions/batch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitBatch {
    /// The submissions: at least one, at most the node's `max_batch` (2,000 unless
    /// configured otherwise).
    #[schemars(length(min = 1))]
    pub transactions: Vec<Submission>,
}

/// The reply to `POST /v1/transactions/batch`: one result per submission, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubmitBatchReply {
    /// The results.
    pub results: Vec<SubmitResult>,
}

/// The result of one submission of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SubmitResult {
    /// Refused, with the code and message a single submission would have had.
    Rejected {
        /// Why.
        error: ErrorBody,
    },
    /// Accepted.
    Accepted(SubmitReply),
}

impl SubmitResult {
    /// The refusal, if refused.
    pub fn error(&self) -> Option<&ErrorBody> {
        match self {
            Self::Rejected { error } => Some(error),
            Self::Accepted(_) => None,
        }
    }
}

/// A transaction and where it stands (`GET /v1/transactions/{hash}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionView {
    /// Canonical hash.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub hash: B256,
    /// `queued`, `executed` or `failed`; a successful one follows its batch (`committed`,
    /// `proven`, `finalized`).
    pub status: TransactionStatus,
    /// The failure reason's code, if failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The block, once executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_number: Option<u64>,
    /// Position in the block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// The transaction.
    pub transaction: Transaction,
    /// The sender's signature (absent for system kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
    /// The receipt, once executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
    /// The batch holding it, once batched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchRef>,
}

/// What `Rollup.withdraw` takes to pay a withdrawal (`GET /v1/transactions/{hash}/withdrawal`):
/// the batch, the leaf, its index and Merkle proof under the batch's withdrawals root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WithdrawalView {
    /// The batch holding the withdrawal.
    pub batch_index: u64,
    /// Its status: claimable on L1 once `finalized`.
    pub batch_status: BatchStatus,
    /// The L2 transaction that withdrew.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub tx_hash: B256,
    /// The identifier the leaf commits to, `Rollup.withdraw`'s `txHash` argument: the
    /// transaction hash of a native withdrawal; for an EVM transaction its transactions-root
    /// leaf (`keccak256(sender ‖ signingHash)`, which needs no signature) for its first
    /// withdrawal and `keccak256(leaf ‖ uint256(k))` for the k-th (k ≥ 1).
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub id: B256,
    /// Who can claim it on L1.
    #[schemars(with = "weft_protocol::schema::Address")]
    pub recipient: Address,
    /// The token.
    pub token: TokenId,
    /// The amount (a decimal string).
    #[serde(with = "weft_protocol::primitives::serde_dec")]
    #[schemars(with = "weft_protocol::schema::Amount")]
    pub amount: Amount,
    /// The leaf in the batch's withdrawals tree.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub leaf: B256,
    /// Its index among the batch's leaves.
    pub leaf_index: u64,
    /// Its Merkle proof.
    #[schemars(with = "Vec<weft_protocol::schema::Hash>")]
    pub proof: Vec<B256>,
    /// The batch's withdrawals root.
    #[schemars(with = "weft_protocol::schema::Hash")]
    pub withdrawals_root: B256,
}

//! Block execution: the sequential reference and the parallel engine.
//!
//! A block's result is *defined* as applying its transactions one by one in block order
//! ([`SequentialExecutor`], the specification). [`ParallelExecutor`] gives byte-identical
//! results (state root, receipts) at every thread count; property tests check it.
//!
//! ## Pipeline (both executors)
//!
//! 1. **Prepare** (`prepare.rs`): check the L1 queue order of system transactions, register
//!    new token ids, give every new address a dense index in block order (fee recipient
//!    first, then each transaction's addresses in field order) whether or not its
//!    transaction later succeeds, and lower transactions to index-based operations.
//!    Address lookups run in parallel; assignment is one ordered pass.
//! 2. **Execute** (`rules.rs`): the state transition of each kind, written once against a
//!    small context trait that each executor implements.
//! 3. **Commit** (`commit.rs`): apply deferred credits, rehash the touched leaves and their
//!    paths per partition (partitions in parallel), append revealed secrets in block order,
//!    and compute the withdrawals root and the state root.
//!
//! ## The parallel engine (`parallel.rs`)
//!
//! Every kind declares its access set up front (`access.rs`): keys (accounts, token supply,
//! secrets) with a mode, read, write or commutative credit. Per block:
//!
//! - An account that some transaction writes is *ordered*: credits to it are treated as
//!   writes. An account that is only ever credited (the fee recipient, a hot receiver) is
//!   *commutative*: its credits become per-worker deltas summed at commit, so a hot
//!   receiver does not serialize the block (the Aptos aggregator / pevm lazy-beneficiary
//!   idea).
//! - A dependency DAG over the ordered keys, in block order: each transaction depends on the
//!   previous writer of each key it touches (and, for writes, on readers since).
//! - A fixed worker pool claims chunks of transactions in block order and runs each once its
//!   dependencies are done. Dependencies always point backwards and chunks are claimed in
//!   order, so a waiting worker always waits on a transaction that is running or done.
//! - When the DAG's critical path is too long for parallelism to pay (a few hot senders), or
//!   the block is small, it runs the sequential loop instead; the choice is measured in the
//!   executor benchmark.
//!
//! ## Defined outcomes
//!
//! A failed transaction is included with a [`FailureReason`]; see its docs for which state
//! changes each failure still makes (nonce, fee). Admission in the sequencer rejects what
//! it can see will fail against the latest state; what still fails inside a block is
//! included as failed, so execution never reorders.

mod access;
mod commit;
mod parallel;
pub(crate) mod prepare;
mod rules;
mod sequential;

use serde::{Deserialize, Serialize};

pub use parallel::{ExecReport, ParallelExecutor, Schedule};
pub use sequential::SequentialExecutor;

use crate::{
    error::BlockError,
    primitives::{Address, Amount, B256, TokenId, keccak256, word_address, word_u128},
    state::State,
    transaction::VerifiedTransaction,
};

/// What a block is executed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockEnv {
    /// The block number (recorded by secret reveals).
    pub number: u64,
    /// Seconds since the Unix epoch.
    pub timestamp: u64,
    /// Receives every fee.
    pub fee_recipient: Address,
}

/// Why an included transaction failed.
///
/// Outcomes (identical in both executors):
/// - `bad_nonce`: the nonce is not the account's next one. No fee, no balance or nonce
///   changes. (Addresses the transaction names still get their index: indexes are
///   assigned before execution, whatever the outcome.)
/// - Every other reason of a signed kind consumes the nonce. The fee is charged (and
///   credited to the fee recipient) unless the reason is `unknown_token`,
///   `insufficient_fee` or `unsupported_kind`.
/// - System kinds consume their L1 queue entry whatever the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// Nonce is not the sender's next nonce (a gap or a replay).
    BadNonce,
    /// The token id was never deposited.
    UnknownToken,
    /// The balance cannot pay the fee.
    InsufficientFee,
    /// Transfers and withdrawals must move a positive amount.
    ZeroAmount,
    /// A transfer to oneself.
    SelfTransfer,
    /// `amount + fee` exceeds 2^128 - 1.
    AmountOverflow,
    /// The balance (after the fee) is below the amount.
    InsufficientBalance,
    /// A deposit would take the token's total supply past 2^128 - 1 (the L1 contract
    /// refuses such deposits; this is defence in depth).
    SupplyOverflow,
    /// A forced withdrawal of a zero balance.
    NothingToWithdraw,
    /// The secret was revealed before.
    SecretAlreadyRevealed,
    /// Channel kinds other than `revealSecret` are not executable yet (issue 6).
    UnsupportedKind,
}

impl FailureReason {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadNonce => "bad_nonce",
            Self::UnknownToken => "unknown_token",
            Self::InsufficientFee => "insufficient_fee",
            Self::ZeroAmount => "zero_amount",
            Self::SelfTransfer => "self_transfer",
            Self::AmountOverflow => "amount_overflow",
            Self::InsufficientBalance => "insufficient_balance",
            Self::SupplyOverflow => "supply_overflow",
            Self::NothingToWithdraw => "nothing_to_withdraw",
            Self::SecretAlreadyRevealed => "secret_already_revealed",
            Self::UnsupportedKind => "unsupported_kind",
        }
    }
}

/// The outcome of an included transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum Status {
    /// Applied.
    Success,
    /// Included but failed.
    Failed(FailureReason),
}

/// A withdrawal to L1 produced by a `withdraw` or `forcedWithdraw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Withdrawal {
    /// Who can claim it on L1.
    pub recipient: Address,
    /// The token.
    pub token: TokenId,
    /// The amount.
    #[serde(with = "crate::primitives::serde_dec")]
    pub amount: Amount,
}

impl Withdrawal {
    /// Its leaf in the withdrawals tree:
    /// `keccak256(abi.encode(txHash, recipient, uint256(token), uint256(amount)))`.
    /// The transaction hash makes every leaf unique, so L1 pays each exactly once.
    pub fn leaf(&self, tx_hash: &B256) -> B256 {
        let mut buf = [0u8; 128];
        buf[..32].copy_from_slice(tx_hash.as_slice());
        buf[32..64].copy_from_slice(&word_address(&self.recipient));
        buf[64..96].copy_from_slice(&word_u128(self.token.into()));
        buf[96..].copy_from_slice(&word_u128(self.amount));
        keccak256(buf)
    }
}

/// The receipt of an included transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// Success or the failure reason.
    #[serde(flatten)]
    pub status: Status,
    /// Fee charged (in the kind's fee token).
    #[serde(with = "crate::primitives::serde_dec")]
    pub fee_paid: Amount,
    /// The withdrawal it produced, if any.
    pub withdrawal: Option<Withdrawal>,
}

impl Receipt {
    pub(crate) fn success(fee_paid: Amount) -> Self {
        Self {
            status: Status::Success,
            fee_paid,
            withdrawal: None,
        }
    }

    pub(crate) fn failed(reason: FailureReason, fee_paid: Amount) -> Self {
        Self {
            status: Status::Failed(reason),
            fee_paid,
            withdrawal: None,
        }
    }

    /// Whether the transaction was applied.
    pub fn is_success(&self) -> bool {
        self.status == Status::Success
    }
}

/// The result of executing a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockOutput {
    /// One receipt per transaction, in block order.
    pub receipts: Vec<Receipt>,
    /// Withdrawal leaves in block order.
    pub withdrawal_leaves: Vec<B256>,
    /// [`crate::merkle::root_of`] the withdrawal leaves.
    pub withdrawals_root: B256,
    /// The state root after the block.
    pub state_root: B256,
    /// The next unconsumed L1 queue index after the block.
    pub queue_position: u64,
}

/// Executes blocks against a [`State`].
pub trait BlockExecutor: Send {
    /// Applies `txs` in block order, commits the state and returns receipts and roots.
    /// On `Err` the block is invalid as a whole; accounts it introduced may have been
    /// registered, so the caller must discard the state (re-execution is deterministic).
    fn execute_block(
        &mut self,
        state: &mut State,
        env: &BlockEnv,
        txs: &[VerifiedTransaction],
    ) -> Result<BlockOutput, BlockError>;
}

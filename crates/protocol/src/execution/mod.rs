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
//!    Address lookups, lowering and the recovery of channel co-signatures run in parallel;
//!    assignment is one ordered pass, and so is the resolution of the channel each channel
//!    kind names (a record of the table, or a slot for a channel opened in the block).
//! 2. **Execute** (`rules.rs`, channel kinds in `channels.rs`): the state transition of
//!    each kind, written once against a small context trait that each executor implements.
//! 3. **Commit** (`commit.rs`): apply deferred credits, rehash the touched leaves and their
//!    paths per partition (partitions in parallel), append revealed secrets and opened
//!    channels in block order, rehash the channels the block touched, and compute the
//!    withdrawals root and the state root.
//!
//! ## The parallel engine (`parallel.rs`)
//!
//! Every kind declares its access set up front (`access.rs`): keys (accounts, token supply,
//! secrets, channels) with a mode, read, write or commutative credit. Per block:
//!
//! - An account that some transaction writes is *ordered*: credits to it are treated as
//!   writes. An account that is only ever credited (the fee recipient, a hot receiver) is
//!   *commutative*: its credits become per-worker deltas summed at commit, so a hot
//!   receiver does not serialize the block (the Aptos aggregator / pevm lazy-beneficiary
//!   idea).
//! - A dependency DAG over the ordered keys, in block order: each transaction depends on the
//!   previous writer of each key it touches (and, for writes, on readers since). Reads are
//!   exact for keys other than accounts (only conclusions read: the secrets of their
//!   locks); a read of an account would be ordered like a write.
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
mod channels;
mod commit;
mod mixed;
mod optimistic;
mod packing;
mod parallel;
pub(crate) mod prepare;
mod rules;
mod sequential;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use optimistic::OptimisticStats;
pub use packing::left_out;
pub use parallel::{ExecReport, ParallelExecutor, Schedule};
pub use sequential::SequentialExecutor;

use crate::{
    eip712::Domain,
    error::BlockError,
    evm::EvmReceipt,
    primitives::{Address, Amount, B256, TokenId, keccak256, word_address, word_u128},
    state::State,
    transaction::VerifiedTransaction,
};

/// What a block is executed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockEnv {
    /// The block number (recorded by secret reveals; fixes and ends channel disputes).
    pub number: u64,
    /// Seconds since the Unix epoch.
    pub timestamp: u64,
    /// Receives every fee.
    pub fee_recipient: Address,
    /// The deployment's EIP-712 domain, under which channel states are co-signed.
    pub domain: Domain,
    /// Blocks a channel dispute lasts: a registration in block `n` can be refuted up to
    /// block `n + dispute_window` and concluded after (a chain parameter; default
    /// [`crate::channel::DEFAULT_DISPUTE_WINDOW`]).
    pub dispute_window: u64,
    /// The most gas the block's EVM transactions may use together.
    #[serde(default = "default_gas_limit")]
    pub gas_limit: u64,
    /// The EIP-1559 base fee per gas of EVM transactions, in wei
    /// ([`crate::evm::next_base_fee`] of the parent block).
    #[serde(default = "default_base_fee")]
    pub base_fee: u64,
}

fn default_gas_limit() -> u64 {
    crate::evm::DEFAULT_BLOCK_GAS_LIMIT
}

fn default_base_fee() -> u64 {
    crate::evm::DEFAULT_MIN_BASE_FEE
}

/// The parameters of a chain that every executor of it must share, besides its genesis:
/// what a verifier needs to re-execute its blocks exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainParams {
    /// The deployment's EIP-712 domain.
    pub domain: Domain,
    /// Blocks a channel dispute lasts ([`BlockEnv::dispute_window`]).
    pub dispute_window: u64,
}

/// Why an included transaction failed.
///
/// Outcomes (identical in both executors):
/// - `bad_nonce`: the nonce is not the account's next one. No fee, no balance or nonce
///   changes. (Addresses the transaction names still get their index: indexes are
///   assigned before execution, whatever the outcome.)
/// - Every other reason of a signed kind consumes the nonce. The fee is charged (and
///   credited to the fee recipient) unless the reason is `unknown_token`,
///   `unknown_channel` or `insufficient_fee`: the fee is paid in the kind's token (a
///   channel kind's is the channel's token), so it is charged once that token is known and
///   the sender holds the fee.
/// - System kinds consume their L1 queue entry whatever the outcome.
///
/// Channel kinds check, in this order: the nonce; the token (`channelOpen`) or the channel
/// (`unknown_channel`); the fee; then per kind:
/// - `channelOpen`: `self_channel`, `channel_exists`, `zero_amount`, `amount_overflow`,
///   `insufficient_balance`.
/// - `channelDeposit`: `not_participant`, `channel_not_open`, `zero_amount`,
///   `amount_overflow`, `invalid_co_signature` (also a state of another channel),
///   `total_mismatch` (the state does not sum to the total after the deposit),
///   `insufficient_balance`.
/// - `channelClose`: `not_participant`, `channel_closed`, `invalid_co_signature`,
///   `not_final`, `total_mismatch`.
/// - `channelRegister`: `not_participant`, `channel_not_open`, `invalid_co_signature`,
///   `too_many_locks`, `total_mismatch`.
/// - `channelRefute`: `not_participant`, `channel_not_disputed`, `dispute_expired`,
///   `invalid_co_signature`, `too_many_locks`, `stale_version`, `total_mismatch`.
/// - `channelConclude` (anyone may send it): `channel_not_disputed`, `dispute_pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// Nonce is not the sender's next nonce (a gap or a replay).
    BadNonce,
    /// The token id was never deposited.
    UnknownToken,
    /// The balance cannot pay the fee.
    InsufficientFee,
    /// Transfers, withdrawals, channel opens and channel deposits must move a positive
    /// amount.
    ZeroAmount,
    /// A transfer to oneself.
    SelfTransfer,
    /// `amount + fee` exceeds 2^128 - 1, or a channel deposit would take the channel's
    /// total past it.
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
    /// No longer produced: every kind executes. Receipts of blocks executed before the
    /// channel kinds did (issue 6) may still carry it.
    UnsupportedKind,
    /// No channel has this id (never opened, or opened later in the block). No fee: the
    /// fee token is the channel's.
    UnknownChannel,
    /// A channel whose hub is the opener.
    SelfChannel,
    /// A channel with this id exists. Ids derive from the opener's nonce, so only a
    /// keccak256 collision gets here.
    ChannelExists,
    /// The sender is neither the channel's wallet nor its hub (deposit, close, register,
    /// refute).
    NotParticipant,
    /// Deposits and registrations need an open channel (not disputed, not closed).
    ChannelNotOpen,
    /// Refutations and conclusions need a disputed channel.
    ChannelNotDisputed,
    /// The channel is already closed.
    ChannelClosed,
    /// The wallet's or the hub's signature is malformed, high-s, or not by that
    /// participant over the state's EIP-712 digest.
    InvalidCoSignature,
    /// A cooperative close needs a final state without locks.
    NotFinal,
    /// The state's balances plus locks differ from the channel's total.
    TotalMismatch,
    /// A state with more than [`crate::channel::MAX_LOCKS`] locks.
    TooManyLocks,
    /// A refutation whose version is not above the registered one.
    StaleVersion,
    /// A refutation after the dispute's deadline.
    DisputeExpired,
    /// A conclusion at or before the dispute's deadline.
    DisputePending,
    /// EVM: the balance cannot cover `gasLimit × maxFee + value`. Nothing changes.
    InsufficientFunds,
    /// EVM: the gas limit is below the intrinsic gas (or the EIP-7623 floor). Nothing
    /// changes.
    IntrinsicGasTooLow,
    /// EVM: the fee cap is below the block's base fee, or the tip above the fee cap.
    /// Nothing changes.
    FeeCapTooLow,
    /// EVM: the gas limit exceeds what the block has left. Nothing changes.
    BlockGasExceeded,
    /// EVM: the sender has code (EIP-3607). Nothing changes.
    SenderNotEoa,
    /// EVM: refused by another pre-execution rule (init code too large, nonce overflow).
    /// Nothing changes.
    InvalidEvmTransaction,
    /// EVM: the execution reverted. The nonce is consumed and the gas paid; no other
    /// change.
    Reverted,
    /// EVM: out of gas. The nonce is consumed and the whole gas limit paid.
    OutOfGas,
    /// EVM: another exceptional halt (invalid opcode, stack error, ...). As `out_of_gas`.
    Halted,
}

impl FailureReason {
    /// Every reason, in declaration order.
    pub const ALL: [Self; 34] = [
        Self::BadNonce,
        Self::UnknownToken,
        Self::InsufficientFee,
        Self::ZeroAmount,
        Self::SelfTransfer,
        Self::AmountOverflow,
        Self::InsufficientBalance,
        Self::SupplyOverflow,
        Self::NothingToWithdraw,
        Self::SecretAlreadyRevealed,
        Self::UnsupportedKind,
        Self::UnknownChannel,
        Self::SelfChannel,
        Self::ChannelExists,
        Self::NotParticipant,
        Self::ChannelNotOpen,
        Self::ChannelNotDisputed,
        Self::ChannelClosed,
        Self::InvalidCoSignature,
        Self::NotFinal,
        Self::TotalMismatch,
        Self::TooManyLocks,
        Self::StaleVersion,
        Self::DisputeExpired,
        Self::DisputePending,
        Self::InsufficientFunds,
        Self::IntrinsicGasTooLow,
        Self::FeeCapTooLow,
        Self::BlockGasExceeded,
        Self::SenderNotEoa,
        Self::InvalidEvmTransaction,
        Self::Reverted,
        Self::OutOfGas,
        Self::Halted,
    ];

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
            Self::UnknownChannel => "unknown_channel",
            Self::SelfChannel => "self_channel",
            Self::ChannelExists => "channel_exists",
            Self::NotParticipant => "not_participant",
            Self::ChannelNotOpen => "channel_not_open",
            Self::ChannelNotDisputed => "channel_not_disputed",
            Self::ChannelClosed => "channel_closed",
            Self::InvalidCoSignature => "invalid_co_signature",
            Self::NotFinal => "not_final",
            Self::TotalMismatch => "total_mismatch",
            Self::TooManyLocks => "too_many_locks",
            Self::StaleVersion => "stale_version",
            Self::DisputeExpired => "dispute_expired",
            Self::DisputePending => "dispute_pending",
            Self::InsufficientFunds => "insufficient_funds",
            Self::IntrinsicGasTooLow => "intrinsic_gas_too_low",
            Self::FeeCapTooLow => "fee_cap_too_low",
            Self::BlockGasExceeded => "block_gas_exceeded",
            Self::SenderNotEoa => "sender_not_eoa",
            Self::InvalidEvmTransaction => "invalid_evm_transaction",
            Self::Reverted => "reverted",
            Self::OutOfGas => "out_of_gas",
            Self::Halted => "halted",
        }
    }
}

/// The outcome of an included transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum Status {
    /// Applied.
    Success,
    /// Included but failed.
    Failed(FailureReason),
}

/// A withdrawal to L1 produced by a `withdraw` or `forcedWithdraw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Withdrawal {
    /// Who can claim it on L1.
    #[schemars(with = "crate::schema::Address")]
    pub recipient: Address,
    /// The token.
    pub token: TokenId,
    /// The amount.
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
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
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// Success or the failure reason.
    #[serde(flatten)]
    pub status: Status,
    /// Fee charged (in the kind's fee token).
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub fee_paid: Amount,
    /// The withdrawal it produced, if any.
    pub withdrawal: Option<Withdrawal>,
    /// Gas, logs and the created contract of an EVM transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evm: Option<Box<EvmReceipt>>,
}

impl Receipt {
    pub(crate) fn success(fee_paid: Amount) -> Self {
        Self {
            status: Status::Success,
            fee_paid,
            withdrawal: None,
            evm: None,
        }
    }

    pub(crate) fn failed(reason: FailureReason, fee_paid: Amount) -> Self {
        Self {
            status: Status::Failed(reason),
            fee_paid,
            withdrawal: None,
            evm: None,
        }
    }

    /// Whether the transaction was applied.
    pub fn is_success(&self) -> bool {
        self.status == Status::Success
    }

    /// The withdrawals it produced with the identifier each leaf commits to
    /// ([`Withdrawal::leaf`]), given the transaction's transactions-root leaf `tx_leaf`
    /// ([`crate::transaction::Transaction::leaf`], the transaction hash of a native kind):
    /// a native withdrawal's is that leaf; an EVM transaction's are its withdrawal
    /// predeploy events in order ([`crate::evm::predeploy::withdrawal_id`]). The leaf, not
    /// the Ethereum hash, because re-execution from L1 has no signature to hash.
    pub fn withdrawals(&self, tx_leaf: &B256) -> Vec<(B256, Withdrawal)> {
        let native = self.withdrawal.map(|w| (*tx_leaf, w));
        let evm = self.evm.iter().flat_map(|e| {
            e.logs
                .iter()
                .filter_map(crate::evm::predeploy::withdrawal_of)
                .enumerate()
                .map(|(k, w)| (crate::evm::predeploy::withdrawal_id(tx_leaf, k), w))
        });
        native.into_iter().chain(evm).collect()
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
    /// Gas used by the block's EVM transactions.
    pub gas_used: u64,
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

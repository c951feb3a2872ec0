//! The L1 operations the sequencer and the prover need, as a small trait ([`L1Client`]),
//! and its alloy implementation over JSON-RPC ([`AlloyL1`]).
//!
//! The trait is what the sequencer's watcher, poster and rebuild and the prover see: tests
//! can put a fault the real chain cannot produce behind it (the poster's unit tests do).
//! Everything here is a single read or a single broadcast. The sequencer's poster signs its
//! commits itself and broadcasts them raw; the prover's `proveBatch` and `finalizeBatch`
//! are signed by the client ([`AlloyL1::with_signer`]).

use std::{
    future::{Future, IntoFuture},
    time::Duration,
};

use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{Filter, Log, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolEvent},
};
use weft_protocol::{
    batch::{BatchCommitment, Carrier},
    da::blob,
    signature::SigningKey,
};

use crate::{BatchStatus, L1Error, Rollup, beacon::Beacon};

/// What the L1 operations return.
pub type L1Result<T> = Result<T, L1Error>;

/// A `QueueEntry` event of the Rollup contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueLog {
    /// The L1 block holding it.
    pub block_number: u64,
    /// That block's hash.
    pub block_hash: B256,
    /// Position of the log in its block.
    pub log_index: u64,
    /// Queue index.
    pub queue_index: u64,
    /// 0: deposit, 1: forced withdrawal.
    pub kind: u8,
    /// The L2 recipient of a deposit, the account of a forced withdrawal.
    pub account: Address,
    /// Token id.
    pub token: u32,
    /// Amount (0 for a forced withdrawal).
    pub amount: u128,
    /// The L2 transaction hash of the entry.
    pub entry_hash: B256,
    /// The queue hash chain after it.
    pub queue_hash: B256,
}

/// A `BatchCommitted`, `BatchProven`, `BatchFinalized` or `BatchesReverted` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchLog {
    /// The L1 block holding it.
    pub block_number: u64,
    /// Position of the log in its block.
    pub log_index: u64,
    /// The L1 transaction that emitted it.
    pub tx_hash: B256,
    /// Batch index.
    pub index: u64,
    /// `Committed`, `Proven` or `Finalized`; `None` for `BatchesReverted` (the commits of
    /// `index..=reverted_to` were taken back).
    pub status: BatchStatus,
    /// The commitment hash (commit and prove events).
    pub commitment_hash: Option<B256>,
    /// The new state root (commit and finalize events).
    pub new_state_root: Option<B256>,
    /// The last batch a `BatchesReverted` took back (`index` is the first).
    pub reverted_to: Option<u64>,
}

/// The rollup's batch counters at one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RollupView {
    /// `lastCommitted`.
    pub last_committed: u64,
    /// `lastProven`.
    pub last_proven: u64,
    /// `lastFinalized`.
    pub last_finalized: u64,
}

/// What the rollup was deployed with, as far as the node must agree with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deployment {
    /// The only account allowed to commit.
    pub sequencer: Address,
    /// The L2 chain id of its EIP-712 domain.
    pub l2_chain_id: u64,
    /// Batch 0's state root: the L2 genesis root.
    pub genesis_state_root: B256,
}

/// Current fee levels (EIP-1559, EIP-4844).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    /// Base fee of the latest block.
    pub base_fee_per_gas: u128,
    /// Suggested priority fee.
    pub max_priority_fee_per_gas: u128,
    /// Blob base fee of the next block (`eth_blobBaseFee`).
    pub blob_base_fee: u128,
}

/// A batch commitment and its DA payload, as one commit transaction carried them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitData {
    /// The commitment.
    pub commitment: BatchCommitment,
    /// The DA payload: `commitBatch`'s `daPayload`, or decoded from the blobs of
    /// `commitBatchBlobs` (each checked against its versioned hash).
    pub payload: Bytes,
    /// Which of the two.
    pub carrier: Carrier,
}

/// The part of a receipt the poster uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1Receipt {
    /// The block holding the transaction.
    pub block_number: u64,
    /// Whether it succeeded (false: reverted).
    pub success: bool,
    /// Gas used.
    pub gas_used: u64,
    /// Price paid per gas.
    pub effective_gas_price: u128,
    /// Blob gas used (0 without blobs).
    pub blob_gas_used: u64,
    /// Price paid per blob gas.
    pub blob_gas_price: u128,
}

impl L1Receipt {
    /// What the transaction cost its sender, in wei: execution and blob gas.
    pub fn fee(&self) -> u128 {
        u128::from(self.gas_used)
            .saturating_mul(self.effective_gas_price)
            .saturating_add(u128::from(self.blob_gas_used).saturating_mul(self.blob_gas_price))
    }
}

/// The L1 operations the node needs. Every method is one request (or a handful) and fails
/// with an [`L1Error`] whose policy ([`L1Error::is_revert`], [`L1Error::is_transient`])
/// tells the caller what to do.
pub trait L1Client: Send + Sync + 'static {
    /// The chain id.
    fn chain_id(&self) -> impl Future<Output = L1Result<u64>> + Send;
    /// The latest block number.
    fn block_number(&self) -> impl Future<Output = L1Result<u64>> + Send;
    /// What the rollup was deployed with.
    fn deployment(&self) -> impl Future<Output = L1Result<Deployment>> + Send;
    /// The batch counters at block `at` (`None`: latest).
    fn rollup_view(&self, at: Option<u64>) -> impl Future<Output = L1Result<RollupView>> + Send;
    /// `queueHashes[position]` at block `at`.
    fn queue_hash(&self, position: u64, at: u64) -> impl Future<Output = L1Result<B256>> + Send;
    /// `QueueEntry` events of blocks `from..=to`, in chain order.
    fn queue_logs(
        &self,
        from: u64,
        to: u64,
    ) -> impl Future<Output = L1Result<Vec<QueueLog>>> + Send;
    /// Batch events of blocks `from..=to`, in chain order.
    fn batch_logs(
        &self,
        from: u64,
        to: u64,
    ) -> impl Future<Output = L1Result<Vec<BatchLog>>> + Send;
    /// The commitment and DA payload of the commit transaction `tx` (`None` if unknown):
    /// from its calldata, or from its blobs through the beacon API.
    fn commit_data(&self, tx: B256) -> impl Future<Output = L1Result<Option<CommitData>>> + Send;
    /// `account`'s nonce at the latest block (transactions included so far).
    fn nonce(&self, account: Address) -> impl Future<Output = L1Result<u64>> + Send;
    /// `account`'s balance at the latest block.
    fn balance(&self, account: Address) -> impl Future<Output = L1Result<U256>> + Send;
    /// Current fee levels.
    fn fees(&self) -> impl Future<Output = L1Result<Fees>> + Send;
    /// Gas a call from `from` to the rollup with `input` (and blobs with `blob_hashes`)
    /// needs; [`L1Error::Revert`] if it reverts.
    fn estimate_gas(
        &self,
        from: Address,
        input: Bytes,
        blob_hashes: Vec<B256>,
    ) -> impl Future<Output = L1Result<u64>> + Send;
    /// Broadcasts a signed transaction.
    fn send_raw(&self, raw: Bytes) -> impl Future<Output = L1Result<B256>> + Send;
    /// The receipt of `tx`, once it is in a block of the canonical chain.
    fn receipt(&self, tx: B256) -> impl Future<Output = L1Result<Option<L1Receipt>>> + Send;
    /// The commitment and DA payload of batch `index`, from its commit transaction
    /// (`None` if it is not committed).
    fn committed_batch(
        &self,
        index: u64,
    ) -> impl Future<Output = L1Result<Option<CommitData>>> + Send;
    /// `account`'s next nonce, counting its pending transactions.
    fn pending_nonce(&self, account: Address) -> impl Future<Output = L1Result<u64>> + Send;
    /// When batch `index` may be finalized (unix seconds), once proven.
    fn finalizable_at(&self, index: u64) -> impl Future<Output = L1Result<u64>> + Send;
    /// The latest block's timestamp (unix seconds).
    fn latest_timestamp(&self) -> impl Future<Output = L1Result<u64>> + Send;
    /// Sends `proveBatch(index, attestation)` at `nonce`, signed by the client's signer, and
    /// waits for its receipt; [`L1Error::Revert`] if it reverted.
    fn prove_batch(
        &self,
        index: u64,
        attestation: Bytes,
        nonce: u64,
    ) -> impl Future<Output = L1Result<B256>> + Send;
    /// Sends `finalizeBatch(index)`, signed by the client's signer, and waits for its
    /// receipt; [`L1Error::Revert`] if it reverted.
    fn finalize_batch(&self, index: u64) -> impl Future<Output = L1Result<B256>> + Send;
}

/// [`L1Client`] over JSON-RPC with alloy. Every request is bounded by a timeout: a stopped
/// node makes requests fail, not hang.
#[derive(Debug, Clone)]
pub struct AlloyL1 {
    provider: DynProvider,
    rollup: Rollup::RollupInstance<DynProvider>,
    timeout: Duration,
    /// The account signing the client's own transactions, if it has a key.
    signer: Option<Address>,
    /// Where blob-carried batches are read (by default the L1 RPC URL: anvil serves both).
    beacon: Beacon,
}

impl AlloyL1 {
    /// A client of the node at `url` for the rollup at `rollup`. Connects lazily: the node
    /// may be down now and come up later.
    pub fn new(url: &str, rollup: Address, timeout: Duration) -> L1Result<Self> {
        let beacon = Beacon::new(url, Default::default(), timeout)?;
        let url = url
            .parse()
            .map_err(|e| L1Error::Invalid(format!("l1 rpc url {url}: {e}")))?;
        // No fillers: the poster sets nonce, gas and fees itself and signs locally.
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_http(url)
            .erased();
        Ok(Self {
            rollup: Rollup::new(rollup, provider.clone()),
            provider,
            timeout,
            signer: None,
            beacon,
        })
    }

    /// Reads blobs from `beacon` instead of the L1 RPC URL.
    pub fn with_beacon(mut self, beacon: Beacon) -> Self {
        self.beacon = beacon;
        self
    }

    /// A client that also signs and sends transactions with `key` (nonce given by the
    /// caller, gas estimated, chain id fetched): the prover's `proveBatch` and
    /// `finalizeBatch`.
    pub fn with_signer(
        url: &str,
        rollup: Address,
        timeout: Duration,
        key: &SigningKey,
    ) -> L1Result<Self> {
        let beacon = Beacon::new(url, Default::default(), timeout)?;
        let url = url
            .parse()
            .map_err(|e| L1Error::Invalid(format!("l1 rpc url {url}: {e}")))?;
        let signer = PrivateKeySigner::from_bytes(&key.secret_bytes())
            .map_err(|e| L1Error::Invalid(format!("signing key: {e}")))?;
        let sender = signer.address();
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .fetch_chain_id()
            .wallet(EthereumWallet::new(signer))
            .connect_http(url)
            .erased();
        Ok(Self {
            rollup: Rollup::new(rollup, provider.clone()),
            provider,
            timeout,
            signer: Some(sender),
            beacon,
        })
    }

    /// The account signing this client's transactions, if it has a key.
    pub fn signer(&self) -> Option<Address> {
        self.signer
    }

    fn require_signer(&self) -> L1Result<Address> {
        self.signer.ok_or(L1Error::NoSigner)
    }

    /// Waits for the receipt of a sent transaction; [`L1Error::Revert`] if it reverted.
    async fn mined<N: alloy::network::Network>(
        &self,
        what: &str,
        pending: alloy::providers::PendingTransactionBuilder<N>,
    ) -> L1Result<B256>
    where
        N::ReceiptResponse: alloy::network::ReceiptResponse,
    {
        use alloy::network::ReceiptResponse as _;
        let receipt = pending
            .get_receipt()
            .await
            .map_err(|e| L1Error::Transport(format!("{what} receipt: {e}")))?;
        if !receipt.status() {
            return Err(L1Error::Revert(format!(
                "{what} reverted in {}",
                receipt.transaction_hash()
            )));
        }
        Ok(receipt.transaction_hash())
    }

    /// Runs a request under the timeout, classifying its error.
    async fn rpc<T>(
        &self,
        f: impl IntoFuture<Output = Result<T, alloy::transports::TransportError>>,
    ) -> L1Result<T> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r.map_err(|e| L1Error::from_rpc(&e)),
            Err(_) => Err(L1Error::Timeout(self.timeout)),
        }
    }

    /// Runs a contract call under the timeout.
    async fn contract<T>(
        &self,
        f: impl IntoFuture<Output = Result<T, alloy::contract::Error>>,
    ) -> L1Result<T> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r.map_err(|e| L1Error::from_contract(&e)),
            Err(_) => Err(L1Error::Timeout(self.timeout)),
        }
    }

    async fn logs(&self, from: u64, to: u64, topics: Vec<B256>) -> L1Result<Vec<Log>> {
        let filter = Filter::new()
            .address(*self.rollup.address())
            .event_signature(topics)
            .from_block(from)
            .to_block(to);
        let mut logs = self.rpc(self.provider.get_logs(&filter)).await?;
        logs.retain(|l| !l.removed);
        logs.sort_by_key(|l| (l.block_number, l.log_index));
        Ok(logs)
    }
}

fn position(log: &Log) -> L1Result<(u64, u64, B256)> {
    match (log.block_number, log.log_index, log.block_hash) {
        (Some(b), Some(i), Some(h)) => Ok((b, i, h)),
        _ => Err(L1Error::Invalid("a log without its block".into())),
    }
}

fn decode<E: SolEvent>(log: &Log) -> L1Result<E> {
    log.log_decode::<E>()
        .map(|l| l.inner.data)
        .map_err(|e| L1Error::Invalid(format!("{}: {e}", E::SIGNATURE)))
}

impl L1Client for AlloyL1 {
    async fn chain_id(&self) -> L1Result<u64> {
        self.rpc(self.provider.get_chain_id()).await
    }

    async fn block_number(&self) -> L1Result<u64> {
        self.rpc(self.provider.get_block_number()).await
    }

    async fn deployment(&self) -> L1Result<Deployment> {
        Ok(Deployment {
            sequencer: self.contract(self.rollup.sequencer().call()).await?,
            l2_chain_id: self.contract(self.rollup.l2ChainId().call()).await?,
            genesis_state_root: self
                .contract(self.rollup.batch(0).call())
                .await?
                .newStateRoot,
        })
    }

    async fn rollup_view(&self, at: Option<u64>) -> L1Result<RollupView> {
        let block = at.map_or(BlockId::latest(), BlockId::number);
        Ok(RollupView {
            last_committed: self
                .contract(self.rollup.lastCommitted().block(block).call())
                .await?,
            last_proven: self
                .contract(self.rollup.lastProven().block(block).call())
                .await?,
            last_finalized: self
                .contract(self.rollup.lastFinalized().block(block).call())
                .await?,
        })
    }

    async fn queue_hash(&self, position: u64, at: u64) -> L1Result<B256> {
        self.contract(
            self.rollup
                .queueHashes(U256::from(position))
                .block(BlockId::number(at))
                .call(),
        )
        .await
    }

    async fn queue_logs(&self, from: u64, to: u64) -> L1Result<Vec<QueueLog>> {
        let logs = self
            .logs(from, to, vec![Rollup::QueueEntry::SIGNATURE_HASH])
            .await?;
        logs.iter()
            .map(|log| {
                let (block_number, log_index, block_hash) = position(log)?;
                let e: Rollup::QueueEntry = decode(log)?;
                Ok(QueueLog {
                    block_number,
                    block_hash,
                    log_index,
                    queue_index: e.queueIndex,
                    kind: e.kind,
                    account: e.account,
                    token: e.token,
                    amount: e.amount,
                    entry_hash: e.entryHash,
                    queue_hash: e.queueHash,
                })
            })
            .collect()
    }

    async fn batch_logs(&self, from: u64, to: u64) -> L1Result<Vec<BatchLog>> {
        let logs = self
            .logs(
                from,
                to,
                vec![
                    Rollup::BatchCommitted::SIGNATURE_HASH,
                    Rollup::BatchProven::SIGNATURE_HASH,
                    Rollup::BatchFinalized::SIGNATURE_HASH,
                    Rollup::BatchesReverted::SIGNATURE_HASH,
                ],
            )
            .await?;
        logs.iter()
            .map(|log| {
                let (block_number, log_index, _) = position(log)?;
                let tx_hash = log
                    .transaction_hash
                    .ok_or_else(|| L1Error::Invalid("a log without its transaction".into()))?;
                let base = BatchLog {
                    block_number,
                    log_index,
                    tx_hash,
                    index: 0,
                    status: BatchStatus::Committed,
                    commitment_hash: None,
                    new_state_root: None,
                    reverted_to: None,
                };
                Ok(match log.topic0() {
                    Some(&Rollup::BatchCommitted::SIGNATURE_HASH) => {
                        let e: Rollup::BatchCommitted = decode(log)?;
                        BatchLog {
                            index: e.index,
                            commitment_hash: Some(e.commitmentHash),
                            new_state_root: Some(e.newStateRoot),
                            ..base
                        }
                    }
                    Some(&Rollup::BatchProven::SIGNATURE_HASH) => {
                        let e: Rollup::BatchProven = decode(log)?;
                        BatchLog {
                            index: e.index,
                            status: BatchStatus::Proven,
                            commitment_hash: Some(e.commitmentHash),
                            ..base
                        }
                    }
                    Some(&Rollup::BatchesReverted::SIGNATURE_HASH) => {
                        let e: Rollup::BatchesReverted = decode(log)?;
                        BatchLog {
                            index: e.fromIndex,
                            status: BatchStatus::None,
                            reverted_to: Some(e.toIndex),
                            ..base
                        }
                    }
                    _ => {
                        let e: Rollup::BatchFinalized = decode(log)?;
                        BatchLog {
                            index: e.index,
                            status: BatchStatus::Finalized,
                            new_state_root: Some(e.newStateRoot),
                            ..base
                        }
                    }
                })
            })
            .collect()
    }

    async fn commit_data(&self, tx: B256) -> L1Result<Option<CommitData>> {
        use alloy::consensus::Transaction as _;
        let Some(found) = self.rpc(self.provider.get_transaction_by_hash(tx)).await? else {
            return Ok(None);
        };
        let input = found.input();
        let invalid = |what: &str, e: &dyn std::fmt::Display| {
            L1Error::Invalid(format!("{what} of commit transaction {tx}: {e}"))
        };
        if input.starts_with(&Rollup::commitBatchCall::SELECTOR) {
            let call = Rollup::commitBatchCall::abi_decode(input)
                .map_err(|e| invalid("commitBatch calldata", &e))?;
            return Ok(Some(CommitData {
                commitment: crate::from_sol(&call.c),
                payload: call.daPayload,
                carrier: Carrier::Calldata,
            }));
        }
        let call =
            Rollup::commitBatchBlobsCall::abi_decode(input).map_err(|e| invalid("calldata", &e))?;
        let hashes = found.blob_versioned_hashes().unwrap_or_default();
        let number = found
            .block_number
            .ok_or_else(|| invalid("block", &"not mined"))?;
        let block = self
            .rpc(self.provider.get_block_by_number(number.into()))
            .await?
            .ok_or_else(|| invalid("block", &"not found"))?;
        let blobs = self
            .beacon
            .blobs(number, block.header.timestamp, hashes)
            .await?;
        let payload = blob::decode(&blobs).map_err(|e| invalid("blobs", &e))?;
        Ok(Some(CommitData {
            commitment: crate::from_sol(&call.c),
            payload: payload.into(),
            carrier: Carrier::Blobs,
        }))
    }

    async fn nonce(&self, account: Address) -> L1Result<u64> {
        self.rpc(
            self.provider
                .get_transaction_count(account)
                .block_id(BlockId::latest()),
        )
        .await
    }

    async fn balance(&self, account: Address) -> L1Result<U256> {
        self.rpc(self.provider.get_balance(account)).await
    }

    async fn fees(&self) -> L1Result<Fees> {
        let block = self
            .rpc(self.provider.get_block_by_number(BlockNumberOrTag::Latest))
            .await?
            .ok_or_else(|| L1Error::Invalid("no latest block".into()))?;
        let tip = self
            .rpc(self.provider.get_max_priority_fee_per_gas())
            .await?;
        let blob_base_fee = self.rpc(self.provider.get_blob_base_fee()).await?;
        Ok(Fees {
            base_fee_per_gas: block.header.base_fee_per_gas.unwrap_or_default().into(),
            max_priority_fee_per_gas: tip,
            blob_base_fee,
        })
    }

    async fn estimate_gas(
        &self,
        from: Address,
        input: Bytes,
        blob_hashes: Vec<B256>,
    ) -> L1Result<u64> {
        let mut request = TransactionRequest::default()
            .with_from(from)
            .with_to(*self.rollup.address())
            .with_input(input);
        if !blob_hashes.is_empty() {
            request.blob_versioned_hashes = Some(blob_hashes);
        }
        self.rpc(self.provider.estimate_gas(request)).await
    }

    async fn send_raw(&self, raw: Bytes) -> L1Result<B256> {
        let pending = self.rpc(self.provider.send_raw_transaction(&raw)).await?;
        Ok(*pending.tx_hash())
    }

    async fn committed_batch(&self, index: u64) -> L1Result<Option<CommitData>> {
        let filter = Filter::new()
            .address(*self.rollup.address())
            .event_signature(Rollup::BatchCommitted::SIGNATURE_HASH)
            .topic1(U256::from(index))
            .from_block(0);
        let mut logs = self.rpc(self.provider.get_logs(&filter)).await?;
        logs.retain(|l| !l.removed);
        let Some(log) = logs.last() else {
            return Ok(None);
        };
        let tx = log
            .transaction_hash
            .ok_or_else(|| L1Error::Invalid("a log without its transaction".into()))?;
        let data = self
            .commit_data(tx)
            .await?
            .ok_or_else(|| L1Error::Invalid(format!("commit transaction {tx} not found")))?;
        Ok(Some(data))
    }

    async fn pending_nonce(&self, account: Address) -> L1Result<u64> {
        self.rpc(self.provider.get_transaction_count(account).pending())
            .await
    }

    async fn finalizable_at(&self, index: u64) -> L1Result<u64> {
        let batch = self.contract(self.rollup.batch(index).call()).await?;
        let delay = self
            .contract(self.rollup.finalizationDelay().call())
            .await?;
        Ok(batch.provenAt + delay)
    }

    async fn latest_timestamp(&self) -> L1Result<u64> {
        let block = self
            .rpc(self.provider.get_block_by_number(BlockNumberOrTag::Latest))
            .await?
            .ok_or_else(|| L1Error::Invalid("no latest block".into()))?;
        Ok(block.header.timestamp)
    }

    async fn prove_batch(&self, index: u64, attestation: Bytes, nonce: u64) -> L1Result<B256> {
        self.require_signer()?;
        let call = self.rollup.proveBatch(index, attestation).nonce(nonce);
        let pending = self.contract(call.send()).await?;
        self.mined(&format!("proveBatch({index})"), pending).await
    }

    async fn finalize_batch(&self, index: u64) -> L1Result<B256> {
        self.require_signer()?;
        let call = self.rollup.finalizeBatch(index);
        let pending = self.contract(call.send()).await?;
        self.mined(&format!("finalizeBatch({index})"), pending)
            .await
    }

    async fn receipt(&self, tx: B256) -> L1Result<Option<L1Receipt>> {
        let receipt = self.rpc(self.provider.get_transaction_receipt(tx)).await?;
        Ok(receipt.and_then(|r| {
            Some(L1Receipt {
                block_number: r.block_number?,
                success: r.status(),
                gas_used: r.gas_used,
                effective_gas_price: r.effective_gas_price,
                blob_gas_used: r.blob_gas_used.unwrap_or_default(),
                blob_gas_price: r.blob_gas_price.unwrap_or_default(),
            })
        }))
    }
}

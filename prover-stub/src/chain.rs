//! What the prover reads from and sends to L1, through alloy and the `weft-l1` bindings.

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use anyhow::{Context, bail};
use weft_l1::Rollup;
use weft_protocol::{batch::BatchCommitment, signature::SigningKey};

/// The Rollup contract as the prover uses it.
#[derive(Debug, Clone)]
pub struct Chain {
    provider: DynProvider,
    rollup: Rollup::RollupInstance<DynProvider>,
    /// The L1 chain id (bound into attestations).
    pub chain_id: u64,
    /// The account paying for `proveBatch`.
    pub sender: Address,
}

impl Chain {
    /// Connects to `rpc`; `key` signs the prover's L1 transactions.
    pub async fn connect(rpc: &str, rollup: Address, key: &SigningKey) -> anyhow::Result<Self> {
        let signer = PrivateKeySigner::from_bytes(&key.secret_bytes()).context("prover key")?;
        let sender = signer.address();
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .fetch_chain_id()
            .wallet(EthereumWallet::new(signer))
            .connect_http(rpc.parse().context("L1 RPC url")?)
            .erased();
        let chain_id = provider.get_chain_id().await.context("L1 chain id")?;
        Ok(Self {
            rollup: Rollup::new(rollup, provider.clone()),
            provider,
            chain_id,
            sender,
        })
    }

    /// `lastCommitted`, `lastProven`, `lastFinalized`.
    pub async fn positions(&self) -> anyhow::Result<(u64, u64, u64)> {
        Ok((
            self.rollup.lastCommitted().call().await?,
            self.rollup.lastProven().call().await?,
            self.rollup.lastFinalized().call().await?,
        ))
    }

    /// The commitment and DA payload of batch `index`, from its `commitBatch` transaction.
    pub async fn committed_batch(&self, index: u64) -> anyhow::Result<(BatchCommitment, Bytes)> {
        let logs = self
            .rollup
            .BatchCommitted_filter()
            .topic1(U256::from(index))
            .from_block(0)
            .query()
            .await
            .context("BatchCommitted logs")?;
        let Some((_, log)) = logs.last() else {
            bail!("batch {index} has no BatchCommitted event")
        };
        let tx_hash = log.transaction_hash.context("log without a transaction")?;
        let tx = self
            .provider
            .get_transaction_by_hash(tx_hash)
            .await?
            .with_context(|| format!("commit transaction {tx_hash} not found"))?;
        let input = alloy::consensus::Transaction::input(&tx);
        let call = Rollup::commitBatchCall::abi_decode(input).context("commitBatch calldata")?;
        Ok((weft_l1::from_sol(&call.c), call.daPayload))
    }

    /// Entry hashes of the L1 queue at `from..to`.
    pub async fn queue_entries(&self, from: u64, to: u64) -> anyhow::Result<Vec<B256>> {
        if from >= to {
            return Ok(Vec::new());
        }
        let logs = self
            .rollup
            .QueueEntry_filter()
            .from_block(0)
            .query()
            .await
            .context("QueueEntry logs")?;
        let mut entries: Vec<(u64, B256)> = logs
            .into_iter()
            .map(|(e, _)| (e.queueIndex, e.entryHash))
            .filter(|(i, _)| (from..to).contains(i))
            .collect();
        entries.sort_unstable();
        entries.dedup_by_key(|(i, _)| *i);
        if entries.len() as u64 != to - from {
            bail!("L1 has {} of queue entries {from}..{to}", entries.len());
        }
        Ok(entries.into_iter().map(|(_, h)| h).collect())
    }

    /// The prover's next L1 nonce (including pending transactions).
    pub async fn nonce(&self) -> anyhow::Result<u64> {
        Ok(self
            .provider
            .get_transaction_count(self.sender)
            .pending()
            .await?)
    }

    /// The prover's L1 nonce counting only mined transactions.
    pub async fn mined_nonce(&self) -> anyhow::Result<u64> {
        Ok(self
            .provider
            .get_transaction_count(self.sender)
            .latest()
            .await?)
    }

    /// Sends `proveBatch(index, attestation)` at `nonce` and waits for its receipt.
    pub async fn prove(&self, index: u64, attestation: Bytes, nonce: u64) -> anyhow::Result<B256> {
        let pending = self
            .rollup
            .proveBatch(index, attestation)
            .nonce(nonce)
            .send()
            .await
            .context("send proveBatch")?;
        let receipt = pending.get_receipt().await.context("proveBatch receipt")?;
        if !receipt.status() {
            bail!(
                "proveBatch({index}) reverted in {}",
                receipt.transaction_hash
            );
        }
        Ok(receipt.transaction_hash)
    }

    /// Sends `finalizeBatch(index)` and waits for its receipt.
    pub async fn finalize(&self, index: u64) -> anyhow::Result<B256> {
        let receipt = self
            .rollup
            .finalizeBatch(index)
            .send()
            .await?
            .get_receipt()
            .await?;
        if !receipt.status() {
            bail!("finalizeBatch({index}) reverted");
        }
        Ok(receipt.transaction_hash)
    }

    /// When batch `index` may be finalized (unix seconds), once proven.
    pub async fn finalizable_at(&self, index: u64) -> anyhow::Result<u64> {
        let batch = self.rollup.batch(index).call().await?;
        let delay = self.rollup.finalizationDelay().call().await?;
        Ok(batch.provenAt + delay)
    }

    /// The latest L1 block's timestamp.
    pub async fn now(&self) -> anyhow::Result<u64> {
        let block = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await?
            .context("no latest block")?;
        Ok(block.header.timestamp)
    }
}

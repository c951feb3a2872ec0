//! Request handlers.

use std::sync::Arc;

use axum::{
    extract::{Query, State, rejection::QueryRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use weft_api::{
    AccountView, BatchRef, BatchStatus as ApiBatchStatus, BatchView, BlockTransactions, BlockView,
    ChainInfo, ChannelProofView, ChannelView, FeeRule, FeeToken, Health, HealthStatus,
    IncludedTransaction, KindTypes, ProofView, SecretProofView, SubmitBatchReply, SubmitReply,
    SubmitResult, TransactionStatus, TransactionView, TypesView, WithdrawalView, Witness,
    WitnessBlock, WitnessTransaction,
};
use weft_protocol::{
    block::BlockHeader,
    eip712::Domain,
    execution::Status,
    primitives::{Address, B256},
    transaction::ALL_TYPES,
};

use crate::{
    admission::{self, Accepted, Incoming, IncomingBatch},
    api::{ApiError, ApiJson, error::ApiPath, limit::RateCharge},
    node::Node,
    store::{BatchStatus, StoredBatch, StoredTransaction},
};

type AppState = State<Arc<Node>>;

/// The status of an included transaction, as every answer gives it: a failed one is
/// `failed`; a successful one follows its batch (`executed` until the batch is committed,
/// then `committed`, `proven`, `finalized`).
fn included_status(success: bool, batch: Option<&StoredBatch>) -> TransactionStatus {
    if !success {
        return TransactionStatus::Failed;
    }
    match batch.map(|b| b.status) {
        None | Some(BatchStatus::Sealed) => TransactionStatus::Executed,
        Some(BatchStatus::Committed) => TransactionStatus::Committed,
        Some(BatchStatus::Proven) => TransactionStatus::Proven,
        Some(BatchStatus::Finalized) => TransactionStatus::Finalized,
    }
}

/// The reply to an accepted submission: where the transaction stands, as `GET` says.
pub(crate) async fn reply(
    node: &Node,
    hash: B256,
    accepted: Accepted,
) -> Result<SubmitReply, ApiError> {
    Ok(match accepted {
        Accepted::Queued | Accepted::AlreadyQueued => SubmitReply {
            hash,
            status: TransactionStatus::Queued,
            block_number: None,
        },
        Accepted::AlreadyIncluded {
            block_number,
            success,
        } => {
            let batch = node
                .store
                .batch_of_block(block_number)
                .await
                .map_err(ApiError::internal)?;
            SubmitReply {
                hash,
                status: included_status(success, batch.as_ref()),
                block_number: Some(block_number),
            }
        }
    })
}

/// `POST /v1/transactions`
pub async fn submit(
    State(node): AppState,
    ApiJson(sub): ApiJson<Incoming>,
) -> Result<ApiJson<SubmitReply>, ApiError> {
    let outcome = admission::admit(&node, vec![sub])
        .await
        .pop()
        .expect("one outcome");
    let (hash, accepted) = outcome?;
    Ok(ApiJson(reply(&node, hash, accepted).await?))
}

/// `POST /v1/transactions/batch`: one result per submission, in order.
pub async fn submit_batch(
    State(node): AppState,
    charge: RateCharge,
    ApiJson(batch): ApiJson<IncomingBatch>,
) -> Result<ApiJson<SubmitBatchReply>, ApiError> {
    let max = node.config.api.max_batch;
    if batch.transactions.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty_batch",
            "batch has no transactions",
        ));
    }
    if batch.transactions.len() > max {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "batch_too_large",
            format!(
                "batch has {} transactions, at most {max}",
                batch.transactions.len()
            ),
        ));
    }
    // One token per transaction (the request paid one), before any signature is recovered.
    charge.take(batch.transactions.len().saturating_sub(1), "batch")?;
    let outcomes = admission::admit(&node, batch.transactions).await;
    let mut results = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        results.push(match outcome {
            Ok((hash, accepted)) => SubmitResult::Accepted(reply(&node, hash, accepted).await?),
            Err(r) => SubmitResult::Rejected { error: r.into() },
        });
    }
    Ok(ApiJson(SubmitBatchReply { results }))
}

/// The API's name of a stored batch status.
fn batch_status(status: BatchStatus) -> ApiBatchStatus {
    match status {
        BatchStatus::Sealed => ApiBatchStatus::Sealed,
        BatchStatus::Committed => ApiBatchStatus::Committed,
        BatchStatus::Proven => ApiBatchStatus::Proven,
        BatchStatus::Finalized => ApiBatchStatus::Finalized,
    }
}

fn batch_ref(b: &StoredBatch) -> BatchRef {
    BatchRef {
        index: b.commitment.index,
        status: batch_status(b.status),
        commit_l1_tx: b.commit_l1_tx,
        prove_l1_tx: b.prove_l1_tx,
        finalize_l1_tx: b.finalize_l1_tx,
    }
}

fn transaction_view(t: StoredTransaction, batch: Option<&StoredBatch>) -> TransactionView {
    let (success, reason) = match t.receipt.status {
        Status::Success => (true, None),
        Status::Failed(r) => (false, Some(r.code().to_owned())),
    };
    let status = included_status(success, batch);
    TransactionView {
        hash: t.hash,
        status,
        reason,
        block_number: Some(t.block_number),
        index: Some(t.index),
        transaction: t.transaction,
        signature: t.signature,
        receipt: Some(t.receipt),
        batch: batch.map(batch_ref),
    }
}

fn parse_hash(s: &str) -> Result<B256, ApiError> {
    s.parse::<B256>().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_hash",
            "expected a 0x-prefixed 32-byte hex hash",
        )
    })
}

fn parse_address(s: &str) -> Result<Address, ApiError> {
    s.parse::<Address>().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_address",
            "expected a 0x-prefixed 20-byte hex address",
        )
    })
}

/// `GET /v1/transactions/{hash}`: the stored record wins; otherwise the mempool.
pub async fn transaction(
    State(node): AppState,
    ApiPath(hash): ApiPath<String>,
) -> Result<ApiJson<TransactionView>, ApiError> {
    let hash = parse_hash(&hash)?;
    if let Some(stored) = node
        .store
        .transaction(&hash)
        .await
        .map_err(ApiError::internal)?
    {
        let batch = node
            .store
            .batch_of_block(stored.block_number)
            .await
            .map_err(ApiError::internal)?;
        return Ok(ApiJson(transaction_view(stored, batch.as_ref())));
    }
    let pending = node.mempool.lock().get(&hash).cloned();
    match pending {
        Some(p) => Ok(ApiJson(TransactionView {
            hash,
            status: TransactionStatus::Queued,
            reason: None,
            block_number: None,
            index: None,
            transaction: p.transaction.clone(),
            signature: Some(p.signature),
            receipt: None,
            batch: None,
        })),
        None => Err(ApiError::not_found(format!(
            "transaction {hash} is not known"
        ))),
    }
}

/// `GET /v1/transactions/{hash}/withdrawal[?index=k]`: what `Rollup.withdraw` takes to pay
/// withdrawal `k` (default 0) of a transaction: a `Withdraw`, a served forced withdrawal, or
/// an EVM transaction's calls of the withdrawal predeploy, in event order. The batch, the
/// identifier the leaf commits to (`Rollup.withdraw`'s `txHash`), the leaf, its index and
/// Merkle proof under the batch's withdrawals root, and the batch's status (claimable on L1
/// once `finalized`).
pub async fn withdrawal(
    State(node): AppState,
    ApiPath(hash): ApiPath<String>,
    query: Result<Query<WithdrawalQuery>, QueryRejection>,
) -> Result<ApiJson<WithdrawalView>, ApiError> {
    let hash = parse_hash(&hash)?;
    let k = query
        .map_err(|e| ApiError::bad_request(e.body_text()))?
        .0
        .index;
    let store = &node.store;
    let tx = store
        .transaction(&hash)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("transaction {hash} is not executed")))?;
    let withdrawals = tx.receipt.withdrawals(&tx.transaction.leaf_with(hash));
    let (id, withdrawal) = *withdrawals.get(k).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_a_withdrawal",
            format!(
                "transaction {hash} has {} withdrawal(s), none at index {k}",
                withdrawals.len()
            ),
        )
    })?;
    let batch = store
        .batch_of_block(tx.block_number)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "not_batched",
                format!("block {} is not in a batch yet", tx.block_number),
            )
        })?;
    // The batch's leaves in block order, as the batcher built its withdrawals root.
    let mut leaves = Vec::new();
    for n in batch.commitment.from_block..=batch.commitment.to_block {
        let txs = store
            .block_transactions(n)
            .await
            .map_err(ApiError::internal)?;
        leaves.extend(crate::batcher::withdrawal_leaves_of(&txs).map(|(leaf, _, _)| leaf));
    }
    let leaf = withdrawal.leaf(&id);
    let index = leaves
        .iter()
        .position(|l| *l == leaf)
        .ok_or_else(|| ApiError::internal("withdrawal leaf missing from its batch"))?;
    let proof = weft_protocol::merkle::proof_of(&leaves, index)
        .ok_or_else(|| ApiError::internal("no proof for a leaf of the batch"))?;
    Ok(ApiJson(WithdrawalView {
        batch_index: batch.commitment.index,
        batch_status: batch_status(batch.status),
        tx_hash: hash,
        id,
        recipient: withdrawal.recipient,
        token: withdrawal.token,
        amount: withdrawal.amount,
        leaf,
        leaf_index: index as u64,
        proof,
        withdrawals_root: batch.commitment.withdrawals_root,
    }))
}

/// The query of `GET /v1/transactions/{hash}/withdrawal`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalQuery {
    /// Which of the transaction's withdrawals (0 unless an EVM transaction made several).
    #[serde(default)]
    index: usize,
}

/// `GET /v1/accounts/{address}`: an unknown address is an empty account.
pub async fn account(
    State(node): AppState,
    ApiPath(address): ApiPath<String>,
) -> Result<ApiJson<AccountView>, ApiError> {
    let address = parse_address(&address)?;
    let (index, nonce, balances) = {
        let state = node.state.read();
        let index = state.index_of(&address);
        let account = index.and_then(|i| state.account(i));
        (
            index,
            account.map_or(0, |a| a.nonce),
            account.map(|a| a.balances().collect()).unwrap_or_default(),
        )
    };
    let next_nonce = node.mempool.lock().next_nonce(&address, nonce);
    Ok(ApiJson(AccountView {
        address,
        index,
        nonce,
        next_nonce,
        balances,
    }))
}

/// `GET /v1/accounts/{address}/proof`
pub async fn account_proof(
    State(node): AppState,
    ApiPath(address): ApiPath<String>,
) -> Result<ApiJson<ProofView>, ApiError> {
    let address = parse_address(&address)?;
    let block_number = node.head().number;
    let state = node.state.read();
    let index = state
        .index_of(&address)
        .ok_or_else(|| ApiError::not_found(format!("account {address} has no index yet")))?;
    let proof = state
        .account_proof(index)
        .ok_or_else(|| ApiError::internal("indexed account missing"))?;
    Ok(ApiJson(ProofView {
        state_root: state.state_root(),
        block_number,
        leaf: proof.account.leaf_hash(),
        leaf_preimage: proof
            .account
            .leaf_preimage_with_code(proof.code_hash.as_ref())
            .into(),
        leaf_index: weft_protocol::state::proof_path(index),
        accounts_root: state.accounts_root(),
        proof,
    }))
}

/// The header and hash of block `number`; block 0 is the genesis.
async fn header_by_number(
    node: &Node,
    number: u64,
) -> Result<Option<(BlockHeader, B256)>, ApiError> {
    if number == 0 {
        return Ok(Some(node.genesis_block()));
    }
    node.store
        .header_by_number(number)
        .await
        .map_err(ApiError::internal)
}

/// `GET /v1/blocks/{id}`: `id` is a number, `latest`, or a 0x block hash; block 0 (hash
/// zero) is the genesis.
pub async fn block(
    State(node): AppState,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<BlockView>, ApiError> {
    let found = if id == "latest" {
        let head = node.store.head().await.map_err(ApiError::internal)?;
        Some(head.unwrap_or_else(|| node.genesis_block()))
    } else if id.starts_with("0x") {
        let hash = parse_hash(&id)?;
        if hash == B256::ZERO {
            Some(node.genesis_block())
        } else {
            node.store
                .header_by_hash(&hash)
                .await
                .map_err(ApiError::internal)?
        }
    } else {
        let number = id.parse::<u64>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_block_id",
                "expected a number, latest or a 0x hash",
            )
        })?;
        header_by_number(&node, number).await?
    };
    let (header, hash) =
        found.ok_or_else(|| ApiError::not_found(format!("block {id} is not known")))?;
    let transactions = node
        .store
        .block_transaction_hashes(header.number)
        .await
        .map_err(ApiError::internal)?;
    Ok(ApiJson(BlockView {
        header,
        hash,
        transactions,
    }))
}

/// `GET /v1/blocks/{number}/transactions`: the block's transactions in order, each with its
/// signature and receipt (what a channel watcher scans for registrations).
pub async fn block_transactions(
    State(node): AppState,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<BlockTransactions>, ApiError> {
    let number = id.parse::<u64>().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_block_id",
            "expected a block number",
        )
    })?;
    let (_, hash) = header_by_number(&node, number)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("block {number} is not known")))?;
    let transactions = node
        .store
        .block_transactions(number)
        .await
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|t| IncludedTransaction {
            hash: t.hash,
            transaction: t.transaction,
            signature: t.signature,
            receipt: t.receipt,
        })
        .collect();
    Ok(ApiJson(BlockTransactions {
        number,
        hash,
        transactions,
    }))
}

/// `GET /v1/channels/{id}`: the channel's record in the latest state.
pub async fn channel(
    State(node): AppState,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<ChannelView>, ApiError> {
    let id = parse_hash(&id)?;
    let block_number = node.head().number;
    let state = node.state.read();
    let record = state
        .channel(&id)
        .ok_or_else(|| ApiError::not_found(format!("channel {id} is not known")))?;
    let address = |index| {
        state
            .account(index)
            .map(|a| a.address)
            .ok_or_else(|| ApiError::internal("channel participant without an account"))
    };
    Ok(ApiJson(ChannelView {
        wallet_address: address(record.wallet)?,
        hub_address: address(record.hub)?,
        block_number,
        record: record.clone(),
    }))
}

/// `GET /v1/channels/{id}/proof`: the record and both participants' accounts with their
/// proofs, from one state (what an exit of a frozen rollup proves on L1).
pub async fn channel_proof(
    State(node): AppState,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<ChannelProofView>, ApiError> {
    let id = parse_hash(&id)?;
    let block_number = node.head().number;
    let state = node.state.read();
    let channel = state
        .channel_proof(&id)
        .ok_or_else(|| ApiError::not_found(format!("channel {id} is not known")))?;
    let account = |index| {
        state
            .account_proof(index)
            .ok_or_else(|| ApiError::internal("channel participant without an account"))
    };
    Ok(ApiJson(ChannelProofView {
        state_root: state.state_root(),
        block_number,
        wallet: account(channel.record.wallet)?,
        hub: account(channel.record.hub)?,
        channel,
    }))
}

/// `GET /v1/secrets/{hashlock}/proof`: the reveal's leaf and its proof under the secrets root.
pub async fn secret_proof(
    State(node): AppState,
    ApiPath(hashlock): ApiPath<String>,
) -> Result<ApiJson<SecretProofView>, ApiError> {
    let hashlock = parse_hash(&hashlock)?;
    let block_number = node.head().number;
    let state = node.state.read();
    let proof = state
        .secret_proof(&hashlock)
        .ok_or_else(|| ApiError::not_found(format!("no secret of {hashlock} was revealed")))?;
    Ok(ApiJson(SecretProofView {
        state_root: state.state_root(),
        block_number,
        secrets_root: state.secrets_root(),
        proof,
    }))
}

/// `GET /v1/batches/{index}`: the commitment, the L1 status and transactions, the DA size.
pub async fn batch(
    State(node): AppState,
    ApiPath(index): ApiPath<String>,
) -> Result<ApiJson<BatchView>, ApiError> {
    let (index, batch) = stored_batch(&node, &index).await?;
    Ok(ApiJson(BatchView {
        index,
        status: batch_status(batch.status),
        commitment: batch.commitment,
        commitment_hash: batch.commitment.hash(),
        da_bytes: batch.da_payload.len() as u64,
        l1: batch_ref(&batch),
    }))
}

/// `GET /v1/batches/{index}/witness`: every block of the batch with its transactions and
/// their signatures, in order: what a prover needs besides L1.
pub async fn batch_witness(
    State(node): AppState,
    ApiPath(index): ApiPath<String>,
) -> Result<ApiJson<Witness>, ApiError> {
    let (index, batch) = stored_batch(&node, &index).await?;
    let mut blocks = Vec::new();
    for n in batch.commitment.from_block..=batch.commitment.to_block {
        let (header, hash) = node
            .store
            .header_by_number(n)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal(format!("batched block {n} missing")))?;
        let txs = node
            .store
            .block_transactions(n)
            .await
            .map_err(ApiError::internal)?;
        let transactions = txs
            .into_iter()
            .map(|t| WitnessTransaction {
                hash: t.hash,
                transaction: t.transaction,
                signature: t.signature,
            })
            .collect();
        blocks.push(WitnessBlock {
            header,
            hash,
            transactions,
        });
    }
    Ok(ApiJson(Witness {
        index,
        commitment: batch.commitment,
        blocks,
    }))
}

/// `GET /v1/domain`
pub async fn domain(State(node): AppState) -> ApiJson<Domain> {
    ApiJson(node.domain)
}

/// `GET /v1/chain`: the chain parameters every client and every party to a channel
/// needs: the EIP-712 domain (as `/v1/domain`), the dispute window in blocks and the fee
/// rule admission applies.
pub async fn chain(State(node): AppState) -> ApiJson<ChainInfo> {
    ApiJson(ChainInfo {
        domain: node.domain,
        dispute_window: node.config.dispute_window,
        fee: FeeRule {
            min_fee: node.config.min_fee,
            token: FeeToken::Transaction,
        },
    })
}

/// A kind's name as submissions spell it (`type`): its struct name in camelCase, as
/// serde's `rename_all = "camelCase"` on [`weft_protocol::transaction::Transaction`] gives.
fn kind_name(struct_name: &str) -> String {
    let mut chars = struct_name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// `GET /v1/types`: the EIP-712 domain and the typed-data types of every kind, so a
/// wallet can sign without reading Weft's code.
pub async fn types(State(node): AppState) -> ApiJson<TypesView> {
    let kinds = ALL_TYPES
        .iter()
        .map(|ty| {
            let kind = KindTypes {
                primary_type: ty.name.into(),
                types: ty.types_json(),
                encode_type: ty.encode_type(),
            };
            (kind_name(ty.name), kind)
        })
        .collect();
    ApiJson(TypesView {
        domain: node.domain.to_json(),
        kinds,
    })
}

/// `GET /v1/openapi.json`
pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi::DOCUMENT.as_str(),
    )
        .into_response()
}

/// `GET /health`: `status` is `ok`; `degraded` (HTTP 200) while an L1 alert is raised
/// (the poster cannot pay, L1 unreachable, a queue entry refused), listed under
/// `l1.alerts`; `halted` (HTTP 503) once the poster has halted on a revert, with the reason
/// in `l1.posterHalted`. Blocks keep being sealed in every case.
pub async fn health(State(node): AppState) -> Response {
    let head = node.head();
    let mempool = node.mempool.lock().len();
    let l1 = node.l1.snapshot();
    let (code, status) = if l1.poster_halted.is_some() {
        (StatusCode::SERVICE_UNAVAILABLE, HealthStatus::Halted)
    } else if !l1.alerts.is_empty() {
        (StatusCode::OK, HealthStatus::Degraded)
    } else {
        (StatusCode::OK, HealthStatus::Ok)
    };
    let body = Health {
        status,
        head: head.number,
        head_hash: head.hash,
        mempool: mempool as u64,
        l1: l1.enabled.then_some(l1),
    };
    (code, ApiJson(body)).into_response()
}

/// `GET /metrics` (Prometheus text format).
pub async fn metrics(State(node): AppState) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        node.metrics.render(),
    )
        .into_response()
}

/// Unknown routes.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

/// Known route, wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

/// The stored batch a path's `{index}` names: 400 `invalid_batch_index`, 404 `not_found`.
async fn stored_batch(node: &Node, index: &str) -> Result<(u64, StoredBatch), ApiError> {
    let index = index.parse::<u64>().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_batch_index",
            "expected a batch number",
        )
    })?;
    let batch = node
        .store
        .batch(index)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("batch {index} is not known")))?;
    Ok((index, batch))
}

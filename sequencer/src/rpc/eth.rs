//! The methods: `eth_*`, `net_*`, `web3_*` and `weft_*`.

use std::{sync::Arc, time::SystemTime};

use alloy::{
    primitives::{Bytes, U64},
    rpc::types::{BlockId, BlockNumberOrTag, Filter, FilterBlockOption, TransactionRequest},
};
use serde_json::{Value, json};
use weft_protocol::{
    evm::{
        DEFAULT_BLOCK_GAS_LIMIT, DEFAULT_MIN_BASE_FEE, WITHDRAWALS,
        call::{CallOutcome, CallRequest, EstimateError},
    },
    execution::{BlockEnv, FailureReason},
    primitives::{Address, B256, U256},
    state::State,
};

use super::{
    Params, RpcError, code,
    format::{self, BlockBody, Position, quantity},
};
use crate::{
    admission::{self, read_state},
    node::Node,
    store::{BatchStatus, LogFilter, StoredLog, StoredTransaction},
};

/// Most blocks one `eth_getLogs` may span.
pub const MAX_LOG_RANGE: u64 = 10_000;
/// Most logs one `eth_getLogs` returns.
pub const MAX_LOGS: usize = 10_000;
/// Most addresses, and topics per position, in one log filter.
pub const MAX_FILTER_VALUES: usize = 32;
/// Most blocks one `eth_feeHistory` covers.
pub const MAX_FEE_HISTORY: u64 = 1024;
/// Most slots one `eth_getProof` proves.
pub const MAX_PROOF_SLOTS: usize = 256;

/// `eth_sendRawTransaction`'s one parameter.
pub(super) fn raw_transaction(p: &Params) -> Result<Bytes, RpcError> {
    p.at_most(1)?;
    p.get(0, "data")
}

/// `eth_sendRawTransaction`'s answer for an admission outcome.
fn sent(outcome: Result<B256, admission::Rejection>) -> Result<Value, RpcError> {
    outcome
        .map(|hash| json!(hash))
        .map_err(|r| RpcError::new(code::SERVER, admission::geth_message(&r)))
}

/// The `eth_sendRawTransaction` requests of one batch, admitted together
/// ([`admission::admit_raw_batch`]): each answer as it would be alone.
pub(super) async fn send_raw_batch(
    node: &Arc<Node>,
    raws: &[Bytes],
) -> Vec<Result<Value, RpcError>> {
    admission::admit_raw_batch(node, raws)
        .await
        .into_iter()
        .map(sent)
        .collect()
}

/// Dispatches one call (everything but the subscriptions, which need a WebSocket).
pub(super) async fn call(node: &Arc<Node>, method: &str, p: Params) -> Result<Value, RpcError> {
    let chain_id = node.domain.chain_id();
    match method {
        "web3_clientVersion" => none(&p, json!(concat!("weft/v", env!("CARGO_PKG_VERSION")))),
        "net_version" => none(&p, json!(chain_id.to_string())),
        "net_listening" => none(&p, json!(true)),
        "eth_chainId" => none(&p, quantity(chain_id)),
        "eth_blockNumber" => none(&p, quantity(node.head().number)),
        "eth_syncing" | "eth_mining" => none(&p, json!(false)),
        "eth_accounts" => none(&p, json!([])),
        "eth_gasPrice" => none(&p, quantity(DEFAULT_MIN_BASE_FEE)),
        "eth_maxPriorityFeePerGas" => none(&p, quantity(0u8)),
        "eth_feeHistory" => fee_history(node, &p).await,
        "eth_getBalance" => {
            let address = account_param(node, &p).await?;
            Ok(quantity(
                read_state(node)
                    .account_by_address(&address)
                    .map_or(0, |a| a.balance(0)),
            ))
        }
        "eth_getTransactionCount" => transaction_count(node, &p).await,
        "eth_getCode" => {
            let address = account_param(node, &p).await?;
            Ok(json!(code_of(&read_state(node), &address)))
        }
        "eth_getStorageAt" => {
            p.at_most(3)?;
            let address: Address = p.get(0, "address")?;
            let slot: U256 = p.get(1, "slot")?;
            check_latest(node, p.opt(2, "block")?).await?;
            let value = read_state(node).storage_at(&address, &slot);
            Ok(json!(B256::from(value)))
        }
        "eth_call" => eth_call(node, &p).await,
        "eth_estimateGas" => estimate_gas(node, &p).await,
        "eth_sendRawTransaction" => {
            let raw = raw_transaction(&p)?;
            sent(admission::admit_raw(node, &raw).await)
        }
        "eth_getBlockByNumber" => {
            p.at_most(2)?;
            let tag: BlockNumberOrTag = p.get(0, "block")?;
            let number = block_number(node, tag).await?;
            block(node, number, p.opt(1, "full")?.unwrap_or(false)).await
        }
        "eth_getBlockByHash" => {
            p.at_most(2)?;
            let hash: B256 = p.get(0, "hash")?;
            match block_by_hash(node, &hash).await? {
                Some(number) => block(node, number, p.opt(1, "full")?.unwrap_or(false)).await,
                None => Ok(Value::Null),
            }
        }
        "eth_getBlockTransactionCountByNumber" => {
            p.at_most(1)?;
            let number = block_number(node, p.get(0, "block")?).await?;
            let header = header(node, number).await?;
            Ok(header.map_or(Value::Null, |(h, _)| quantity(h.tx_count)))
        }
        "eth_getTransactionByHash" => {
            p.at_most(1)?;
            transaction_by_hash(node, p.get(0, "hash")?).await
        }
        "eth_getTransactionReceipt" => {
            p.at_most(1)?;
            receipt(node, p.get(0, "hash")?).await
        }
        "eth_getLogs" => {
            p.at_most(1)?;
            logs(node, p.get(0, "filter")?).await
        }
        "eth_getProof" => proof(node, &p).await,
        "weft_getTransactionStatus" => {
            p.at_most(1)?;
            let hash: B256 = p.get(0, "hash")?;
            transaction_status(node, hash).await
        }
        "eth_subscribe" | "eth_unsubscribe" => Err(RpcError::new(
            code::METHOD_NOT_FOUND,
            "subscriptions need a WebSocket: connect to the same URL with ws://",
        )),
        other => Err(RpcError::new(
            code::METHOD_NOT_FOUND,
            format!("the method {other} does not exist/is not available"),
        )),
    }
}

fn none(p: &Params, value: Value) -> Result<Value, RpcError> {
    p.at_most(0)?;
    Ok(value)
}

fn internal(e: impl std::fmt::Display) -> RpcError {
    RpcError::internal(e)
}

/// `(address, block)` parameters of a state read at the latest block.
async fn account_param(node: &Node, p: &Params) -> Result<Address, RpcError> {
    p.at_most(2)?;
    let address = p.get(0, "address")?;
    check_latest(node, p.opt(1, "block")?).await?;
    Ok(address)
}

/// State is served at the latest block (and `pending`, which is the same state): an older
/// block is refused with a clear error rather than answered from the wrong state.
async fn check_latest(node: &Node, block: Option<BlockId>) -> Result<(), RpcError> {
    let head = node.head();
    let served = match block {
        None => true,
        Some(BlockId::Number(tag)) => match tag {
            BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => true,
            BlockNumberOrTag::Number(n) => n == head.number,
            other => block_number(node, other).await? == head.number,
        },
        Some(BlockId::Hash(h)) => h.block_hash == head.hash,
    };
    if served {
        return Ok(());
    }
    Err(RpcError::new(
        code::SERVER,
        format!(
            "historical state is not available: Weft serves state at the latest block ({}) and \
             pending; read older values from events (eth_getLogs) or receipts",
            head.number
        ),
    ))
}

/// The number a block tag names (it may be past the head: the caller finds no block).
pub(super) async fn block_number(node: &Node, tag: BlockNumberOrTag) -> Result<u64, RpcError> {
    let statuses: &[BatchStatus] = match tag {
        BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => return Ok(node.head().number),
        BlockNumberOrTag::Earliest => return Ok(0),
        BlockNumberOrTag::Number(n) => return Ok(n),
        // Safe: in a batch committed on L1 (its data is public); finalized: in a batch
        // the L1 contract finalized.
        BlockNumberOrTag::Safe => &[
            BatchStatus::Committed,
            BatchStatus::Proven,
            BatchStatus::Finalized,
        ],
        BlockNumberOrTag::Finalized => &[BatchStatus::Finalized],
    };
    node.store
        .last_block_at_status(statuses)
        .await
        .map_err(internal)
}

async fn header(
    node: &Node,
    number: u64,
) -> Result<Option<(weft_protocol::block::BlockHeader, B256)>, RpcError> {
    if number == 0 {
        return Ok(Some(node.genesis_block()));
    }
    node.store.header_by_number(number).await.map_err(internal)
}

async fn block_by_hash(node: &Node, hash: &B256) -> Result<Option<u64>, RpcError> {
    Ok(node
        .store
        .header_by_hash(hash)
        .await
        .map_err(internal)?
        .map(|(h, _)| h.number))
}

pub(super) async fn block(node: &Node, number: u64, full: bool) -> Result<Value, RpcError> {
    let Some((header, hash)) = header(node, number).await? else {
        return Ok(Value::Null);
    };
    let logs_bloom = match node
        .store
        .block_logs_bloom(number)
        .await
        .map_err(internal)?
    {
        Some(bloom) => bloom,
        // No logs, or a block stored before the bloom was: from its logs.
        None => {
            let logs = node
                .store
                .block_logs(i64::try_from(number).map_err(internal)?)
                .await
                .map_err(internal)?;
            format::bloom(logs.iter().map(|(_, log)| log))
        }
    };
    let (transactions, gas_used) = if full {
        let txs = node
            .store
            .block_transactions(number)
            .await
            .map_err(internal)?;
        let gas_used = txs
            .iter()
            .filter_map(|t| t.receipt.evm.as_ref())
            .map(|r| r.cumulative_gas_used)
            .max()
            .unwrap_or(0);
        let chain_id = node.domain.chain_id();
        let txs = txs
            .iter()
            .map(|t| {
                let at = Position {
                    block_hash: hash,
                    block_number: number,
                    index: t.index,
                };
                format::transaction(
                    &t.transaction,
                    t.hash,
                    t.signature,
                    Some(at),
                    chain_id,
                    DEFAULT_MIN_BASE_FEE,
                )
            })
            .collect();
        (txs, gas_used)
    } else {
        // Hashes only: nothing is decoded.
        let (hashes, gas_used) = node.store.block_summary(number).await.map_err(internal)?;
        (hashes.iter().map(|h| json!(h)).collect(), gas_used)
    };
    Ok(format::block(
        &header,
        hash,
        &BlockBody {
            transactions,
            gas_used,
            logs_bloom,
            gas_limit: DEFAULT_BLOCK_GAS_LIMIT,
            base_fee: DEFAULT_MIN_BASE_FEE,
        },
    ))
}

/// An included transaction, its block's hash, and its logs.
async fn stored(node: &Node, hash: &B256) -> Result<Option<Included>, RpcError> {
    let Some((tx, logs)) = node
        .store
        .transaction_with_logs(hash)
        .await
        .map_err(internal)?
    else {
        return Ok(None);
    };
    let (_, block_hash) = header(node, tx.block_number)
        .await?
        .ok_or_else(|| internal(format!("block {} of {hash} missing", tx.block_number)))?;
    Ok(Some((tx, block_hash, logs)))
}

type Included = (StoredTransaction, B256, Vec<StoredLog>);

async fn transaction_by_hash(node: &Node, hash: B256) -> Result<Value, RpcError> {
    let chain_id = node.domain.chain_id();
    if let Some((tx, block_hash, _)) = stored(node, &hash).await? {
        let at = Position {
            block_hash,
            block_number: tx.block_number,
            index: tx.index,
        };
        return Ok(format::transaction(
            &tx.transaction,
            hash,
            tx.signature,
            Some(at),
            chain_id,
            DEFAULT_MIN_BASE_FEE,
        ));
    }
    let pending = node.mempool.lock().get(&hash).cloned();
    Ok(pending.map_or(Value::Null, |p| {
        format::transaction(
            &p.transaction,
            hash,
            Some(p.signature),
            None,
            chain_id,
            DEFAULT_MIN_BASE_FEE,
        )
    }))
}

async fn receipt(node: &Node, hash: B256) -> Result<Value, RpcError> {
    let Some((tx, block_hash, logs)) = stored(node, &hash).await? else {
        return Ok(Value::Null);
    };
    Ok(format::receipt(&tx, block_hash, &logs))
}

async fn transaction_count(node: &Node, p: &Params) -> Result<Value, RpcError> {
    p.at_most(2)?;
    let address: Address = p.get(0, "address")?;
    let block: Option<BlockId> = p.opt(1, "block")?;
    let pending = matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending)));
    check_latest(node, block).await?;
    let nonce = read_state(node)
        .account_by_address(&address)
        .map_or(0, |a| a.nonce);
    Ok(quantity(if pending {
        node.mempool.lock().next_nonce(&address, nonce)
    } else {
        nonce
    }))
}

/// The code at `address`: the withdrawal predeploy shows `0xfe` (it runs natively).
fn code_of(state: &State, address: &Address) -> Bytes {
    if *address == WITHDRAWALS {
        return Bytes::from_static(&[0xfe]);
    }
    state
        .index_of(address)
        .and_then(|i| state.code_hash(i))
        .and_then(|h| state.code_by_hash(&h))
        .map_or_else(Bytes::new, |code| code.original_bytes())
}

/// The environment of the next block, which `eth_call` and `eth_estimateGas` run in.
fn pending_env(node: &Node) -> BlockEnv {
    let head = node.head();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    BlockEnv {
        number: head.number + 1,
        timestamp: now.max(head.timestamp),
        fee_recipient: node.config.fee_recipient,
        domain: node.domain,
        dispute_window: node.config.dispute_window,
        gas_limit: DEFAULT_BLOCK_GAS_LIMIT,
        base_fee: DEFAULT_MIN_BASE_FEE,
    }
}

async fn call_request(node: &Node, p: &Params) -> Result<CallRequest, RpcError> {
    p.at_most(2)?;
    let req: TransactionRequest = p.get(0, "transaction")?;
    check_latest(node, p.opt(1, "block")?).await?;
    let input = req.input.input().cloned().unwrap_or_default();
    Ok(CallRequest {
        from: req.from,
        to: req.to.and_then(|kind| kind.to().copied()),
        gas: req.gas,
        max_fee_per_gas: req.max_fee_per_gas.or(req.gas_price),
        max_priority_fee_per_gas: req.max_priority_fee_per_gas,
        value: req.value.unwrap_or_default(),
        input,
        access_list: req.access_list.unwrap_or_default(),
    })
}

/// geth's text for a transaction refused before execution.
fn refused(reason: FailureReason) -> RpcError {
    let text = match reason {
        FailureReason::InsufficientFunds => "insufficient funds for gas * price + value",
        FailureReason::IntrinsicGasTooLow => "intrinsic gas too low",
        FailureReason::FeeCapTooLow => "max fee per gas less than block base fee",
        FailureReason::BlockGasExceeded => "exceeds block gas limit",
        FailureReason::SenderNotEoa => "sender not an eoa",
        _ => reason.code(),
    };
    RpcError::new(code::SERVER, text)
}

/// `execution reverted` with the revert data, and the reason string when it is an
/// `Error(string)` (as geth words it).
fn reverted(output: &Bytes) -> RpcError {
    use alloy::sol_types::decode_revert_reason;
    let message = match decode_revert_reason(output) {
        Some(reason) if output.len() >= 4 && output[..4] == [0x08, 0xc3, 0x79, 0xa0] => {
            format!("execution reverted: {reason}")
        }
        _ => "execution reverted".to_owned(),
    };
    RpcError {
        code: code::REVERTED,
        message,
        data: Some(json!(output)),
    }
}

/// Runs `run` (a call or an estimate) of the request in `p` against the latest state, in
/// the next block's environment, off the async workers.
async fn simulate<T: Send + 'static>(
    node: &Arc<Node>,
    p: &Params,
    run: fn(&State, &BlockEnv, &CallRequest) -> T,
) -> Result<T, RpcError> {
    let req = call_request(node, p).await?;
    let env = pending_env(node);
    let node = node.clone();
    tokio::task::spawn_blocking(move || run(&node.state.read(), &env, &req))
        .await
        .map_err(internal)
}

async fn eth_call(node: &Arc<Node>, p: &Params) -> Result<Value, RpcError> {
    match simulate(node, p, weft_protocol::evm::call::call).await? {
        Ok(CallOutcome::Success { output, .. }) => Ok(json!(output)),
        Ok(CallOutcome::Revert { output, .. }) => Err(reverted(&output)),
        Ok(CallOutcome::Halt { reason, .. }) => Err(RpcError::new(code::SERVER, reason)),
        Err(reason) => Err(refused(reason)),
    }
}

async fn estimate_gas(node: &Arc<Node>, p: &Params) -> Result<Value, RpcError> {
    match simulate(node, p, weft_protocol::evm::call::estimate_gas).await? {
        Ok(gas) => Ok(quantity(gas)),
        Err(EstimateError::Reverted(output)) => Err(reverted(&output)),
        Err(EstimateError::Halted(reason)) => Err(RpcError::new(
            code::SERVER,
            format!("gas required exceeds allowance ({DEFAULT_BLOCK_GAS_LIMIT}): {reason}"),
        )),
        Err(EstimateError::Refused(reason)) => Err(refused(reason)),
    }
}

async fn fee_history(node: &Node, p: &Params) -> Result<Value, RpcError> {
    p.at_most(3)?;
    let count: U64 = p.get(0, "blockCount")?;
    let newest = block_number(node, p.get(1, "newestBlock")?).await?;
    let percentiles: Vec<f64> = p.opt(2, "rewardPercentiles")?.unwrap_or_default();
    if percentiles.len() > 100
        || percentiles.windows(2).any(|w| w[0] > w[1])
        || percentiles.iter().any(|q| !(0.0..=100.0).contains(q))
    {
        return Err(RpcError::params(
            "rewardPercentiles must be at most 100 increasing values in [0, 100]",
        ));
    }
    let newest = newest.min(node.head().number);
    let count = count.to::<u64>().min(MAX_FEE_HISTORY).min(newest + 1);
    if count == 0 {
        return Ok(
            json!({ "oldestBlock": quantity(newest), "baseFeePerGas": [], "gasUsedRatio": [] }),
        );
    }
    let oldest = newest + 1 - count;
    // (gas used, tip) of each block's EVM transactions.
    let mut by_block: std::collections::HashMap<u64, Vec<(u64, u128)>> = Default::default();
    for (number, used, price) in node.store.evm_gas(oldest, newest).await.map_err(internal)? {
        let tip = price.saturating_sub(u128::from(DEFAULT_MIN_BASE_FEE));
        by_block.entry(number).or_default().push((used, tip));
    }
    let mut ratios = Vec::with_capacity(count as usize);
    let mut rewards = Vec::with_capacity(count as usize);
    for number in oldest..=newest {
        // Cheapest tip first.
        let mut tips = by_block.remove(&number).unwrap_or_default();
        let used: u64 = tips.iter().map(|t| t.0).sum();
        ratios.push(used as f64 / DEFAULT_BLOCK_GAS_LIMIT as f64);
        tips.sort_by_key(|t| t.1);
        // As geth: the tip at which the given share of the block's gas was paid.
        let reward: Vec<Value> = percentiles
            .iter()
            .map(|q| {
                let threshold = (used as f64 * q / 100.0) as u64;
                let mut sum = 0;
                let tip = tips
                    .iter()
                    .find(|(g, _)| {
                        sum += g;
                        sum >= threshold
                    })
                    .or(tips.last())
                    .map_or(0, |t| t.1);
                quantity(tip)
            })
            .collect();
        rewards.push(reward);
    }
    let mut answer = json!({
        "oldestBlock": quantity(oldest),
        "baseFeePerGas": vec![quantity(DEFAULT_MIN_BASE_FEE); count as usize + 1],
        "gasUsedRatio": ratios,
    });
    if !percentiles.is_empty() {
        answer["reward"] = json!(rewards);
    }
    Ok(answer)
}

/// The store's filter for `filter`'s addresses and topics over blocks `from..=to`, within
/// the limits on their number.
pub(super) fn log_filter(filter: &Filter, from: u64, to: u64) -> Result<LogFilter, RpcError> {
    let addresses: Vec<Address> = filter.address.iter().copied().collect();
    let topics: Vec<Vec<B256>> = filter
        .topics
        .iter()
        .map(|t| t.iter().copied().collect())
        .collect();
    if addresses.len() > MAX_FILTER_VALUES || topics.iter().any(|t| t.len() > MAX_FILTER_VALUES) {
        return Err(RpcError::new(
            code::LIMIT,
            format!(
                "at most {MAX_FILTER_VALUES} addresses and {MAX_FILTER_VALUES} topics per position"
            ),
        ));
    }
    Ok(LogFilter {
        from,
        to,
        addresses,
        topics: topics.try_into().expect("four topic positions"),
    })
}

async fn logs(node: &Node, filter: Filter) -> Result<Value, RpcError> {
    let head = node.head().number;
    let (from, to) = match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => match block_by_hash(node, &hash).await? {
            Some(n) => (n, n),
            None => return Err(RpcError::new(code::SERVER, format!("unknown block {hash}"))),
        },
        FilterBlockOption::Range {
            from_block,
            to_block,
        } => {
            let from = match from_block {
                Some(tag) => block_number(node, tag).await?,
                None => head,
            };
            let to = match to_block {
                Some(tag) => block_number(node, tag).await?,
                None => head,
            };
            (from, to.min(head))
        }
    };
    if from > to {
        return Ok(json!([]));
    }
    if to - from >= MAX_LOG_RANGE {
        return Err(RpcError::new(
            code::LIMIT,
            format!(
                "block range too large: {} blocks, the limit is {MAX_LOG_RANGE}",
                to - from + 1
            ),
        ));
    }
    let query = log_filter(&filter, from, to)?;
    let found = node
        .store
        .logs(&query, MAX_LOGS + 1)
        .await
        .map_err(internal)?;
    if found.len() > MAX_LOGS {
        return Err(RpcError::new(
            code::LIMIT,
            format!(
                "query returned more than {MAX_LOGS} results: narrow the block range or the filter"
            ),
        ));
    }
    Ok(Value::Array(found.iter().map(format::log).collect()))
}

/// `eth_getProof` over Weft's commitment (see `docs/rpc.md`): the account's leaf and its
/// 33 siblings under the state root, and each written slot's shard position and siblings.
async fn proof(node: &Node, p: &Params) -> Result<Value, RpcError> {
    p.at_most(3)?;
    let address: Address = p.get(0, "address")?;
    // 32-byte keys, or quantities (some clients send `0x2`).
    let slots: Vec<U256> = p.get(1, "storageKeys")?;
    if slots.len() > MAX_PROOF_SLOTS {
        return Err(RpcError::new(
            code::LIMIT,
            format!("at most {MAX_PROOF_SLOTS} storage keys"),
        ));
    }
    check_latest(node, p.opt(2, "block")?).await?;
    let state = read_state(node);
    let storage_proof: Vec<Value> = slots
        .iter()
        .map(|slot| {
            let key = B256::from(*slot);
            match state.storage_proof(&address, slot) {
                Some(proof) => json!({
                    "key": key,
                    "value": proof.value,
                    "proof": proof.siblings,
                    "position": quantity(proof.position),
                }),
                None => json!({ "key": key, "value": "0x0", "proof": [] }),
            }
        })
        .collect();
    let account = state
        .index_of(&address)
        .and_then(|i| state.account_proof(i));
    let code_hash = account
        .as_ref()
        .and_then(|a| a.code_hash)
        .unwrap_or(weft_protocol::primitives::keccak256([]));
    Ok(json!({
        "address": address,
        "balance": quantity(account.as_ref().map_or(0, |a| a.account.balance(0))),
        "nonce": quantity(account.as_ref().map_or(0, |a| a.account.nonce)),
        "codeHash": code_hash,
        "storageHash": state.storage_root(),
        "accountProof": account.as_ref().map_or_else(Vec::new, |a| a.siblings.clone()),
        "storageProof": storage_proof,
        "weft": {
            "stateRoot": state.state_root(),
            "accountIndex": account.as_ref().map(|a| a.index),
            "leafPreimage": account.as_ref().map(|a| Bytes::from(a.account.leaf_preimage_with_code(a.code_hash.as_ref()))),
            "channelsRoot": account.as_ref().map(|a| a.channels_root),
            "secretsRoot": account.as_ref().map(|a| a.secrets_root),
            "tokensHash": account.as_ref().map(|a| a.tokens_hash),
            "queuePosition": account.as_ref().map(|a| a.queue_position),
        },
    }))
}

/// `weft_getTransactionStatus`: what `GET /v1/transactions/{hash}` answers (lifecycle,
/// block, batch and its L1 transactions); `null` for an unknown hash.
async fn transaction_status(node: &Arc<Node>, hash: B256) -> Result<Value, RpcError> {
    use axum::extract::State as AxumState;
    match crate::api::handlers::transaction(
        AxumState(node.clone()),
        crate::api::error::ApiPath(hash.to_string()),
    )
    .await
    {
        Ok(view) => serde_json::to_value(view.0).map_err(internal),
        Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => Ok(Value::Null),
        Err(e) => Err(internal(format!("{e:?}"))),
    }
}

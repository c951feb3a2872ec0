//! The JSON forms of blocks, transactions, receipts and logs.
//!
//! EVM transactions, their receipts and logs are alloy's RPC types, serialized as geth
//! does. Weft's native kinds have no Ethereum form: they appear with `type` `0x57` (`W`),
//! zero gas, the token-0 amount they move as `value`, their EIP-712 signature as `r`, `s`,
//! `v`, and a `weft` object with the kind and the REST form of the transaction (see
//! `docs/rpc.md`).

use alloy::{
    consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, transaction::Recovered},
    primitives::{Bloom, Log as PrimitiveLog},
    rpc::types::{Log as RpcLog, Transaction as RpcTransaction, TransactionReceipt},
};
use serde_json::{Value, json};
use weft_protocol::{
    block::BlockHeader,
    evm::{EvmTransaction, prevrandao},
    execution::{Receipt as WeftReceipt, Status},
    primitives::{Address, B256},
    signature::Signature,
    transaction::Transaction,
};

use crate::store::{StoredLog, StoredTransaction};

/// The `type` of Weft's native kinds.
pub(crate) const NATIVE_TYPE: &str = "0x57";

/// `0x`-hex quantity.
pub(crate) fn quantity(n: impl Into<u128>) -> Value {
    Value::String(format!("{:#x}", n.into()))
}

/// Where an included transaction sits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Position {
    pub(crate) block_hash: B256,
    pub(crate) block_number: u64,
    pub(crate) index: u32,
}

/// The Ethereum-like fields of a native kind.
struct Native {
    /// The signer (zero for kinds that come from L1).
    from: Address,
    nonce: u64,
    /// The receiver of a transfer or deposit.
    to: Option<Address>,
    /// The token-0 amount a transfer or deposit moves.
    value: u128,
}

impl Native {
    fn of(tx: &Transaction) -> Self {
        let (from, nonce) = tx
            .signer_fields()
            .map_or((Address::ZERO, 0), |(from, nonce, _)| (from, nonce));
        let (to, value) = match tx {
            Transaction::Transfer(t) => (Some(t.to), (t.token == 0).then_some(t.amount)),
            Transaction::Deposit(t) => (Some(t.to), (t.token == 0).then_some(t.amount)),
            _ => (None, None),
        };
        Self {
            from,
            nonce,
            to,
            value: value.unwrap_or(0),
        }
    }
}

/// A transaction object: the EVM form, or the native form.
pub(crate) fn transaction(
    tx: &Transaction,
    hash: B256,
    signature: Option<Signature>,
    at: Option<Position>,
    chain_id: u64,
    base_fee: u64,
) -> Value {
    if let Transaction::Evm(evm) = tx {
        return evm_transaction(evm, at, base_fee);
    }
    let Native {
        from,
        nonce,
        to,
        value,
    } = Native::of(tx);
    let signature = signature.unwrap_or(Signature {
        r: B256::ZERO,
        s: B256::ZERO,
        y_parity: false,
    });
    json!({
        "hash": hash,
        "type": NATIVE_TYPE,
        "chainId": quantity(chain_id),
        "from": from,
        "to": to,
        "nonce": quantity(nonce),
        "value": quantity(value),
        "gas": "0x0",
        "gasPrice": "0x0",
        "input": "0x",
        "r": signature.r,
        "s": signature.s,
        "v": quantity(u8::from(signature.y_parity) + 27),
        "yParity": quantity(u8::from(signature.y_parity)),
        "blockHash": at.map(|a| a.block_hash),
        "blockNumber": at.map(|a| quantity(a.block_number)),
        "transactionIndex": at.map(|a| quantity(a.index)),
        "weft": { "kind": tx.kind(), "transaction": tx },
    })
}

fn evm_transaction(tx: &EvmTransaction, at: Option<Position>, base_fee: u64) -> Value {
    let rpc = RpcTransaction {
        inner: Recovered::new_unchecked(tx.envelope().clone(), tx.sender()),
        block_hash: at.map(|a| a.block_hash),
        block_number: at.map(|a| a.block_number),
        transaction_index: at.map(|a| u64::from(a.index)),
        effective_gas_price: at.map(|_| tx.effective_gas_price(base_fee)),
        block_timestamp: None,
    };
    let mut value = serde_json::to_value(rpc).expect("RPC types serialize");
    if !tx.is_signed() {
        // Rebuilt from L1, without its signature (r = s = 0): known by its
        // transactions-root leaf, not by the hash of a placeholder envelope.
        value["hash"] = json!(tx.hash());
    }
    value
}

/// A log object.
pub(crate) fn log(log: &StoredLog) -> Value {
    serde_json::to_value(rpc_log(log)).expect("RPC types serialize")
}

fn rpc_log(log: &StoredLog) -> RpcLog {
    RpcLog {
        inner: log.log.clone(),
        block_hash: Some(log.block_hash),
        block_number: Some(log.block_number),
        block_timestamp: None,
        transaction_hash: Some(log.tx_hash),
        transaction_index: Some(u64::from(log.tx_index)),
        log_index: Some(u64::from(log.log_index)),
        removed: false,
    }
}

/// The bloom filter of `logs`.
pub(crate) fn bloom<'a>(logs: impl IntoIterator<Item = &'a PrimitiveLog>) -> Bloom {
    let mut bloom = Bloom::ZERO;
    for log in logs {
        bloom.accrue_log(log);
    }
    bloom
}

/// A receipt object; `logs` are the transaction's, with their block positions.
pub(crate) fn receipt(tx: &StoredTransaction, block_hash: B256, logs: &[StoredLog]) -> Value {
    let success = tx.receipt.status == Status::Success;
    let Some(evm) = tx.receipt.evm.as_deref() else {
        return native_receipt(tx, block_hash, success);
    };
    let Transaction::Evm(envelope) = &tx.transaction else {
        return native_receipt(tx, block_hash, success);
    };
    let rpc_logs: Vec<RpcLog> = logs.iter().map(rpc_log).collect();
    let inner = ReceiptWithBloom {
        logs_bloom: bloom(logs.iter().map(|l| &l.log)),
        receipt: Receipt {
            status: Eip658Value::Eip658(success),
            cumulative_gas_used: evm.cumulative_gas_used,
            logs: rpc_logs,
        },
    };
    use alloy::eips::Typed2718;
    let inner = match envelope.envelope().ty() {
        0 => ReceiptEnvelope::Legacy(inner),
        1 => ReceiptEnvelope::Eip2930(inner),
        _ => ReceiptEnvelope::Eip1559(inner),
    };
    let receipt = TransactionReceipt {
        inner,
        transaction_hash: tx.hash,
        transaction_index: Some(u64::from(tx.index)),
        block_hash: Some(block_hash),
        block_number: Some(tx.block_number),
        gas_used: evm.gas_used,
        effective_gas_price: evm.effective_gas_price,
        blob_gas_used: None,
        blob_gas_price: None,
        from: envelope.sender(),
        to: envelope.to(),
        contract_address: evm.contract_address,
    };
    let mut value = serde_json::to_value(receipt).expect("RPC types serialize");
    if let Status::Failed(reason) = tx.receipt.status {
        value["weft"] = weft_receipt(&tx.receipt, reason.code());
        if !evm.revert_data.is_empty() {
            value["weft"]["revertData"] = json!(evm.revert_data);
        }
    }
    value
}

fn weft_receipt(receipt: &WeftReceipt, failure: &str) -> Value {
    json!({ "failureReason": failure, "feePaid": receipt.fee_paid.to_string() })
}

fn native_receipt(tx: &StoredTransaction, block_hash: B256, success: bool) -> Value {
    let Native { from, to, .. } = Native::of(&tx.transaction);
    let failure = match tx.receipt.status {
        Status::Success => Value::Null,
        Status::Failed(reason) => json!(reason.code()),
    };
    json!({
        "transactionHash": tx.hash,
        "transactionIndex": quantity(tx.index),
        "blockHash": block_hash,
        "blockNumber": quantity(tx.block_number),
        "from": from,
        "to": to,
        "type": NATIVE_TYPE,
        "status": quantity(u8::from(success)),
        "gasUsed": "0x0",
        "cumulativeGasUsed": "0x0",
        "effectiveGasPrice": "0x0",
        "contractAddress": null,
        "logs": [],
        "logsBloom": Bloom::ZERO,
        "weft": {
            "kind": tx.transaction.kind(),
            "failureReason": failure,
            "feePaid": tx.receipt.fee_paid.to_string(),
        },
    })
}

/// keccak256(rlp([])): the `sha3Uncles` of a block without uncles.
const EMPTY_UNCLES: B256 =
    alloy::primitives::b256!("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347");

/// What a block object carries besides its header.
pub(crate) struct BlockBody {
    /// Hashes, or full transaction objects.
    pub(crate) transactions: Vec<Value>,
    /// Gas used by its EVM transactions.
    pub(crate) gas_used: u64,
    /// Bloom of its logs.
    pub(crate) logs_bloom: Bloom,
    /// Its gas limit and base fee.
    pub(crate) gas_limit: u64,
    pub(crate) base_fee: u64,
}

/// A block object. Ethereum fields Weft has no use for are zero (`difficulty`, `nonce`) or
/// empty (`uncles`); `receiptsRoot` is zero (Weft commits to receipts through the state and
/// withdrawals roots); `mixHash` is the block's `PREVRANDAO`.
pub(crate) fn block(header: &BlockHeader, hash: B256, body: &BlockBody) -> Value {
    json!({
        "number": quantity(header.number),
        "hash": hash,
        "parentHash": header.parent_hash,
        "timestamp": quantity(header.timestamp),
        "miner": header.fee_recipient,
        "stateRoot": header.state_root,
        "transactionsRoot": header.transactions_root,
        "receiptsRoot": B256::ZERO,
        "logsBloom": body.logs_bloom,
        "gasLimit": quantity(body.gas_limit),
        "gasUsed": quantity(body.gas_used),
        "baseFeePerGas": quantity(body.base_fee),
        "difficulty": "0x0",
        "totalDifficulty": "0x0",
        "nonce": "0x0000000000000000",
        "mixHash": prevrandao(header.number),
        "sha3Uncles": EMPTY_UNCLES,
        "uncles": [],
        "extraData": "0x",
        "transactions": body.transactions,
        "weft": {
            "withdrawalsRoot": header.withdrawals_root,
            "queuePosition": quantity(header.queue_position),
        },
    })
}

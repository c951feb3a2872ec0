//! Admission of standard Ethereum transactions (`eth_sendRawTransaction`).
//!
//! Cheapest first, as for native kinds, except that the checks against the sender's
//! account need the sender, so they come after the recovery:
//! 1. shape, stateless (microseconds): size, EIP-2718 type, canonical RLP, chain id, gas
//!    limit within the block gas limit and at least the intrinsic gas, fee cap at least the
//!    base fee, tip at most the fee cap;
//! 2. already known (the same hash pending or included: the hash is returned again);
//! 3. sender recovery on the signature pool;
//! 4. under the state's read lock and the mempool's lock: nonce window, balance ≥
//!    `gasLimit × maxFee + value`, capacity, replacement rule; then insert.
//!
//! Refusals carry geth's message text, which clients (viem, ethers, cast) recognise.

use std::{sync::Arc, time::Instant};

use rayon::prelude::*;

use alloy_consensus::Transaction as _;
use weft_protocol::{
    evm::{EvmTransaction, EvmTxError, ParsedEvm},
    primitives::{B256, U256},
    state::{Account, State},
    transaction::Transaction,
};

use super::{Rejection, mempool_rejection, on_signature_pool, read_state, settled};
use crate::{
    mempool::{MempoolError, PendingTx},
    node::Node,
};

/// geth's wording of a refusal, by Weft's code (what `eth_sendRawTransaction` answers).
pub fn geth_message(rejection: &Rejection) -> String {
    let text = match rejection.code {
        "nonce_too_low" => "nonce too low",
        "nonce_too_high" => "nonce too high",
        "nonce_already_pending" | "replacement_underpriced" => {
            "replacement transaction underpriced"
        }
        "insufficient_funds" => "insufficient funds for gas * price + value",
        "fee_cap_too_low" => "max fee per gas less than block base fee",
        "tip_above_fee_cap" => "max priority fee per gas higher than max fee per gas",
        "intrinsic_gas_too_low" => "intrinsic gas too low",
        "gas_limit_too_high" => "exceeds block gas limit",
        "oversized_data" => "oversized data",
        "mempool_full" => "txpool is full",
        "wrong_chain" => "invalid chain id for signer",
        "unsupported_type" | "blob_unsupported" | "set_code_unsupported" => {
            "transaction type not supported"
        }
        "no_chain_id" => "only replay-protected (EIP-155) transactions allowed over RPC",
        _ => return rejection.message.clone(),
    };
    format!("{text}: {}", rejection.message)
}

/// Step 1: the stateless checks.
fn check_shape(node: &Node, raw: &[u8]) -> Result<ParsedEvm, Rejection> {
    check_shape_for(node.domain.chain_id(), raw)
}

/// The stateless checks for chain `chain_id` (what an admission node runs too).
pub(crate) fn check_shape_for(chain_id: u64, raw: &[u8]) -> Result<ParsedEvm, Rejection> {
    let refuse = |e: EvmTxError| {
        let code = match &e {
            EvmTxError::TooLarge(_) => "oversized_data",
            EvmTxError::NoChainId => "no_chain_id",
            EvmTxError::BlobUnsupported => "blob_unsupported",
            EvmTxError::SetCodeUnsupported => "set_code_unsupported",
            other => other.code(),
        };
        Rejection::new(code, e.to_string())
    };
    let parsed = EvmTransaction::parse(raw).map_err(refuse)?;
    parsed.check_chain(chain_id).map_err(refuse)?;
    let tx = parsed.envelope();
    let block_gas = weft_protocol::evm::DEFAULT_BLOCK_GAS_LIMIT;
    if tx.gas_limit() > block_gas {
        return Err(Rejection::new(
            "gas_limit_too_high",
            format!("gas limit {} above the block's {block_gas}", tx.gas_limit()),
        ));
    }
    let intrinsic = parsed.intrinsic_gas();
    if tx.gas_limit() < intrinsic {
        return Err(Rejection::new(
            "intrinsic_gas_too_low",
            format!("gas {}, minimum needed {intrinsic}", tx.gas_limit()),
        ));
    }
    let base_fee = u128::from(weft_protocol::evm::DEFAULT_MIN_BASE_FEE);
    if tx.max_fee_per_gas() < base_fee {
        return Err(Rejection::new(
            "fee_cap_too_low",
            format!(
                "maxFeePerGas: {}, baseFee: {base_fee}",
                tx.max_fee_per_gas()
            ),
        ));
    }
    if let Some(tip) = tx.max_priority_fee_per_gas()
        && tip > tx.max_fee_per_gas()
    {
        return Err(Rejection::new(
            "tip_above_fee_cap",
            format!(
                "maxPriorityFeePerGas: {tip}, maxFeePerGas: {}",
                tx.max_fee_per_gas()
            ),
        ));
    }
    Ok(parsed)
}

/// Admits one raw Ethereum transaction; its hash once it is in the mempool (or already was,
/// or is already included: resubmitting is idempotent).
pub async fn admit_raw(node: &Arc<Node>, raw: &[u8]) -> Result<B256, Rejection> {
    admit_raw_batch(node, &[raw])
        .await
        .pop()
        .expect("one outcome per transaction")
}

/// Admits the raw transactions of one request (a JSON-RPC batch), each with the outcome
/// [`admit_raw`] would give it alone: the shape checks first, then every recovery in one job
/// on the signature pool (in parallel over its threads: one hop for the batch, not one per
/// transaction), then the inserts in the batch's order, so a sender's consecutive nonces in
/// one batch queue one after the other.
pub async fn admit_raw_batch(
    node: &Arc<Node>,
    raws: &[impl AsRef<[u8]>],
) -> Vec<Result<B256, Rejection>> {
    let mut outcomes: Vec<Option<Result<B256, Rejection>>> = vec![None; raws.len()];
    let mut candidates: Vec<(usize, B256, usize, ParsedEvm)> = Vec::with_capacity(raws.len());
    for (i, raw) in raws.iter().map(AsRef::as_ref).enumerate() {
        outcomes[i] = Some(if node.follower {
            Err(Rejection::not_leader())
        } else {
            match check_shape(node, raw) {
                Err(r) => Err(r),
                Ok(parsed) => {
                    let hash = parsed.hash();
                    if node.mempool.lock().get(&hash).is_some() {
                        Ok(hash)
                    } else {
                        candidates.push((i, hash, raw.len(), parsed));
                        continue;
                    }
                }
            }
        });
    }
    // Step 3: the recoveries, on the signature pool.
    let recovered = if candidates.is_empty() {
        Vec::new()
    } else {
        on_signature_pool(node, move || {
            candidates
                .into_par_iter()
                .map(|(i, hash, size, parsed)| (i, hash, size, parsed.recover()))
                .collect::<Vec<_>>()
        })
        .await
    };
    for (i, hash, size, tx) in recovered {
        let outcome = match tx {
            Err(e) => Err(Rejection::new(e.code(), e.to_string())),
            // The same transaction earlier in this batch.
            Ok(_) if node.mempool.lock().get(&hash).is_some() => Ok(hash),
            Ok(tx) => admit_recovered(node, tx, hash, size).await.map(|_| hash),
        };
        outcomes[i] = Some(outcome);
    }
    settled(node, outcomes)
}

/// Whether the sender's `account` holds `gasLimit × maxFee + value` in ETH.
fn check_funds(account: Option<&Account>, tx: &EvmTransaction) -> Result<(), Rejection> {
    let balance = account.map_or(0, |a| a.balance(0));
    if U256::from(balance) < tx.max_cost() {
        return Err(Rejection::new(
            "insufficient_funds",
            format!(
                "balance {balance}, tx cost {} (address {})",
                tx.max_cost(),
                tx.sender()
            ),
        ));
    }
    Ok(())
}

/// [`super::check_account`] for an Ethereum transaction: its nonce not below the
/// account's, its maximal cost covered.
pub(crate) fn check_account(state: &State, tx: &EvmTransaction) -> Result<(), Rejection> {
    let account = state.account_by_address(&tx.sender());
    let next = account.map_or(0, |a| a.nonce);
    if tx.nonce() < next {
        return Err(mempool_rejection(MempoolError::NonceTooLow {
            got: tx.nonce(),
            next,
        }));
    }
    check_funds(account, tx)
}

/// Where a transaction from the ingress stream ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EvmAdmitted {
    /// Inserted now.
    Queued,
    /// It was in the mempool already.
    Known,
    /// It is in a committed block already.
    Included,
}

/// Admits a raw Ethereum transaction whose sender an admission node recovered (the
/// JetStream ingress, whose publishers the leader trusts): every check but the recovery.
pub(crate) async fn admit_trusted(
    node: &Arc<Node>,
    raw: &[u8],
    sender: weft_protocol::primitives::Address,
) -> Result<(B256, EvmAdmitted), Rejection> {
    let parsed = check_shape(node, raw)?;
    let hash = parsed.hash();
    if node.mempool.lock().get(&hash).is_some() {
        return Ok((hash, EvmAdmitted::Known));
    }
    let outcome = admit_recovered(node, parsed.assume_sender(sender), hash, raw.len()).await;
    if let Err(r) = &outcome {
        node.metrics.reject(r.code);
    }
    Ok((hash, outcome?))
}

/// Step 4, for a recovered transaction: the sender's account, then the mempool.
async fn admit_recovered(
    node: &Arc<Node>,
    tx: EvmTransaction,
    hash: B256,
    size: usize,
) -> Result<EvmAdmitted, Rejection> {
    let pending = {
        let state = read_state(node);
        let account = state.account_by_address(&tx.sender());
        let state_nonce = account.map_or(0, |a| a.nonce);
        check_funds(account, &tx)?;
        let pending = PendingTx {
            hash,
            sender: tx.sender(),
            nonce: tx.nonce(),
            size,
            gas: tx.gas_limit(),
            signature: tx.signature(),
            transaction: Transaction::Evm(Box::new(tx)),
            received: Instant::now(),
        };
        let mut pool = node.mempool.lock();
        match pool.insert(pending, state_nonce) {
            Ok(_) => {
                node.metrics.mempool_txs.set(pool.len() as i64);
                node.metrics.mempool_bytes.set(pool.bytes() as i64);
                Ok(())
            }
            Err(e @ MempoolError::NonceTooLow { .. }) => Err(e),
            Err(e) => return Err(mempool_rejection(e)),
        }
    };
    if let Err(e) = pending {
        // Maybe this very transaction, already included.
        return match node.store.transaction(&hash).await {
            Ok(Some(_)) => Ok(EvmAdmitted::Included),
            _ => Err(mempool_rejection(e)),
        };
    }
    node.metrics.admitted.inc();
    node.ready.notify_one();
    node.announce_pending(hash);
    Ok(EvmAdmitted::Queued)
}

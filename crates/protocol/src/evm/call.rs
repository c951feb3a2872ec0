//! `eth_call` and `eth_estimateGas`: a transaction run against a state and thrown away.
//!
//! The run is the block's own (same revm, spec, precompiles and predeploy, same block
//! environment) except that the nonce is not checked and, without a gas price, the base fee
//! is not either (as geth does): a call without `gasPrice` pays nothing, so it needs no
//! balance beyond its `value`.

use revm::{
    context::TxEnv,
    context_interface::result::{ExecutionResult, HaltReason, Output},
    primitives::TxKind,
};

use crate::{
    evm::{
        Log,
        db::BlockDb,
        exec::{new_evm, simulate},
    },
    execution::{BlockEnv, FailureReason},
    primitives::{Address, Bytes, U256},
    state::State,
};

/// What `eth_call` and `eth_estimateGas` run: every field optional as in JSON-RPC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallRequest {
    /// The caller (the zero address when absent).
    pub from: Option<Address>,
    /// The callee; `None` runs `input` as init code.
    pub to: Option<Address>,
    /// The gas limit; the block gas limit when absent, and never above it.
    pub gas: Option<u64>,
    /// `gasPrice` or `maxFeePerGas`; zero when absent (then the base fee is not checked).
    pub max_fee_per_gas: Option<u128>,
    /// `maxPriorityFeePerGas`; the fee cap when absent.
    pub max_priority_fee_per_gas: Option<u128>,
    /// Wei sent along.
    pub value: U256,
    /// Call data or init code.
    pub input: Bytes,
    /// The access list.
    pub access_list: alloy_eips::eip2930::AccessList,
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// It returned (or deployed) normally.
    Success {
        /// Gas used (after refunds).
        gas_used: u64,
        /// Return data; a creation's deployed code.
        output: Bytes,
        /// Logs it would emit.
        logs: Vec<Log>,
    },
    /// It reverted with `output`.
    Revert {
        /// Gas used.
        gas_used: u64,
        /// Revert data.
        output: Bytes,
    },
    /// An exceptional halt (out of gas, invalid opcode, ...).
    Halt {
        /// Gas used (the whole limit).
        gas_used: u64,
        /// Why, as geth words the common ones (`out of gas`).
        reason: String,
    },
}

/// Why `eth_estimateGas` has no estimate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EstimateError {
    /// Refused before executing (funds, fee cap, ...), even at the largest gas limit.
    Refused(FailureReason),
    /// It reverts even with the largest gas limit.
    Reverted(Bytes),
    /// It halts even with the largest gas limit.
    Halted(String),
}

fn tx_env(env: &BlockEnv, req: &CallRequest, gas: u64) -> TxEnv {
    let max_fee = req.max_fee_per_gas.unwrap_or(0);
    TxEnv {
        tx_type: 2,
        caller: req.from.unwrap_or_default(),
        gas_limit: gas,
        gas_price: max_fee,
        gas_priority_fee: Some(req.max_priority_fee_per_gas.unwrap_or(max_fee).min(max_fee)),
        kind: req.to.map_or(TxKind::Create, TxKind::Call),
        value: req.value,
        data: req.input.clone(),
        chain_id: Some(env.domain.chain_id()),
        access_list: req.access_list.clone(),
        ..Default::default()
    }
}

/// An EVM for calls of `req` against `state` in the block `env`.
fn call_evm<'a>(
    state: &'a State,
    env: &BlockEnv,
    req: &CallRequest,
) -> crate::evm::exec::Evm<BlockDb<'a>> {
    let mut evm = new_evm(BlockDb::new(state), env);
    evm.ctx.cfg.disable_nonce_check = true;
    evm.ctx.cfg.disable_base_fee = req.max_fee_per_gas.is_none();
    evm
}

fn outcome(result: ExecutionResult<HaltReason>) -> CallOutcome {
    match result {
        ExecutionResult::Success {
            gas, output, logs, ..
        } => CallOutcome::Success {
            gas_used: gas.tx_gas_used(),
            output: match output {
                Output::Call(bytes) | Output::Create(bytes, _) => bytes,
            },
            logs,
        },
        ExecutionResult::Revert { gas, output, .. } => CallOutcome::Revert {
            gas_used: gas.tx_gas_used(),
            output,
        },
        ExecutionResult::Halt { gas, reason, .. } => CallOutcome::Halt {
            gas_used: gas.tx_gas_used(),
            reason: match reason {
                HaltReason::OutOfGas(_) => "out of gas".to_owned(),
                other => format!("{other:?}"),
            },
        },
    }
}

fn run(
    evm: &mut crate::evm::exec::Evm<BlockDb<'_>>,
    env: &BlockEnv,
    req: &CallRequest,
    gas: u64,
) -> Result<CallOutcome, FailureReason> {
    simulate::<BlockDb<'_>>(evm, tx_env(env, req, gas)).map(outcome)
}

/// The gas limit a call runs with: the request's, never above the block's.
fn gas_cap(env: &BlockEnv, req: &CallRequest) -> u64 {
    req.gas.unwrap_or(env.gas_limit).min(env.gas_limit)
}

/// Runs `req` against `state` as the next transaction of a block `env` and keeps nothing.
pub fn call(
    state: &State,
    env: &BlockEnv,
    req: &CallRequest,
) -> Result<CallOutcome, FailureReason> {
    let mut evm = call_evm(state, env, req);
    run(&mut evm, env, req, gas_cap(env, req))
}

/// The smallest gas limit (within 1/64 above it, as geth) with which `req` succeeds: a
/// binary search between what its run at the cap used and the cap.
pub fn estimate_gas(
    state: &State,
    env: &BlockEnv,
    req: &CallRequest,
) -> Result<u64, EstimateError> {
    let mut evm = call_evm(state, env, req);
    let cap = gas_cap(env, req);
    let used = match run(&mut evm, env, req, cap) {
        Ok(CallOutcome::Success { gas_used, .. }) => gas_used,
        Ok(CallOutcome::Revert { output, .. }) => return Err(EstimateError::Reverted(output)),
        Ok(CallOutcome::Halt { reason, .. }) => return Err(EstimateError::Halted(reason)),
        Err(reason) => return Err(EstimateError::Refused(reason)),
    };
    let succeeds = |evm: &mut crate::evm::exec::Evm<BlockDb<'_>>, gas| {
        matches!(run(evm, env, req, gas), Ok(CallOutcome::Success { .. }))
    };
    // Refunds and the 63/64 rule make the gas needed exceed the gas used: try a little
    // above it first, which is enough for most calls.
    let (mut lo, mut hi) = (used.saturating_sub(1), cap);
    let optimistic = (used.saturating_add(2_300)).saturating_mul(64) / 63;
    if optimistic < hi {
        if succeeds(&mut evm, optimistic) {
            hi = optimistic;
        } else {
            lo = optimistic;
        }
    }
    while hi - lo > 1 && (hi - lo) * 64 > hi {
        let mid = lo + (hi - lo) / 2;
        if succeeds(&mut evm, mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

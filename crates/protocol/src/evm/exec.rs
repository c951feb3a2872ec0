//! Running one EVM transaction with revm and turning its result into Weft writes.

use std::{convert::Infallible, marker::PhantomData};

use revm::{
    Context, Database, ExecuteEvm, Journal, MainContext,
    context::{BlockEnv as RevmBlockEnv, CfgEnv, ContextSetters, TxEnv},
    context_interface::{
        block::BlobExcessGasAndPrice,
        result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction},
    },
    handler::{EthFrame, EvmTr, Handler, evm::FrameTr, instructions::EthInstructions},
    interpreter::interpreter::EthInterpreter,
    primitives::TxKind,
    state::EvmState,
};

use crate::{
    evm::{
        EvmReceipt, SPEC,
        db::{Overlay, Published, SlotRef, View, eth_of, set_eth},
        predeploy::{WITHDRAWALS, WeftPrecompiles},
        prevrandao,
        tx::EvmTransaction,
    },
    execution::{BlockEnv, FailureReason},
    primitives::{AccountIndex, Address, Amount, B256, U256},
    state::Account,
};

/// revm's context over one of Weft's block databases.
type Ctx<DB> = Context<RevmBlockEnv, TxEnv, CfgEnv, DB, Journal<DB>, ()>;

/// revm over one of Weft's block databases, with the withdrawal predeploy.
pub(crate) type Evm<DB> = revm::context::Evm<
    Ctx<DB>,
    (),
    EthInstructions<EthInterpreter, Ctx<DB>>,
    WeftPrecompiles,
    EthFrame<EthInterpreter>,
>;

type EvmError = EVMError<Infallible, InvalidTransaction>;

/// An EVM for the block `env` over `db` (one per worker and block, reused for each of its
/// transactions).
pub(crate) fn new_evm<DB: Database<Error = Infallible>>(db: DB, env: &BlockEnv) -> Evm<DB> {
    let mut cfg = CfgEnv::new_with_spec(SPEC);
    cfg.chain_id = env.domain.chain_id();
    let block = RevmBlockEnv {
        number: U256::from(env.number),
        beneficiary: env.fee_recipient,
        timestamp: U256::from(env.timestamp),
        gas_limit: env.gas_limit,
        basefee: env.base_fee,
        difficulty: U256::ZERO,
        prevrandao: Some(prevrandao(env.number)),
        blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new_with_spec(0, SPEC)),
        ..Default::default()
    };
    let ctx = Context::mainnet()
        .with_db(db)
        .with_cfg(cfg)
        .with_block(block);
    revm::context::Evm::new(
        ctx,
        EthInstructions::new_mainnet_with_spec(SPEC),
        WeftPrecompiles::new(SPEC),
    )
}

/// The mainnet handler, except that fees are not credited to the beneficiary: the block
/// credits the sum of its EVM fees to the fee recipient once, after its last transaction.
struct FeesDeferred<DB>(PhantomData<DB>);

impl<DB: Database<Error = Infallible>> Handler for FeesDeferred<DB> {
    type Evm = Evm<DB>;
    type Error = EvmError;
    type HaltReason = HaltReason;

    fn reward_beneficiary(
        &self,
        _evm: &mut Self::Evm,
        _result: &mut <<Self::Evm as EvmTr>::Frame as FrameTr>::FrameResult,
    ) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// revm's transaction environment for `tx` (also the plain-revm reference's, in the
/// testkit: the differential test compares execution, not this plumbing).
pub(crate) fn tx_env(tx: &EvmTransaction) -> TxEnv {
    use alloy_consensus::Transaction as _;
    use alloy_eips::Typed2718;
    let envelope = tx.envelope();
    TxEnv {
        tx_type: envelope.ty(),
        caller: tx.sender(),
        gas_limit: tx.gas_limit(),
        gas_price: tx.max_fee_per_gas(),
        kind: match tx.to() {
            Some(to) => TxKind::Call(to),
            None => TxKind::Create,
        },
        value: tx.value(),
        data: tx.input().clone(),
        nonce: tx.nonce(),
        chain_id: envelope.chain_id(),
        access_list: envelope.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: tx.max_priority_fee_per_gas(),
        ..Default::default()
    }
}

/// What running a transaction produced, before it is applied: its execution, or why revm
/// refused it before executing it (then it changes nothing).
pub(crate) type Run = Result<Executed, FailureReason>;

/// An executed transaction: its result and its writes.
#[derive(Debug)]
pub(crate) struct Executed {
    pub(crate) failure: Option<FailureReason>,
    pub(crate) gas_used: u64,
    pub(crate) logs: Vec<crate::evm::Log>,
    pub(crate) contract_address: Option<Address>,
    pub(crate) revert_data: alloy_primitives::Bytes,
    pub(crate) writes: Writes,
}

/// An account as a transaction left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccountWrite {
    pub(crate) address: Address,
    pub(crate) nonce: u64,
    pub(crate) eth: Amount,
    /// Code deployed by the transaction.
    pub(crate) code: Option<(B256, revm::bytecode::Bytecode)>,
    /// Self-destructed (EIP-6780: in the transaction that created it): the account is
    /// emptied and its storage writes dropped.
    pub(crate) destroyed: bool,
}

/// A transaction's writes, accounts sorted by address.
#[derive(Debug, Clone, Default)]
pub(crate) struct Writes {
    pub(crate) accounts: Vec<AccountWrite>,
    pub(crate) storage: Vec<(SlotRef, U256)>,
}

/// Runs `tx` on `evm` (against whatever its database shows) and returns its outcome.
pub(crate) fn run<DB: Database<Error = Infallible>>(evm: &mut Evm<DB>, tx: &EvmTransaction) -> Run {
    evm.ctx.set_tx(tx_env(tx));
    let result = FeesDeferred(PhantomData).run(evm);
    let state = evm.finalize();
    match result {
        Ok(result) => Ok(executed(result, state)),
        Err(EVMError::Transaction(invalid)) => Err(refusal(&invalid)),
        Err(other) => unreachable!("the block database cannot fail: {other}"),
    }
}

/// Runs a transaction environment and keeps nothing (`eth_call`, `eth_estimateGas`): revm's
/// result, or why it refused the transaction before executing it.
pub(crate) fn simulate<DB: Database<Error = Infallible>>(
    evm: &mut Evm<DB>,
    env: TxEnv,
) -> Result<ExecutionResult<HaltReason>, FailureReason> {
    evm.ctx.set_tx(env);
    let result = FeesDeferred(PhantomData).run(evm);
    evm.finalize();
    match result {
        Ok(result) => Ok(result),
        Err(EVMError::Transaction(invalid)) => Err(refusal(&invalid)),
        Err(other) => unreachable!("the block database cannot fail: {other}"),
    }
}

/// The failure reason of a transaction revm refuses before executing it.
fn refusal(invalid: &InvalidTransaction) -> FailureReason {
    use InvalidTransaction as I;
    match invalid {
        I::NonceTooHigh { .. } | I::NonceTooLow { .. } => FailureReason::BadNonce,
        I::LackOfFundForMaxFee { .. } | I::OverflowPaymentInTransaction => {
            FailureReason::InsufficientFunds
        }
        I::CallGasCostMoreThanGasLimit { .. } | I::GasFloorMoreThanGasLimit { .. } => {
            FailureReason::IntrinsicGasTooLow
        }
        I::GasPriceLessThanBasefee | I::PriorityFeeGreaterThanMaxFee => FailureReason::FeeCapTooLow,
        I::CallerGasLimitMoreThanBlock => FailureReason::BlockGasExceeded,
        I::RejectCallerWithCode => FailureReason::SenderNotEoa,
        _ => FailureReason::InvalidEvmTransaction,
    }
}

fn executed(result: ExecutionResult<HaltReason>, state: EvmState) -> Executed {
    let gas_used = result.tx_gas_used();
    let contract_address = result.created_address();
    let (failure, logs, revert_data) = match result {
        ExecutionResult::Success { logs, .. } => (None, logs, Default::default()),
        ExecutionResult::Revert { output, .. } => {
            (Some(FailureReason::Reverted), Vec::new(), output)
        }
        ExecutionResult::Halt { reason, .. } => {
            let failure = match reason {
                HaltReason::OutOfGas(_) => FailureReason::OutOfGas,
                _ => FailureReason::Halted,
            };
            (Some(failure), Vec::new(), Default::default())
        }
    };
    Executed {
        contract_address: contract_address.filter(|_| failure.is_none()),
        failure,
        gas_used,
        logs,
        revert_data,
        writes: writes_of(state),
    }
}

/// The accounts and slots a transaction changed, in a deterministic order.
fn writes_of(state: EvmState) -> Writes {
    let mut writes = Writes::default();
    for (address, account) in state {
        if !account.is_touched() {
            continue;
        }
        let destroyed = account.is_selfdestructed();
        let code = (account.is_created() && !destroyed)
            .then(|| {
                let hash = account.info.code_hash;
                account
                    .info
                    .code
                    .clone()
                    .filter(|_| hash != crate::state::EMPTY_CODE_HASH)
                    .map(|code| (hash, code))
            })
            .flatten();
        if !destroyed {
            for (slot, value) in account.changed_storage_slots() {
                writes
                    .storage
                    .push(((address, *slot), value.present_value()));
            }
        }
        writes.accounts.push(AccountWrite {
            address,
            nonce: if destroyed { 0 } else { account.info.nonce },
            // What the withdrawal predeploy received is burnt.
            eth: if destroyed || address == WITHDRAWALS {
                0
            } else {
                eth_of(account.info.balance)
            },
            code,
            destroyed,
        });
    }
    writes.accounts.sort_unstable_by_key(|w| w.address);
    writes.storage.sort_unstable_by_key(|&(slot, _)| slot);
    writes
}

/// Applies the writes of the block's transaction at `position` to the block's overlay
/// (over `state`), and to `published` when speculative runs read them. An account the
/// block has not seen gets the next fresh index, unless the transaction left it empty.
pub(crate) fn apply(
    overlay: &mut Overlay,
    state: &crate::state::State,
    writes: &Writes,
    published: Option<&Published>,
    position: u32,
) {
    for w in &writes.accounts {
        let view = View { state, overlay };
        let known = view.index_of(&w.address);
        // An account the transaction touched but left as it was (a called contract, the
        // predeploy) is not written: no overlay entry, nothing published, no rehash.
        if let Some(idx) = known
            && !w.destroyed
            && w.code.is_none()
            && view
                .seen_at(idx)
                .map_or(w.nonce == 0 && w.eth == 0, |(nonce, eth, _)| {
                    nonce == w.nonce && eth == w.eth
                })
        {
            continue;
        }
        let idx: AccountIndex = match known {
            Some(idx) => idx,
            None if w.nonce == 0 && w.eth == 0 && w.code.is_none() => continue,
            None => {
                let idx = state.account_count() + overlay.fresh_order.len() as AccountIndex;
                overlay.fresh.insert(w.address, idx);
                overlay.fresh_order.push(w.address);
                idx
            }
        };
        let account = overlay.accounts.entry(idx).or_insert_with(|| {
            state
                .account(idx)
                .cloned()
                .unwrap_or_else(|| Account::new(w.address))
        });
        account.nonce = w.nonce;
        set_eth(account, w.eth);
        if w.destroyed {
            overlay.code_hashes.insert(idx, None);
        } else if let Some((hash, code)) = &w.code {
            overlay.code_hashes.insert(idx, Some(*hash));
            overlay.code.entry(*hash).or_insert_with(|| code.clone());
            if let Some(p) = published {
                p.code(*hash, code);
            }
        }
        if let Some(p) = published {
            p.account(w.address, View { state, overlay }.seen_at(idx), position);
        }
    }
    for &(slot, value) in &writes.storage {
        overlay.storage.insert(slot, value);
        if let Some(p) = published {
            p.slot(slot, value, position);
        }
    }
}

impl Executed {
    /// The receipt's EVM part, given the block's gas used before it and the price paid.
    pub(crate) fn into_receipt(self, cumulative_before: u64, price: u128) -> EvmReceipt {
        EvmReceipt {
            gas_used: self.gas_used,
            cumulative_gas_used: cumulative_before + self.gas_used,
            effective_gas_price: price,
            logs: self.logs,
            contract_address: self.contract_address,
            revert_data: self.revert_data,
        }
    }
}

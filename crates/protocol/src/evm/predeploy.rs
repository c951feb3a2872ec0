//! The withdrawal predeploy: how EOAs and contracts send ETH to L1.
//!
//! At [`WITHDRAWALS`], `withdraw(address l1Recipient)` (payable) burns the value sent with
//! the call and emits `Withdrawal(address indexed l1Recipient, address indexed sender,
//! uint256 amount)`. The block turns each such event of a successful transaction into a
//! leaf of its withdrawals tree, in the native leaf format
//! (`execution::Withdrawal::leaf`), claimable on L1 once the batch is finalized.
//!
//! It is implemented natively, like a precompile (nothing to deploy at genesis; the EVM sees
//! the one-byte code [`PREDEPLOY_CODE`] there), costs [`WITHDRAW_GAS`], and reverts on a zero value, malformed call data, a
//! zero recipient, or a static, delegate or code call (it must be the callee itself).
//! The burn happens when the transaction's writes are applied: the predeploy's balance is
//! always zero in the state, so withdrawals never conflict with each other in the
//! parallel engine.

use revm::{
    context::Cfg,
    context_interface::{ContextTr, JournalTr},
    handler::{EthPrecompiles, PrecompileProvider},
    interpreter::{CallInputs, CallScheme, Gas, InstructionResult, InterpreterResult},
    primitives::{AddressSet, Log, LogData, hardfork::SpecId},
};

use crate::{
    execution::Withdrawal,
    primitives::{Address, B256, Bytes, ETH, U256, address, keccak256},
};

/// The withdrawal predeploy's address (`"WEFT"` then 1).
pub const WITHDRAWALS: Address = address!("5745465400000000000000000000000000000001");

/// Gas of a withdrawal (it adds a leaf to the block's withdrawals tree).
pub const WITHDRAW_GAS: u64 = 20_000;

/// The code the predeploy shows (`INVALID`, one byte): calls never run it (the native
/// implementation answers them), but a non-empty code lets Solidity's `EXTCODESIZE` check
/// before a call pass, as for other chains' predeploys.
pub const PREDEPLOY_CODE: [u8; 1] = [0xfe];

/// keccak256 of [`PREDEPLOY_CODE`].
pub fn predeploy_code_hash() -> B256 {
    keccak256(PREDEPLOY_CODE)
}

/// `keccak256("withdraw(address)")[..4]`.
pub fn withdraw_selector() -> [u8; 4] {
    keccak256(b"withdraw(address)")[..4]
        .try_into()
        .expect("4 bytes")
}

/// `keccak256("Withdrawal(address,address,uint256)")`: topic 0 of its event.
pub fn withdrawal_topic() -> B256 {
    keccak256(b"Withdrawal(address,address,uint256)")
}

/// The withdrawal an event of the predeploy records, if `log` is one.
pub fn withdrawal_of(log: &Log) -> Option<Withdrawal> {
    let topics = log.topics();
    if log.address != WITHDRAWALS || topics.len() != 3 || topics[0] != withdrawal_topic() {
        return None;
    }
    let amount = U256::from_be_slice(log.data.data.get(..32)?);
    Some(Withdrawal {
        recipient: Address::from_word(topics[1]),
        token: ETH,
        amount: u128::try_from(amount).ok()?,
    })
}

/// The identifier a withdrawal's leaf commits to in place of a transaction hash: the
/// transaction's transactions-root leaf (`keccak256(sender ‖ signingHash)`,
/// [`crate::evm::EvmTransaction::leaf`], computable without the signature the DA payload
/// leaves out) for its first withdrawal, `keccak256(leaf ‖ uint256(k))` for the `k`-th
/// after it, so every leaf is unique.
pub fn withdrawal_id(tx_leaf: &B256, k: usize) -> B256 {
    if k == 0 {
        return *tx_leaf;
    }
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(tx_leaf.as_slice());
    buf[32..].copy_from_slice(&U256::from(k).to_be_bytes::<32>());
    keccak256(buf)
}

/// Ethereum's precompiles and the withdrawal predeploy.
#[derive(Debug, Clone)]
pub(crate) struct WeftPrecompiles {
    eth: EthPrecompiles,
    warm: AddressSet,
}

impl WeftPrecompiles {
    pub(crate) fn new(spec: SpecId) -> Self {
        let eth = EthPrecompiles::new(spec);
        let mut warm = eth.warm_addresses().clone();
        warm.insert(WITHDRAWALS);
        Self { eth, warm }
    }
}

fn result(result: InstructionResult, gas_limit: u64, spent: u64) -> InterpreterResult {
    let mut gas = Gas::new(gas_limit);
    if !gas.record_regular_cost(spent) {
        return InterpreterResult::new(InstructionResult::PrecompileOOG, Bytes::new(), {
            let mut g = Gas::new(gas_limit);
            g.spend_all();
            g
        });
    }
    InterpreterResult::new(result, Bytes::new(), gas)
}

impl<CTX: ContextTr> PrecompileProvider<CTX> for WeftPrecompiles {
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: <CTX::Cfg as Cfg>::Spec) -> bool {
        let changed = <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.eth, spec);
        if changed {
            self.warm = self.eth.warm_addresses().clone();
            self.warm.insert(WITHDRAWALS);
        }
        changed
    }

    fn run(
        &mut self,
        context: &mut CTX,
        inputs: &CallInputs,
    ) -> Result<Option<InterpreterResult>, String> {
        if inputs.bytecode_address != WITHDRAWALS {
            return self.eth.run(context, inputs);
        }
        let value = inputs.value.get();
        let input = inputs.input.as_bytes(context).to_vec();
        let well_formed = input.len() == 36
            && input[..4] == withdraw_selector()
            && input[4..16].iter().all(|b| *b == 0);
        let direct = inputs.scheme == CallScheme::Call
            && inputs.target_address == WITHDRAWALS
            && !inputs.is_static;
        if !well_formed || !direct || value.is_zero() || input[16..36].iter().all(|b| *b == 0) {
            return Ok(Some(result(InstructionResult::Revert, inputs.gas_limit, 0)));
        }
        let out = result(InstructionResult::Return, inputs.gas_limit, WITHDRAW_GAS);
        if out.result.is_ok() {
            let recipient = Address::from_slice(&input[16..36]);
            context.journal_mut().log(Log {
                address: WITHDRAWALS,
                data: LogData::new_unchecked(
                    vec![
                        withdrawal_topic(),
                        recipient.into_word(),
                        inputs.caller.into_word(),
                    ],
                    Bytes::from(value.to_be_bytes::<32>().to_vec()),
                ),
            });
        }
        Ok(Some(out))
    }

    fn warm_addresses(&self) -> &AddressSet {
        &self.warm
    }

    fn contains(&self, address: &Address) -> bool {
        self.warm.contains(address)
    }
}

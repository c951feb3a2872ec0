//! The EVM inside Weft: standard Ethereum transactions run by revm over Weft's state.
//!
//! See `docs/evm.md` for the model. In short:
//!
//! - **Engine**: revm 43.0.3 (pinned), spec [`SPEC`] (Prague), no tracer. EIP-7702 and blob
//!   transactions are refused at decoding ([`tx`]).
//! - **Accounts**: one per address, shared with the native kinds: the nonce, and the ETH
//!   balance (token 0) is the EVM balance. Balances stay `u128`: every balance is bounded by
//!   the ETH supply, which the L1 contract keeps below 2^128, so the conversion from the
//!   EVM's 256-bit words never truncates. A contract's account leaf carries its code hash;
//!   code is stored by hash; storage is flat and sharded (`state::storage`).
//! - **Fees**: a transaction pays `gasUsed × min(maxFee, baseFee + tip)`. Every EVM fee of a
//!   block is credited to the fee recipient once, after the block's last transaction, so
//!   the fee recipient never orders a block; `BALANCE(COINBASE)` inside the block sees its
//!   balance before those fees (and after the native fees of earlier transactions, which
//!   are credited as they execute).
//! - **Block environment** (`execution::BlockEnv`): number and timestamp of the L2 block, coinbase
//!   the fee recipient, `prevrandao` = [`prevrandao`] of the block number, `BLOCKHASH` over
//!   the last 256 L2 block hashes recorded with `State::push_block_hash`, the block gas limit
//!   and base fee from the block environment.
//! - **Outcomes**: what revm refuses before execution (nonce, funds, intrinsic gas, fee cap
//!   below the base fee, gas limit above what the block has left) is included as a failed
//!   receipt that changes nothing; reverts and halts consume the nonce and pay for the gas.

pub mod call;
pub(crate) mod db;
pub(crate) mod exec;
pub mod predeploy;
pub mod tx;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::primitives::{Address, B256, Bytes, keccak256};

pub use predeploy::WITHDRAWALS;
pub use tx::{EvmTransaction, EvmTxError, MAX_TX_SIZE, ParsedEvm, UnsignedEvm};

/// The EVM specification every block runs under.
pub const SPEC: revm::primitives::hardfork::SpecId = revm::primitives::hardfork::SpecId::PRAGUE;

/// Default block gas limit.
pub const DEFAULT_BLOCK_GAS_LIMIT: u64 = 30_000_000;

/// Default floor of the EIP-1559 base fee, in wei (0.01 gwei).
pub const DEFAULT_MIN_BASE_FEE: u64 = 10_000_000;

/// EIP-1559: the base fee moves by at most 1/8 per block.
const BASE_FEE_MAX_CHANGE_DENOMINATOR: u128 = 8;
/// EIP-1559: the gas target is half the limit.
const ELASTICITY_MULTIPLIER: u64 = 2;

/// The EIP-1559 base fee of the block after one with `base_fee` that used `gas_used` of
/// `gas_limit`, never below `floor`.
pub fn next_base_fee(base_fee: u64, gas_used: u64, gas_limit: u64, floor: u64) -> u64 {
    let target = u128::from((gas_limit / ELASTICITY_MULTIPLIER).max(1));
    let base = u128::from(base_fee);
    let used = u128::from(gas_used);
    let next = if used > target {
        let delta = (base * (used - target) / target / BASE_FEE_MAX_CHANGE_DENOMINATOR).max(1);
        base + delta
    } else {
        base - base * (target - used) / target / BASE_FEE_MAX_CHANGE_DENOMINATOR
    };
    u64::try_from(next).unwrap_or(u64::MAX).max(floor)
}

/// `PREVRANDAO` of block `number`: `keccak256("weft.prevrandao" ‖ uint64 number)`. A
/// rollup has no beacon randomness; this value is public and predictable, and contracts
/// must not use it as a source of randomness.
pub fn prevrandao(number: u64) -> B256 {
    let mut buf = Vec::with_capacity(23);
    buf.extend_from_slice(b"weft.prevrandao");
    buf.extend_from_slice(&number.to_be_bytes());
    keccak256(buf)
}

/// A log emitted by a contract.
pub type Log = alloy_primitives::Log;

/// What an EVM transaction's receipt adds to the native receipt.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvmReceipt {
    /// Gas charged for the transaction (after refunds).
    pub gas_used: u64,
    /// Gas used by the block's EVM transactions up to and including this one (native kinds
    /// use no block gas).
    pub cumulative_gas_used: u64,
    /// The price per gas it paid.
    pub effective_gas_price: u128,
    /// Logs, in emission order (none when it reverted or halted).
    #[schemars(with = "Vec<crate::schema::Log>")]
    pub logs: Vec<Log>,
    /// The address of the contract a creation deployed.
    #[schemars(with = "Option<crate::schema::Address>")]
    pub contract_address: Option<Address>,
    /// The revert data of a reverted transaction (empty otherwise).
    #[schemars(with = "crate::schema::HexBytes")]
    pub revert_data: Bytes,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_fee_follows_gas_use_within_an_eighth_and_stops_at_the_floor() {
        let limit = 30_000_000;
        assert_eq!(next_base_fee(1_000, limit / 2, limit, 10), 1_000);
        assert_eq!(next_base_fee(1_000, limit, limit, 10), 1_125);
        assert_eq!(next_base_fee(1_000, 0, limit, 10), 875);
        assert_eq!(next_base_fee(10, 0, limit, 10), 10);
        assert_eq!(next_base_fee(8, limit / 2 + 1, limit, 1), 9);
    }
}

//! Contract bindings, generated at compile time from the committed solc artifacts (ABI and
//! bytecode), so they cannot drift from what `make contracts` checks.
//!
//! Each module has the contract's types, calls, events and errors (`Rollup::RollupErrors`
//! decodes any revert of the Rollup contract), an instance type bound to a provider, and
//! `deploy` for the contracts with bytecode.

#![allow(missing_docs, unreachable_pub, missing_debug_implementations)]
#![allow(clippy::too_many_arguments)]

use alloy::sol;

sol!(
    #[sol(rpc, all_derives)]
    Rollup,
    "../../deploy/contracts/out/Rollup.json"
);

sol!(
    #[sol(rpc, all_derives)]
    IBatchVerifier,
    "../../deploy/contracts/out/IBatchVerifier.json"
);

sol!(
    #[sol(rpc, all_derives)]
    EcdsaAttestationVerifier,
    "../../deploy/contracts/out/EcdsaAttestationVerifier.json"
);

sol!(
    #[sol(rpc, all_derives)]
    TestToken,
    "../../deploy/contracts/out/TestToken.json"
);

/// Where a batch stands on L1 (`Rollup.batchStatus`; the ABI carries the enum as `uint8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatchStatus {
    /// Not committed.
    None,
    /// Committed, not proven.
    Committed,
    /// Proven, waiting for the finalization delay.
    Proven,
    /// Final: its withdrawals are claimable.
    Finalized,
}

impl TryFrom<u8> for BatchStatus {
    /// The unknown value.
    type Error = u8;

    fn try_from(status: u8) -> Result<Self, u8> {
        match status {
            0 => Ok(Self::None),
            1 => Ok(Self::Committed),
            2 => Ok(Self::Proven),
            3 => Ok(Self::Finalized),
            other => Err(other),
        }
    }
}

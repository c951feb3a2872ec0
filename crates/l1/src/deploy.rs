//! Deploying the contracts: the attestation verifier, the rollup and, for devnets, a test
//! token. Used by the `weft-deploy` binary (`make devnet`) and by the test kit.
//!
//! [`DeployParams::check`] refuses, before anything is sent:
//! - a forced-withdrawal deadline shorter than the finalization delay plus
//!   [`MIN_PROVING_ALLOWANCE`] (the `Rollup` constructor's rule, `DeadlineTooShort`): with
//!   less, one `forceWithdraw` could freeze the rollup before a correct sequencer can serve it;
//! - a genesis other than the empty state unless [`DeployParams::dev_genesis`] says it is a
//!   devnet: a funded genesis (the dev accounts' balances, under public keys) holds funds no
//!   deposit backs, which exodus and withdrawals would pay out of the depositors' funds.

use alloy::{
    primitives::{Address, B256},
    providers::Provider,
    rpc::types::TransactionReceipt,
};
use serde::Serialize;

use weft_protocol::state::State;

use crate::{EcdsaAttestationVerifier, Rollup, TestToken};

/// Least seconds between the finalization delay and the forced-withdrawal deadline: the
/// time a correct sequencer needs to include a forced withdrawal, commit and prove it
/// (`Rollup.MIN_PROVING_ALLOWANCE`).
pub const MIN_PROVING_ALLOWANCE: u64 = 3_600;

/// What to deploy.
#[derive(Debug, Clone)]
pub struct DeployParams {
    /// The only account allowed to commit batches.
    pub sequencer: Address,
    /// The key whose attestations the verifier accepts.
    pub prover: Address,
    /// The state root of batch 0: the L2 genesis state's root (the sequencer prints it with
    /// `weft-sequencer genesis-root`).
    pub genesis_state_root: B256,
    /// The L2 chain id (the EIP-712 domain's `chainId`).
    pub l2_chain_id: u64,
    /// Seconds before an unserved forced withdrawal allows exodus.
    pub forced_withdrawal_deadline: u64,
    /// Seconds between a proof and finalization (0: a proof finalizes at once).
    pub finalization_delay: u64,
    /// Also deploy a `TestToken` (an ERC-20 anyone can mint).
    pub test_token: bool,
    /// Accept a funded genesis (a devnet's dev accounts). Off, the genesis must be the empty
    /// state: every token on L2 then comes from an L1 deposit.
    pub dev_genesis: bool,
}

impl DeployParams {
    /// The least forced-withdrawal deadline these parameters allow (beyond `u64` when the
    /// delay is near its maximum: then no deadline is allowed, as in the contract).
    pub fn minimum_deadline(&self) -> u128 {
        u128::from(self.finalization_delay) + u128::from(MIN_PROVING_ALLOWANCE)
    }

    /// Refuses what the rollup must not be deployed with (see the module docs).
    pub fn check(&self) -> Result<(), ParamsError> {
        let minimum = self.minimum_deadline();
        if u128::from(self.forced_withdrawal_deadline) < minimum {
            return Err(ParamsError::DeadlineTooShort {
                deadline: self.forced_withdrawal_deadline,
                minimum,
            });
        }
        if !self.dev_genesis && self.genesis_state_root != State::new().state_root() {
            return Err(ParamsError::FundedGenesis(self.genesis_state_root));
        }
        Ok(())
    }
}

/// Where everything landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The `Rollup` contract (the EIP-712 `verifyingContract`).
    pub rollup: Address,
    /// Its `EcdsaAttestationVerifier`.
    pub verifier: Address,
    /// The `TestToken`, if deployed.
    pub token: Option<Address>,
    /// The L1 block the rollup was deployed in: watchers scan events from there.
    pub deploy_block: u64,
    /// The L1 chain id.
    pub l1_chain_id: u64,
}

/// Parameters a deployment refuses (nothing is sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// The forced-withdrawal deadline leaves a correct sequencer too little time.
    #[error(
        "forced-withdrawal deadline {deadline} s is below the finalization delay plus \
         {MIN_PROVING_ALLOWANCE} s of proving allowance ({minimum} s)"
    )]
    DeadlineTooShort {
        /// The deadline asked for, in seconds.
        deadline: u64,
        /// The least allowed, in seconds.
        minimum: u128,
    },
    /// The genesis is not the empty state and the deployment is not a devnet.
    #[error(
        "genesis root {0} is not the empty state's: a funded genesis holds funds no deposit \
         backs; only a devnet may use one (--dev-genesis)"
    )]
    FundedGenesis(B256),
}

/// A deployment that failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The parameters were refused before anything was sent.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// A call or a transaction was refused.
    #[error("{what}: {source}")]
    Contract {
        /// Which deployment.
        what: &'static str,
        /// Why.
        source: alloy::contract::Error,
    },
    /// The deployment transaction was sent but its receipt did not come.
    #[error("{what}: no receipt: {source}")]
    Receipt {
        /// Which deployment.
        what: &'static str,
        /// Why.
        source: alloy::providers::PendingTransactionError,
    },
    /// The deployment transaction was mined but did not create the contract.
    #[error("{0}: the deployment transaction reverted")]
    Reverted(&'static str),
    /// The chain id could not be read.
    #[error("chain id: {0}")]
    ChainId(alloy::transports::TransportError),
}

/// Deploys the verifier, the rollup and optionally a test token, in that order, from the
/// provider's default sender, waiting for each receipt.
pub async fn deploy<P: Provider + Clone>(
    provider: &P,
    params: &DeployParams,
) -> Result<Deployment, DeployError> {
    params.check()?;
    let l1_chain_id = provider
        .get_chain_id()
        .await
        .map_err(DeployError::ChainId)?;
    let (verifier, _) = created(
        "EcdsaAttestationVerifier",
        EcdsaAttestationVerifier::deploy_builder(provider.clone(), params.prover)
            .send()
            .await,
    )
    .await?;
    let (rollup, rollup_receipt) = created(
        "Rollup",
        Rollup::deploy_builder(
            provider.clone(),
            params.sequencer,
            verifier,
            params.genesis_state_root,
            params.l2_chain_id,
            params.forced_withdrawal_deadline,
            params.finalization_delay,
        )
        .send()
        .await,
    )
    .await?;
    let token = if params.test_token {
        let builder =
            TestToken::deploy_builder(provider.clone(), "Weft Test Token".into(), "WTT".into());
        Some(created("TestToken", builder.send().await).await?.0)
    } else {
        None
    };
    Ok(Deployment {
        rollup,
        verifier,
        token,
        deploy_block: rollup_receipt.block_number.unwrap_or_default(),
        l1_chain_id,
    })
}

/// Waits for a deployment's receipt; the created address and the receipt.
async fn created(
    what: &'static str,
    sent: Result<
        alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
        alloy::contract::Error,
    >,
) -> Result<(Address, TransactionReceipt), DeployError> {
    let pending = sent.map_err(|source| DeployError::Contract { what, source })?;
    let receipt = pending
        .get_receipt()
        .await
        .map_err(|source| DeployError::Receipt { what, source })?;
    match receipt.contract_address {
        Some(address) if receipt.status() => Ok((address, receipt)),
        _ => Err(DeployError::Reverted(what)),
    }
}

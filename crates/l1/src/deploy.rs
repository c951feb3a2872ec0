//! Deploying the contracts: the attestation verifier, the rollup and, for devnets, a test
//! token. Used by the `weft-deploy` binary (`make devnet`) and by the test kit.

use alloy::{
    primitives::{Address, B256},
    providers::Provider,
    rpc::types::TransactionReceipt,
};
use serde::Serialize;

use crate::{EcdsaAttestationVerifier, Rollup, TestToken};

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

/// A deployment that failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
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

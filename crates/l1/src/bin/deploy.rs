//! `weft-deploy`: deploys the L1 contracts and prints where they landed as JSON.
//!
//! The deployer's key comes from the environment (`WEFT_DEPLOYER_KEY`, hex), never from a
//! flag. `make devnet` runs it against anvil with anvil's first dev key.

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256},
    providers::ProviderBuilder,
    signers::local::PrivateKeySigner,
};
use anyhow::Context;
use clap::Parser;
use weft_l1::deploy::{DeployParams, deploy};

/// Default L2 chain id (`"WEFT"` in ASCII), as the sequencer's.
const DEFAULT_L2_CHAIN_ID: u64 = 0x5745_4654;
/// Default seconds an unserved forced withdrawal waits before exodus may be activated; at
/// least the finalization delay plus `weft_l1::deploy::MIN_PROVING_ALLOWANCE`.
const DEFAULT_FORCED_WITHDRAWAL_DEADLINE: u64 = 86_400;

#[derive(Debug, Parser)]
#[command(name = "weft-deploy", version, about = "Deploys Weft's L1 contracts")]
struct Args {
    /// L1 JSON-RPC endpoint.
    #[arg(long, env = "WEFT_L1_RPC", default_value = "http://127.0.0.1:8545")]
    l1_rpc: String,
    /// The account allowed to commit batches (the sequencer's L1 address).
    #[arg(long)]
    sequencer: Address,
    /// The prover key's address: the verifier accepts its attestations.
    #[arg(long)]
    prover: Address,
    /// The L2 genesis state root (`weft-sequencer genesis-root` prints it).
    #[arg(long)]
    genesis_root: B256,
    /// The L2 chain id.
    #[arg(long, default_value_t = DEFAULT_L2_CHAIN_ID)]
    l2_chain_id: u64,
    /// Seconds before an unserved forced withdrawal allows exodus.
    #[arg(long, default_value_t = DEFAULT_FORCED_WITHDRAWAL_DEADLINE)]
    forced_withdrawal_deadline: u64,
    /// Seconds between a proof and finalization.
    #[arg(long, default_value_t = 0)]
    finalization_delay: u64,
    /// Also deploy a TestToken (an ERC-20 anyone can mint).
    #[arg(long)]
    test_token: bool,
    /// Accept a funded genesis (a devnet's public dev keys). Without it the genesis root must
    /// be the empty state's: funds at genesis are backed by no deposit.
    #[arg(long)]
    dev_genesis: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let key = std::env::var("WEFT_DEPLOYER_KEY")
        .context("set WEFT_DEPLOYER_KEY to the deployer's private key (hex)")?;
    let signer: PrivateKeySigner = key.trim().parse().context("WEFT_DEPLOYER_KEY")?;
    let provider = ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(EthereumWallet::new(signer))
        .connect(&args.l1_rpc)
        .await
        .with_context(|| format!("connect to {}", args.l1_rpc))?;
    let deployment = deploy(
        &provider,
        &DeployParams {
            sequencer: args.sequencer,
            prover: args.prover,
            genesis_state_root: args.genesis_root,
            l2_chain_id: args.l2_chain_id,
            forced_withdrawal_deadline: args.forced_withdrawal_deadline,
            finalization_delay: args.finalization_delay,
            test_token: args.test_token,
            dev_genesis: args.dev_genesis,
        },
    )
    .await?;
    println!("{}", serde_json::to_string_pretty(&deployment)?);
    Ok(())
}

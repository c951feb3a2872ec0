//! The prover's configuration: CLI flags, each with an environment variable.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Parser;
use weft_protocol::{
    primitives::{Address, Amount, B256},
    signature::SigningKey,
};

/// Default poll interval of L1 and the sequencer.
pub const DEFAULT_POLL: Duration = Duration::from_millis(500);
/// Default listener of `/health` and `/metrics`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8548";
/// Default data directory (the prover's own state).
pub const DEFAULT_DATA_DIR: &str = "data/prover";

/// `weft-prover` flags.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "weft-prover",
    version,
    about = "Weft prover stub: re-executes and attests committed batches"
)]
pub struct Cli {
    /// L1 JSON-RPC endpoint.
    #[arg(long, env = "WEFT_L1_RPC")]
    pub l1_rpc: String,
    /// The Rollup contract.
    #[arg(long, env = "WEFT_ROLLUP_ADDRESS")]
    pub rollup_address: Address,
    /// The sequencer's API (for witnesses).
    #[arg(
        long,
        env = "WEFT_SEQUENCER_URL",
        default_value = "http://127.0.0.1:8547"
    )]
    pub sequencer_url: String,
    /// The attestation key, as 0x-hex (prefer `--prover-key-file`).
    #[arg(long, env = "WEFT_PROVER_KEY", hide_env_values = true)]
    pub prover_key: Option<B256>,
    /// A file holding the attestation key as 0x-hex.
    #[arg(long, env = "WEFT_PROVER_KEY_FILE")]
    pub prover_key_file: Option<PathBuf>,
    /// Data directory for the prover's own state.
    #[arg(long, env = "WEFT_PROVER_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// `/health` and `/metrics` listener.
    #[arg(long, env = "WEFT_PROVER_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Poll interval in milliseconds.
    #[arg(long, env = "WEFT_PROVER_POLL_MS", default_value_t = DEFAULT_POLL.as_millis() as u64)]
    pub poll_ms: u64,
    /// L2 chain id (must match the sequencer's).
    #[arg(long, env = "WEFT_CHAIN_ID", default_value_t = weft_protocol_defaults::CHAIN_ID)]
    pub chain_id: u64,
    /// Blocks a channel dispute lasts (a chain parameter: must match the sequencer's).
    #[arg(long, env = "WEFT_DISPUTE_WINDOW", default_value_t = weft_protocol::channel::DEFAULT_DISPUTE_WINDOW)]
    pub dispute_window: u64,
    /// Number of development accounts in the genesis (must match the sequencer's).
    #[arg(long, env = "WEFT_DEV_ACCOUNTS", default_value_t = 10)]
    pub dev_accounts: u32,
    /// ETH of each development account in the genesis.
    #[arg(
        long,
        env = "WEFT_DEV_BALANCE",
        default_value_t = 1_000_000_000_000_000_000_000_000
    )]
    pub dev_balance: Amount,
}

/// Defaults shared with the sequencer.
pub mod weft_protocol_defaults {
    /// The default L2 chain id (`"WEFT"` in ASCII), as the sequencer's.
    pub const CHAIN_ID: u64 = 0x5745_4654;
}

/// The prover's settings, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// L1 JSON-RPC endpoint.
    pub l1_rpc: String,
    /// The Rollup contract.
    pub rollup_address: Address,
    /// The sequencer's API.
    pub sequencer_url: String,
    /// The attestation key (also pays for `proveBatch`).
    pub prover_key: SigningKey,
    /// Where the prover keeps its state.
    pub data_dir: PathBuf,
    /// `/health` and `/metrics`.
    pub listen: SocketAddr,
    /// Poll interval.
    pub poll: Duration,
    /// L2 chain id.
    pub chain_id: u64,
    /// Blocks a channel dispute lasts (re-execution uses it).
    pub dispute_window: u64,
    /// Development accounts in the genesis.
    pub dev_accounts: u32,
    /// Their ETH.
    pub dev_balance: Amount,
}

impl Config {
    /// Resolves the flags; the key comes from the environment or a file only.
    pub fn from_cli(cli: Cli) -> anyhow::Result<Self> {
        let key = match (cli.prover_key, &cli.prover_key_file) {
            (Some(k), _) => k,
            (None, Some(path)) => std::fs::read_to_string(path)?.trim().parse()?,
            (None, None) => anyhow::bail!("set WEFT_PROVER_KEY or --prover-key-file"),
        };
        Ok(Self {
            l1_rpc: cli.l1_rpc,
            rollup_address: cli.rollup_address,
            sequencer_url: cli.sequencer_url.trim_end_matches('/').to_string(),
            prover_key: SigningKey::from_bytes(&key)?,
            data_dir: cli.data_dir,
            listen: cli.listen,
            poll: Duration::from_millis(cli.poll_ms.max(10)),
            chain_id: cli.chain_id,
            dispute_window: cli.dispute_window,
            dev_accounts: cli.dev_accounts,
            dev_balance: cli.dev_balance,
        })
    }
}

//! Node configuration: typed structs with named defaults, filled from (lowest first) the
//! defaults, an optional TOML file, environment variables and CLI flags.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Parser;
use serde::Deserialize;
use weft_protocol::{
    eip712::Domain,
    primitives::{Address, Amount, address},
    signature::SigningKey,
    state::GenesisAccount,
};

/// Default L2 chain id (`"WEFT"` in ASCII).
pub const DEFAULT_CHAIN_ID: u64 = 0x5745_4654;
/// Default Rollup contract: the first contract anvil's first dev account deploys.
pub const DEFAULT_ROLLUP_ADDRESS: Address = address!("5FbDB2315678afecb367f032d93F642f64180aa3");
/// Default public listener.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8547";
/// Default data directory (SQLite database lives here).
pub const DEFAULT_DATA_DIR: &str = "data/sequencer";
/// Default most transactions per block. Large enough that a block at the target rate
/// (~30k tx/s) and a 250 ms block time never hits it; small enough to bound one block's
/// execution and write to tens of milliseconds.
pub const DEFAULT_MAX_BLOCK_TXS: usize = 10_000;
/// Default most encoded bytes per block (a stand-in for DA bytes until the DA codec).
pub const DEFAULT_MAX_BLOCK_BYTES: usize = 2 << 20;
/// Default block time: bounds submit→executed latency while keeping per-block fixed costs
/// (one DB transaction, one fsync, the state root) amortised over many transactions.
pub const DEFAULT_BLOCK_TIME: Duration = Duration::from_millis(100);
/// Default mempool capacity in transactions.
pub const DEFAULT_MEMPOOL_MAX_TXS: usize = 200_000;
/// Default mempool capacity in encoded bytes.
pub const DEFAULT_MEMPOOL_MAX_BYTES: usize = 128 << 20;
/// Default: how far past its next nonce a sender may queue transactions.
pub const DEFAULT_MAX_NONCE_AHEAD: u64 = 64;
/// Default minimum fee (base units of the fee token).
pub const DEFAULT_MIN_FEE: Amount = 0;
/// Default fee recipient.
pub const DEFAULT_FEE_RECIPIENT: Address = address!("00000000000000000000000000000000000fee00");
/// Default request body limit.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 << 20;
/// Default most transactions in one batch request.
pub const DEFAULT_MAX_BATCH: usize = 2_000;
/// Default per-client sustained request rate (requests per second).
pub const DEFAULT_RATE_PER_SECOND: u64 = 2_000;
/// Default per-client burst.
pub const DEFAULT_RATE_BURST: u32 = 4_000;
/// Default blocks between state snapshots.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 1_000;
/// Default most blocks per batch.
pub const DEFAULT_BATCH_MAX_BLOCKS: u64 = 100;
/// Default most transactions per batch (bounds one `commitBatch`'s calldata: ~5 bytes each).
pub const DEFAULT_BATCH_MAX_TXS: u64 = 20_000;
/// Default longest a block waits to be batched.
pub const DEFAULT_BATCH_MAX_AGE: Duration = Duration::from_secs(2);
/// Default number of deterministic dev accounts funded at genesis.
pub const DEFAULT_DEV_ACCOUNTS: u32 = 10;
/// Default ETH balance of each dev account (10^24 wei).
pub const DEFAULT_DEV_BALANCE: Amount = 1_000_000_000_000_000_000_000_000;

/// The whole node configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// L2 chain id (EIP-712 domain).
    pub chain_id: u64,
    /// L1 Rollup contract (EIP-712 `verifyingContract`).
    pub rollup_address: Address,
    /// Data directory.
    pub data_dir: PathBuf,
    /// PostgreSQL (or SQLite) URL; `None`: SQLite in the data directory.
    pub database_url: Option<String>,
    /// Public API listener.
    pub listen: SocketAddr,
    /// Block sealing.
    pub block: BlockConfig,
    /// Batch sealing.
    pub batch: BatchConfig,
    /// Mempool limits.
    pub mempool: MempoolConfig,
    /// API limits.
    pub api: ApiConfig,
    /// Smallest fee admitted.
    pub min_fee: Amount,
    /// Receives fees.
    pub fee_recipient: Address,
    /// Worker threads of the parallel executor.
    pub executor_threads: usize,
    /// Threads recovering signatures.
    pub signature_threads: usize,
    /// Blocks between snapshots.
    pub snapshot_every: u64,
    /// Genesis allocations.
    pub genesis: GenesisConfig,
}

/// Seal rules.
#[derive(Debug, Clone, Copy)]
pub struct BlockConfig {
    /// Most transactions per block.
    pub max_txs: usize,
    /// Most encoded bytes per block.
    pub max_bytes: usize,
    /// Longest wait between the first pending transaction and the seal.
    pub block_time: Duration,
}

/// Batch seal rules.
#[derive(Debug, Clone, Copy)]
pub struct BatchConfig {
    /// Most blocks per batch.
    pub max_blocks: u64,
    /// Most transactions per batch.
    pub max_txs: u64,
    /// Longest the oldest unbatched block waits.
    pub max_age: Duration,
}

/// Mempool limits.
#[derive(Debug, Clone, Copy)]
pub struct MempoolConfig {
    /// Most transactions held.
    pub max_txs: usize,
    /// Most encoded bytes held.
    pub max_bytes: usize,
    /// How far past its next nonce a sender may queue.
    pub max_nonce_ahead: u64,
}

/// API limits.
#[derive(Debug, Clone, Copy)]
pub struct ApiConfig {
    /// Request body limit in bytes.
    pub max_body_bytes: usize,
    /// Most transactions per batch request.
    pub max_batch: usize,
    /// Per-client sustained requests per second (0 disables rate limiting).
    pub rate_per_second: u64,
    /// Per-client burst.
    pub rate_burst: u32,
}

/// Genesis allocations: deterministic dev accounts plus explicit ones.
#[derive(Debug, Clone, Default)]
pub struct GenesisConfig {
    /// Number of dev accounts (`SigningKey::from_seed("weft-dev-{i}")`).
    pub dev_accounts: u32,
    /// ETH of each dev account.
    pub dev_balance: Amount,
    /// Further allocations.
    pub allocations: Vec<GenesisAccount>,
}

impl GenesisConfig {
    /// The `i`-th dev key: deterministic, for devnets, tests and the load generator only.
    pub fn dev_key(i: u32) -> SigningKey {
        weft_protocol::genesis::dev_key(i)
    }

    /// Every genesis allocation, dev accounts first.
    pub fn allocations(&self) -> Vec<GenesisAccount> {
        weft_protocol::genesis::dev_allocations(self.dev_accounts, self.dev_balance)
            .into_iter()
            .chain(self.allocations.iter().cloned())
            .collect()
    }
}

impl Default for Config {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            chain_id: DEFAULT_CHAIN_ID,
            rollup_address: DEFAULT_ROLLUP_ADDRESS,
            data_dir: DEFAULT_DATA_DIR.into(),
            database_url: None,
            listen: DEFAULT_LISTEN.parse().expect("valid default"),
            block: BlockConfig {
                max_txs: DEFAULT_MAX_BLOCK_TXS,
                max_bytes: DEFAULT_MAX_BLOCK_BYTES,
                block_time: DEFAULT_BLOCK_TIME,
            },
            batch: BatchConfig {
                max_blocks: DEFAULT_BATCH_MAX_BLOCKS,
                max_txs: DEFAULT_BATCH_MAX_TXS,
                max_age: DEFAULT_BATCH_MAX_AGE,
            },
            mempool: MempoolConfig {
                max_txs: DEFAULT_MEMPOOL_MAX_TXS,
                max_bytes: DEFAULT_MEMPOOL_MAX_BYTES,
                max_nonce_ahead: DEFAULT_MAX_NONCE_AHEAD,
            },
            api: ApiConfig {
                max_body_bytes: DEFAULT_MAX_BODY_BYTES,
                max_batch: DEFAULT_MAX_BATCH,
                rate_per_second: DEFAULT_RATE_PER_SECOND,
                rate_burst: DEFAULT_RATE_BURST,
            },
            min_fee: DEFAULT_MIN_FEE,
            fee_recipient: DEFAULT_FEE_RECIPIENT,
            executor_threads: cores,
            signature_threads: cores,
            snapshot_every: DEFAULT_SNAPSHOT_EVERY,
            genesis: GenesisConfig {
                dev_accounts: DEFAULT_DEV_ACCOUNTS,
                dev_balance: DEFAULT_DEV_BALANCE,
                allocations: Vec::new(),
            },
        }
    }
}

impl Config {
    /// The EIP-712 domain of this deployment.
    pub fn domain(&self) -> Domain {
        Domain::new(self.chain_id, self.rollup_address)
    }
}

/// Command-line flags; each also reads an environment variable.
#[derive(Debug, Parser, Default)]
#[command(name = "weft-sequencer", version, about = "Weft sequencer node")]
pub struct Cli {
    /// TOML configuration file (flags and environment variables override it).
    #[arg(long, env = "WEFT_CONFIG")]
    pub config: Option<PathBuf>,
    /// L2 chain id.
    #[arg(long, env = "WEFT_CHAIN_ID")]
    pub chain_id: Option<u64>,
    /// L1 Rollup contract address.
    #[arg(long, env = "WEFT_ROLLUP_ADDRESS")]
    pub rollup_address: Option<Address>,
    /// Data directory.
    #[arg(long, env = "WEFT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL (postgres://…); default SQLite in the data directory.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Public API listen address.
    #[arg(long, env = "WEFT_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Block time in milliseconds.
    #[arg(long, env = "WEFT_BLOCK_TIME_MS")]
    pub block_time_ms: Option<u64>,
    /// Most transactions per block.
    #[arg(long, env = "WEFT_MAX_BLOCK_TXS")]
    pub max_block_txs: Option<usize>,
    /// Most blocks per batch.
    #[arg(long, env = "WEFT_BATCH_MAX_BLOCKS")]
    pub batch_max_blocks: Option<u64>,
    /// Longest an unbatched block waits, in milliseconds.
    #[arg(long, env = "WEFT_BATCH_MAX_AGE_MS")]
    pub batch_max_age_ms: Option<u64>,
    /// Smallest fee admitted.
    #[arg(long, env = "WEFT_MIN_FEE")]
    pub min_fee: Option<u128>,
    /// Fee recipient.
    #[arg(long, env = "WEFT_FEE_RECIPIENT")]
    pub fee_recipient: Option<Address>,
    /// Number of deterministic dev accounts funded at genesis.
    #[arg(long, env = "WEFT_DEV_ACCOUNTS")]
    pub dev_accounts: Option<u32>,
    /// Executor threads.
    #[arg(long, env = "WEFT_EXECUTOR_THREADS")]
    pub executor_threads: Option<usize>,
    /// Per-client request rate limit (requests/s, 0 = off).
    #[arg(long, env = "WEFT_RATE_PER_SECOND")]
    pub rate_per_second: Option<u64>,
    /// Mempool capacity in transactions.
    #[arg(long, env = "WEFT_MEMPOOL_MAX_TXS")]
    pub mempool_max_txs: Option<usize>,
}

/// The TOML file: every key optional, unknown keys rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FileConfig {
    chain_id: Option<u64>,
    rollup_address: Option<Address>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    listen: Option<SocketAddr>,
    block_time_ms: Option<u64>,
    max_block_txs: Option<usize>,
    max_block_bytes: Option<usize>,
    batch_max_blocks: Option<u64>,
    batch_max_txs: Option<u64>,
    batch_max_age_ms: Option<u64>,
    mempool_max_txs: Option<usize>,
    mempool_max_bytes: Option<usize>,
    max_nonce_ahead: Option<u64>,
    min_fee: Option<u128>,
    fee_recipient: Option<Address>,
    max_body_bytes: Option<usize>,
    max_batch: Option<usize>,
    rate_per_second: Option<u64>,
    rate_burst: Option<u32>,
    executor_threads: Option<usize>,
    signature_threads: Option<usize>,
    snapshot_every: Option<u64>,
    dev_accounts: Option<u32>,
    dev_balance: Option<String>,
    #[serde(default)]
    genesis: Vec<GenesisAccount>,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<toml::de::Error>,
    },
    /// A value out of range.
    #[error("invalid config: {0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, then the file named by `cli.config`, then `cli` (which clap filled from
    /// flags and environment variables).
    pub fn load(cli: &Cli) -> Result<Self, ConfigError> {
        let file = match &cli.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                toml::from_str::<FileConfig>(&text).map_err(|source| ConfigError::Parse {
                    path: path.clone(),
                    source: Box::new(source),
                })?
            }
            None => FileConfig::default(),
        };
        let mut c = Self::default();
        macro_rules! set {
            ($dst:expr, $($src:expr),+) => { $( if let Some(v) = $src.clone() { $dst = v; } )+ };
        }
        set!(c.chain_id, file.chain_id, cli.chain_id);
        set!(c.rollup_address, file.rollup_address, cli.rollup_address);
        set!(c.data_dir, file.data_dir, cli.data_dir);
        if let Some(url) = cli.database_url.clone().or(file.database_url.clone()) {
            c.database_url = (!url.is_empty()).then_some(url);
        }
        set!(c.listen, file.listen, cli.listen);
        if let Some(ms) = cli.block_time_ms.or(file.block_time_ms) {
            c.block.block_time = Duration::from_millis(ms);
        }
        set!(c.block.max_txs, file.max_block_txs, cli.max_block_txs);
        set!(c.block.max_bytes, file.max_block_bytes);
        set!(
            c.batch.max_blocks,
            file.batch_max_blocks,
            cli.batch_max_blocks
        );
        set!(c.batch.max_txs, file.batch_max_txs);
        if let Some(ms) = cli.batch_max_age_ms.or(file.batch_max_age_ms) {
            c.batch.max_age = Duration::from_millis(ms);
        }
        set!(c.mempool.max_txs, file.mempool_max_txs, cli.mempool_max_txs);
        set!(c.mempool.max_bytes, file.mempool_max_bytes);
        set!(c.mempool.max_nonce_ahead, file.max_nonce_ahead);
        set!(c.min_fee, file.min_fee, cli.min_fee);
        set!(c.fee_recipient, file.fee_recipient, cli.fee_recipient);
        set!(c.api.max_body_bytes, file.max_body_bytes);
        set!(c.api.max_batch, file.max_batch);
        set!(
            c.api.rate_per_second,
            file.rate_per_second,
            cli.rate_per_second
        );
        set!(c.api.rate_burst, file.rate_burst);
        set!(
            c.executor_threads,
            file.executor_threads,
            cli.executor_threads
        );
        set!(c.signature_threads, file.signature_threads);
        set!(c.snapshot_every, file.snapshot_every);
        set!(c.genesis.dev_accounts, file.dev_accounts, cli.dev_accounts);
        if let Some(b) = &file.dev_balance {
            c.genesis.dev_balance = weft_protocol::primitives::serde_dec::parse_u128(b)
                .map_err(|e| ConfigError::Invalid(format!("dev_balance: {e}")))?;
        }
        c.genesis.allocations = file.genesis;
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.into()));
        if self.block.block_time < Duration::from_millis(10) {
            return bad("block time must be at least 10 ms");
        }
        if self.block.max_txs == 0 || self.mempool.max_txs == 0 || self.api.max_batch == 0 {
            return bad("block, mempool and batch limits must be positive");
        }
        if self.executor_threads == 0 || self.signature_threads == 0 {
            return bad("thread counts must be positive");
        }
        if self.batch.max_blocks == 0 || self.batch.max_txs == 0 {
            return bad("batch limits must be positive");
        }
        if self.snapshot_every == 0 {
            return bad("snapshot_every must be positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weft.toml");
        std::fs::write(
            &path,
            "chain_id = 7\nblock_time_ms = 250\nmin_fee = 3\ndev_balance = \"5\"\n\
             [[genesis]]\naddress = \"0x00000000000000000000000000000000000000aa\"\n\
             balances = [{ token = 0, amount = \"9\" }]\n",
        )
        .unwrap();
        let cli = Cli {
            config: Some(path),
            min_fee: Some(4),
            ..Cli::default()
        };
        let c = Config::load(&cli).unwrap();
        assert_eq!(c.chain_id, 7);
        assert_eq!(c.block.block_time, Duration::from_millis(250));
        assert_eq!(c.min_fee, 4);
        assert_eq!(c.genesis.dev_balance, 5);
        assert_eq!(
            c.genesis.allocations().len(),
            DEFAULT_DEV_ACCOUNTS as usize + 1
        );
        assert_eq!(c.block.max_txs, DEFAULT_MAX_BLOCK_TXS);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weft.toml");
        std::fs::write(&path, "chain_idd = 7\n").unwrap();
        let cli = Cli {
            config: Some(path.clone()),
            ..Cli::default()
        };
        assert!(matches!(Config::load(&cli), Err(ConfigError::Parse { .. })));
        std::fs::write(&path, "block_time_ms = 1\n").unwrap();
        assert!(matches!(Config::load(&cli), Err(ConfigError::Invalid(_))));
    }
}

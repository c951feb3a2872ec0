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
/// Default Rollup contract: where `make devnet` deploys it (anvil's first dev account's
/// second contract, after the attestation verifier).
pub const DEFAULT_ROLLUP_ADDRESS: Address = address!("e7f1725E7734CE288F8367e1Bb143E90bb3F0512");
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
pub const DEFAULT_MAX_BATCH: usize = weft_api::DEFAULT_MAX_BATCH;
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
/// Default L1 confirmations: the watcher takes a queue entry or a batch event once this many
/// blocks are mined on top of its block (it scans up to `latest - confirmations`), so an L1
/// reorg up to this depth never touches what it took. Two: since the merge, Ethereum
/// mainnet reorgs deeper than one block are practically absent (attestations settle the
/// head within a slot), while each confirmation delays every deposit by a 12 s slot; an
/// operator who wants finality proper sets the depth of the finalized checkpoint (~64
/// blocks). A deeper reorg that drops or changes an entry already taken cannot be undone on
/// L2: the node refuses the different entry and the next commit reverts on the queue hash,
/// so the poster halts with an alert (see `l1::watcher`).
pub const DEFAULT_L1_CONFIRMATIONS: u64 = 2;
/// Default interval between two L1 polls of the watcher and the poster.
pub const DEFAULT_L1_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Default time after which a commit transaction without a receipt is re-signed at the same
/// nonce with higher fees: five mainnet slots.
pub const DEFAULT_L1_RESEND_AFTER: Duration = Duration::from_secs(60);
/// Default limit on one L1 JSON-RPC request (an unresponsive node must not stall a task).
pub const DEFAULT_L1_RPC_TIMEOUT: Duration = Duration::from_secs(10);
/// Environment variable holding the sequencer's L1 private key (hex), the alternative to
/// `--sequencer-key-file`. Secrets come only from the environment or files.
pub const SEQUENCER_KEY_ENV: &str = "WEFT_SEQUENCER_KEY";
/// Default channel dispute window, in blocks (a chain parameter: see
/// [`weft_protocol::channel::DEFAULT_DISPUTE_WINDOW`] for why this long).
pub const DEFAULT_DISPUTE_WINDOW: u64 = weft_protocol::channel::DEFAULT_DISPUTE_WINDOW;
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
    /// Blocks a channel dispute lasts (a chain parameter, like the chain id: every
    /// executor of the chain, the prover's and a rebuild's included, must use the same, and
    /// it must not change once blocks exist).
    pub dispute_window: u64,
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
    /// The L1 side (watcher, poster); `None`: the node runs without L1.
    pub l1: Option<L1Config>,
}

/// The L1 side: where L1 is, how long to wait, who posts.
#[derive(Debug, Clone)]
pub struct L1Config {
    /// L1 JSON-RPC endpoint (HTTP).
    pub rpc_url: String,
    /// Blocks mined on top of a queue entry's or batch event's block before the watcher
    /// takes it (0: from the latest block, without reorg protection).
    pub confirmations: u64,
    /// Interval between L1 polls.
    pub poll_interval: Duration,
    /// The L1 block the rollup was deployed in: events are scanned from there.
    pub from_block: u64,
    /// A commit transaction without a receipt after this long is re-signed at the same nonce
    /// with fees raised by at least 10%.
    pub resend_after: Duration,
    /// Limit on one JSON-RPC request.
    pub rpc_timeout: Duration,
    /// The key that signs `commitBatch` (the rollup's `sequencer`); `None`: watch only.
    pub sequencer_key: Option<SigningKey>,
}

impl L1Config {
    /// An L1 section for `rpc_url` with every default and no posting key.
    pub fn new(rpc_url: impl Into<String>) -> Self {
        Self {
            rpc_url: rpc_url.into(),
            confirmations: DEFAULT_L1_CONFIRMATIONS,
            poll_interval: DEFAULT_L1_POLL_INTERVAL,
            from_block: 0,
            resend_after: DEFAULT_L1_RESEND_AFTER,
            rpc_timeout: DEFAULT_L1_RPC_TIMEOUT,
            sequencer_key: None,
        }
    }
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
            dispute_window: DEFAULT_DISPUTE_WINDOW,
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
            l1: None,
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
    /// What to do; without one, run the node.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// TOML configuration file (flags and environment variables override it).
    #[arg(long, global = true, env = "WEFT_CONFIG")]
    pub config: Option<PathBuf>,
    /// L2 chain id.
    #[arg(long, global = true, env = "WEFT_CHAIN_ID")]
    pub chain_id: Option<u64>,
    /// L1 Rollup contract address.
    #[arg(long, global = true, env = "WEFT_ROLLUP_ADDRESS")]
    pub rollup_address: Option<Address>,
    /// Blocks a channel dispute lasts (a chain parameter; the prover must use the same).
    #[arg(long, global = true, env = "WEFT_DISPUTE_WINDOW")]
    pub dispute_window: Option<u64>,
    /// Data directory.
    #[arg(long, global = true, env = "WEFT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL (postgres://…); default SQLite in the data directory.
    #[arg(long, global = true, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Public API listen address.
    #[arg(long, global = true, env = "WEFT_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Block time in milliseconds.
    #[arg(long, global = true, env = "WEFT_BLOCK_TIME_MS")]
    pub block_time_ms: Option<u64>,
    /// Most transactions per block.
    #[arg(long, global = true, env = "WEFT_MAX_BLOCK_TXS")]
    pub max_block_txs: Option<usize>,
    /// Most blocks per batch.
    #[arg(long, global = true, env = "WEFT_BATCH_MAX_BLOCKS")]
    pub batch_max_blocks: Option<u64>,
    /// Longest an unbatched block waits, in milliseconds.
    #[arg(long, global = true, env = "WEFT_BATCH_MAX_AGE_MS")]
    pub batch_max_age_ms: Option<u64>,
    /// Smallest fee admitted.
    #[arg(long, global = true, env = "WEFT_MIN_FEE")]
    pub min_fee: Option<u128>,
    /// Fee recipient.
    #[arg(long, global = true, env = "WEFT_FEE_RECIPIENT")]
    pub fee_recipient: Option<Address>,
    /// Number of deterministic dev accounts funded at genesis.
    #[arg(long, global = true, env = "WEFT_DEV_ACCOUNTS")]
    pub dev_accounts: Option<u32>,
    /// Executor threads.
    #[arg(long, global = true, env = "WEFT_EXECUTOR_THREADS")]
    pub executor_threads: Option<usize>,
    /// Per-client request rate limit (requests/s, 0 = off).
    #[arg(long, global = true, env = "WEFT_RATE_PER_SECOND")]
    pub rate_per_second: Option<u64>,
    /// Mempool capacity in transactions.
    #[arg(long, global = true, env = "WEFT_MEMPOOL_MAX_TXS")]
    pub mempool_max_txs: Option<usize>,
    /// L1 JSON-RPC endpoint; turns the L1 side (watcher, poster) on.
    #[arg(long, global = true, env = "WEFT_L1_RPC")]
    pub l1_rpc: Option<String>,
    /// L1 confirmations before a queue entry or batch event is taken.
    #[arg(long, global = true, env = "WEFT_L1_CONFIRMATIONS")]
    pub l1_confirmations: Option<u64>,
    /// Interval between L1 polls, in milliseconds.
    #[arg(long, global = true, env = "WEFT_L1_POLL_MS")]
    pub l1_poll_ms: Option<u64>,
    /// L1 block the rollup was deployed in (events are scanned from it).
    #[arg(long, global = true, env = "WEFT_L1_FROM_BLOCK")]
    pub l1_from_block: Option<u64>,
    /// Seconds before a commit without a receipt is re-signed with higher fees.
    #[arg(long, global = true, env = "WEFT_L1_RESEND_AFTER_SECS")]
    pub l1_resend_after_secs: Option<u64>,
    /// File holding the sequencer's L1 private key (hex); or set WEFT_SEQUENCER_KEY.
    #[arg(long, global = true, env = "WEFT_SEQUENCER_KEY_FILE")]
    pub sequencer_key_file: Option<PathBuf>,
}

/// What the binary does besides running the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Subcommand)]
pub enum Command {
    /// Reconstructs the L2 state from L1 alone (DA payloads and queue events) into a fresh
    /// data directory and checks it against L1's latest committed state root; the node can
    /// then start from that directory. Needs --l1-rpc and --rollup-address.
    Rebuild,
    /// Prints the genesis state root of this configuration (the Rollup contract's batch 0).
    GenesisRoot,
    /// Prints the deterministic dev accounts funded at genesis: index, address, private key.
    /// For devnets only: anyone can derive these keys.
    DevKeys,
}

/// The TOML file: every key optional, unknown keys rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FileConfig {
    chain_id: Option<u64>,
    rollup_address: Option<Address>,
    dispute_window: Option<u64>,
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
    l1_rpc: Option<String>,
    l1_confirmations: Option<u64>,
    l1_poll_ms: Option<u64>,
    l1_from_block: Option<u64>,
    l1_resend_after_secs: Option<u64>,
    l1_rpc_timeout_ms: Option<u64>,
    sequencer_key_file: Option<PathBuf>,
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
        set!(c.dispute_window, file.dispute_window, cli.dispute_window);
        if c.dispute_window == 0 {
            return Err(ConfigError::Invalid(
                "dispute_window must be at least one block".into(),
            ));
        }
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
        if let Some(url) = cli.l1_rpc.clone().or(file.l1_rpc.clone()) {
            let mut l1 = L1Config::new(url);
            set!(
                l1.confirmations,
                file.l1_confirmations,
                cli.l1_confirmations
            );
            set!(l1.from_block, file.l1_from_block, cli.l1_from_block);
            if let Some(ms) = cli.l1_poll_ms.or(file.l1_poll_ms) {
                l1.poll_interval = Duration::from_millis(ms);
            }
            if let Some(secs) = cli.l1_resend_after_secs.or(file.l1_resend_after_secs) {
                l1.resend_after = Duration::from_secs(secs);
            }
            if let Some(ms) = file.l1_rpc_timeout_ms {
                l1.rpc_timeout = Duration::from_millis(ms);
            }
            let key_file = cli.sequencer_key_file.clone().or(file.sequencer_key_file);
            l1.sequencer_key = sequencer_key(key_file.as_deref())?;
            c.l1 = Some(l1);
        }
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
        if let Some(l1) = &self.l1 {
            if l1.poll_interval < Duration::from_millis(10) {
                return bad("l1 poll interval must be at least 10 ms");
            }
            if l1.resend_after.is_zero() {
                return bad("l1 resend_after must be positive");
            }
        }
        Ok(())
    }
}

/// The sequencer's L1 key: from `file` if given, else from `WEFT_SEQUENCER_KEY`, else none.
/// Never from a flag or the TOML file itself, so it does not end up in shell histories or
/// process listings.
fn sequencer_key(file: Option<&std::path::Path>) -> Result<Option<SigningKey>, ConfigError> {
    let (text, source) = match file {
        Some(path) => (
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?,
            path.display().to_string(),
        ),
        None => match std::env::var(SEQUENCER_KEY_ENV) {
            Ok(text) => (text, SEQUENCER_KEY_ENV.to_owned()),
            Err(_) => return Ok(None),
        },
    };
    let bytes: weft_protocol::primitives::B256 = text
        .trim()
        .parse()
        .map_err(|_| ConfigError::Invalid(format!("{source}: not a 32-byte hex key")))?;
    SigningKey::from_bytes(&bytes)
        .map(Some)
        .map_err(|_| ConfigError::Invalid(format!("{source}: not a valid secp256k1 key")))
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
             dispute_window = 12\n\
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
        assert_eq!(c.dispute_window, 12);
        assert_eq!(Config::default().dispute_window, 36_000);
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
        std::fs::write(&path, "dispute_window = 0\n").unwrap();
        assert!(matches!(Config::load(&cli), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn l1_section_comes_from_flags_and_the_key_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("weft.toml");
        let key_file = dir.path().join("sequencer.key");
        let key = SigningKey::from_seed(b"sequencer");
        std::fs::write(&key_file, format!("{}\n", key.secret_bytes())).unwrap();
        std::fs::write(
            &path,
            format!(
                "l1_confirmations = 5\nl1_poll_ms = 200\nsequencer_key_file = {:?}\n",
                key_file.display().to_string()
            ),
        )
        .unwrap();
        let without = Cli {
            config: Some(path.clone()),
            ..Cli::default()
        };
        assert!(
            Config::load(&without).unwrap().l1.is_none(),
            "no --l1-rpc: no L1 side"
        );
        let cli = Cli {
            config: Some(path),
            l1_rpc: Some("http://127.0.0.1:8545".into()),
            l1_from_block: Some(7),
            ..Cli::default()
        };
        let l1 = Config::load(&cli).unwrap().l1.unwrap();
        assert_eq!(l1.confirmations, 5);
        assert_eq!(l1.poll_interval, Duration::from_millis(200));
        assert_eq!(l1.from_block, 7);
        assert_eq!(l1.resend_after, DEFAULT_L1_RESEND_AFTER);
        assert_eq!(l1.sequencer_key.unwrap().address(), key.address());
        // Debug never prints the key.
        let printed = format!("{:?}", Config::load(&cli).unwrap());
        assert!(!printed.contains(&key.secret_bytes().to_string()[2..]));
    }
}

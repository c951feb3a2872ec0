//! Node configuration: typed structs with named defaults ([`Config`]), converted from the
//! [`Settings`], which declare each setting once and are filled from (highest first) CLI
//! flags, environment variables and an optional TOML file (see `weft_service::config`).

mod settings;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

pub use settings::{Cli, Command, Settings};
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
/// Default per-client burst, in transactions (a request without transactions costs one):
/// two full batches.
pub const DEFAULT_RATE_BURST: u32 = 4_000;
/// Default most open API connections (lowered to what `ulimit -n` allows; docs/operations.md).
pub const DEFAULT_MAX_CONNECTIONS: usize = weft_service::http::DEFAULT_MAX_CONNECTIONS;
/// Default cap on live-feed WebSocket connections.
pub const DEFAULT_MAX_FEED_CONNECTIONS: usize = 4096;
/// Default time to receive a request head, also the idle keep-alive timeout.
pub const DEFAULT_HEADER_TIMEOUT: Duration = weft_service::http::DEFAULT_HEADER_TIMEOUT;
/// Default time to receive a request body.
pub const DEFAULT_BODY_TIMEOUT: Duration = weft_service::http::DEFAULT_BODY_TIMEOUT;
/// Default request-body bytes held at once, all connections together: 16 bodies of the
/// default limit.
pub const DEFAULT_BODY_BUDGET_BYTES: usize = weft_service::http::DEFAULT_BODY_BUDGET_BYTES;
/// Default most blocks between two snapshot points.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 1_000;
/// Default most transactions between two snapshot points: a restart after a crash replays
/// at most this many (100k replayed in 0.7–1.2 s on the 2-core box; docs/performance.md).
pub const DEFAULT_SNAPSHOT_EVERY_TXS: u64 = 50_000;
/// Default longest time between two snapshot points while blocks are produced.
pub const DEFAULT_SNAPSHOT_INTERVAL: Duration = Duration::from_secs(10);
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
    /// Most blocks between two snapshot points.
    pub snapshot_every: u64,
    /// Most transactions between two snapshot points (0: no bound by count).
    pub snapshot_every_txs: u64,
    /// Longest time between two snapshot points while blocks are produced.
    pub snapshot_interval: Duration,
    /// Genesis allocations.
    pub genesis: GenesisConfig,
    /// The L1 side (watcher, poster); `None`: the node runs without L1.
    pub l1: Option<L1Config>,
    /// An L1 block explorer (`https://etherscan.io`): the explorer's pages link L1
    /// transactions to `<url>/tx/<hash>`; `None`: hashes without links.
    pub l1_explorer_url: Option<String>,
    /// The leader lease (PostgreSQL): a standby until this node holds it; `None`: the only
    /// node, no lease.
    pub lease: Option<LeaseConfig>,
    /// Transactions also taken from a NATS JetStream stream (admission elsewhere); `None`:
    /// only this node's API.
    pub ingress: Option<crate::ingress::IngressConfig>,
}

/// The leader lease's settings.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// This node's name in the lease (unique per node).
    pub holder: String,
    /// How long a renewal lasts; a standby takes over at most this long after the leader
    /// stopped renewing.
    pub ttl: Duration,
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
    /// How the poster carries DA payloads to L1.
    pub da_mode: DaMode,
    /// The blob sidecar format the L1's mempool takes.
    pub sidecar: SidecarFormat,
    /// The beacon API blob-carried batches are read from (a rebuild from L1); `None`: the
    /// L1 RPC URL (anvil serves both).
    pub beacon_url: Option<String>,
    /// How that beacon API names blocks.
    pub beacon_block_id: weft_l1::beacon::BlockId,
}

/// How the poster carries a batch's DA payload to L1 (`docs/l1.md`, "DA carriers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DaMode {
    /// Always `commitBatch` with the payload as calldata.
    Calldata,
    /// Always `commitBatchBlobs` with the payload in blobs (calldata for a payload that
    /// needs more blobs than one transaction may carry).
    Blobs,
    /// The cheaper of the two at the current base fee and blob base fee, per batch.
    #[default]
    Auto,
}

impl std::str::FromStr for DaMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "calldata" => Ok(Self::Calldata),
            "blobs" => Ok(Self::Blobs),
            "auto" => Ok(Self::Auto),
            _ => Err(format!("DA mode {s:?}: expected calldata, blobs or auto")),
        }
    }
}

/// The sidecar of a blob transaction as the L1 mempool wants it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SidecarFormat {
    /// Cell proofs (EIP-7594, PeerDAS): every L1 from Osaka on.
    #[default]
    Eip7594,
    /// One proof per blob (EIP-4844): L1s before Osaka.
    Eip4844,
}

impl std::str::FromStr for SidecarFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "eip7594" => Ok(Self::Eip7594),
            "eip4844" => Ok(Self::Eip4844),
            _ => Err(format!("blob sidecar {s:?}: expected eip7594 or eip4844")),
        }
    }
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
            da_mode: DaMode::default(),
            sidecar: SidecarFormat::default(),
            beacon_url: None,
            beacon_block_id: Default::default(),
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
    /// Per-client sustained tokens per second (0 disables rate limiting): a request costs
    /// one token, a batch one per transaction.
    pub rate_per_second: u64,
    /// Per-client burst, in tokens.
    pub rate_burst: u32,
    /// Connection cap, header/idle and body timeouts, body memory budget.
    pub server: weft_service::http::Limits,
    /// Most live-feed WebSocket connections (`/v1/ws`) at once.
    pub max_feed_connections: usize,
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
    /// Every `DEFAULT_*`, no L1 side, the machine's cores for the thread counts.
    fn default() -> Self {
        Self::from_settings(Settings::default()).expect("the defaults are valid")
    }
}

impl Config {
    /// The EIP-712 domain of this deployment.
    pub fn domain(&self) -> Domain {
        Domain::new(self.chain_id, self.rollup_address)
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The key file could not be read.
    #[error(transparent)]
    Secret(#[from] weft_service::secret::SecretError),
    /// A value out of range.
    #[error("invalid config: {0}")]
    Invalid(String),
}

impl Config {
    /// The configuration `s` describes, the `DEFAULT_*` where it sets nothing. With an L1
    /// endpoint, the sequencer key comes from `s.sequencer_key_file`, else from
    /// `WEFT_SEQUENCER_KEY`, else there is none (watch only).
    pub fn from_settings(s: Settings) -> Result<Self, ConfigError> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let ms = Duration::from_millis;
        let l1 = match s.l1_rpc {
            Some(url) => {
                let d = L1Config::new(url);
                let key =
                    weft_service::secret::read(s.sequencer_key_file.as_deref(), SEQUENCER_KEY_ENV)?;
                Some(L1Config {
                    confirmations: s.l1_confirmations.unwrap_or(d.confirmations),
                    poll_interval: s.l1_poll_ms.map_or(d.poll_interval, ms),
                    from_block: s.l1_from_block.unwrap_or(d.from_block),
                    resend_after: s
                        .l1_resend_after_secs
                        .map_or(d.resend_after, Duration::from_secs),
                    rpc_timeout: s.l1_rpc_timeout_ms.map_or(d.rpc_timeout, ms),
                    sequencer_key: key.map(|k| signing_key(&k)).transpose()?,
                    da_mode: parse_or(s.l1_da.as_deref(), d.da_mode)?,
                    sidecar: parse_or(s.l1_blob_sidecar.as_deref(), d.sidecar)?,
                    beacon_url: s.l1_beacon_url,
                    beacon_block_id: parse_or(s.l1_beacon_block_id.as_deref(), d.beacon_block_id)?,
                    ..d
                })
            }
            None => None,
        };
        let dev_balance = match &s.dev_balance {
            Some(b) => weft_protocol::primitives::serde_dec::parse_u128(b)
                .map_err(|e| ConfigError::Invalid(format!("dev_balance: {e}")))?,
            None => DEFAULT_DEV_BALANCE,
        };
        let c = Self {
            chain_id: s.chain_id.unwrap_or(DEFAULT_CHAIN_ID),
            rollup_address: s.rollup_address.unwrap_or(DEFAULT_ROLLUP_ADDRESS),
            dispute_window: s.dispute_window.unwrap_or(DEFAULT_DISPUTE_WINDOW),
            data_dir: s.data_dir.unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
            database_url: s.database_url.filter(|url| !url.is_empty()),
            listen: match s.listen {
                Some(listen) => listen,
                None => DEFAULT_LISTEN.parse().expect("valid default"),
            },
            block: BlockConfig {
                max_txs: s.max_block_txs.unwrap_or(DEFAULT_MAX_BLOCK_TXS),
                max_bytes: s.max_block_bytes.unwrap_or(DEFAULT_MAX_BLOCK_BYTES),
                block_time: s.block_time_ms.map_or(DEFAULT_BLOCK_TIME, ms),
            },
            batch: BatchConfig {
                max_blocks: s.batch_max_blocks.unwrap_or(DEFAULT_BATCH_MAX_BLOCKS),
                max_txs: s.batch_max_txs.unwrap_or(DEFAULT_BATCH_MAX_TXS),
                max_age: s.batch_max_age_ms.map_or(DEFAULT_BATCH_MAX_AGE, ms),
            },
            mempool: MempoolConfig {
                max_txs: s.mempool_max_txs.unwrap_or(DEFAULT_MEMPOOL_MAX_TXS),
                max_bytes: s.mempool_max_bytes.unwrap_or(DEFAULT_MEMPOOL_MAX_BYTES),
                max_nonce_ahead: s.max_nonce_ahead.unwrap_or(DEFAULT_MAX_NONCE_AHEAD),
            },
            api: ApiConfig {
                max_body_bytes: s.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
                max_batch: s.max_batch.unwrap_or(DEFAULT_MAX_BATCH),
                rate_per_second: s.rate_per_second.unwrap_or(DEFAULT_RATE_PER_SECOND),
                rate_burst: s.rate_burst.unwrap_or(DEFAULT_RATE_BURST),
                server: weft_service::http::Limits {
                    max_connections: s.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
                    header_timeout: s.header_timeout_ms.map_or(DEFAULT_HEADER_TIMEOUT, ms),
                    body_timeout: s.body_timeout_ms.map_or(DEFAULT_BODY_TIMEOUT, ms),
                    body_budget_bytes: s.body_budget_bytes.unwrap_or(DEFAULT_BODY_BUDGET_BYTES),
                },
                max_feed_connections: s
                    .max_feed_connections
                    .unwrap_or(DEFAULT_MAX_FEED_CONNECTIONS),
            },
            min_fee: s.min_fee.unwrap_or(DEFAULT_MIN_FEE),
            fee_recipient: s.fee_recipient.unwrap_or(DEFAULT_FEE_RECIPIENT),
            executor_threads: s.executor_threads.unwrap_or(cores),
            signature_threads: s.signature_threads.unwrap_or(cores),
            snapshot_every: s.snapshot_every.unwrap_or(DEFAULT_SNAPSHOT_EVERY),
            snapshot_every_txs: s.snapshot_every_txs.unwrap_or(DEFAULT_SNAPSHOT_EVERY_TXS),
            snapshot_interval: s.snapshot_interval_ms.map_or(DEFAULT_SNAPSHOT_INTERVAL, ms),
            genesis: GenesisConfig {
                dev_accounts: s.dev_accounts.unwrap_or(DEFAULT_DEV_ACCOUNTS),
                dev_balance,
                allocations: s.genesis,
            },
            l1,
            l1_explorer_url: s.l1_explorer_url,
            ingress: s.nats_url.map(|nats_url| crate::ingress::IngressConfig {
                nats_url,
                stream: s.ingress_stream.unwrap_or_else(|| "WEFT_TXS".into()),
            }),
            lease: s.lease_ttl_ms.map(|ttl| LeaseConfig {
                holder: s.node_name.clone().unwrap_or_else(default_node_name),
                ttl: ms(ttl),
            }),
        };
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.into()));
        if self.dispute_window == 0 {
            return bad("dispute_window must be at least one block");
        }
        if self.block.block_time < Duration::from_millis(10) {
            return bad("block time must be at least 10 ms");
        }
        if self.block.max_txs == 0 || self.mempool.max_txs == 0 || self.api.max_batch == 0 {
            return bad("block, mempool and batch limits must be positive");
        }
        let server = &self.api.server;
        if server.max_connections == 0
            || server.header_timeout.is_zero()
            || server.body_timeout.is_zero()
        {
            return bad("max_connections and the header and body timeouts must be positive");
        }
        // A body charges the budget until its request is done: one larger than the budget
        // could never be received.
        if server.body_budget_bytes < self.api.max_body_bytes {
            return bad("body_budget_bytes must be at least max_body_bytes");
        }
        // A batch costs one token per transaction: a full one must fit in the bucket.
        if self.api.rate_per_second > 0 && (self.api.rate_burst as usize) < self.api.max_batch {
            return bad("rate_burst must be at least max_batch when rate limiting is on");
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
        if self.snapshot_interval < Duration::from_millis(100) {
            return bad("snapshot interval must be at least 100 ms");
        }
        if let Some(lease) = &self.lease {
            let postgres = self
                .database_url
                .as_deref()
                .is_some_and(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"));
            if !postgres {
                return bad("the leader lease (lease_ttl_ms) needs a PostgreSQL database_url");
            }
            if lease.ttl < Duration::from_millis(500) || lease.holder.is_empty() {
                return bad("lease_ttl_ms must be at least 500 and node_name not empty");
            }
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

/// `host:pid`: a name unique among the nodes sharing a database.
fn default_node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "node".into());
    format!("{host}:{}", std::process::id())
}

/// The sequencer's L1 key: 32 bytes of 0x-hex. Never from a flag value or the TOML file
/// itself, so it does not end up in shell histories or process listings.
/// `value` parsed, or `default` where it is unset.
fn parse_or<T: std::str::FromStr<Err = String>>(
    value: Option<&str>,
    default: T,
) -> Result<T, ConfigError> {
    value.map_or(Ok(default), |v| v.parse().map_err(ConfigError::Invalid))
}

fn signing_key(secret: &weft_service::secret::Secret) -> Result<SigningKey, ConfigError> {
    let invalid = |what: &str| ConfigError::Invalid(format!("{}: {what}", secret.source()));
    let bytes: weft_protocol::primitives::B256 = secret
        .expose()
        .parse()
        .map_err(|_| invalid("not a 32-byte hex key"))?;
    SigningKey::from_bytes(&bytes).map_err(|_| invalid("not a valid secp256k1 key"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_service::config::{LoadError, parse_from};

    /// The command line `weft-sequencer <args>`, layered over its file.
    fn cli(args: &[&str]) -> Result<(Cli, Settings), LoadError> {
        parse_from(std::iter::once("weft-sequencer").chain(args.iter().copied()))
    }

    fn load(args: &[&str]) -> Config {
        Config::from_settings(cli(args).unwrap().1).unwrap()
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> String {
        let path = dir.path().join("weft.toml");
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    #[test]
    fn flags_override_the_environment_which_overrides_the_file() {
        if !weft_service::testing::in_child_with_env(
            "config::tests::flags_override_the_environment_which_overrides_the_file",
            &[("WEFT_CHAIN_ID", "8"), ("WEFT_MIN_FEE", "5")],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "chain_id = 7\nmin_fee = 3\nblock_time_ms = 250\n");
        // Global flags may follow the subcommand.
        let (cli, settings) = cli(&["--config", &path, "genesis-root", "--min-fee", "4"]).unwrap();
        assert_eq!(cli.command, Some(Command::GenesisRoot));
        let c = Config::from_settings(settings).unwrap();
        assert_eq!(c.min_fee, 4, "the flag");
        assert_eq!(c.chain_id, 8, "the environment");
        assert_eq!(c.block.block_time, Duration::from_millis(250), "the file");
        assert_eq!(c.block.max_txs, DEFAULT_MAX_BLOCK_TXS, "the default");
    }

    #[test]
    fn flags_override_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "chain_id = 7\nblock_time_ms = 250\nmin_fee = 3\ndev_balance = \"5\"\n\
             dispute_window = 12\n\
             [[genesis]]\naddress = \"0x00000000000000000000000000000000000000aa\"\n\
             balances = [{ token = 0, amount = \"9\" }]\n",
        );
        let c = load(&["--config", &path, "--min-fee", "4"]);
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
        assert_eq!(Config::default().listen.port(), 8547);
    }

    #[test]
    fn server_limits_come_from_flags_with_defaults_otherwise() {
        let c = load(&[
            "--max-connections",
            "50",
            "--header-timeout-ms",
            "700",
            "--body-timeout-ms",
            "900",
            "--body-budget-bytes",
            "8388608",
        ]);
        assert_eq!(
            c.api.server,
            weft_service::http::Limits {
                max_connections: 50,
                header_timeout: Duration::from_millis(700),
                body_timeout: Duration::from_millis(900),
                body_budget_bytes: 8 << 20,
            }
        );
        assert_eq!(
            Config::default().api.server,
            weft_service::http::Limits::default()
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "chain_idd = 7\n");
        assert!(matches!(
            cli(&["--config", &path]),
            Err(LoadError::Parse { .. })
        ));
        for bad in [
            "block_time_ms = 1\n",
            "dispute_window = 0\n",
            "dev_balance = \"-1\"\n",
            "body_budget_bytes = 1000\n",
            "header_timeout_ms = 0\n",
            "rate_burst = 10\n",
        ] {
            write(&dir, bad);
            let settings = cli(&["--config", &path]).unwrap().1;
            assert!(
                matches!(
                    Config::from_settings(settings),
                    Err(ConfigError::Invalid(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn l1_section_comes_from_flags_and_the_key_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("sequencer.key");
        let key = SigningKey::from_seed(b"sequencer");
        std::fs::write(&key_file, format!("{}\n", key.secret_bytes())).unwrap();
        let path = write(
            &dir,
            &format!(
                "l1_confirmations = 5\nl1_poll_ms = 200\nsequencer_key_file = {:?}\n",
                key_file.display().to_string()
            ),
        );
        assert!(
            load(&["--config", &path]).l1.is_none(),
            "no --l1-rpc: no L1 side"
        );
        let args = [
            "--config",
            &path,
            "--l1-rpc",
            "http://127.0.0.1:8545",
            "--l1-from-block",
            "7",
        ];
        let l1 = load(&args).l1.unwrap();
        assert_eq!(l1.confirmations, 5);
        assert_eq!(l1.poll_interval, Duration::from_millis(200));
        assert_eq!(l1.from_block, 7);
        assert_eq!(l1.resend_after, DEFAULT_L1_RESEND_AFTER);
        assert_eq!(l1.sequencer_key.unwrap().address(), key.address());
        // Debug never prints the key.
        let printed = format!("{:?}", load(&args));
        assert!(!printed.contains(&key.secret_bytes().to_string()[2..]));
    }
}

//! The settings as declared: the command line ([`Cli`], [`Command`]) and every setting once
//! ([`Settings`]: a flag with its environment variable and a key of the TOML file), which
//! [`super::Config::from_settings`] turns into the typed configuration.

use std::{net::SocketAddr, path::PathBuf};

use clap::Parser;
use serde::Deserialize;
use weft_protocol::{primitives::Address, state::GenesisAccount};

/// The command line besides the [`Settings`]: what to do, and the TOML file.
#[derive(Debug, Parser, Default)]
#[command(name = "weft-sequencer", version, about = "Weft sequencer node")]
pub struct Cli {
    /// What to do; without one, run the node.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// TOML configuration file (flags and environment variables override it).
    #[arg(long, global = true, env = "WEFT_CONFIG")]
    pub config: Option<PathBuf>,
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
    /// Runs an admission node instead of a sequencer: takes submissions on --listen, checks
    /// them and their signatures, publishes them to the JetStream stream of --nats-url for
    /// the leader; stateless, any number side by side.
    Admission,
    /// Runs a follower of the leader's database (--database-url, PostgreSQL): serves the
    /// read routes (REST, JSON-RPC, feed, explorer) from the blocks the leader stores, each
    /// replayed and checked; refuses submissions; writes nothing. Any number side by side.
    Follower,
}

/// Every setting, declared once: a flag with its environment variable (clap) and a key of
/// the TOML file (serde, unknown keys rejected); `#[arg(skip)]` ones are file keys only.
/// `None` where no layer sets it: [`Config::from_settings`] applies the `DEFAULT_*`.
#[derive(Debug, Default, clap::Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
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
    /// Most encoded bytes per block.
    #[arg(skip)]
    pub max_block_bytes: Option<usize>,
    /// Most blocks per batch.
    #[arg(long, global = true, env = "WEFT_BATCH_MAX_BLOCKS")]
    pub batch_max_blocks: Option<u64>,
    /// Most transactions per batch.
    #[arg(skip)]
    pub batch_max_txs: Option<u64>,
    /// Longest an unbatched block waits, in milliseconds.
    #[arg(long, global = true, env = "WEFT_BATCH_MAX_AGE_MS")]
    pub batch_max_age_ms: Option<u64>,
    /// Mempool capacity in transactions.
    #[arg(long, global = true, env = "WEFT_MEMPOOL_MAX_TXS")]
    pub mempool_max_txs: Option<usize>,
    /// Mempool capacity in encoded bytes.
    #[arg(skip)]
    pub mempool_max_bytes: Option<usize>,
    /// How far past its next nonce a sender may queue.
    #[arg(skip)]
    pub max_nonce_ahead: Option<u64>,
    /// Smallest fee admitted.
    #[arg(long, global = true, env = "WEFT_MIN_FEE")]
    pub min_fee: Option<u128>,
    /// Fee recipient.
    #[arg(long, global = true, env = "WEFT_FEE_RECIPIENT")]
    pub fee_recipient: Option<Address>,
    /// Request body limit in bytes.
    #[arg(skip)]
    pub max_body_bytes: Option<usize>,
    /// Most transactions per batch request.
    #[arg(skip)]
    pub max_batch: Option<usize>,
    /// Per-client rate limit in tokens/s (0 = off): a request costs one token, a batch one
    /// per transaction.
    #[arg(long, global = true, env = "WEFT_RATE_PER_SECOND")]
    pub rate_per_second: Option<u64>,
    /// Per-client burst, in tokens (at least --max-batch when rate limiting is on).
    #[arg(skip)]
    pub rate_burst: Option<u32>,
    /// Most live-feed WebSocket connections (`/v1/ws`) at once.
    #[arg(skip)]
    pub max_feed_connections: Option<usize>,
    /// Most open API connections (lowered to fit the open-file limit).
    #[arg(long, global = true, env = "WEFT_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Time to receive a request head, and the idle keep-alive timeout, in milliseconds.
    #[arg(long, global = true, env = "WEFT_HEADER_TIMEOUT_MS")]
    pub header_timeout_ms: Option<u64>,
    /// Time to receive a request body, in milliseconds (408 after it).
    #[arg(long, global = true, env = "WEFT_BODY_TIMEOUT_MS")]
    pub body_timeout_ms: Option<u64>,
    /// Request-body bytes held at once, all connections together.
    #[arg(long, global = true, env = "WEFT_BODY_BUDGET_BYTES")]
    pub body_budget_bytes: Option<usize>,
    /// Executor threads.
    #[arg(long, global = true, env = "WEFT_EXECUTOR_THREADS")]
    pub executor_threads: Option<usize>,
    /// Signature recovery threads.
    #[arg(skip)]
    pub signature_threads: Option<usize>,
    /// Most blocks between two snapshot points.
    #[arg(skip)]
    pub snapshot_every: Option<u64>,
    /// Most transactions between two snapshot points (0: no bound by count); bounds the
    /// replay, and so the restart time, after a crash.
    #[arg(long, global = true, env = "WEFT_SNAPSHOT_EVERY_TXS")]
    pub snapshot_every_txs: Option<u64>,
    /// Longest time between two snapshot points while blocks are produced, in milliseconds.
    #[arg(long, global = true, env = "WEFT_SNAPSHOT_INTERVAL_MS")]
    pub snapshot_interval_ms: Option<u64>,
    /// Number of deterministic dev accounts funded at genesis.
    #[arg(long, global = true, env = "WEFT_DEV_ACCOUNTS")]
    pub dev_accounts: Option<u32>,
    /// ETH of each dev account, a decimal string (it exceeds TOML's integers).
    #[arg(skip)]
    pub dev_balance: Option<String>,
    /// Further genesis allocations (`[[genesis]]` tables).
    #[arg(skip)]
    pub genesis: Vec<GenesisAccount>,
    /// L1 JSON-RPC endpoint; turns the L1 side (watcher, poster) on.
    #[arg(long, global = true, env = "WEFT_L1_RPC")]
    pub l1_rpc: Option<String>,
    /// An L1 block explorer's URL; the explorer's pages link L1 transactions to it.
    #[arg(long, global = true, env = "WEFT_L1_EXPLORER_URL")]
    pub l1_explorer_url: Option<String>,
    /// Leader lease TTL in milliseconds (PostgreSQL): the node waits as a standby until it
    /// holds the lease, and stops if it loses it; unset: the only node.
    #[arg(long, global = true, env = "WEFT_LEASE_TTL_MS")]
    pub lease_ttl_ms: Option<u64>,
    /// This node's name in the leader lease [default: host name and process id].
    #[arg(long, global = true, env = "WEFT_NODE_NAME")]
    pub node_name: Option<String>,
    /// NATS server whose JetStream stream of pre-verified transactions this node also
    /// takes (admission nodes publish there).
    #[arg(long, global = true, env = "WEFT_NATS_URL")]
    pub nats_url: Option<String>,
    /// The ingress stream's name [default: WEFT_TXS].
    #[arg(long, global = true, env = "WEFT_INGRESS_STREAM")]
    pub ingress_stream: Option<String>,
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
    /// Limit on one L1 JSON-RPC request, in milliseconds.
    #[arg(skip)]
    pub l1_rpc_timeout_ms: Option<u64>,
    /// How batches carry their DA payload to L1: calldata, blobs or auto (the cheaper at
    /// the current fees) [default: auto].
    #[arg(long, global = true, env = "WEFT_L1_DA")]
    pub l1_da: Option<String>,
    /// Blob sidecar format the L1 takes: eip7594 (cell proofs, from Osaka) or eip4844
    /// [default: eip7594].
    #[arg(long, global = true, env = "WEFT_L1_BLOB_SIDECAR")]
    pub l1_blob_sidecar: Option<String>,
    /// L1 beacon API URL, where blob-carried batches are read back [default: the L1 RPC
    /// URL, as anvil serves both].
    #[arg(long, global = true, env = "WEFT_L1_BEACON_URL")]
    pub l1_beacon_url: Option<String>,
    /// How the beacon API names blocks: number (anvil) or slot (a consensus client)
    /// [default: number].
    #[arg(long, global = true, env = "WEFT_L1_BEACON_BLOCK_ID")]
    pub l1_beacon_block_id: Option<String>,
    /// File holding the sequencer's L1 private key (hex); or set WEFT_SEQUENCER_KEY.
    #[arg(long, global = true, env = "WEFT_SEQUENCER_KEY_FILE")]
    pub sequencer_key_file: Option<PathBuf>,
}

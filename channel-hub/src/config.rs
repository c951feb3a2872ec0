//! Hub configuration: typed structs with named defaults ([`Config`]), converted from the
//! [`Settings`], which declare each setting once and are filled from (highest first) CLI
//! flags, environment variables and an optional TOML file (see `weft_service::config`).
//! The hub's key and admin token come only from a file or the environment; with
//! `--dev-key` and neither, a dev key derived from a public seed is used.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Parser;
use serde::Deserialize;
use weft_protocol::{
    primitives::{Amount, B256},
    signature::SigningKey,
};

use crate::error::HubError;

/// Default public listener (the sequencer's default is 8547, the prover's 8548).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8549";
/// Default data directory (the SQLite database lives here).
pub const DEFAULT_DATA_DIR: &str = "data/channel-hub";
/// Default sequencer API.
pub const DEFAULT_SEQUENCER_URL: &str = "http://127.0.0.1:8547";
/// Seed of the dev key (`keccak256` of it): public, for devnets and tests only.
pub const DEV_KEY_SEED: &[u8] = b"weft-hub-dev";
/// Default funding policy: the hub matches a wallet's opening deposit up to this amount
/// (base units of the channel's token).
pub const DEFAULT_MATCH_CAP: Amount = 1_000_000_000_000_000_000;
/// Default fee the hub offers on its own rollup transactions.
pub const DEFAULT_FEE: Amount = 0;
/// Default: the payer's lock must expire at least this many blocks after the hub's head.
/// Blocks are only sealed with traffic, so this is a floor, not a duration.
pub const DEFAULT_MIN_LOCK_BLOCKS: u64 = 200;
/// Default: the hub's lock to the payee expires this many blocks before the payer's, so
/// the hub can still reveal the secret on the rollup after the payee did.
pub const DEFAULT_LOCK_MARGIN_BLOCKS: u64 = 100;
/// Default: how long a routed payment waits for the payee to answer before the payer is
/// told it is pending.
pub const DEFAULT_ROUTE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default: how long a payment waits for a busy payee channel.
pub const DEFAULT_BUSY_WAIT: Duration = Duration::from_secs(2);
/// Default interval between polls of the sequencer's head by the watcher.
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_millis(200);
/// Default: how long a channel with revealed locks stays without an update before the hub
/// offers their settlement (a busy channel settles them in its next payment for free).
pub const DEFAULT_SETTLE_IDLE: Duration = Duration::from_secs(1);
/// Default: how long the hub waits for one of its rollup transactions to execute.
pub const DEFAULT_ROLLUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Default request body limit.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 << 10;
/// Default accepted clock skew of a signed request's timestamp.
pub const DEFAULT_AUTH_WINDOW: Duration = Duration::from_secs(300);
/// Default: payments a wallet may have in flight on one WebSocket (each waits for its
/// payee, up to the route timeout).
pub const DEFAULT_MAX_PAYMENTS_IN_FLIGHT: usize = 256;

/// The whole hub configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Public API listener.
    pub listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// PostgreSQL (or SQLite) URL; `None`: SQLite in the data directory.
    pub database_url: Option<String>,
    /// The sequencer's API (`http://host:port`).
    pub sequencer_url: String,
    /// The hub's key: it signs channel states and the hub's rollup transactions.
    pub key: SigningKey,
    /// How the hub funds its side of new channels.
    pub funding: FundingPolicy,
    /// Fee on the hub's rollup transactions.
    pub fee: Amount,
    /// Expiry rules of routed payments.
    pub locks: LockPolicy,
    /// How long a routed payment waits for the payee's answer.
    pub route_timeout: Duration,
    /// How long a payment waits for a payee channel busy with another update.
    pub busy_wait: Duration,
    /// Interval between the watcher's polls of the sequencer.
    pub watch_interval: Duration,
    /// How long a channel with revealed locks stays without an update before the hub
    /// offers their settlement (checked at each watcher poll).
    pub settle_idle: Duration,
    /// How long the hub waits for one of its rollup transactions to execute.
    pub rollup_timeout: Duration,
    /// Request body limit in bytes.
    pub max_body_bytes: usize,
    /// Accepted clock skew of signed requests.
    pub auth_window: Duration,
    /// Payments a wallet may have in flight on one WebSocket; more are refused with
    /// `too_many_payments`.
    pub max_payments_in_flight: usize,
    /// Bearer token of the operator's routes (`/v1/admin/...`); `None`: they refuse
    /// every request.
    pub admin_token: Option<AdminToken>,
    /// The L1 whose Rollup contract the hub watches for an exodus (its side of every
    /// channel's exit, [`crate::exodus`]); `None`: not watched.
    pub exodus: Option<ExodusConfig>,
}

/// Where the hub watches for an exodus: the L1 node and the Rollup contract. The hub's key
/// signs its L1 transactions, so its address needs ETH on L1 for gas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExodusConfig {
    /// L1 JSON-RPC URL.
    pub l1_rpc: String,
    /// The Rollup contract.
    pub rollup: weft_protocol::primitives::Address,
}

/// The operator's bearer token: a secret, so never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl AdminToken {
    /// A token (trimmed); `None` if it is empty.
    pub fn new(token: &str) -> Option<Self> {
        let token = token.trim();
        (!token.is_empty()).then(|| Self(token.to_owned()))
    }

    /// Whether `presented` is the token, compared in time independent of where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), presented.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// How much the hub deposits on its side of a newly registered channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FundingPolicy {
    /// The hub matches the wallet's side up to this amount (0: the hub adds nothing).
    pub match_cap: Amount,
}

impl FundingPolicy {
    /// The hub's deposit for a channel whose wallet side is `wallet_side`, given what the hub
    /// has on the rollup (`available`, after fees).
    pub fn deposit_for(&self, wallet_side: Amount, available: Amount) -> Amount {
        wallet_side.min(self.match_cap).min(available)
    }
}

/// Expiry rules of the locks of routed payments (in L2 blocks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockPolicy {
    /// The payer's lock must expire at least this many blocks after the hub's head, plus
    /// the margin.
    pub min_blocks: u64,
    /// The payee's lock expires this many blocks before the payer's.
    pub margin_blocks: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().expect("valid default"),
            data_dir: DEFAULT_DATA_DIR.into(),
            database_url: None,
            sequencer_url: DEFAULT_SEQUENCER_URL.into(),
            key: dev_key(),
            funding: FundingPolicy {
                match_cap: DEFAULT_MATCH_CAP,
            },
            fee: DEFAULT_FEE,
            locks: LockPolicy {
                min_blocks: DEFAULT_MIN_LOCK_BLOCKS,
                margin_blocks: DEFAULT_LOCK_MARGIN_BLOCKS,
            },
            route_timeout: DEFAULT_ROUTE_TIMEOUT,
            busy_wait: DEFAULT_BUSY_WAIT,
            watch_interval: DEFAULT_WATCH_INTERVAL,
            settle_idle: DEFAULT_SETTLE_IDLE,
            rollup_timeout: DEFAULT_ROLLUP_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            auth_window: DEFAULT_AUTH_WINDOW,
            max_payments_in_flight: DEFAULT_MAX_PAYMENTS_IN_FLIGHT,
            admin_token: None,
            exodus: None,
        }
    }
}

/// The dev key: `keccak256("weft-hub-dev")`. Its address must be funded at genesis.
pub fn dev_key() -> SigningKey {
    SigningKey::from_seed(DEV_KEY_SEED)
}

/// `weft-channel-hub`'s command line besides the [`Settings`]: the TOML file.
#[derive(Debug, Parser, Default)]
#[command(name = "weft-channel-hub", version, about = "Weft state-channel hub")]
pub struct Cli {
    /// TOML configuration file (flags and environment variables override it).
    #[arg(long, env = "WEFT_HUB_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Every setting, declared once: a flag with its environment variable (clap) and a key of
/// the TOML file (serde, unknown keys rejected). `None` where no layer sets it.
#[derive(Debug, Default, clap::Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Public API listen address.
    #[arg(long, env = "WEFT_HUB_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data directory.
    #[arg(long, env = "WEFT_HUB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL (postgres://…); default SQLite in the data directory.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// The sequencer's API.
    #[arg(long, env = "WEFT_SEQUENCER_URL")]
    pub sequencer_url: Option<String>,
    /// File holding the hub's private key (0x-hex); or set WEFT_HUB_KEY.
    #[arg(long, env = "WEFT_HUB_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Use the public dev key when no key is given (devnets only).
    #[arg(
        long,
        env = "WEFT_HUB_DEV_KEY",
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub dev_key: Option<bool>,
    /// The hub matches a wallet's opening deposit up to this amount.
    #[arg(long, env = "WEFT_HUB_MATCH_CAP")]
    pub match_cap: Option<u128>,
    /// Fee on the hub's rollup transactions.
    #[arg(long, env = "WEFT_HUB_FEE")]
    pub fee: Option<u128>,
    /// Minimum lock lifetime in blocks.
    #[arg(long, env = "WEFT_HUB_MIN_LOCK_BLOCKS")]
    pub min_lock_blocks: Option<u64>,
    /// Blocks between the payee's and the payer's lock expiry.
    #[arg(long, env = "WEFT_HUB_LOCK_MARGIN_BLOCKS")]
    pub lock_margin_blocks: Option<u64>,
    /// Milliseconds a routed payment waits for the payee.
    #[arg(long, env = "WEFT_HUB_ROUTE_TIMEOUT_MS")]
    pub route_timeout_ms: Option<u64>,
    /// Milliseconds between the watcher's polls.
    #[arg(long, env = "WEFT_HUB_WATCH_INTERVAL_MS")]
    pub watch_interval_ms: Option<u64>,
    /// Milliseconds a channel with revealed locks stays idle before the hub offers their
    /// settlement.
    #[arg(long, env = "WEFT_HUB_SETTLE_IDLE_MS")]
    pub settle_idle_ms: Option<u64>,
    /// Payments a wallet may have in flight on one WebSocket.
    #[arg(long, env = "WEFT_HUB_MAX_PAYMENTS_IN_FLIGHT")]
    pub max_payments_in_flight: Option<usize>,
    /// File holding the operator's bearer token for `/v1/admin/...`; or set
    /// WEFT_HUB_ADMIN_TOKEN. Without either, the admin routes refuse every request.
    #[arg(long, env = "WEFT_HUB_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// L1 JSON-RPC URL: with --rollup-address, the hub runs its side of each channel's exit
    /// if the Rollup contract freezes (its address needs ETH on L1 for gas).
    #[arg(long, env = "WEFT_L1_RPC")]
    pub l1_rpc: Option<String>,
    /// The Rollup contract on L1 (with --l1-rpc).
    #[arg(long, env = "WEFT_ROLLUP_ADDRESS")]
    pub rollup_address: Option<weft_protocol::primitives::Address>,
}

/// Name of the environment variable that may hold the hub's key (0x-hex).
pub const KEY_ENV: &str = "WEFT_HUB_KEY";
/// Name of the environment variable that may hold the operator's bearer token.
pub const ADMIN_TOKEN_ENV: &str = "WEFT_HUB_ADMIN_TOKEN";

impl Config {
    /// The configuration `s` describes, the defaults where it sets nothing. The key comes
    /// from the key file, else `WEFT_HUB_KEY`, else (with `--dev-key`) the dev key; the
    /// admin token from its file, else `WEFT_HUB_ADMIN_TOKEN`.
    pub fn from_settings(s: Settings) -> Result<Self, HubError> {
        let d = Self::default();
        let ms = Duration::from_millis;
        let secret = |file: Option<&std::path::Path>, env| {
            weft_service::secret::read(file, env).map_err(|e| HubError::Config(e.to_string()))
        };
        let key = match secret(s.key_file.as_deref(), KEY_ENV)? {
            Some(secret) => parse_key(secret.expose())?,
            None if s.dev_key == Some(true) => dev_key(),
            None => {
                return Err(HubError::Config(format!(
                    "no hub key: set {KEY_ENV}, --key-file, or --dev-key for a devnet"
                )));
            }
        };
        let admin_token = secret(s.admin_token_file.as_deref(), ADMIN_TOKEN_ENV)?;
        let c = Self {
            listen: s.listen.unwrap_or(d.listen),
            data_dir: s.data_dir.unwrap_or(d.data_dir),
            database_url: s.database_url.filter(|u| !u.is_empty()),
            sequencer_url: s.sequencer_url.unwrap_or(d.sequencer_url),
            key,
            funding: FundingPolicy {
                match_cap: s.match_cap.unwrap_or(d.funding.match_cap),
            },
            fee: s.fee.unwrap_or(d.fee),
            locks: LockPolicy {
                min_blocks: s.min_lock_blocks.unwrap_or(d.locks.min_blocks),
                margin_blocks: s.lock_margin_blocks.unwrap_or(d.locks.margin_blocks),
            },
            route_timeout: s.route_timeout_ms.map_or(d.route_timeout, ms),
            watch_interval: s.watch_interval_ms.map_or(d.watch_interval, ms),
            settle_idle: s.settle_idle_ms.map_or(d.settle_idle, ms),
            max_payments_in_flight: s.max_payments_in_flight.unwrap_or(d.max_payments_in_flight),
            admin_token: admin_token.and_then(|t| AdminToken::new(t.expose())),
            exodus: match (s.l1_rpc.filter(|u| !u.is_empty()), s.rollup_address) {
                (Some(l1_rpc), Some(rollup)) => Some(ExodusConfig { l1_rpc, rollup }),
                (None, None) => None,
                _ => {
                    return Err(HubError::Config(
                        "--l1-rpc and --rollup-address go together".into(),
                    ));
                }
            },
            ..d
        };
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), HubError> {
        if self.locks.margin_blocks == 0 {
            return Err(HubError::Config("lock margin must be positive".into()));
        }
        if self.watch_interval.is_zero() || self.route_timeout.is_zero() {
            return Err(HubError::Config("intervals must be positive".into()));
        }
        if self.max_payments_in_flight == 0 {
            return Err(HubError::Config(
                "max payments in flight must be positive".into(),
            ));
        }
        Ok(())
    }
}

fn parse_key(hex: &str) -> Result<SigningKey, HubError> {
    let bytes: B256 = hex
        .parse()
        .map_err(|_| HubError::Config("hub key must be 32 bytes of 0x-hex".into()))?;
    SigningKey::from_bytes(&bytes).map_err(|_| HubError::Config("invalid hub key".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_service::config::{LoadError, parse_from};

    #[test]
    fn funding_matches_up_to_the_cap_and_what_the_hub_has() {
        let p = FundingPolicy { match_cap: 100 };
        assert_eq!(p.deposit_for(40, 1_000), 40);
        assert_eq!(p.deposit_for(400, 1_000), 100);
        assert_eq!(p.deposit_for(400, 30), 30);
        assert_eq!(FundingPolicy { match_cap: 0 }.deposit_for(5, 5), 0);
    }

    #[test]
    fn the_admin_token_matches_only_itself_and_is_never_printed() {
        let t = AdminToken::new(" s3cret\n").unwrap();
        assert!(t.matches("s3cret"));
        assert!(!t.matches("s3cre"));
        assert!(!t.matches("s3cres"));
        assert!(!t.matches(""));
        assert!(AdminToken::new("  ").is_none());
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    fn cli(args: &[&str]) -> Result<(Cli, Settings), LoadError> {
        parse_from(std::iter::once("weft-channel-hub").chain(args.iter().copied()))
    }

    fn load(args: &[&str]) -> Result<Config, HubError> {
        Config::from_settings(cli(args).unwrap().1)
    }

    #[test]
    fn flags_override_the_environment_which_overrides_the_file() {
        if !weft_service::testing::in_child_with_env(
            "config::tests::flags_override_the_environment_which_overrides_the_file",
            &[("WEFT_HUB_FEE", "8"), ("WEFT_HUB_MATCH_CAP", "8")],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.toml");
        std::fs::write(
            &path,
            "fee = 7\nmatch_cap = 7\nmin_lock_blocks = 300\ndev_key = true\n",
        )
        .unwrap();
        let c = load(&["--config", path.to_str().unwrap(), "--match-cap", "9"]).unwrap();
        assert_eq!(c.funding.match_cap, 9, "the flag");
        assert_eq!(c.fee, 8, "the environment");
        assert_eq!(c.locks.min_blocks, 300, "the file");
        assert_eq!(c.key.address(), dev_key().address(), "the file's dev_key");
        assert_eq!(c.listen.port(), 8549, "the default");
        assert!(c.admin_token.is_none());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.toml");
        std::fs::write(&path, "key = \"0x01\"\n").unwrap();
        assert!(matches!(
            cli(&["--config", path.to_str().unwrap()]),
            Err(LoadError::Parse { .. })
        ));
    }

    #[test]
    fn a_key_file_is_read_and_no_key_is_an_error_without_dev_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let key = SigningKey::from_seed(b"file key");
        std::fs::write(&path, format!("{}\n", key.secret_bytes())).unwrap();
        let with_file = load(&["--key-file", path.to_str().unwrap(), "--dev-key"]).unwrap();
        assert_eq!(with_file.key.address(), key.address());
        assert_eq!(
            load(&["--dev-key"]).unwrap().key.address(),
            dev_key().address()
        );
        if std::env::var(KEY_ENV).is_err() {
            assert!(matches!(load(&[]), Err(HubError::Config(_))));
            assert!(matches!(
                load(&["--dev-key", "false"]),
                Err(HubError::Config(_))
            ));
        }
    }
}

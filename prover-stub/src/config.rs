//! The prover's configuration: [`Settings`] declare each setting once (a flag with its
//! environment variable, and a key of an optional TOML file), filled from (highest first)
//! flags, environment variables and the file (see `weft_service::config`); [`Config`] is
//! what they resolve to, the `DEFAULT_*` where they set nothing. The attestation key comes
//! only from a file or the environment.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use clap::Parser;
use serde::Deserialize;
use weft_protocol::{
    primitives::{Address, Amount, B256},
    signature::SigningKey,
};

/// Default poll interval of L1 and the sequencer.
pub const DEFAULT_POLL: Duration = Duration::from_millis(500);
/// Shortest poll interval: a smaller setting is raised to it.
pub const MIN_POLL: Duration = Duration::from_millis(10);
/// Default listener of `/health` and `/metrics` (the sequencer's default is 8547, the
/// hub's 8549).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8548";
/// Default data directory (the prover's own state).
pub const DEFAULT_DATA_DIR: &str = "data/prover";
/// Default sequencer API (the sequencer's default listener).
pub const DEFAULT_SEQUENCER_URL: &str = "http://127.0.0.1:8547";
/// Default L2 chain id (`"WEFT"` in ASCII), as the sequencer's.
pub const DEFAULT_CHAIN_ID: u64 = 0x5745_4654;
/// Default number of development accounts in the genesis, as the sequencer's.
pub const DEFAULT_DEV_ACCOUNTS: u32 = 10;
/// Default ETH of each development account (10^24 wei), as the sequencer's.
pub const DEFAULT_DEV_BALANCE: Amount = 1_000_000_000_000_000_000_000_000;
/// Environment variable holding the attestation key (0x-hex), the alternative to
/// `--prover-key-file`.
pub const PROVER_KEY_ENV: &str = "WEFT_PROVER_KEY";

/// `weft-prover`'s command line besides the [`Settings`]: the TOML file.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "weft-prover",
    version,
    about = "Weft prover stub: re-executes and attests committed batches"
)]
pub struct Cli {
    /// TOML configuration file (flags and environment variables override it).
    #[arg(long, env = "WEFT_PROVER_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Every setting, declared once: a flag with its environment variable (clap) and a key of
/// the TOML file (serde, unknown keys rejected). `None` where no layer sets it.
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// L1 JSON-RPC endpoint (required).
    #[arg(long, env = "WEFT_L1_RPC")]
    pub l1_rpc: Option<String>,
    /// L1 beacon API URL, where batches posted in blobs are read [default: the L1 RPC
    /// URL, as anvil serves both].
    #[arg(long, env = "WEFT_L1_BEACON_URL")]
    pub l1_beacon_url: Option<String>,
    /// How the beacon API names blocks: number (anvil) or slot (a consensus client)
    /// [default: number].
    #[arg(long, env = "WEFT_L1_BEACON_BLOCK_ID")]
    pub l1_beacon_block_id: Option<String>,
    /// The Rollup contract (required).
    #[arg(long, env = "WEFT_ROLLUP_ADDRESS")]
    pub rollup_address: Option<Address>,
    /// The sequencer's API (for witnesses).
    #[arg(long, env = "WEFT_SEQUENCER_URL")]
    pub sequencer_url: Option<String>,
    /// A file holding the attestation key as 0x-hex; or set WEFT_PROVER_KEY.
    #[arg(long, env = "WEFT_PROVER_KEY_FILE")]
    pub prover_key_file: Option<PathBuf>,
    /// Data directory for the prover's own state.
    #[arg(long, env = "WEFT_PROVER_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `/health` and `/metrics` listener.
    #[arg(long, env = "WEFT_PROVER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Poll interval in milliseconds.
    #[arg(long, env = "WEFT_PROVER_POLL_MS")]
    pub poll_ms: Option<u64>,
    /// L2 chain id (must match the sequencer's).
    #[arg(long, env = "WEFT_CHAIN_ID")]
    pub chain_id: Option<u64>,
    /// Blocks a channel dispute lasts (a chain parameter: must match the sequencer's).
    #[arg(long, env = "WEFT_DISPUTE_WINDOW")]
    pub dispute_window: Option<u64>,
    /// Number of development accounts in the genesis (must match the sequencer's).
    #[arg(long, env = "WEFT_DEV_ACCOUNTS")]
    pub dev_accounts: Option<u32>,
    /// ETH of each development account in the genesis, in wei (a decimal string in the
    /// file: it exceeds TOML's integers).
    #[arg(long, env = "WEFT_DEV_BALANCE")]
    pub dev_balance: Option<String>,
}

/// The prover's settings, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// L1 JSON-RPC endpoint.
    pub l1_rpc: String,
    /// L1 beacon API (blob-carried batches).
    pub l1_beacon: String,
    /// How it names blocks.
    pub l1_beacon_block_id: weft_l1::beacon::BlockId,
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
    /// The configuration `s` describes, the `DEFAULT_*` where it sets nothing. The key comes
    /// from `s.prover_key_file`, else from `WEFT_PROVER_KEY`.
    pub fn from_settings(s: Settings) -> anyhow::Result<Self> {
        let required = |name: &str, env: &str| format!("--{name} (or {env}) is required");
        let key = weft_service::secret::read(s.prover_key_file.as_deref(), PROVER_KEY_ENV)?
            .with_context(|| format!("set {PROVER_KEY_ENV} or --prover-key-file"))?;
        let bytes: B256 = key
            .expose()
            .parse()
            .with_context(|| format!("{}: not a 32-byte hex key", key.source()))?;
        let dev_balance = match &s.dev_balance {
            Some(b) => weft_protocol::primitives::serde_dec::parse_u128(b)
                .map_err(|e| anyhow::anyhow!("dev_balance: {e}"))?,
            None => DEFAULT_DEV_BALANCE,
        };
        let l1_rpc = s
            .l1_rpc
            .with_context(|| required("l1-rpc", "WEFT_L1_RPC"))?;
        Ok(Self {
            l1_beacon: s.l1_beacon_url.unwrap_or_else(|| l1_rpc.clone()),
            l1_beacon_block_id: s
                .l1_beacon_block_id
                .as_deref()
                .map_or(Ok(Default::default()), str::parse)
                .map_err(anyhow::Error::msg)?,
            l1_rpc,
            rollup_address: s
                .rollup_address
                .with_context(|| required("rollup-address", "WEFT_ROLLUP_ADDRESS"))?,
            sequencer_url: s
                .sequencer_url
                .as_deref()
                .unwrap_or(DEFAULT_SEQUENCER_URL)
                .trim_end_matches('/')
                .to_string(),
            prover_key: SigningKey::from_bytes(&bytes)
                .with_context(|| format!("{}: not a valid secp256k1 key", key.source()))?,
            data_dir: s.data_dir.unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
            listen: match s.listen {
                Some(listen) => listen,
                None => DEFAULT_LISTEN.parse().expect("valid default"),
            },
            poll: s
                .poll_ms
                .map_or(DEFAULT_POLL, Duration::from_millis)
                .max(MIN_POLL),
            chain_id: s.chain_id.unwrap_or(DEFAULT_CHAIN_ID),
            dispute_window: s
                .dispute_window
                .unwrap_or(weft_protocol::channel::DEFAULT_DISPUTE_WINDOW),
            dev_accounts: s.dev_accounts.unwrap_or(DEFAULT_DEV_ACCOUNTS),
            dev_balance,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_service::config::{LoadError, parse_from};

    const KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

    fn cli(args: &[&str]) -> Result<(Cli, Settings), LoadError> {
        parse_from(std::iter::once("weft-prover").chain(args.iter().copied()))
    }

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    #[test]
    fn flags_override_the_environment_which_overrides_the_file() {
        if !weft_service::testing::in_child_with_env(
            "config::tests::flags_override_the_environment_which_overrides_the_file",
            &[
                ("WEFT_PROVER_POLL_MS", "300"),
                ("WEFT_CHAIN_ID", "8"),
                (PROVER_KEY_ENV, KEY),
            ],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "prover.toml",
            "l1_rpc = \"http://l1\"\n\
             rollup_address = \"0x00000000000000000000000000000000000000aa\"\n\
             poll_ms = 200\nchain_id = 7\ndev_accounts = 3\ndev_balance = \"5\"\n",
        );
        let s = cli(&["--config", &path, "--poll-ms", "100"]).unwrap().1;
        let c = Config::from_settings(s).unwrap();
        assert_eq!(c.poll, Duration::from_millis(100), "the flag");
        assert_eq!(c.chain_id, 8, "the environment");
        assert_eq!((c.dev_accounts, c.dev_balance), (3, 5), "the file");
        assert_eq!(c.listen.port(), 8548, "the default");
        assert_eq!(c.prover_key.secret_bytes().to_string(), KEY);
    }

    #[test]
    fn the_key_comes_from_a_file_never_from_a_flag_value() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = write(&dir, "prover.key", &format!("{KEY}\n"));
        let base = [
            "--l1-rpc",
            "http://l1/",
            "--rollup-address",
            KEY.get(..42).unwrap(),
        ];
        assert!(matches!(
            cli(&[&base[..], &["--prover-key", KEY]].concat()),
            Err(LoadError::Cli(_))
        ));
        let with_file = [&base[..], &["--prover-key-file", &key_file]].concat();
        let c = Config::from_settings(cli(&with_file).unwrap().1).unwrap();
        assert_eq!(c.prover_key.secret_bytes().to_string(), KEY);
        assert_eq!(c.sequencer_url, DEFAULT_SEQUENCER_URL);
        assert_eq!(c.l1_rpc, "http://l1/");
        if std::env::var_os(PROVER_KEY_ENV).is_none() {
            assert!(Config::from_settings(cli(&base).unwrap().1).is_err());
        }
    }

    #[test]
    fn unknown_keys_and_missing_required_settings_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "prover.toml", "poll = 100\n");
        assert!(matches!(
            cli(&["--config", &path]),
            Err(LoadError::Parse { .. })
        ));
        let key_file = write(&dir, "prover.key", KEY);
        let s = cli(&["--prover-key-file", &key_file]).unwrap().1;
        let e = Config::from_settings(s).unwrap_err().to_string();
        assert!(e.contains("--l1-rpc"), "{e}");
    }
}

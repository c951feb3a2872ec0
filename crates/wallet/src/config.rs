//! The wallet's configuration: [`WalletConfig`] and the defaults it starts from.

use std::{path::PathBuf, time::Duration};

use weft_protocol::{primitives::Amount, signature::SigningKey};

/// Default lifetime of the wallet's locks beyond the hub's minimum, in blocks.
pub const DEFAULT_LOCK_EXTRA_BLOCKS: u64 = 100;
/// Default interval of the wallet's rollup watcher.
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_millis(200);
/// Blocks before a lock to the wallet expires at which the watcher reveals its secret on
/// the rollup if the hub has not settled it yet (so any conclusion pays it to the wallet).
pub const DEFAULT_REVEAL_GUARD_BLOCKS: u64 = 20;
/// How long the wallet waits for its rollup transactions.
pub const DEFAULT_ROLLUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between WebSocket reconnection attempts.
pub const RECONNECT_DELAY: Duration = Duration::from_millis(100);
/// How long a payment sent on the socket waits for the hub's answer (the hub itself answers
/// `pending` after its route timeout).
pub const ROUTE_ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// A wallet's configuration.
#[derive(Debug, Clone)]
pub struct WalletConfig {
    /// The hub's API (`http://host:port`).
    pub hub_url: String,
    /// The sequencer's API.
    pub sequencer_url: String,
    /// The wallet's key.
    pub key: SigningKey,
    /// Directory of the wallet's database.
    pub data_dir: PathBuf,
    /// Blocks a lock lives beyond the hub's minimum.
    pub lock_extra_blocks: u64,
    /// Fee of the wallet's rollup transactions.
    pub fee: Amount,
    /// Interval of the wallet's rollup watcher (`None`: no watcher).
    pub watch_interval: Option<Duration>,
    /// Blocks before a lock to the wallet expires at which the watcher reveals its secret
    /// on the rollup if the hub has not settled the lock.
    pub reveal_guard_blocks: u64,
}

impl WalletConfig {
    /// A configuration with the defaults.
    pub fn new(hub_url: &str, sequencer_url: &str, key: SigningKey, data_dir: PathBuf) -> Self {
        Self {
            hub_url: hub_url.trim_end_matches('/').into(),
            sequencer_url: sequencer_url.into(),
            key,
            data_dir,
            lock_extra_blocks: DEFAULT_LOCK_EXTRA_BLOCKS,
            fee: 0,
            watch_interval: Some(DEFAULT_WATCH_INTERVAL),
            reveal_guard_blocks: DEFAULT_REVEAL_GUARD_BLOCKS,
        }
    }
}

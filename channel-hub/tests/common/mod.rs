//! Helpers of the hub's integration tests: a sequencer (in process, SQLite) whose genesis
//! funds the dev accounts and the hub, a hub on an ephemeral port, wallets with their own
//! databases.
#![allow(dead_code, unreachable_pub)]

use std::{path::Path, time::Duration};

use weft_channel_hub::{
    Config as HubConfig,
    client::{Wallet, WalletConfig},
    config::dev_key,
};
use weft_protocol::{
    primitives::{Address, Amount},
    signature::SigningKey,
    state::{Balance, GenesisAccount},
};
use weft_sequencer::config::{Config as SeqConfig, GenesisConfig};

/// ETH of each funded account at genesis.
pub const GENESIS_BALANCE: Amount = 1_000_000_000;

/// A sequencer with fast blocks, 10 dev accounts and the hub's dev address funded.
pub async fn sequencer(dir: &Path) -> weft_sequencer::Running {
    let mut c = SeqConfig {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        executor_threads: 1,
        signature_threads: 1,
        ..SeqConfig::default()
    };
    c.block.block_time = Duration::from_millis(20);
    c.genesis.dev_accounts = 10;
    c.genesis.dev_balance = GENESIS_BALANCE;
    c.genesis.allocations.push(GenesisAccount {
        address: dev_key().address(),
        balances: vec![Balance {
            token: 0,
            amount: GENESIS_BALANCE,
        }],
    });
    c.api.rate_per_second = 0;
    weft_sequencer::start(c).await.unwrap()
}

/// A hub configuration for the sequencer at `seq`.
pub fn hub_config(dir: &Path, seq: &weft_sequencer::Running) -> HubConfig {
    HubConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        sequencer_url: format!("http://{}", seq.addr),
        watch_interval: Duration::from_millis(50),
        route_timeout: Duration::from_secs(5),
        ..HubConfig::default()
    }
}

/// The `i`-th dev key (funded at genesis).
pub fn key(i: u32) -> SigningKey {
    GenesisConfig::dev_key(i)
}

/// A wallet of dev key `i` with its database in `dir`.
pub async fn wallet(
    i: u32,
    dir: &Path,
    hub: &weft_channel_hub::Running,
    seq: &weft_sequencer::Running,
) -> Wallet {
    let config = WalletConfig::new(
        &format!("http://{}", hub.addr),
        &format!("http://{}", seq.addr),
        key(i),
        dir.to_path_buf(),
    );
    let w = Wallet::open(config).await.unwrap();
    assert!(w.wait_connected(Duration::from_secs(5)).await);
    w
}

/// The ETH balance of `address` on the rollup.
pub async fn l2_balance(seq: &weft_sequencer::Running, address: &Address) -> Amount {
    seq.node
        .state
        .read()
        .account_by_address(address)
        .map_or(0, |a| a.balance(0))
}

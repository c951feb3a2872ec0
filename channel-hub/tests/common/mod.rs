//! Helpers of the hub's integration tests: a sequencer (in process, SQLite) whose genesis
//! funds the dev accounts and the hub, a hub on an ephemeral port, wallets with their own
//! databases.
#![allow(dead_code, unreachable_pub)]

use std::{path::Path, time::Duration};

use weft_channel::RouteStatus;
use weft_channel_hub::{Config as HubConfig, config::dev_key};
use weft_protocol::{
    primitives::{Address, Amount, B256},
    signature::SigningKey,
    state::{Balance, GenesisAccount},
    transaction::{Transaction, Transfer},
};
use weft_sequencer::config::{Config as SeqConfig, GenesisConfig};
use weft_wallet::{Wallet, WalletConfig};

/// ETH of each funded account at genesis.
pub const GENESIS_BALANCE: Amount = 1_000_000_000;

/// A sequencer with fast blocks, 10 dev accounts and the hub's dev address funded.
pub async fn sequencer(dir: &Path) -> weft_sequencer::Running {
    sequencer_with(dir, |_| {}).await
}

/// [`sequencer`] on a chain whose channel disputes last `blocks` blocks.
pub async fn sequencer_with_window(dir: &Path, blocks: u64) -> weft_sequencer::Running {
    sequencer_with(dir, |c| c.dispute_window = blocks).await
}

/// [`sequencer`] with its configuration edited by `edit`.
pub async fn sequencer_with(
    dir: &Path,
    edit: impl FnOnce(&mut SeqConfig),
) -> weft_sequencer::Running {
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
    edit(&mut c);
    weft_sequencer::start(c).await.unwrap()
}

/// A hub configuration for the sequencer at `seq`.
pub fn hub_config(dir: &Path, seq: &weft_sequencer::Running) -> HubConfig {
    HubConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        sequencer_url: format!("http://{}", seq.addr),
        watch_interval: Duration::from_millis(50),
        settle_idle: Duration::from_millis(100),
        route_timeout: Duration::from_secs(5),
        ..HubConfig::default()
    }
}

/// A hub on `seq` with its data under `dir/hub`.
pub async fn start_hub(dir: &Path, seq: &weft_sequencer::Running) -> weft_channel_hub::Running {
    weft_channel_hub::start(hub_config(&dir.join("hub"), seq))
        .await
        .unwrap()
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
    wallet_with(i, dir, hub, seq, |_| {}).await
}

/// [`wallet`] with its configuration edited by `edit`.
pub async fn wallet_with(
    i: u32,
    dir: &Path,
    hub: &weft_channel_hub::Running,
    seq: &weft_sequencer::Running,
    edit: impl FnOnce(&mut WalletConfig),
) -> Wallet {
    let mut config = WalletConfig::new(
        &format!("http://{}", hub.addr),
        &format!("http://{}", seq.addr),
        key(i),
        dir.to_path_buf(),
    );
    edit(&mut config);
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

/// The dev key whose transfers fill blocks (the sequencer never seals an empty block, so a
/// test moves the chain forward with traffic of its own).
pub const FILLER: u32 = 9;

/// Seals one more block: a transfer of 1 wei from the [`FILLER`] key to key 8, over HTTP,
/// waited for. Returns the block's number.
pub async fn fill_block(seq: &weft_sequencer::Running) -> u64 {
    let rollup = weft_api::Client::new(&format!("http://{}", seq.addr));
    let from = key(FILLER);
    let to = key(8).address();
    let (hash, _) = rollup
        .sign_and_submit(&from, &seq.node.domain, |nonce| {
            Transaction::Transfer(Transfer {
                from: from.address(),
                to,
                token: 0,
                amount: 1,
                fee: 0,
                nonce,
            })
        })
        .await
        .unwrap();
    rollup
        .wait_executed(&hash, Duration::from_secs(10))
        .await
        .unwrap()
}

/// Waits up to 15 s for `check` to hold.
pub async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Pays `amount` from `payer` (channel `channel`) to `payee` through the hub and waits
/// until it settled, retrying what a busy or restarted hub asks for.
pub async fn pay_routed(payer: &Wallet, channel: &B256, payee: &Wallet, amount: Amount) {
    let invoice = payee.invoice(amount).await.unwrap();
    let mut tries = 0;
    loop {
        match payer.pay(channel, payee.address(), amount, invoice).await {
            Ok(status) => {
                assert_eq!(status, RouteStatus::Settled);
                return;
            }
            Err(e) if e.code() == Some("sync_required") && tries < 50 => {
                payer.sync(channel).await.unwrap();
            }
            Err(e) if tries < 50 => {
                tracing::debug!(error = %e, "retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("payment failed: {e}"),
        }
        tries += 1;
    }
}

//! Helpers of the channel tests over the stack: wallets of dev keys connected to the hub
//! process, routed payments, blocks filled with traffic, channel records from the API.
#![allow(dead_code, unreachable_pub)]

use std::{path::Path, time::Duration};

use weft_channel::RouteStatus;
use weft_protocol::{
    channel::ChannelRecord,
    genesis::dev_key,
    primitives::{Amount, B256},
    transaction::{Transaction, Transfer},
};
use weft_tests::Stack;
use weft_wallet::{Wallet, WalletConfig};

/// A wallet of dev key `i` with its database in `dir`, connected to the stack's hub.
pub async fn wallet(stack: &Stack, i: u32, dir: &Path) -> Wallet {
    let config = WalletConfig::new(
        &stack.hub_url(),
        &stack.sequencer_url(),
        dev_key(i),
        dir.to_path_buf(),
    );
    let w = Wallet::open(config).await.unwrap();
    assert!(w.wait_connected(Duration::from_secs(5)).await);
    w
}

/// The channel's record on the rollup, if it exists.
pub async fn channel(stack: &Stack, id: &B256) -> Option<ChannelRecord> {
    stack.api().channel(id).await.unwrap().map(|v| v.record)
}

/// The dev key whose transfers fill blocks (the sequencer never seals an empty block, so a
/// test moves the chain forward with traffic of its own).
pub const FILLER: u32 = 9;

/// Seals one more block: a transfer of 1 wei from the [`FILLER`] key to key 8, waited for.
/// Returns the block's number.
pub async fn fill_block(stack: &Stack) -> u64 {
    let from = dev_key(FILLER);
    let to = dev_key(8).address();
    let domain = stack.domain().await;
    let (hash, _) = stack
        .api()
        .sign_and_submit(&from, &domain, |nonce| {
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
    stack
        .api()
        .wait_executed(&hash, Duration::from_secs(10))
        .await
        .unwrap()
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

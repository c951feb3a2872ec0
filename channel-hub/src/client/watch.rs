//! The wallet's rollup watcher: scans new blocks for registrations of its channels and
//! refutes one made with a state older than the wallet's latest co-signed state.

use std::time::Duration;

use tracing::{info, warn};

use super::{Settle, Wallet};
use crate::rollup::{ChannelEvent, channel_event};

/// Runs until the wallet closes.
pub(super) async fn run(wallet: Wallet, interval: Duration) {
    let mut stop = wallet.inner.stop.subscribe();
    let mut cursor = wallet.inner.rollup.head().await.unwrap_or(0);
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(interval) => {}
        }
        if let Err(e) = scan(&wallet, &mut cursor).await {
            warn!(error = %e, "wallet watcher: scan failed");
        }
    }
}

async fn scan(wallet: &Wallet, cursor: &mut u64) -> Result<(), super::ClientError> {
    let rollup = &wallet.inner.rollup;
    let head = rollup.head().await?;
    *wallet.inner.head.lock() = (Some(std::time::Instant::now()), head);
    while *cursor < head {
        let number = *cursor + 1;
        let Some(transactions) = rollup.block_transactions(number).await? else {
            break;
        };
        for tx in transactions.iter().filter(|t| t.succeeded()) {
            let Some((id, from, event)) = channel_event(&tx.transaction) else {
                continue;
            };
            let Some(channel) = wallet.channel(&id) else {
                continue;
            };
            match event {
                ChannelEvent::Registered(state) | ChannelEvent::Refuted(state)
                    if from != wallet.address() =>
                {
                    wallet.set_status(&id, "disputed").await?;
                    if state.version < channel.latest.version {
                        info!(channel = %id, registered = state.version, latest = channel.latest.version, "refuting a stale registration");
                        let hash = wallet
                            .submit_settle(
                                &channel.latest,
                                channel.wallet_signature,
                                channel.hub_signature,
                                Settle::Refute,
                            )
                            .await?;
                        rollup
                            .wait_executed(&hash, super::DEFAULT_ROLLUP_TIMEOUT)
                            .await?;
                    }
                }
                ChannelEvent::Closed => wallet.set_status(&id, "closed").await?,
                _ => {}
            }
        }
        *cursor = number;
    }
    Ok(())
}

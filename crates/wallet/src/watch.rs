//! The wallet's rollup watcher: scans new blocks for registrations of its channels, refutes
//! one made with a state older than the wallet's latest co-signed state, and concludes a
//! dispute once its deadline (the registration's block plus the chain's dispute window)
//! has passed, if nobody else has. At start it reads the rollup record of each of its open
//! channels, so a registration made while the wallet was away is refuted too.

use std::{collections::HashMap, time::Duration};

use tracing::{info, warn};
use weft_protocol::{channel::ChannelStatus, primitives::B256};

use crate::{Wallet, on_rollup::Settle};
use weft_channel::{ChannelEvent, channel_event};

/// Runs until the wallet closes.
pub(super) async fn run(wallet: Wallet, interval: Duration) {
    let mut stop = wallet.inner.stop.subscribe();
    let mut cursor = wallet.inner.rollup.head().await.unwrap_or(0);
    let mut deadlines: HashMap<B256, u64> = HashMap::new();
    if let Err(e) = catch_up(&wallet, &mut deadlines).await {
        warn!(error = %e, "wallet watcher: reading its channels' records failed");
    }
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(interval) => {}
        }
        if let Err(e) = scan(&wallet, &mut cursor, &mut deadlines).await {
            warn!(error = %e, "wallet watcher: scan failed");
        }
        conclude_due(&wallet, cursor, &mut deadlines).await;
    }
}

/// Reads the record of every channel the wallet holds open: a dispute started while the
/// wallet was away is followed (its deadline), and refuted if it registered an older state.
async fn catch_up(
    wallet: &Wallet,
    deadlines: &mut HashMap<B256, u64>,
) -> Result<(), crate::ClientError> {
    let channels: Vec<_> = wallet
        .inner
        .channels
        .lock()
        .values()
        .filter(|c| c.status != "closed")
        .cloned()
        .collect();
    for channel in channels {
        let Some(remote) = wallet.inner.rollup.channel(&channel.id).await? else {
            continue;
        };
        match remote.record.status {
            ChannelStatus::Closed => wallet.set_status(&channel.id, "closed").await?,
            ChannelStatus::Disputed { state, deadline } => {
                deadlines.insert(channel.id, deadline);
                wallet.set_status(&channel.id, "disputed").await?;
                if state.version < channel.latest.version && remote.block_number < deadline {
                    info!(channel = %channel.id, registered = state.version, latest = channel.latest.version, "refuting a stale registration made while the wallet was away");
                    refute(wallet, &channel.id, state.version).await?;
                }
                reveal_incoming(wallet, &channel.latest, u64::MAX).await?;
            }
            ChannelStatus::Open => {}
        }
    }
    Ok(())
}

async fn scan(
    wallet: &Wallet,
    cursor: &mut u64,
    deadlines: &mut HashMap<B256, u64>,
) -> Result<(), crate::ClientError> {
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
            if let ChannelEvent::Registered(_) = &event {
                deadlines.insert(id, number.saturating_add(wallet.dispute_window()));
            }
            match event {
                ChannelEvent::Registered(state) | ChannelEvent::Refuted(state)
                    if from != wallet.address() =>
                {
                    wallet.set_status(&id, "disputed").await?;
                    if state.version < channel.latest.version {
                        info!(channel = %id, registered = state.version, latest = channel.latest.version, "refuting a stale registration");
                        refute(wallet, &id, state.version).await?;
                    }
                    // Whichever state concludes, the wallet's revealed locks pay it.
                    reveal_incoming(wallet, &channel.latest, u64::MAX).await?;
                }
                ChannelEvent::Closed => {
                    deadlines.remove(&id);
                    wallet.set_status(&id, "closed").await?;
                }
                _ => {}
            }
        }
        *cursor = number;
    }
    // Locks to the wallet the hub has not settled by the time they near expiry: reveal
    // their secrets on the rollup, so any conclusion pays them to the wallet.
    let open: Vec<_> = wallet
        .inner
        .channels
        .lock()
        .values()
        .filter(|c| c.status == "active")
        .map(|c| c.latest.clone())
        .collect();
    for latest in open {
        let guard = wallet.inner.config.reveal_guard_blocks;
        reveal_incoming(wallet, &latest, head.saturating_add(guard)).await?;
    }
    Ok(())
}

/// Refutes a registration of version `registered` with the wallet's newest state the hub
/// signed, if it is newer (the wallet's own payments since, which the hub took without
/// signing, only gave the hub value: nothing to refute them for).
async fn refute(wallet: &Wallet, id: &B256, registered: u64) -> Result<(), crate::ClientError> {
    let (state, wallet_signature, hub_signature) = wallet.co_signed_at(id, None).await?;
    if state.version <= registered {
        return Ok(());
    }
    let hash = wallet
        .submit_settle(&state, wallet_signature, hub_signature, Settle::Refute)
        .await?;
    wallet
        .inner
        .rollup
        .wait_executed(&hash, crate::DEFAULT_ROLLUP_TIMEOUT)
        .await?;
    Ok(())
}

/// Reveals on the rollup the secrets of `state`'s locks to the wallet that expire before
/// `before` (each once per run of the wallet).
async fn reveal_incoming(
    wallet: &Wallet,
    state: &weft_protocol::channel::ChannelState,
    before: u64,
) -> Result<(), crate::ClientError> {
    for lock in &state.locks {
        if lock.direction != weft_protocol::channel::LockDirection::HubToWallet
            || lock.expiry > before
            || !wallet.inner.invoices.lock().contains_key(&lock.hashlock)
            || !wallet.inner.revealing.lock().insert(lock.hashlock)
        {
            continue;
        }
        info!(hashlock = %lock.hashlock, expiry = lock.expiry, "revealing a lock's secret on the rollup");
        // A failure is most likely a secret revealed already (by the hub, or before a
        // restart of the wallet): as good.
        if let Err(e) = wallet.reveal_on_rollup(&lock.hashlock).await {
            warn!(hashlock = %lock.hashlock, error = %e, "revealing on the rollup failed");
        }
    }
    Ok(())
}

/// Concludes the disputes whose deadline is behind `head` and that are still open on the
/// rollup (the hub may have concluded first).
async fn conclude_due(wallet: &Wallet, head: u64, deadlines: &mut HashMap<B256, u64>) {
    let due: Vec<B256> = deadlines
        .iter()
        .filter(|(_, d)| head > **d)
        .map(|(id, _)| *id)
        .collect();
    for id in due {
        let disputed = match wallet.inner.rollup.channel(&id).await {
            Ok(c) => c.is_some_and(|c| matches!(c.record.status, ChannelStatus::Disputed { .. })),
            Err(e) => {
                warn!(channel = %id, error = %e, "wallet watcher: reading the channel failed");
                continue;
            }
        };
        if !disputed {
            deadlines.remove(&id);
            continue;
        }
        match wallet.conclude_on_rollup(&id).await {
            Ok(tx) => {
                info!(channel = %id, %tx, "concluded a dispute after its deadline");
                deadlines.remove(&id);
            }
            Err(e) => warn!(channel = %id, error = %e, "wallet watcher: conclusion failed"),
        }
    }
}

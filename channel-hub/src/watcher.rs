//! The hub's rollup watcher: polls the sequencer for new blocks, scans their transactions
//! for the hub's channels, and reacts: a registration of a stale state is refuted with the
//! hub's latest co-signed state (well inside the chain's dispute window), secrets the hub can claim
//! are revealed, closes and deposits update the channel, and disputes past their deadline
//! are concluded. The block cursor is stored, so a restart resumes where it stopped; the
//! deadlines of disputes registered before a restart are read back from the rollup.

use std::{collections::HashMap, sync::Arc};

use tokio::sync::watch;
use tracing::{info, warn};
use weft_protocol::{channel::ChannelStatus, primitives::B256};

use crate::{
    error::HubError,
    hub::{Hub, Phase},
    store::Write,
};
use weft_channel::{ChannelEvent, channel_event};

/// Name of the stored cursor: the last block scanned.
pub const CURSOR: &str = "watch_cursor";

/// Runs until `stop` turns true.
pub async fn run(hub: Arc<Hub>, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    let mut cursor = match hub.store.meta(CURSOR).await? {
        Some(c) => c,
        None => hub.head(),
    };
    let mut deadlines = disputed_deadlines(&hub).await;
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return Ok(()),
            _ = tokio::time::sleep(hub.config.watch_interval) => {}
        }
        match scan(&hub, &mut cursor, &mut deadlines).await {
            Ok(()) => {}
            Err(e) => warn!(error = %e, cursor, "watcher: scan failed, retrying"),
        }
        let settlements = hub.settle_idle().await;
        if settlements > 0 {
            tracing::debug!(
                settlements,
                "offered the settlement of idle channels' locks"
            );
        }
        match hub.enforce_stalled().await {
            Ok(ids) if !ids.is_empty() => {
                info!(channels = ?ids, "registered channels whose payer stopped answering")
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "enforcing stalled payments failed"),
        }
        let head = hub.head();
        let due: Vec<B256> = deadlines
            .iter()
            .filter(|(_, d)| head > **d)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            match hub.conclude(&id).await {
                Ok(tx) => {
                    info!(channel = %id, %tx, "concluded a dispute after its deadline");
                    deadlines.remove(&id);
                }
                Err(e) => {
                    warn!(channel = %id, error = %e, "conclusion failed");
                    // Someone else concluded (or closed) it: nothing left to conclude.
                    if let Ok(Some(c)) = hub.rollup.channel(&id).await
                        && !matches!(c.record.status, ChannelStatus::Disputed { .. })
                    {
                        deadlines.remove(&id);
                    }
                }
            }
        }
    }
}

/// The deadlines the rollup records for the hub's disputed channels (those registered
/// before a restart, whose registration the cursor has passed).
async fn disputed_deadlines(hub: &Hub) -> HashMap<B256, u64> {
    let mut deadlines = HashMap::new();
    for id in hub.channel_ids() {
        let Ok(slot) = hub.slot(&id) else { continue };
        if slot.channel.lock().await.phase != Phase::Disputed {
            continue;
        }
        match hub.rollup.channel(&id).await {
            Ok(Some(c)) => {
                if let ChannelStatus::Disputed { deadline, .. } = c.record.status {
                    deadlines.insert(id, deadline);
                }
            }
            Ok(None) => {}
            Err(e) => warn!(channel = %id, error = %e, "watcher: cannot read a disputed channel"),
        }
    }
    deadlines
}

/// Scans the blocks after `cursor` up to the head.
async fn scan(
    hub: &Hub,
    cursor: &mut u64,
    deadlines: &mut HashMap<B256, u64>,
) -> Result<(), HubError> {
    let head = hub.rollup.head().await?;
    hub.set_head(head);
    let start = *cursor;
    while *cursor < head {
        let number = *cursor + 1;
        let Some(transactions) = hub.rollup.block_transactions(number).await? else {
            break;
        };
        for tx in transactions.iter().filter(|t| t.succeeded()) {
            let Some((id, from, event)) = channel_event(&tx.transaction) else {
                continue;
            };
            if hub.slot(&id).is_err() {
                continue;
            }
            handle(hub, &id, from == hub.address, event, number, deadlines).await;
        }
        *cursor = number;
        // Every event of this block is handled: routing may rely on the channels' phases
        // up to it.
        hub.set_scanned(number);
    }
    if *cursor != start {
        hub.store
            .commit(vec![Write::Meta {
                key: CURSOR,
                value: *cursor,
            }])
            .await?;
    }
    Ok(())
}

async fn handle(
    hub: &Hub,
    id: &B256,
    by_hub: bool,
    event: ChannelEvent,
    block: u64,
    deadlines: &mut HashMap<B256, u64>,
) {
    let result = match event {
        ChannelEvent::Registered(state) => {
            deadlines.insert(*id, block.saturating_add(hub.dispute_window));
            info!(channel = %id, version = state.version, block, by_hub, "channel registered on the rollup");
            if by_hub {
                // The hub's own registration (`Hub::register_on_rollup`) was handled where
                // it was made: the state registered is the one it chose.
                Ok(())
            } else {
                hub.on_registered(id, &state).await
            }
        }
        ChannelEvent::Refuted(_) if by_hub => Ok(()),
        ChannelEvent::Refuted(state) => hub.on_registered(id, &state).await,
        ChannelEvent::Closed => {
            deadlines.remove(id);
            hub.on_closed(id).await
        }
        ChannelEvent::Deposit => hub.on_deposit(id).await,
    };
    if let Err(e) = result {
        warn!(channel = %id, error = %e, "watcher: handling a channel event failed");
    }
}

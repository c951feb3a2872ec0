//! The hub's side of an exodus: if the Rollup contract freezes, every channel of the hub
//! that the last finalized state holds is settled on L1 (docs/l1.md, "Channels at exodus")
//! with the hub's own states, as a wallet does with `weft channel exit`
//! ([`weft_l1::channel_exit::drive`]): the channel started, the hub's newest co-signed state
//! registered (refuting an older one a wallet registered), the secrets of locks paying the
//! hub revealed, and after the L1 window the conclusion and the hub's part withdrawn.
//!
//! The proofs come from the node at `--sequencer-url`, which must serve the last finalized
//! state (a node rebuilt from L1, `weft-sequencer rebuild`, does); a proof against another
//! root is refused and retried at the next poll. The hub's key signs the L1 transactions:
//! its address needs ETH on L1.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use alloy::{
    network::EthereumWallet,
    primitives::{B256, Bytes},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use anyhow::{Context, bail};
use tokio::sync::watch;
use tracing::{info, warn};
use weft_l1::{
    Rollup,
    channel_exit::{self, ExitInput, ExitReport, ExitStatus, Side},
};

use crate::{config::ExodusConfig, hub::Hub, store::StoredChannel};

/// How often the hub looks at the Rollup contract.
pub const POLL: Duration = Duration::from_secs(2);

/// Runs until `stop`: watches for a freeze, then drives every channel's exit.
pub async fn run(
    hub: Arc<Hub>,
    config: ExodusConfig,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let signer = PrivateKeySigner::from_bytes(&hub.key.secret_bytes())
        .context("the hub's key as an L1 signer")?;
    let url = config.l1_rpc.parse().context("--l1-rpc is not a URL")?;
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::new(signer))
        .connect_http(url)
        .erased();
    let rollup = Rollup::new(config.rollup, provider);
    // Channels whose exit is over for the hub.
    let mut done: HashSet<B256> = HashSet::new();
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return Ok(()),
            _ = tokio::time::sleep(POLL) => {}
        }
        match rollup.frozen().call().await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                warn!(error = %e, "exodus watch: reading the Rollup contract failed");
                continue;
            }
        }
        let finalized = match rollup.finalizedStateRoot().call().await {
            Ok(root) => root,
            Err(e) => {
                warn!(error = %e, "exodus watch: reading the finalized root failed");
                continue;
            }
        };
        let channels = match hub.store.channels().await {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "exodus watch: reading the channels failed");
                continue;
            }
        };
        for channel in &channels {
            if done.contains(&channel.id) {
                continue;
            }
            match exit_one(&hub, &rollup, channel, finalized).await {
                Ok(report) => {
                    if !report.l1_txs.is_empty() {
                        info!(channel = %channel.id, steps = ?report.l1_txs, status = ?report.status, "exodus: channel exit");
                    }
                    if matches!(
                        report.status,
                        ExitStatus::Closed | ExitStatus::Concluded { .. }
                    ) {
                        done.insert(channel.id);
                    }
                }
                Err(e) => {
                    warn!(channel = %channel.id, error = %e, "exodus: channel exit failed; retrying")
                }
            }
        }
    }
}

/// One run of the hub's side of `channel`'s exit; `finalized` is L1's finalized root.
async fn exit_one(
    hub: &Hub,
    rollup: &Rollup::RollupInstance<DynProvider>,
    channel: &StoredChannel,
    finalized: B256,
) -> anyhow::Result<ExitReport> {
    let Some(view) = hub.rollup.channel_proof(&channel.id).await? else {
        bail!("the node does not know the channel");
    };
    if view.state_root != finalized {
        bail!(
            "the node's proofs are against {}, not the last finalized root {finalized}: \
             point --sequencer-url at a node holding the finalized state",
            view.state_root
        );
    }
    let states = hub.store.states(&channel.id).await?;
    // The newest state the wallet signed; the hub signs it again (deterministic).
    let newest = states.iter().rev().find_map(|s| {
        let wallet = s.wallet_signature?;
        Some((
            &s.state,
            Bytes::copy_from_slice(&wallet.to_bytes()),
            Bytes::copy_from_slice(&hub.sign(&s.state).to_bytes()),
        ))
    });
    let history: Vec<_> = states.iter().map(|s| s.state.clone()).collect();
    let mut hashlocks: Vec<B256> = history
        .iter()
        .flat_map(|s| s.locks.iter().map(|l| l.hashlock))
        .collect();
    hashlocks.sort_unstable();
    hashlocks.dedup();
    let secrets: HashMap<B256, B256> = hub
        .store
        .payments(&hashlocks)
        .await?
        .into_iter()
        .filter_map(|p| Some((p.hashlock, p.secret?)))
        .collect();
    let input = ExitInput {
        channel: &view.channel,
        wallet: &view.wallet,
        hub: &view.hub,
        newest,
        history: &history,
        secrets: &secrets,
        side: Side::Hub,
    };
    Ok(channel_exit::drive(rollup, input).await?)
}

//! `weft channel exit`: once the Rollup contract is frozen, settles the account's channels on
//! L1 with the states the wallet holds (docs/l1.md, "Channels at exodus"). Each run does
//! every step that is due and says what is left, so it is run again after the dispute window:
//!
//! 1. the finalized state root's preimage, once for everyone (`exodusProveRoots`);
//! 2. the channel's record and both accounts, proven under it (`exodusChannelStart`), from a
//!    saved `GET /v1/channels/{id}/proof` or a node serving the finalized state;
//! 3. the wallet's newest co-signed state, if newer than the one registered
//!    (`exodusChannelRegister`), and the secrets of locks paying the wallet
//!    (`exodusRevealSecret`), until the window ends;
//! 4. after it, the conclusion (`exodusChannelConclude`, with the registered state, found in
//!    the wallet's history or the record) and the wallet's part (`exodusChannelWithdraw`).

use std::{collections::HashMap, path::Path};

use alloy::{
    primitives::{B256, Bytes},
    providers::DynProvider,
};
use serde_json::{Value, json};
use weft_api::ChannelProofView;
use weft_l1::{
    Rollup,
    channel_exit::{self, ExitError, ExitInput, ExitStatus, Side},
};
use weft_wallet::{WalletState, WalletStore};

use crate::{
    channel::lock_channels,
    ctx::Ctx,
    error::{CliError, CliResult, exit},
    money::Tokens,
    output::Reply,
    rollup::{read_json, require_finalized_root, require_frozen},
};

/// `weft channel exit [--channel ID] [--proof-file F]`.
pub(crate) async fn exit(
    ctx: &Ctx,
    channel: Option<B256>,
    proof_file: Option<&Path>,
) -> CliResult<Reply> {
    let u = ctx.unlock()?;
    let address = u.signer.address();
    let rollup = Rollup::new(ctx.net.rollup()?, ctx.l1_signing(&u.signer)?);
    require_frozen(&rollup).await?;
    let (dir, _lock) = lock_channels(ctx)?;
    let store = WalletStore::open(&dir)
        .await
        .map_err(|e| CliError::other(format!("the wallet's database: {e}")))?;
    let views: Vec<ChannelProofView> = match (proof_file, channel) {
        (Some(path), _) => vec![read_json(path)?],
        (None, Some(id)) => vec![fetch(ctx, &id).await?],
        (None, None) => {
            let rows = store
                .channels(&address)
                .await
                .map_err(|e| CliError::other(e.to_string()))?;
            let mut views = Vec::with_capacity(rows.len());
            for row in rows {
                views.push(fetch(ctx, &row.id).await?);
            }
            views
        }
    };
    let secrets: HashMap<B256, B256> = store
        .secrets()
        .await
        .map_err(|e| CliError::other(e.to_string()))?
        .into_iter()
        .map(|(hashlock, secret, _)| (hashlock, secret))
        .collect();
    let mut done = Vec::new();
    let mut text = String::new();
    for view in views {
        if view.wallet.account.address != address {
            return Err(CliError::usage(format!(
                "channel {} is {}'s, not this account's ({address})",
                view.channel.record.id, view.wallet.account.address
            )));
        }
        require_finalized_root(&rollup, view.state_root).await?;
        let history = store
            .states(&view.channel.record.id)
            .await
            .map_err(|e| CliError::other(e.to_string()))?;
        let (json, line) = exit_one(&rollup, &view, &history, &secrets).await?;
        done.push(json);
        text.push_str(&line);
    }
    store.close().await;
    if done.is_empty() {
        text = "this account has no channels".into();
    }
    Ok(Reply::new(
        json!({"address": address, "channels": done}),
        text.trim_end().to_string(),
    ))
}

/// The channel's proofs from a node serving the finalized state.
async fn fetch(ctx: &Ctx, id: &B256) -> CliResult<ChannelProofView> {
    ctx.api().channel_proof(id).await?.ok_or_else(|| {
        CliError::new(
            "unknown_channel",
            format!("no node record of channel {id}"),
            exit::REFUSED,
        )
    })
}

/// Every step of one channel's exit that is due now ([`channel_exit::drive`]); its JSON
/// and a line of text.
async fn exit_one(
    rollup: &Rollup::RollupInstance<DynProvider>,
    view: &ChannelProofView,
    history: &[WalletState],
    secrets: &HashMap<B256, B256>,
) -> CliResult<(Value, String)> {
    let id = view.channel.record.id;
    // The newest state both signed.
    let newest = history.iter().rev().find_map(|w| {
        Some((
            &w.state,
            Bytes::copy_from_slice(&w.wallet_signature?.to_bytes()),
            Bytes::copy_from_slice(&w.hub_signature?.to_bytes()),
        ))
    });
    let states: Vec<_> = history.iter().map(|w| w.state.clone()).collect();
    let input = ExitInput {
        channel: &view.channel,
        wallet: &view.wallet,
        hub: &view.hub,
        newest,
        history: &states,
        secrets,
        side: Side::Wallet,
    };
    let report = channel_exit::drive(rollup, input)
        .await
        .map_err(|e| match e {
            ExitError::UnknownState(_) => {
                CliError::new("unknown_state", e.to_string(), exit::REFUSED)
            }
            ExitError::Reverted(_) => CliError::new("l1_reverted", e.to_string(), exit::REFUSED),
            ExitError::L1(_) => CliError::other(e.to_string()),
        })?;
    let txs: Value = report
        .l1_txs
        .iter()
        .map(|(step, tx)| json!({"step": step, "l1Tx": tx}))
        .collect();
    Ok(match report.status {
        ExitStatus::Closed => (
            json!({"id": id, "status": "closed", "l1Txs": txs}),
            format!("{id}: nothing to take out (closed before the freeze)\n"),
        ),
        ExitStatus::Disputed { deadline, version } => (
            json!({"id": id, "status": "disputed", "deadline": deadline, "version": version,
                "l1Txs": txs}),
            format!(
                "{id}: {}; the dispute on L1 ends at {deadline} (L1 time): run `weft channel exit` again after it\n",
                match version {
                    Some(v) => format!("version {v} registered"),
                    None => "no state registered (each side gets back what it put in)".into(),
                },
            ),
        ),
        ExitStatus::Concluded { amount, token } => (
            json!({"id": id, "status": "concluded", "amount": amount.to_string(), "token": token,
                "l1Txs": txs}),
            if amount > 0 {
                format!(
                    "{id}: concluded; took out {} to {}\n",
                    Tokens(amount),
                    view.wallet.account.address
                )
            } else {
                format!("{id}: concluded; nothing (left) for the wallet\n")
            },
        ),
    })
}

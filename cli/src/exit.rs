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
    eips::BlockNumberOrTag,
    primitives::{Address, B256},
    providers::{DynProvider, Provider},
};
use serde_json::{Value, json};
use weft_api::ChannelProofView;
use weft_l1::{
    Rollup,
    exodus::{
        channel_state, exodus_channel_register_call, exodus_channel_start_call, exodus_roots_call,
    },
};
use weft_protocol::{
    channel::{ChannelState, ChannelStatus, LockDirection},
    eip712::Eip712,
    primitives::Bytes,
};
use weft_wallet::{WalletState, WalletStore};

use crate::{
    channel::lock_channels,
    ctx::Ctx,
    error::{CliError, CliResult, exit},
    money::Tokens,
    output::Reply,
    rollup::{mined, read_json, require_finalized_root, require_frozen},
};

type RollupL1 = Rollup::RollupInstance<DynProvider>;

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

/// Every step of one channel's exit that is due now; its JSON and a line of text.
async fn exit_one(
    rollup: &RollupL1,
    view: &ChannelProofView,
    history: &[WalletState],
    secrets: &HashMap<B256, B256>,
) -> CliResult<(Value, String)> {
    let id = view.channel.record.id;
    let mut sent: Vec<(&str, B256)> = Vec::new();
    if !rollup.exodusRootsProven().call().await? {
        let call = exodus_roots_call(&view.wallet);
        sent.push(("proveRoots", send(rollup, &call).await?));
    }
    let mut exit = rollup.channelExits(id).call().await?;
    if exit.wallet == Address::ZERO {
        if view.channel.record.total == 0 {
            let line = format!("{id}: nothing to take out (closed before the freeze)\n");
            return Ok((json!({"id": id, "status": "closed"}), line));
        }
        let call = exodus_channel_start_call(&view.channel, &view.wallet, &view.hub);
        sent.push(("start", send(rollup, &call).await?));
        exit = rollup.channelExits(id).call().await?;
    }
    let now = l1_time(rollup).await?;
    if !exit.concluded && now <= exit.deadline {
        // The newest state both signed, if it is newer than the registered one.
        let newest = history
            .iter()
            .rev()
            .find_map(|w| Some((&w.state, w.wallet_signature?, w.hub_signature?)));
        if let Some((state, wallet_sig, hub_sig)) = newest
            && (!exit.registered || state.version > exit.version)
        {
            let call = exodus_channel_register_call(
                state,
                Bytes::copy_from_slice(&wallet_sig.to_bytes()),
                Bytes::copy_from_slice(&hub_sig.to_bytes()),
            );
            sent.push(("register", send(rollup, &call).await?));
            exit = rollup.channelExits(id).call().await?;
        }
        // Locks that pay the wallet when their secret is out.
        if let Some(registered) = registered_state(view, history, exit.stateHash) {
            for lock in &registered.locks {
                if lock.direction != LockDirection::HubToWallet
                    || rollup.revealedOnL1(lock.hashlock).call().await?
                {
                    continue;
                }
                if let Some(secret) = secrets.get(&lock.hashlock) {
                    let call = rollup.exodusRevealSecret(*secret);
                    sent.push(("revealSecret", tx_hash(call.send().await?).await?));
                }
            }
        }
        let line = format!(
            "{id}: {}; the dispute on L1 ends at {} (L1 time; now {now}): run `weft channel exit` again after it\n",
            if exit.registered {
                format!("version {} registered", exit.version)
            } else {
                "no state registered (each side gets back what it put in)".into()
            },
            exit.deadline,
        );
        let json = json!({"id": id, "status": "disputed", "deadline": exit.deadline,
            "version": exit.registered.then_some(exit.version), "l1Txs": txs_json(&sent)});
        return Ok((json, line));
    }
    if !exit.concluded {
        let state = if exit.registered {
            registered_state(view, history, exit.stateHash)
                .cloned()
                .ok_or_else(|| {
                    CliError::new(
                        "unknown_state",
                        format!(
                            "the state registered for {id} (version {}) is not in this wallet's history",
                            exit.version
                        ),
                        exit::REFUSED,
                    )
                })?
        } else {
            placeholder(id)
        };
        let call = rollup.exodusChannelConclude(id, channel_state(&state));
        sent.push(("conclude", tx_hash(call.send().await?).await?));
        exit = rollup.channelExits(id).call().await?;
    }
    let mut line = format!("{id}: concluded");
    if exit.toWallet > 0 {
        let call = rollup.exodusChannelWithdraw(id, false);
        sent.push(("withdraw", tx_hash(call.send().await?).await?));
        line.push_str(&format!(
            "; took out {} to {}",
            Tokens(exit.toWallet),
            exit.wallet
        ));
    } else {
        line.push_str("; nothing (left) for the wallet");
    }
    let json = json!({"id": id, "status": "concluded", "amount": exit.toWallet.to_string(),
        "token": exit.token, "l1Txs": txs_json(&sent)});
    Ok((json, line + "\n"))
}

/// The state whose EIP-712 hash was registered: from the wallet's history, or the state the
/// record carried over from an L2 dispute.
fn registered_state<'a>(
    view: &'a ChannelProofView,
    history: &'a [WalletState],
    hash: B256,
) -> Option<&'a ChannelState> {
    let from_l2 = match &view.channel.record.status {
        ChannelStatus::Disputed { state, .. } => Some(state),
        _ => None,
    };
    history
        .iter()
        .map(|w| &w.state)
        .chain(from_l2)
        .find(|s| s.struct_hash() == hash)
}

/// A conclusion of an exit without a registered state ignores its state argument.
fn placeholder(id: B256) -> ChannelState {
    ChannelState {
        channel_id: id,
        version: 0,
        balance_wallet: 0,
        balance_hub: 0,
        locks: Vec::new(),
        is_final: false,
    }
}

async fn send<C: alloy::sol_types::SolCall>(rollup: &RollupL1, call: &C) -> CliResult<B256> {
    tx_hash(rollup.call_builder(call).send().await?).await
}

async fn tx_hash(
    pending: alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
) -> CliResult<B256> {
    Ok(mined(pending.get_receipt().await?)?.transaction_hash)
}

/// The latest L1 block's timestamp: what the contract compares deadlines with.
async fn l1_time(rollup: &RollupL1) -> CliResult<u64> {
    let block = rollup
        .provider()
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await?
        .ok_or_else(|| CliError::other("L1 has no latest block"))?;
    Ok(block.header.timestamp)
}

fn txs_json(sent: &[(&str, B256)]) -> Value {
    sent.iter()
        .map(|(what, tx)| json!({"step": what, "l1Tx": tx}))
        .collect()
}

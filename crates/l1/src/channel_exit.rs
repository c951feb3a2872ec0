//! One participant's side of a channel's exit while the Rollup contract is frozen
//! (`Rollup.sol`, "exodus: channels"; docs/l1.md, "Channels at exodus"): every step that is
//! due now, so that running it again later (after the L1 window) finishes the exit. The
//! wallet's `weft channel exit` and the hub run the same steps with their own states.
//!
//! 1. the finalized state root's preimage, once for everyone (`exodusProveRoots`);
//! 2. the channel's record and both accounts (`exodusChannelStart`);
//! 3. until the window ends: the participant's newest co-signed state if it is newer than the
//!    registered one (`exodusChannelRegister`, which refutes an older one), and the secrets
//!    it knows of the locks paying it (`exodusRevealSecret`);
//! 4. after the window: the conclusion with the registered state, found by its hash among
//!    the participant's states or the one the record carried over (`exodusChannelConclude`),
//!    then the participant's part (`exodusChannelWithdraw`).

use std::collections::HashMap;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, Bytes},
    providers::{PendingTransactionBuilder, Provider},
    sol_types::SolCall,
};
use weft_protocol::{
    channel::{ChannelState, ChannelStatus, LockDirection},
    eip712::Eip712,
    state::{AccountProof, ChannelProof},
};

use crate::{
    Rollup,
    exodus::{
        channel_state, exodus_channel_register_call, exodus_channel_start_call, exodus_roots_call,
    },
};

/// Which participant runs the exit: its part is withdrawn, and the locks paying it are the
/// ones whose secrets it reveals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The wallet (the opener).
    Wallet,
    /// The hub.
    Hub,
}

/// What one run of [`drive`] needs.
#[derive(Debug)]
pub struct ExitInput<'a> {
    /// The channel's record with its proof, from the last finalized state.
    pub channel: &'a ChannelProof,
    /// The wallet's account proof, from the same state.
    pub wallet: &'a AccountProof,
    /// The hub's account proof, from the same state.
    pub hub: &'a AccountProof,
    /// The participant's newest state both signed, with the wallet's and the hub's
    /// signatures (65 bytes each).
    pub newest: Option<(&'a ChannelState, Bytes, Bytes)>,
    /// Every state the participant holds of the channel (to find the registered one).
    pub history: &'a [ChannelState],
    /// Secrets the participant knows, by hashlock.
    pub secrets: &'a HashMap<B256, B256>,
    /// Who runs it.
    pub side: Side,
}

/// Where the exit stands after a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// The finalized state holds nothing in the channel (closed before the freeze).
    Closed,
    /// The L1 window is open until `deadline` (L1 time): run again after it.
    Disputed {
        /// The end of the window.
        deadline: u64,
        /// The registered version, if any.
        version: Option<u64>,
    },
    /// Concluded; `amount` of `token` is what this run withdrew for the participant (0 if
    /// it was withdrawn before, or nothing was due).
    Concluded {
        /// Withdrawn now.
        amount: u128,
        /// The channel's token.
        token: u32,
    },
}

/// What a run did and where the exit stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitReport {
    /// The L1 transactions sent, by step (`proveRoots`, `start`, `register`, `revealSecret`,
    /// `conclude`, `withdraw`).
    pub l1_txs: Vec<(&'static str, B256)>,
    /// Where it stands.
    pub status: ExitStatus,
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExitError {
    /// An L1 request failed (the run can be repeated).
    #[error("l1: {0}")]
    L1(String),
    /// An L1 transaction reverted.
    #[error("L1 transaction {0} reverted")]
    Reverted(B256),
    /// The registered state is not among the participant's states.
    #[error("the state registered for the channel (version {0}) is unknown here")]
    UnknownState(u64),
}

fn l1(e: impl std::fmt::Display) -> ExitError {
    ExitError::L1(e.to_string())
}

/// Runs every step of the exit that is due now (module docs).
pub async fn drive<P: Provider>(
    rollup: &Rollup::RollupInstance<P>,
    input: ExitInput<'_>,
) -> Result<ExitReport, ExitError> {
    let id = input.channel.record.id;
    let mut sent = Vec::new();
    let mut exit = rollup.channelExits(id).call().await.map_err(l1)?;
    if exit.wallet == Address::ZERO {
        if input.channel.record.total == 0 {
            return Ok(ExitReport {
                l1_txs: sent,
                status: ExitStatus::Closed,
            });
        }
        if !rollup.exodusRootsProven().call().await.map_err(l1)? {
            let call = exodus_roots_call(input.wallet);
            sent.push(("proveRoots", send(rollup, &call).await?));
        }
        let call = exodus_channel_start_call(input.channel, input.wallet, input.hub);
        sent.push(("start", send(rollup, &call).await?));
        exit = rollup.channelExits(id).call().await.map_err(l1)?;
    }
    if !exit.concluded && l1_time(rollup).await? <= exit.deadline {
        if let Some((state, wallet_sig, hub_sig)) = &input.newest
            && (!exit.registered || state.version > exit.version)
        {
            let call = exodus_channel_register_call(state, wallet_sig.clone(), hub_sig.clone());
            sent.push(("register", send(rollup, &call).await?));
            exit = rollup.channelExits(id).call().await.map_err(l1)?;
        }
        let paying_us = match input.side {
            Side::Wallet => LockDirection::HubToWallet,
            Side::Hub => LockDirection::WalletToHub,
        };
        if let Some(registered) = registered_state(&input, exit.stateHash) {
            for lock in registered.locks.iter().filter(|l| l.direction == paying_us) {
                let Some(secret) = input.secrets.get(&lock.hashlock) else {
                    continue;
                };
                if !rollup
                    .revealedOnL1(lock.hashlock)
                    .call()
                    .await
                    .map_err(l1)?
                {
                    let call = Rollup::exodusRevealSecretCall { secret: *secret };
                    sent.push(("revealSecret", send(rollup, &call).await?));
                }
            }
        }
        return Ok(ExitReport {
            l1_txs: sent,
            status: ExitStatus::Disputed {
                deadline: exit.deadline,
                version: exit.registered.then_some(exit.version),
            },
        });
    }
    if !exit.concluded {
        let state = if exit.registered {
            registered_state(&input, exit.stateHash)
                .cloned()
                .ok_or(ExitError::UnknownState(exit.version))?
        } else {
            // Without a registered state the conclusion ignores its state argument.
            ChannelState {
                channel_id: id,
                version: 0,
                balance_wallet: 0,
                balance_hub: 0,
                locks: Vec::new(),
                is_final: false,
            }
        };
        let call = Rollup::exodusChannelConcludeCall {
            channelId: id,
            s: channel_state(&state),
        };
        sent.push(("conclude", send(rollup, &call).await?));
        exit = rollup.channelExits(id).call().await.map_err(l1)?;
    }
    let (hub_side, owed) = match input.side {
        Side::Wallet => (false, exit.toWallet),
        Side::Hub => (true, exit.toHub),
    };
    if owed > 0 {
        let call = Rollup::exodusChannelWithdrawCall {
            channelId: id,
            hubSide: hub_side,
        };
        sent.push(("withdraw", send(rollup, &call).await?));
    }
    Ok(ExitReport {
        l1_txs: sent,
        status: ExitStatus::Concluded {
            amount: owed,
            token: exit.token,
        },
    })
}

/// The state whose EIP-712 hash was registered: among the participant's states, or the one
/// the record carried over from an L2 dispute.
fn registered_state<'a>(input: &ExitInput<'a>, hash: B256) -> Option<&'a ChannelState> {
    let from_l2 = match &input.channel.record.status {
        ChannelStatus::Disputed { state, .. } => Some(state),
        _ => None,
    };
    input
        .history
        .iter()
        .chain(from_l2)
        .find(|s| s.struct_hash() == hash)
}

async fn send<P: Provider, C: SolCall>(
    rollup: &Rollup::RollupInstance<P>,
    call: &C,
) -> Result<B256, ExitError> {
    let pending = rollup.call_builder(call).send().await.map_err(l1)?;
    mined(pending).await
}

async fn mined(
    pending: PendingTransactionBuilder<alloy::network::Ethereum>,
) -> Result<B256, ExitError> {
    let receipt = pending.get_receipt().await.map_err(l1)?;
    if receipt.status() {
        Ok(receipt.transaction_hash)
    } else {
        Err(ExitError::Reverted(receipt.transaction_hash))
    }
}

/// The latest L1 block's timestamp: what the contract compares deadlines with.
async fn l1_time<P: Provider>(rollup: &Rollup::RollupInstance<P>) -> Result<u64, ExitError> {
    let block = rollup
        .provider()
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .map_err(l1)?
        .ok_or_else(|| ExitError::L1("L1 has no latest block".into()))?;
    Ok(block.header.timestamp)
}

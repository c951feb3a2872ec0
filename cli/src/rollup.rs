//! The account on the rollup and on L1: balance, send, deposit, withdraw, claim, tx, exodus.

use std::path::Path;

use alloy::{
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionReceipt,
};
use serde_json::json;
use weft_api::{ProofView, TransactionStatus};
use weft_l1::{Rollup, TestToken, exodus::exodus_withdraw_call};
use weft_protocol::transaction::{Deposit, Transaction, Transfer, Withdraw};

use crate::{
    ctx::{Ctx, status_name},
    error::{CliError, CliResult, exit},
    money::{TokenArg, Tokens, parse_amount, token_name},
    output::Reply,
};

/// `weft balance [ADDRESS]`: L2 balances, and L1's ETH balance when L1 answers.
pub(crate) async fn balance(ctx: &Ctx, address: Option<Address>) -> CliResult<Reply> {
    let address = match address {
        Some(a) => a,
        None => ctx.address()?,
    };
    let account = ctx.api().account(&address).await?;
    let l1 = match ctx.l1() {
        Ok(l1) => tokio::time::timeout(std::time::Duration::from_secs(5), l1.get_balance(address))
            .await
            .ok()
            .and_then(Result::ok),
        Err(_) => None,
    };
    let mut text = format!("{address}\nL2 (nonce {}):", account.nonce);
    if account.balances.is_empty() {
        text.push_str("\n  nothing");
    }
    for b in &account.balances {
        text.push_str(&format!("\n  {} {}", Tokens(b.amount), token_name(b.token)));
    }
    match l1 {
        Some(wei) => text.push_str(&format!("\nL1: {} ETH", Tokens(wei.to::<u128>()))),
        None => text.push_str("\nL1: not reachable"),
    }
    Ok(Reply::new(
        json!({
            "address": address,
            "l2": {"nonce": account.nonce, "nextNonce": account.next_nonce, "balances": account.balances},
            "l1": {"eth": l1.map(|w| w.to_string())},
        }),
        text,
    ))
}

/// What a native transfer or withdrawal spends, as typed.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Spend {
    /// Amount: tokens (1.5), or with a unit (1.5eth, 2gwei, 1000wei).
    amount: String,
    /// `eth`, an L2 token id, or an ERC-20's L1 address.
    #[arg(long, default_value = "eth")]
    token: TokenArg,
    /// Fee in base units (default: the sequencer's minimum).
    #[arg(long)]
    fee: Option<u128>,
    /// Return once queued instead of waiting for the block.
    #[arg(long)]
    no_wait: bool,
}

/// A native transaction of the account, signed at its next nonce and submitted; waited for
/// until executed unless `--no-wait`. `build` makes it from the sender, token, amount, fee
/// and nonce; `what` says what it did, given the token, the amount and the hash.
async fn submit_native(
    ctx: &Ctx,
    spend: Spend,
    build: impl FnOnce(Address, u32, u128, u128, u64) -> Transaction,
    what: impl FnOnce(u32, u128, B256) -> String,
) -> CliResult<Reply> {
    let amount = parse_amount(&spend.amount)?;
    let u = ctx.unlock()?;
    let token = token_id(ctx, spend.token).await?;
    let fee = ctx.fee(spend.fee).await?;
    let api = ctx.api();
    let domain = api.domain().await?;
    let from = u.key.address();
    let (hash, _) = api
        .sign_and_submit(&u.key, &domain, |nonce| {
            build(from, token, amount, fee, nonce)
        })
        .await?;
    let what = what(token, amount, hash);
    submitted(ctx, hash, what, fee, spend.no_wait).await
}

/// `weft send`: a native transfer on L2.
pub(crate) async fn send(ctx: &Ctx, to: Address, spend: Spend) -> CliResult<Reply> {
    submit_native(
        ctx,
        spend,
        |from, token, amount, fee, nonce| {
            Transaction::Transfer(Transfer {
                from,
                to,
                token,
                amount,
                fee,
                nonce,
            })
        },
        |token, amount, _| format!("sent {} {} to {to}", Tokens(amount), token_name(token)),
    )
    .await
}

/// `weft withdraw`: a native withdrawal to `to` on L1 (default: the same address), claimable
/// with `weft claim` once its batch is final.
pub(crate) async fn withdraw(ctx: &Ctx, to: Option<Address>, spend: Spend) -> CliResult<Reply> {
    let l1_recipient = match to {
        Some(to) => to,
        None => ctx.address()?,
    };
    submit_native(
        ctx,
        spend,
        |from, token, amount, fee, nonce| {
            Transaction::Withdraw(Withdraw {
                from,
                l1_recipient,
                token,
                amount,
                fee,
                nonce,
            })
        },
        |token, amount, hash| {
            format!(
                "withdrew {} {} to {l1_recipient} on L1; claim it once final: weft claim {hash}",
                Tokens(amount),
                token_name(token)
            )
        },
    )
    .await
}

/// The reply to a submitted L2 transaction, after waiting for its execution.
async fn submitted(
    ctx: &Ctx,
    hash: B256,
    what: String,
    fee: u128,
    no_wait: bool,
) -> CliResult<Reply> {
    let (status, block) = if no_wait {
        (TransactionStatus::Queued, None)
    } else {
        let progress = ctx.out.spinner("queued; waiting for its block");
        let view = ctx
            .wait_status(&hash, TransactionStatus::Executed, &progress)
            .await?;
        (view.status, view.block_number)
    };
    let place = block.map_or(String::new(), |b| format!(" in block {b}"));
    Ok(Reply::new(
        json!({"hash": hash, "status": status, "blockNumber": block, "fee": fee.to_string()}),
        format!("{what}\ntransaction {hash}: {}{place}", status_name(status)),
    ))
}

/// `weft deposit`: ETH or an ERC-20 from L1 to `to` on L2 (default: the same address); waits
/// until the sequencer has credited it unless `no_wait`.
pub(crate) async fn deposit(
    ctx: &Ctx,
    amount: u128,
    token: TokenArg,
    to: Option<Address>,
    no_wait: bool,
) -> CliResult<Reply> {
    let u = ctx.unlock()?;
    let to = to.unwrap_or(u.signer.address());
    let provider = ctx.l1_signing(&u.signer)?;
    let rollup = Rollup::new(ctx.net.rollup()?, provider.clone());
    let progress = ctx.out.spinner("sending the deposit on L1");
    let erc20 = match token {
        TokenArg::Id(0) => None,
        TokenArg::L1(address) => Some(address),
        TokenArg::Id(id) => Some(rollup.tokens(U256::from(id)).call().await?),
    };
    let mut receipts = Vec::new();
    let receipt = match erc20 {
        None => mined(
            rollup
                .depositETH(to)
                .value(U256::from(amount))
                .send()
                .await?
                .get_receipt()
                .await?,
        )?,
        Some(address) => {
            let erc20 = TestToken::new(address, provider.clone());
            let allowance = erc20
                .allowance(u.signer.address(), *rollup.address())
                .call()
                .await?;
            if allowance < U256::from(amount) {
                progress.set("approving the Rollup contract to take the tokens");
                let approve = erc20.approve(*rollup.address(), U256::from(amount));
                receipts.push(mined(approve.send().await?.get_receipt().await?)?);
                progress.done("approved");
            }
            mined(
                rollup
                    .depositERC20(address, amount, to)
                    .send()
                    .await?
                    .get_receipt()
                    .await?,
            )?
        }
    };
    progress.done(format!(
        "deposit mined on L1 in {}",
        receipt.transaction_hash
    ));
    let entry = receipt
        .decoded_log::<Rollup::QueueEntry>()
        .ok_or_else(|| CliError::other("the deposit's receipt has no QueueEntry event"))?
        .data;
    let l1_tx = receipt.transaction_hash;
    receipts.push(receipt);
    let l1_fee: u128 = receipts.iter().map(l1_fee).sum();
    let domain = ctx.api().domain().await?;
    let l2_tx = Transaction::Deposit(Deposit {
        queue_index: entry.queueIndex,
        to,
        token: entry.token,
        amount,
    })
    .hash(&domain);
    let mut status = "queued on L1";
    if !no_wait {
        progress.set("waiting for the sequencer to take it from L1 (2 L1 blocks)");
        ctx.wait_status(&l2_tx, TransactionStatus::Executed, &progress)
            .await?;
        status = "credited on L2";
    }
    Ok(Reply::new(
        json!({
            "l1Tx": l1_tx, "queueIndex": entry.queueIndex, "token": entry.token,
            "amount": amount.to_string(), "to": to, "l2Tx": l2_tx,
            "l1Fee": l1_fee.to_string(), "credited": !no_wait,
        }),
        format!(
            "deposited {} {} to {to}: {status}\nL1 transaction {l1_tx} (queue index {}), L2 transaction {l2_tx}",
            Tokens(amount),
            token_name(entry.token),
            entry.queueIndex
        ),
    ))
}

/// `weft claim`: waits until withdrawal `hash`'s batch is final, then claims it on L1 with
/// its Merkle proof (sent by the account; paid to the withdrawal's recipient).
pub(crate) async fn claim(ctx: &Ctx, hash: B256) -> CliResult<Reply> {
    let u = ctx.unlock()?;
    let progress = ctx.out.spinner("waiting for the withdrawal's batch");
    ctx.wait_status(&hash, TransactionStatus::Finalized, &progress)
        .await?;
    let w = ctx.api().withdrawal(&hash).await?;
    let rollup = Rollup::new(ctx.net.rollup()?, ctx.l1_signing(&u.signer)?);
    if rollup.withdrawn(w.leaf).call().await? {
        return Err(CliError::new(
            "already_claimed",
            format!("withdrawal {hash} was claimed already"),
            exit::REFUSED,
        ));
    }
    progress.set("claiming on L1");
    let call = rollup.withdraw(
        w.batch_index,
        w.id,
        w.recipient,
        w.token,
        w.amount,
        U256::from(w.leaf_index),
        w.proof.clone(),
    );
    let receipt = mined(call.send().await?.get_receipt().await?)?;
    progress.done("claimed");
    Ok(Reply::new(
        json!({
            "l1Tx": receipt.transaction_hash, "batchIndex": w.batch_index,
            "recipient": w.recipient, "token": w.token, "amount": w.amount.to_string(),
            "l1Fee": l1_fee(&receipt).to_string(),
        }),
        format!(
            "claimed {} {} for {} on L1 in {} (batch {})",
            Tokens(w.amount),
            token_name(w.token),
            w.recipient,
            receipt.transaction_hash,
            w.batch_index
        ),
    ))
}

/// `weft tx`: a transaction's status; with `wait`, once it has reached it.
pub(crate) async fn tx(ctx: &Ctx, hash: B256, wait: Option<TransactionStatus>) -> CliResult<Reply> {
    let view = match wait {
        Some(target) => {
            let progress = ctx.out.spinner("looking it up");
            ctx.wait_status(&hash, target, &progress).await?
        }
        None => ctx.api().transaction(&hash).await?.ok_or_else(|| {
            CliError::new("not_found", format!("no transaction {hash}"), exit::REFUSED)
        })?,
    };
    let mut text = format!("transaction {hash}\nstatus: {}", status_name(view.status));
    if let Some(reason) = &view.reason {
        text.push_str(&format!(" ({reason})"));
    }
    if let Some(block) = view.block_number {
        text.push_str(&format!(
            "\nblock: {block}, index {}",
            view.index.unwrap_or(0)
        ));
    }
    if let Some(batch) = &view.batch {
        text.push_str(&format!("\nbatch: {}", batch.index));
        for (what, tx) in [
            ("committed", batch.commit_l1_tx),
            ("proven", batch.prove_l1_tx),
            ("finalized", batch.finalize_l1_tx),
        ] {
            if let Some(tx) = tx {
                text.push_str(&format!("\n  {what} on L1 in {tx}"));
            }
        }
    }
    let json = serde_json::to_value(&view).map_err(|e| CliError::other(e.to_string()))?;
    Ok(Reply::new(json, text))
}

/// `weft exodus`: once the Rollup contract is frozen, takes the account's balances of the
/// last finalized state out on L1 with an account proof (from `proof_file`, or from the
/// sequencer or any node serving the state, checked against the finalized root on L1).
pub(crate) async fn exodus(ctx: &Ctx, proof_file: Option<&Path>) -> CliResult<Reply> {
    let u = ctx.unlock()?;
    let address = u.signer.address();
    let rollup = Rollup::new(ctx.net.rollup()?, ctx.l1_signing(&u.signer)?);
    require_frozen(&rollup).await?;
    let proof: ProofView = match proof_file {
        Some(path) => read_json(path)?,
        None => ctx.api().account_proof(&address).await?.ok_or_else(|| {
            CliError::new(
                "not_found",
                format!("no account {address} on L2"),
                exit::REFUSED,
            )
        })?,
    };
    if proof.proof.account.address != address {
        return Err(CliError::usage(format!(
            "the proof is of {}, not of this account ({address})",
            proof.proof.account.address
        )));
    }
    require_finalized_root(&rollup, proof.state_root).await?;
    let mut claimed = Vec::new();
    let mut text = String::new();
    for balance in proof.proof.account.balances() {
        if rollup.exodusClaimed(address, balance.token).call().await? {
            text.push_str(&format!(
                "{} already taken out\n",
                token_name(balance.token)
            ));
            continue;
        }
        let call = exodus_withdraw_call(&proof.proof, balance.token);
        let receipt = mined(
            rollup
                .call_builder(&call)
                .send()
                .await?
                .get_receipt()
                .await?,
        )?;
        text.push_str(&format!(
            "took out {} {} in {}\n",
            Tokens(balance.amount),
            token_name(balance.token),
            receipt.transaction_hash
        ));
        claimed.push(json!({
            "token": balance.token, "amount": balance.amount.to_string(),
            "l1Tx": receipt.transaction_hash,
        }));
    }
    if text.is_empty() {
        text = "nothing to take out: the finalized state holds no balance of this account".into();
    }
    Ok(Reply::new(
        json!({"address": address, "claimed": claimed}),
        text,
    ))
}

/// Refuses unless the Rollup contract is frozen (exodus).
pub(crate) async fn require_frozen(rollup: &Rollup::RollupInstance<DynProvider>) -> CliResult<()> {
    if rollup.frozen().call().await? {
        return Ok(());
    }
    Err(CliError::new(
        "not_frozen",
        "the Rollup contract is not frozen: exodus opens only after an unserved forced \
         withdrawal; withdraw normally with `weft withdraw`",
        exit::REFUSED,
    ))
}

/// Refuses a proof against any root but the last finalized one on L1.
pub(crate) async fn require_finalized_root(
    rollup: &Rollup::RollupInstance<DynProvider>,
    state_root: B256,
) -> CliResult<()> {
    let finalized = rollup.finalizedStateRoot().call().await?;
    if state_root == finalized {
        return Ok(());
    }
    Err(CliError::new(
        "stale_proof",
        format!(
            "the proof is against state root {state_root}, not the last finalized one on L1 \
             ({finalized}); take it from a node that has rebuilt the finalized state \
             (weft-sequencer rebuild)"
        ),
        exit::REFUSED,
    ))
}

/// A JSON file the user names (a saved proof).
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> CliResult<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))
}

/// The L2 id of `token`: an ERC-20's L1 address is looked up on the Rollup contract.
pub(crate) async fn token_id(ctx: &Ctx, token: TokenArg) -> CliResult<u32> {
    match token {
        TokenArg::Id(id) => Ok(id),
        TokenArg::L1(address) => {
            let rollup = Rollup::new(ctx.net.rollup()?, ctx.l1()?);
            match rollup.tokenIdOf(address).call().await? {
                0 => Err(CliError::new(
                    "unknown_token",
                    format!("{address} has no L2 id: nobody has deposited it yet"),
                    exit::REFUSED,
                )),
                id => Ok(id),
            }
        }
    }
}

/// The receipt of a mined L1 transaction, or an error if it reverted.
pub(crate) fn mined(receipt: TransactionReceipt) -> CliResult<TransactionReceipt> {
    if receipt.status() {
        Ok(receipt)
    } else {
        Err(CliError::new(
            "l1_reverted",
            format!("L1 transaction {} reverted", receipt.transaction_hash),
            exit::REFUSED,
        ))
    }
}

/// What an L1 transaction cost its sender, in wei.
pub(crate) fn l1_fee(receipt: &TransactionReceipt) -> u128 {
    u128::from(receipt.gas_used) * receipt.effective_gas_price
}

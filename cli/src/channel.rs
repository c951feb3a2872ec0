//! `weft channel …`: channels with the hub through the wallet library. The wallet's database
//! (`$WEFT_HOME/channels/wallet.db`, every account's channels in one SQLite file) lives next
//! to the keystores; one process at a time uses an account's channels (a lock file beside
//! the database), since the wallet keeps its channels' latest states in memory.

use std::{collections::HashMap, fs::File, str::FromStr, time::Duration};

use alloy::primitives::{Address, B256};
use serde_json::{Value, json};
use weft_channel::RouteStatus;
use weft_protocol::channel::LockDirection;
use weft_wallet::{Wallet, WalletChannel, WalletConfig};

use crate::{
    ctx::Ctx,
    error::{CliError, CliResult, exit},
    money::{TokenArg, Tokens, token_name},
    output::{Progress, Reply},
    rollup::token_id,
};

/// An invoice as one string a payee hands to a payer: `weft:<payee>:<amount>:<hashlock>`,
/// the amount in base units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invoice {
    pub(crate) payee: Address,
    pub(crate) amount: u128,
    pub(crate) hashlock: B256,
}

impl std::fmt::Display for Invoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "weft:{}:{}:{}", self.payee, self.amount, self.hashlock)
    }
}

impl FromStr for Invoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an invoice (weft:<payee>:<amount>:<hashlock>)");
        let mut parts = s.strip_prefix("weft:").ok_or_else(bad)?.split(':');
        let (Some(payee), Some(amount), Some(hashlock), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        Ok(Self {
            payee: payee.parse().map_err(|_| bad())?,
            amount: amount.parse().map_err(|_| bad())?,
            hashlock: hashlock.parse().map_err(|_| bad())?,
        })
    }
}

/// The account's wallet, open, with the account's lock held.
struct Open {
    wallet: Wallet,
    _lock: File,
}

/// Takes the account's channel lock (one process at a time uses an account's channels) and
/// returns the wallet database's folder with the held lock.
pub(crate) fn lock_channels(ctx: &Ctx) -> CliResult<(std::path::PathBuf, File)> {
    let dir = ctx.home.join("channels");
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::other(format!("{}: {e}", dir.display())))?;
    let lock_path = dir.join(format!("{}.lock", ctx.account));
    let lock = File::create(&lock_path)
        .map_err(|e| CliError::other(format!("{}: {e}", lock_path.display())))?;
    if lock.try_lock().is_err() {
        return Err(CliError::new(
            "busy",
            format!(
                "another weft process uses the channels of {} (a `weft channel watch`?); stop it first",
                ctx.account
            ),
            exit::OTHER,
        ));
    }
    Ok((dir, lock))
}

/// Opens the account's wallet: unlocks the key, takes the account's lock, connects to the hub.
/// `watch` starts the library's rollup watcher.
async fn open(ctx: &Ctx, watch: bool) -> CliResult<Open> {
    let u = ctx.unlock()?;
    let (dir, lock) = lock_channels(ctx)?;
    let mut config = WalletConfig::new(ctx.net.hub_url(), ctx.net.l2_url(), u.key, dir);
    config.fee = ctx.fee(None).await?;
    if !watch {
        config.watch_interval = None;
    }
    let wallet = Wallet::open(config).await?;
    Ok(Open {
        wallet,
        _lock: lock,
    })
}

/// The channel to use: `id`, or the wallet's only active one of `token`.
fn pick(wallet: &Wallet, id: Option<B256>, token: Option<u32>) -> CliResult<WalletChannel> {
    if let Some(id) = id {
        return wallet.channel(&id).ok_or_else(|| {
            CliError::new(
                "unknown_channel",
                format!("channel {id} is not in this account's wallet"),
                exit::USAGE,
            )
        });
    }
    let active: Vec<WalletChannel> = wallet
        .channels()
        .into_iter()
        .filter(|c| c.status == "active" && token.is_none_or(|t| c.token == t))
        .collect();
    match active.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(CliError::new(
            "no_channel",
            "this account has no active channel: open one with `weft channel open`",
            exit::USAGE,
        )),
        _ => Err(CliError::usage(
            "this account has several active channels: name one with --channel",
        )),
    }
}

fn channel_json(c: &WalletChannel) -> Value {
    json!({
        "id": c.id, "token": c.token, "status": c.status, "version": c.latest.version,
        "balance": c.latest.balance_wallet.to_string(),
        "hubBalance": c.latest.balance_hub.to_string(),
        "locks": c.latest.locks.len(),
    })
}

fn channel_line(c: &WalletChannel) -> String {
    format!(
        "{} {}: {} {} (hub {}), version {}, {} lock(s)",
        c.id,
        c.status,
        Tokens(c.latest.balance_wallet),
        token_name(c.token),
        Tokens(c.latest.balance_hub),
        c.latest.version,
        c.latest.locks.len()
    )
}

/// `channel open`: a channel with the hub holding `amount` of `token`; the hub matches it.
pub(crate) async fn open_channel(ctx: &Ctx, amount: u128, token: TokenArg) -> CliResult<Reply> {
    let token = token_id(ctx, token).await?;
    let o = open(ctx, false).await?;
    let progress = ctx.out.spinner("opening the channel on the rollup");
    let id = o.wallet.open_channel(token, amount).await?;
    drop(progress);
    let c = o.wallet.channel(&id).expect("just opened");
    o.wallet.close().await;
    Ok(Reply::new(
        channel_json(&c),
        format!("opened {}", channel_line(&c)),
    ))
}

/// `channel fund`: tops the channel up with `amount` from the account's L2 balance.
pub(crate) async fn fund(ctx: &Ctx, id: Option<B256>, amount: u128) -> CliResult<Reply> {
    let o = open(ctx, false).await?;
    let c = pick(&o.wallet, id, None)?;
    let progress = ctx.out.spinner("depositing into the channel on the rollup");
    o.wallet.top_up(&c.id, amount).await?;
    drop(progress);
    let c = o.wallet.channel(&c.id).expect("known");
    o.wallet.close().await;
    Ok(Reply::new(
        channel_json(&c),
        format!("funded {}", channel_line(&c)),
    ))
}

/// `channel invoice`: a new invoice; with `wait`, stays connected (answering the hub) until
/// it is paid, printing the invoice first.
pub(crate) async fn invoice(ctx: &Ctx, amount: u128, wait: bool) -> CliResult<Reply> {
    let o = open(ctx, false).await?;
    let hashlock = o.wallet.invoice(amount).await?;
    let invoice = Invoice {
        payee: o.wallet.address(),
        amount,
        hashlock,
    };
    let line =
        json!({"invoice": invoice.to_string(), "hashlock": hashlock, "amount": amount.to_string()});
    if !wait {
        o.wallet.close().await;
        return Ok(Reply::new(line, invoice.to_string()));
    }
    ctx.out.event(&line, &invoice.to_string());
    let progress = ctx
        .out
        .spinner(format!("waiting for a payment of {}", Tokens(amount)));
    let deadline = tokio::time::Instant::now() + ctx.timeout;
    let channel = loop {
        if let Some(id) = received(&o.wallet, hashlock).await? {
            break id;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(CliError::timeout(format!(
                "invoice {hashlock} not paid within {:?}",
                ctx.timeout
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    drop(progress);
    // The hub settles the lock (an offer the wallet countersigns) right after the secret.
    let settled = settle_wait(&o.wallet, &channel, hashlock).await;
    let token = o.wallet.channel(&channel).map_or(0, |c| c.token);
    o.wallet.close().await;
    Ok(Reply::new(
        json!({"paid": true, "hashlock": hashlock, "channel": channel, "settled": settled}),
        format!(
            "received {} {} on channel {channel}",
            Tokens(amount),
            token_name(token)
        ),
    ))
}

/// The channel in which the hub locked a payment to `hashlock` for the wallet (which
/// revealed the secret for it): a stored state holding the lock, whether or not the hub has
/// settled it since.
async fn received(wallet: &Wallet, hashlock: B256) -> CliResult<Option<B256>> {
    let holds = |locks: &[weft_protocol::channel::Lock]| {
        locks
            .iter()
            .any(|l| l.hashlock == hashlock && l.direction == LockDirection::HubToWallet)
    };
    for c in wallet.channels() {
        if holds(&c.latest.locks) {
            return Ok(Some(c.id));
        }
        if wallet
            .history(&c.id)
            .await?
            .iter()
            .any(|s| holds(&s.state.locks))
        {
            return Ok(Some(c.id));
        }
    }
    Ok(None)
}

/// Waits (briefly) until the lock `hashlock` has left the channel's latest state: the hub
/// settled it into the balance.
async fn settle_wait(wallet: &Wallet, id: &B256, hashlock: B256) -> bool {
    for _ in 0..50 {
        let pending = wallet
            .channel(id)
            .is_some_and(|c| c.latest.locks.iter().any(|l| l.hashlock == hashlock));
        if !pending {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// `channel pay`: pays an invoice through the hub, from `id` or the only active channel.
pub(crate) async fn pay(ctx: &Ctx, invoice: Invoice, id: Option<B256>) -> CliResult<Reply> {
    let o = open(ctx, false).await?;
    let c = pick(&o.wallet, id, None)?;
    let progress = ctx
        .out
        .spinner(format!("paying {} through the hub", invoice.payee));
    let status = o
        .wallet
        .pay(&c.id, invoice.payee, invoice.amount, invoice.hashlock)
        .await?;
    drop(progress);
    let proof = o.wallet.proof_of_payment(&invoice.hashlock).await?;
    let c = o.wallet.channel(&c.id).expect("known");
    o.wallet.close().await;
    let status = match status {
        RouteStatus::Settled => "settled",
        RouteStatus::Refunded => "refunded",
        RouteStatus::Pending => "pending",
    };
    if status == "refunded" {
        return Err(CliError::new(
            "refunded",
            "the payee refused the payment; nothing moved",
            exit::REFUSED,
        ));
    }
    Ok(Reply::new(
        json!({"status": status, "channel": channel_json(&c), "proofOfPayment": proof}),
        format!(
            "payment of {} to {}: {status}{}\n{}",
            Tokens(invoice.amount),
            invoice.payee,
            proof.map_or(String::new(), |p| format!(
                " (proof of payment: the secret {p})"
            )),
            channel_line(&c)
        ),
    ))
}

/// `channel close`: a cooperative close, the final state co-signed by the hub and submitted
/// by the wallet.
pub(crate) async fn close(ctx: &Ctx, id: Option<B256>) -> CliResult<Reply> {
    let o = open(ctx, false).await?;
    let c = pick(&o.wallet, id, None)?;
    let progress = ctx.out.spinner("closing the channel with the hub");
    settle_locks(ctx, &o.wallet, &c.id, &progress).await?;
    let hash = o.wallet.close_channel(&c.id, false).await?;
    drop(progress);
    let c = o.wallet.channel(&c.id).expect("known");
    o.wallet.close().await;
    Ok(Reply::new(
        json!({"channel": channel_json(&c), "transaction": hash}),
        format!(
            "closed {}: {} {} back to the account on L2 (transaction {hash})",
            c.id,
            Tokens(c.latest.balance_wallet),
            token_name(c.token)
        ),
    ))
}

/// Waits until the channel's latest state holds no lock: the hub settles a paid lock into
/// the balances shortly after the payment (its offer arrives on the socket, or with a sync).
async fn settle_locks(ctx: &Ctx, wallet: &Wallet, id: &B256, progress: &Progress) -> CliResult<()> {
    let deadline = tokio::time::Instant::now() + ctx.timeout;
    loop {
        let locks = wallet.channel(id).map_or(0, |c| c.latest.locks.len());
        if locks == 0 {
            return Ok(());
        }
        progress.set(format!(
            "waiting for the hub to settle {locks} pending payment(s)"
        ));
        if tokio::time::Instant::now() >= deadline {
            return Err(CliError::timeout(format!(
                "the hub has not settled the channel's {locks} pending payment(s) within {:?}",
                ctx.timeout
            )));
        }
        wallet.sync(id).await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `channel dispute`: registers the latest co-signed state on the rollup; the watcher
/// (`weft channel watch`) concludes it after the dispute window.
pub(crate) async fn dispute(ctx: &Ctx, id: Option<B256>) -> CliResult<Reply> {
    let o = open(ctx, false).await?;
    let c = pick(&o.wallet, id, None)?;
    let progress = ctx
        .out
        .spinner("registering the latest state on the rollup");
    let hash = o.wallet.register_on_rollup(&c.id, None).await?;
    drop(progress);
    let window = o.wallet.dispute_window();
    o.wallet.close().await;
    Ok(Reply::new(
        json!({"channel": c.id, "transaction": hash, "disputeWindow": window}),
        format!(
            "registered version {} of {} (transaction {hash}); after {window} blocks \
             `weft channel watch` concludes it",
            c.latest.version, c.id
        ),
    ))
}

/// `channel status`: the wallet's view of a channel and the rollup's record.
pub(crate) async fn status(ctx: &Ctx, id: Option<B256>) -> CliResult<Reply> {
    let o = open(ctx, false).await?;
    let c = pick(&o.wallet, id, None)?;
    let record = o.wallet.rollup().channel(&c.id).await?;
    o.wallet.close().await;
    let mut json = channel_json(&c);
    json["rollup"] = serde_json::to_value(&record).map_err(|e| CliError::other(e.to_string()))?;
    Ok(Reply::new(json, channel_line(&c)))
}

/// `channel list`: every channel of the account.
pub(crate) async fn list(ctx: &Ctx) -> CliResult<Reply> {
    let o = open(ctx, false).await?;
    let channels = o.wallet.channels();
    o.wallet.close().await;
    let text = if channels.is_empty() {
        "no channels".to_string()
    } else {
        channels
            .iter()
            .map(channel_line)
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(Reply::new(
        Value::Array(channels.iter().map(channel_json).collect()),
        text,
    ))
}

/// `channel watch`: stays connected until Ctrl-C: answers the hub (payments to the account,
/// settlements), refutes stale registrations of the account's channels, reveals secrets of
/// locks near expiry and concludes disputes (the library's watcher); prints each change of a
/// channel.
pub(crate) async fn watch(ctx: &Ctx) -> CliResult<Reply> {
    let o = open(ctx, true).await?;
    let start = json!({"watching": o.wallet.address(), "channels": o.wallet.channels().len()});
    ctx.out.event(
        &start,
        &format!(
            "watching the channels of {} ({}); Ctrl-C stops",
            o.wallet.address(),
            o.wallet.channels().len()
        ),
    );
    let mut seen: HashMap<B256, (u64, String)> = HashMap::new();
    loop {
        for c in o.wallet.channels() {
            let now = (c.latest.version, c.status.clone());
            if seen.get(&c.id) != Some(&now) {
                ctx.out.event(&channel_json(&c), &channel_line(&c));
                seen.insert(c.id, now);
            }
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    o.wallet.close().await;
    Ok(Reply::new(json!({"stopped": true}), "stopped"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invoice_round_trips_through_its_string() {
        let invoice = Invoice {
            payee: Address::repeat_byte(7),
            amount: 5_000,
            hashlock: B256::repeat_byte(9),
        };
        assert_eq!(invoice.to_string().parse::<Invoice>().unwrap(), invoice);
        for bad in [
            "",
            "weft:",
            "weft:0x01:1:0x02",
            "x:0x0707070707070707070707070707070707070707:1:0x09",
        ] {
            assert!(bad.parse::<Invoice>().is_err(), "{bad:?}");
        }
    }
}

//! The whole channel story over real processes: the sequencer and the hub as their
//! binaries (the hub killed with SIGKILL mid-payment and restarted on its database), two
//! wallets with their own databases talking REST and WebSocket.
//!
//! Two wallets open channels, pay each other 1,000 times through the hub, the hub dies
//! while a payment is half-way (the payee holds the hub's lock but has not answered) and
//! comes back; the payment completes. Then one channel closes cooperatively and the other
//! is registered with a stale state and refuted by the hub. The rollup's balances must be
//! exact and no payment may be left half-done.

mod common;

use std::time::Duration;

use common::{channel, fill_block, wallet};
use sqlx::{Connection, SqliteConnection};
use weft_channel::RouteStatus;
use weft_protocol::{
    channel::{ChannelStatus, LockDirection},
    primitives::{Amount, B256},
    state::{Balance, GenesisAccount},
};
use weft_tests::{HubOptions, SequencerOptions, Stack};
use weft_wallet::{Wallet, WalletChannel};

/// ETH of each funded account at genesis.
const GENESIS_BALANCE: Amount = 1_000_000_000;
/// How long a wait may take.
const WAIT: Duration = Duration::from_secs(30);

/// One routed payment, retried through the hub's transient answers (a payee busy with the
/// previous payment's acknowledgement, a sync after the hub restarted).
async fn pay(from: &Wallet, channel: &B256, to: &Wallet, amount: Amount) {
    let invoice = to.invoice(amount).await.unwrap();
    for _ in 0..200 {
        match from.pay(channel, to.address(), amount, invoice).await {
            Ok(RouteStatus::Settled) => return,
            Ok(other) => panic!("payment ended {other:?}"),
            Err(e) if matches!(e.code(), Some("sync_required" | "stale_version")) => {
                from.sync(channel).await.unwrap();
            }
            Err(e)
                if matches!(
                    e.code(),
                    Some("channel_busy" | "payee_unavailable" | "offer_pending")
                ) =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("payment failed: {e}"),
        }
    }
    panic!("payment never went through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_payments_a_crash_a_close_and_a_dispute_leave_exact_balances() {
    // A dispute window of a few blocks, so the disputed close concludes within the test.
    const WINDOW: u64 = 16;
    let hub = HubOptions {
        route_timeout: Duration::from_secs(3),
        // Locks fit in the test's short dispute window (at most the window less 2).
        args: ["--min-lock-blocks", "1", "--lock-margin-blocks", "4"]
            .map(String::from)
            .to_vec(),
        // The hub binary's default.
        settle_idle: Duration::from_secs(1),
        ..HubOptions::default()
    };
    let mut stack = Stack::builder()
        .sequencer(SequencerOptions {
            block_time: Duration::from_millis(20),
            batch_max_age: Duration::from_secs(2),
            dispute_window: Some(WINDOW),
            dev_accounts: 10,
            dev_balance: Some(GENESIS_BALANCE),
            genesis: vec![GenesisAccount {
                address: hub.signing_key().address(),
                balances: vec![Balance {
                    token: 0,
                    amount: GENESIS_BALANCE,
                }],
            }],
            threads: 1,
            ..SequencerOptions::default()
        })
        .hub(hub)
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let alice = wallet(&stack, 0, &dir.path().join("alice")).await;
    let bob = wallet(&stack, 1, &dir.path().join("bob")).await;
    let hub_address = stack.hub_address();
    const DEPOSIT: Amount = 1_000_000;

    let a = alice.open_channel(0, DEPOSIT).await.unwrap();
    let b = bob.open_channel(0, DEPOSIT).await.unwrap();
    // The hub matched both deposits.
    for (w, id) in [(&alice, a), (&bob, b)] {
        let c = w.channel(&id).unwrap().latest;
        assert_eq!((c.balance_wallet, c.balance_hub), (DEPOSIT, DEPOSIT));
    }

    // 1,000 routed payments: alice pays bob, every tenth goes back. The 500th is
    // interrupted by a crash of the hub.
    let (mut to_bob, mut to_alice) = (0u128, 0u128);
    for i in 0..1_000u128 {
        let amount = 1 + i % 97;
        if i == 500 {
            to_bob += amount;
            crash_mid_payment(&mut stack, &alice, &a, &bob, &b, amount).await;
        } else if i % 10 == 9 {
            to_alice += amount;
            pay(&bob, &b, &alice, amount).await;
        } else {
            to_bob += amount;
            pay(&alice, &a, &bob, amount).await;
        }
    }
    let alice_balance = DEPOSIT - to_bob + to_alice;
    let bob_balance = DEPOSIT + to_bob - to_alice;
    stack
        .wait("both channels to settle", WAIT, || async {
            let (ca, cb) = (alice.channel(&a).unwrap(), bob.channel(&b).unwrap());
            (ca.latest.balance_wallet == alice_balance
                && cb.latest.balance_wallet == bob_balance
                && ca.latest.locks.is_empty()
                && cb.latest.locks.is_empty()
                && ca.offer.is_none()
                && cb.offer.is_none())
            .then_some(())
        })
        .await;
    // What the hub holds equals what the wallets hold.
    for (w, id) in [(&alice, a), (&bob, b)] {
        let view = w.hub_view(&id).await.unwrap();
        assert_eq!(view.latest.state, w.channel(&id).unwrap().latest);
        assert!(view.offer.is_none());
    }
    // No payment half-done: every one the hub recorded is settled.
    let counts = payment_counts(&stack).await;
    assert_eq!(counts, vec![("settled".to_owned(), 1_000)], "{counts:?}");

    // Bob closes cooperatively (the hub submits); alice registers a stale state (version
    // 2, before any payment) and the hub refutes it with the latest.
    bob.close_channel(&b, true).await.unwrap();
    let alice_latest = alice.channel(&a).unwrap().latest;
    alice.register_on_rollup(&a, Some(2)).await.unwrap();
    stack
        .wait("the hub to refute the stale registration", WAIT, || async {
            channel(&stack, &a).await.is_some_and(|r| {
                matches!(&r.status, ChannelStatus::Disputed { state, .. } if *state == alice_latest)
            })
            .then_some(())
        })
        .await;

    // The rollup's balances are exact (fees are zero): bob got his channel balance, the
    // hub its side of bob's channel; alice's channel still holds both sides until the
    // dispute window ends, split as the latest state says.
    assert_eq!(
        stack.l2_balance(&bob.address(), 0).await,
        GENESIS_BALANCE - DEPOSIT + bob_balance
    );
    assert_eq!(
        stack.l2_balance(&hub_address, 0).await,
        GENESIS_BALANCE - 2 * DEPOSIT + (2 * DEPOSIT - bob_balance)
    );
    assert_eq!(
        stack.l2_balance(&alice.address(), 0).await,
        GENESIS_BALANCE - DEPOSIT
    );
    let record = channel(&stack, &a).await.unwrap();
    assert_eq!(record.total, 2 * DEPOSIT);
    assert_eq!(alice_latest.balance_wallet, alice_balance);
    assert_eq!(alice_latest.balance_hub, 2 * DEPOSIT - alice_balance);
    let ChannelStatus::Disputed { deadline, .. } = record.status else {
        panic!("not disputed")
    };

    // Blocks go by (other traffic) until a watcher concludes after the deadline: alice's
    // channel pays out its latest state, and every balance is final and exact.
    for _ in 0..WINDOW * 20 {
        if channel(&stack, &a).await.unwrap().status == ChannelStatus::Closed {
            break;
        }
        fill_block(&stack).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(
        channel(&stack, &a).await.unwrap().status,
        ChannelStatus::Closed
    );
    assert!(stack.api().head().await.unwrap() > deadline);
    assert_eq!(
        stack.l2_balance(&alice.address(), 0).await,
        GENESIS_BALANCE - DEPOSIT + alice_balance
    );
    assert_eq!(
        stack.l2_balance(&hub_address, 0).await,
        GENESIS_BALANCE - 2 * DEPOSIT + (2 * DEPOSIT - bob_balance) + (2 * DEPOSIT - alice_balance)
    );

    alice.close().await;
    bob.close().await;
}

/// Payment 500: bob holds the hub's lock without answering, the hub is killed, restarted;
/// bob answers, and the payment completes on both channels.
async fn crash_mid_payment(
    stack: &mut Stack,
    alice: &Wallet,
    a: &B256,
    bob: &Wallet,
    b: &B256,
    amount: Amount,
) {
    let invoice = bob.invoice(amount).await.unwrap();
    // Either latest state may still hold the previous payment's lock to its wallet
    // (revealed, not yet settled into its balance): it is the wallet's all the same.
    let bob_before = owned(&bob.channel(b).unwrap());
    let alice_before = owned(&alice.channel(a).unwrap());
    bob.set_answering(false);
    let payer = alice.clone();
    let (a2, to) = (*a, bob.address());
    let in_flight = tokio::spawn(async move { payer.pay(&a2, to, amount, invoice).await });
    stack
        .wait("bob to hold the hub's lock", WAIT, || async {
            bob.channel(b).unwrap().offer.is_some().then_some(())
        })
        .await;
    stack.hub_mut().kill();
    // The payer's request died with the hub.
    assert!(in_flight.await.unwrap().is_err());
    stack.hub_mut().restart().await;
    bob.set_answering(true);
    stack
        .wait("the interrupted payment to complete", WAIT, || async {
            let paid = bob.channel(b).unwrap().latest.balance_wallet == bob_before + amount;
            let settled = alice.channel(a).is_some_and(|c| {
                c.latest.balance_wallet == alice_before - amount && c.latest.locks.is_empty()
            });
            (paid && settled).then_some(())
        })
        .await;
}

/// What a wallet owns in a channel: its balance and the locks to it in its latest state
/// (locks it accepted by revealing their secrets).
fn owned(c: &WalletChannel) -> Amount {
    c.latest.balance_wallet
        + c.latest
            .locks
            .iter()
            .filter(|l| l.direction == LockDirection::HubToWallet)
            .map(|l| l.amount)
            .sum::<Amount>()
}

async fn payment_counts(stack: &Stack) -> Vec<(String, i64)> {
    let mut db = SqliteConnection::connect(&stack.hub_db_url())
        .await
        .unwrap();
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM payments GROUP BY status ORDER BY status")
            .fetch_all(&mut db)
            .await
            .unwrap();
    db.close().await.unwrap();
    rows
}

//! Channels end to end over real sockets: a sequencer in process, a hub, wallets with their
//! own databases.

mod common;

use std::time::Duration;

use common::{GENESIS_BALANCE, hub_config, l2_balance, sequencer, start_hub, wait_for, wallet};
use weft_channel::RouteStatus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_payment_moves_value_through_the_hub_and_a_close_pays_out() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let hub = start_hub(dir.path(), &seq).await;
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    let bob = wallet(1, &dir.path().join("bob"), &hub, &seq).await;

    let a = alice.open_channel(0, 10_000).await.unwrap();
    let b = bob.open_channel(0, 5_000).await.unwrap();
    let ca = alice.channel(&a).unwrap();
    assert_eq!(
        (ca.latest.balance_wallet, ca.latest.balance_hub),
        (10_000, 10_000)
    );
    let cb = bob.channel(&b).unwrap();
    assert_eq!(
        (cb.latest.balance_wallet, cb.latest.balance_hub),
        (5_000, 5_000)
    );

    let mut hashlocks = Vec::new();
    for i in 1..=5u128 {
        let invoice = bob.invoice(100 * i).await.unwrap();
        let status = alice
            .pay(&a, bob.address(), 100 * i, invoice)
            .await
            .unwrap();
        assert_eq!(status, RouteStatus::Settled);
        hashlocks.push(invoice);
    }
    // A hashlock is one payment: reusing a settled one is refused (by the payments table,
    // the hub no longer holds the payment in memory) and changes nothing.
    let reused = alice
        .pay(&a, bob.address(), 100, hashlocks[0])
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Some("duplicate_payment"), "{reused}");
    assert!(hub.hub.wait_idle(&b, Duration::from_secs(5)).await);
    // Each payment's update paid the previous payment's lock to the hub: only the last
    // lock is still in alice's latest state, its secret (the proof of payment) known.
    let ca = alice.channel(&a).unwrap();
    assert_eq!(ca.latest.locks.len(), 1, "{ca:?}");
    assert_eq!(ca.latest.locks[0].hashlock, hashlocks[4]);
    assert_eq!(ca.latest.version, 2 + 5, "one update per payment");
    let proof = alice
        .proof_of_payment(&hashlocks[4])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(weft_protocol::primitives::keccak256(proof), hashlocks[4]);
    // Idle, the channels get the hub's settlement offers: alice countersigns hers, and
    // bob's revealed locks become his balance.
    wait_for("alice's settlement", async || {
        let ca = alice.channel(&a).unwrap();
        (ca.latest.balance_wallet, ca.latest.balance_hub) == (8_500, 11_500)
            && ca.latest.locks.is_empty()
    })
    .await;
    wait_for("bob's settlement", async || {
        let cb = bob.channel(&b).unwrap();
        (cb.latest.balance_wallet, cb.latest.balance_hub) == (6_500, 3_500)
            && cb.latest.locks.is_empty()
    })
    .await;
    let counts = hub.hub.store.payment_counts().await.unwrap();
    assert_eq!(counts, vec![("settled".to_owned(), 5)]);

    alice.pay_hub(&a, 500).await.unwrap();
    alice.close_channel(&a, true).await.unwrap();
    assert_eq!(
        l2_balance(&seq, &alice.address()).await,
        GENESIS_BALANCE - 10_000 + 8_000
    );
    assert_eq!(
        l2_balance(&seq, &hub.hub.address).await,
        GENESIS_BALANCE - 10_000 - 5_000 + 12_000
    );
    alice.close().await;
    bob.close().await;
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

/// A wallet's payments in flight on its socket are bounded: past the hub's limit the next
/// one is refused at once with `too_many_payments`, and once the first is answered payments
/// go through again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_in_flight_on_one_socket_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let mut config = hub_config(&dir.path().join("hub"), &seq);
    config.max_payments_in_flight = 1;
    config.route_timeout = Duration::from_secs(10);
    let hub = weft_channel_hub::start(config).await.unwrap();
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    let bob = wallet(1, &dir.path().join("bob"), &hub, &seq).await;
    let a1 = alice.open_channel(0, 10_000).await.unwrap();
    let a2 = alice.open_channel(0, 10_000).await.unwrap();
    let b = bob.open_channel(0, 10_000).await.unwrap();

    // Bob holds the hub's lock without answering: alice's first payment stays in flight.
    bob.set_answering(false);
    let first = bob.invoice(10).await.unwrap();
    let payer = alice.clone();
    let to = bob.address();
    let in_flight = tokio::spawn(async move { payer.pay(&a1, to, 10, first).await });
    wait_for("bob to hold the lock", async || {
        bob.channel(&b).unwrap().offer.is_some()
    })
    .await;
    let second = bob.invoice(10).await.unwrap();
    let refused = alice.pay(&a2, bob.address(), 10, second).await.unwrap_err();
    assert_eq!(refused.code(), Some("too_many_payments"), "{refused}");

    bob.set_answering(true);
    assert_eq!(in_flight.await.unwrap().unwrap(), RouteStatus::Settled);
    assert_eq!(
        alice.pay(&a2, bob.address(), 10, second).await.unwrap(),
        RouteStatus::Settled
    );
    alice.close().await;
    bob.close().await;
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

/// Settlement offers race with payments: with the hub offering the settlement of revealed
/// locks as soon as a channel is idle for a millisecond, payments in both directions still
/// all go through (a payer whose route meets a pending offer answers it first), and the
/// channels end settled with exact balances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_go_through_while_the_hub_keeps_offering_settlements() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let mut config = hub_config(&dir.path().join("hub"), &seq);
    config.settle_idle = Duration::from_millis(1);
    config.watch_interval = Duration::from_millis(5);
    let hub = weft_channel_hub::start(config).await.unwrap();
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    let bob = wallet(1, &dir.path().join("bob"), &hub, &seq).await;
    let a = alice.open_channel(0, 10_000).await.unwrap();
    let b = bob.open_channel(0, 10_000).await.unwrap();
    let (mut to_bob, mut to_alice) = (0, 0);
    for i in 1..=30u128 {
        // No retries: a route that meets a settlement offer must answer it and go through.
        let (payer, channel, payee) = if i % 3 == 0 {
            to_alice += i;
            (&bob, &b, &alice)
        } else {
            to_bob += i;
            (&alice, &a, &bob)
        };
        let invoice = payee.invoice(i).await.unwrap();
        let status = payer.pay(channel, payee.address(), i, invoice).await;
        assert_eq!(status.unwrap(), RouteStatus::Settled, "payment {i}");
        // Idle long enough for the hub's settlement offers to land between payments.
        tokio::time::sleep(Duration::from_millis(3 * (i as u64 % 4))).await;
    }
    wait_for("both channels settled", async || {
        let (ca, cb) = (alice.channel(&a).unwrap(), bob.channel(&b).unwrap());
        ca.latest.locks.is_empty()
            && cb.latest.locks.is_empty()
            && ca.offer.is_none()
            && cb.offer.is_none()
            && ca.latest.balance_wallet == 10_000 - to_bob + to_alice
            && cb.latest.balance_wallet == 10_000 + to_bob - to_alice
    })
    .await;
    for (w, id) in [(&alice, a), (&bob, b)] {
        assert_eq!(
            w.hub_view(&id).await.unwrap().latest.state,
            w.channel(&id).unwrap().latest
        );
    }
    let counts = hub.hub.store.payment_counts().await.unwrap();
    assert_eq!(counts, vec![("settled".to_owned(), 30)]);
    alice.close().await;
    bob.close().await;
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

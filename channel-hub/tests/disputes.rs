//! Disputed closes to the end, on a real sequencer whose dispute window is a few blocks: a
//! registration, its deadline, the conclusion and what it pays, with locks resolved by the
//! secret registry; and the wallet's watcher refuting a stale registration by the hub.

mod common;

use std::time::Duration;

use common::{fill_block, l2_balance, pay_routed, sequencer_with_window, wait_for, wallet};
use weft_channel::RouteStatus;
use weft_protocol::{
    channel::{ChannelStatus, LockDirection},
    primitives::{Address, B256},
    transaction::Transaction,
};

/// The chain's dispute window in these tests: long enough that a lock the hub routes to a
/// payee (its payer's lock less the margin) still runs when a dispute a few blocks later
/// makes the payee reveal its secret on the rollup.
const WINDOW: u64 = 24;

/// A hub for a chain of [`WINDOW`]: its locks must fit in a dispute (at least 1 + 4
/// blocks, at most the window less its reveal guard of 2).
fn hub_config(dir: &std::path::Path, seq: &weft_sequencer::Running) -> weft_channel_hub::Config {
    let mut config = common::hub_config(dir, seq);
    config.locks.min_blocks = 1;
    config.locks.margin_blocks = 4;
    config
}

/// The successful registrations and refutations of channel `id` in the stored blocks:
/// (transaction hash, kind, sender, state version), in block order.
async fn channel_events(
    rollup: &weft_api::Client,
    seq: &weft_sequencer::Running,
    id: &B256,
) -> Vec<(B256, &'static str, Address, u64)> {
    let mut events = Vec::new();
    let head = seq.node.head.borrow().number;
    for n in 1..=head {
        for t in rollup.block_transactions(n).await.unwrap().unwrap() {
            match &t.transaction {
                Transaction::ChannelRegister(s) | Transaction::ChannelRefute(s)
                    if s.state.channel_id == *id && t.succeeded() =>
                {
                    events.push((t.hash, t.transaction.kind(), s.from, s.state.version));
                }
                _ => {}
            }
        }
    }
    events
}

/// The channel's status on the rollup.
fn status(seq: &weft_sequencer::Running, id: &B256) -> ChannelStatus {
    seq.node.state.read().channel(id).unwrap().status.clone()
}

/// Seals blocks until the channel is closed on the rollup (a watcher concluded it after
/// the deadline); returns the head then. Fails if it closes at or before `deadline`.
async fn fill_until_closed(seq: &weft_sequencer::Running, id: &B256, deadline: u64) -> u64 {
    for _ in 0..WINDOW * 20 {
        if status(seq, id) == ChannelStatus::Closed {
            let head = seq.node.head.borrow().number;
            assert!(
                head > deadline,
                "closed at block {head}, deadline {deadline}"
            );
            return head;
        }
        fill_block(seq).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("the dispute was not concluded")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concluded_dispute_pays_the_registered_state_and_resolves_locks_by_the_secret_registry() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer_with_window(&dir.path().join("seq"), WINDOW).await;
    let mut config = hub_config(&dir.path().join("hub"), &seq);
    config.route_timeout = Duration::from_millis(300);
    let hub = weft_channel_hub::start(config).await.unwrap();
    assert_eq!(hub.hub.dispute_window, WINDOW);
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    let bob = wallet(1, &dir.path().join("bob"), &hub, &seq).await;
    let carol = wallet(2, &dir.path().join("carol"), &hub, &seq).await;
    assert_eq!(alice.dispute_window(), WINDOW);
    let a = alice.open_channel(0, 10_000).await.unwrap();
    bob.open_channel(0, 10_000).await.unwrap();
    carol.open_channel(0, 10_000).await.unwrap();

    // Bob and Carol stop answering: Alice's locks to the hub stay pending.
    bob.set_answering(false);
    carol.set_answering(false);
    let to_bob = bob.invoice(100).await.unwrap();
    let to_carol = carol.invoice(200).await.unwrap();
    for (payee, amount, hashlock) in [(&bob, 100, to_bob), (&carol, 200, to_carol)] {
        let status = alice
            .pay(&a, payee.address(), amount, hashlock)
            .await
            .unwrap();
        assert_eq!(status, RouteStatus::Pending);
    }
    let latest = alice.channel(&a).unwrap().latest;
    assert_eq!((latest.balance_wallet, latest.balance_hub), (9_700, 10_000));
    assert_eq!(latest.locks.len(), 2);
    assert!(
        latest
            .locks
            .iter()
            .all(|l| l.direction == LockDirection::WalletToHub)
    );

    // Bob claims on the rollup: his secret is in the registry, Carol's is not.
    bob.reveal_on_rollup(&to_bob).await.unwrap();
    let (alice_before, hub_before) = (
        l2_balance(&seq, &alice.address()).await,
        l2_balance(&seq, &hub.hub.address).await,
    );

    // The hub registers Alice's latest state, her two locks pending (she signed it; the
    // hub adds its signature); the deadline is the chain's window away. Alice has nothing
    // newer the hub signed, so her watcher lets it stand.
    hub.hub.register_on_rollup(&a, None).await.unwrap();
    let ChannelStatus::Disputed { state, deadline } = status(&seq, &a) else {
        panic!("not disputed")
    };
    assert_eq!(state, latest);
    let registered_at = deadline - WINDOW;
    assert!(registered_at > 0 && registered_at <= seq.node.head.borrow().number);
    wait_for("the hub to see the dispute", async || {
        hub.hub.view(&a, &alice.address()).await.unwrap().status == "disputed"
    })
    .await;

    // Too early: a conclusion within the window fails and pays nothing.
    let early = alice.conclude_on_rollup(&a).await;
    assert!(early.is_err(), "a conclusion before the deadline succeeded");
    assert!(matches!(status(&seq, &a), ChannelStatus::Disputed { .. }));

    fill_until_closed(&seq, &a, deadline).await;
    // The registered balances; Bob's revealed lock goes to its receiver (the hub), Carol's
    // unrevealed one back to its sender (Alice).
    assert_eq!(
        l2_balance(&seq, &alice.address()).await - alice_before,
        9_700 + 200
    );
    assert_eq!(
        l2_balance(&seq, &hub.hub.address).await - hub_before,
        10_000 + 100
    );
    assert_eq!(seq.node.state.read().channel(&a).unwrap().total, 0);
    wait_for("the hub to see the close", async || {
        hub.hub.view(&a, &alice.address()).await.unwrap().status == "closed"
    })
    .await;

    for w in [alice, bob, carol] {
        w.close().await;
    }
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallet_refutes_a_stale_registration_by_the_hub_and_is_paid_its_latest_state() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer_with_window(&dir.path().join("seq"), WINDOW).await;
    let mut config = hub_config(&dir.path().join("hub"), &seq);
    // No settlement of idle channels: Alice's latest keeps the last payment's lock.
    config.settle_idle = Duration::from_secs(3600);
    let hub = weft_channel_hub::start(config).await.unwrap();
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    let bob = wallet(1, &dir.path().join("bob"), &hub, &seq).await;
    let a = alice.open_channel(0, 10_000).await.unwrap();
    let b = bob.open_channel(0, 10_000).await.unwrap();
    // Version 2 (Alice 10,000, the hub 10,000) is co-signed; then Bob pays Alice 300, so
    // every later state is better for Alice and version 2 better for the hub.
    let funded = alice.channel(&a).unwrap().latest;
    assert_eq!(funded.version, 2);
    for _ in 0..3 {
        pay_routed(&bob, &b, &alice, 100).await;
    }
    // Each lock the hub offered paid Alice the one before; she accepted the last one by
    // revealing its secret, so her latest state is signed by the hub alone and holds it.
    let held = alice.channel(&a).unwrap();
    let latest = held.latest.clone();
    assert_eq!(latest.balance_wallet, 10_200);
    assert_eq!(latest.locks.len(), 1);
    assert_eq!(latest.locks[0].direction, LockDirection::HubToWallet);
    assert_eq!(held.wallet_signature, None);
    assert!(latest.version > funded.version);
    let (alice_before, hub_before) = (
        l2_balance(&seq, &alice.address()).await,
        l2_balance(&seq, &hub.hub.address).await,
    );

    // The hub registers its stored, co-signed version 2 with its real ChannelRegister.
    let register = hub.hub.register_on_rollup(&a, Some(2)).await.unwrap();
    // Alice's watcher refutes it with her latest state (signing it now) before the
    // deadline, and reveals the lock's secret on the rollup.
    wait_for("the wallet's refutation", async || {
        matches!(status(&seq, &a), ChannelStatus::Disputed { state, .. } if state == latest)
    })
    .await;
    let ChannelStatus::Disputed { deadline, .. } = status(&seq, &a) else {
        panic!("not disputed")
    };

    // On the rollup: the hub's registration of version 2, then Alice's refutation. The
    // state above changes when the refutation's block is executed; the block is served
    // once it is stored, a moment later.
    let rollup = weft_api::Client::new(&format!("http://{}", seq.addr));
    let mut events = Vec::new();
    wait_for("the refutation's block to be stored", async || {
        events = channel_events(&rollup, &seq, &a).await;
        events.len() >= 2
    })
    .await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(
        events,
        vec![
            (register, "channelRegister", hub.hub.address, 2),
            (
                events[1].0,
                "channelRefute",
                alice.address(),
                latest.version
            ),
        ]
    );

    fill_until_closed(&seq, &a, deadline).await;
    assert!(
        seq.node
            .state
            .read()
            .secret_revealed_at(&latest.locks[0].hashlock)
            .is_some()
    );
    // The lock paid Alice: her balance plus the lock, the hub's balance.
    assert_eq!(
        l2_balance(&seq, &alice.address()).await - alice_before,
        latest.balance_wallet + latest.locks[0].amount
    );
    assert_eq!(
        l2_balance(&seq, &hub.hub.address).await - hub_before,
        latest.balance_hub
    );

    alice.close().await;
    bob.close().await;
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispute_registered_before_a_hub_restart_is_concluded_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer_with_window(&dir.path().join("seq"), WINDOW).await;
    let config = hub_config(&dir.path().join("hub"), &seq);
    let hub = weft_channel_hub::start(config.clone()).await.unwrap();
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    let a = alice.open_channel(0, 10_000).await.unwrap();
    alice.pay_hub(&a, 1_000).await.unwrap();
    let latest = alice.channel(&a).unwrap().latest;
    alice.register_on_rollup(&a, None).await.unwrap();
    wait_for("the hub to see the dispute", async || {
        hub.hub.view(&a, &alice.address()).await.unwrap().status == "disputed"
    })
    .await;
    // Alice goes away (no watcher of hers concludes), the hub restarts past the
    // registration's block.
    alice.close().await;
    let hub_address = hub.hub.address;
    hub.stop().await.unwrap();
    let (alice_before, hub_before) = (
        l2_balance(&seq, &alice.address()).await,
        l2_balance(&seq, &hub_address).await,
    );
    let hub = weft_channel_hub::start(config).await.unwrap();
    let ChannelStatus::Disputed { deadline, .. } = status(&seq, &a) else {
        panic!("not disputed")
    };
    fill_until_closed(&seq, &a, deadline).await;
    assert_eq!(
        l2_balance(&seq, &alice.address()).await - alice_before,
        latest.balance_wallet
    );
    assert_eq!(
        l2_balance(&seq, &hub.hub.address).await - hub_before,
        latest.balance_hub
    );
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_registration_made_while_the_wallet_was_away_is_refuted_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer_with_window(&dir.path().join("seq"), WINDOW).await;
    let hub = weft_channel_hub::start(hub_config(&dir.path().join("hub"), &seq))
        .await
        .unwrap();
    let alice_dir = dir.path().join("alice");
    let alice = wallet(0, &alice_dir, &hub, &seq).await;
    let bob = wallet(1, &dir.path().join("bob"), &hub, &seq).await;
    let a = alice.open_channel(0, 10_000).await.unwrap();
    let b = bob.open_channel(0, 10_000).await.unwrap();
    for _ in 0..2 {
        pay_routed(&bob, &b, &alice, 150).await;
    }
    // Idle, the channel's last lock is settled to Alice.
    wait_for("alice's settlement", async || {
        let latest = alice.channel(&a).unwrap().latest;
        latest.balance_wallet == 10_300 && latest.locks.is_empty()
    })
    .await;
    let latest = alice.channel(&a).unwrap().latest;
    alice.close().await;

    // While Alice is offline the hub registers version 2 (Alice 10,000).
    hub.hub.register_on_rollup(&a, Some(2)).await.unwrap();
    let (alice_before, hub_before) = (
        l2_balance(&seq, &alice.address()).await,
        l2_balance(&seq, &hub.hub.address).await,
    );
    // Back online, her watcher finds the dispute on the rollup and refutes it.
    let alice = wallet(0, &alice_dir, &hub, &seq).await;
    wait_for("the returning wallet's refutation", async || {
        matches!(status(&seq, &a), ChannelStatus::Disputed { state, .. } if state == latest)
    })
    .await;
    let ChannelStatus::Disputed { deadline, .. } = status(&seq, &a) else {
        panic!("not disputed")
    };
    fill_until_closed(&seq, &a, deadline).await;
    assert_eq!(
        l2_balance(&seq, &alice.address()).await - alice_before,
        latest.balance_wallet
    );
    assert_eq!(
        l2_balance(&seq, &hub.hub.address).await - hub_before,
        latest.balance_hub
    );
    alice.close().await;
    bob.close().await;
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

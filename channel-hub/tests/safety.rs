//! The hub's safety rules, each against a real sequencer and hub:
//! durable before signing, one state per version, only backed credits, no older state after
//! a restart from an older database, and refutation of stale registrations.

mod common;

use std::{path::Path, time::Duration};

use common::{hub_config, key, sequencer, start_hub, wallet, wallet_with};
use serde_json::Value;
use sqlx::{Connection, SqliteConnection};
use weft_channel::{
    RouteStatus, SignedUpdate,
    transition::{self, Side},
};
use weft_channel_hub::{Config as HubConfig, error::HubError};
use weft_protocol::{
    channel::{ChannelState, ChannelStatus},
    eip712::{Domain, Eip712},
    primitives::B256,
    signature::SigningKey,
};
use weft_wallet::Wallet;

/// Posts a raw update to the hub; returns the status and the JSON body.
async fn post(
    hub: &weft_channel_hub::Running,
    path: &str,
    body: &impl serde::Serialize,
) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("http://{}{path}", hub.addr))
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn signed(key: &SigningKey, domain: &Domain, state: ChannelState) -> SignedUpdate {
    SignedUpdate {
        wallet_signature: key.sign_digest(&state.signing_hash(domain)),
        state,
    }
}

async fn sqlite(dir: &Path) -> SqliteConnection {
    let url = format!("sqlite://{}", dir.join("channel-hub.db").display());
    SqliteConnection::connect(&url).await.unwrap()
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_signs_nothing_before_its_state_is_committed() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let hub_dir = dir.path().join("hub");
    let hub = weft_channel_hub::start(hub_config(&hub_dir, &seq))
        .await
        .unwrap();
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    let a = alice.open_channel(0, 1_000).await.unwrap();
    let before = alice.channel(&a).unwrap().latest;

    // Every insert of a state fails: the commit fails, so no signature may come back.
    let mut db = sqlite(&hub_dir).await;
    sqlx::query(
        "CREATE TRIGGER refuse BEFORE INSERT ON states BEGIN SELECT RAISE(ABORT, 'injected'); END",
    )
    .execute(&mut db)
    .await
    .unwrap();
    let next = transition::pay(&before, Side::Wallet, 10).unwrap();
    let update = signed(&key(0), &hub.hub.domain, next.clone());
    let (status, body) = post(&hub, &format!("/v1/channels/{a}/pay"), &update).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.get("hubSignature").is_none(), "{body}");
    assert_eq!(alice.hub_view(&a).await.unwrap().latest.state, before);

    // Once the database takes it, the same update is signed, and its row is there first.
    sqlx::query("DROP TRIGGER refuse")
        .execute(&mut db)
        .await
        .unwrap();
    let (status, body) = post(&hub, &format!("/v1/channels/{a}/pay"), &update).await;
    assert_eq!(status, 200, "{body}");
    let stored: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM states s LEFT JOIN wallet_signatures w \
         ON w.channel_id = s.channel_id AND w.version = s.version \
         WHERE s.channel_id = ? AND s.version = ? \
         AND COALESCE(s.wallet_signature, w.signature) IS NOT NULL",
    )
    .bind(a.as_slice())
    .bind(next.version as i64)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(stored, 1);
    alice.close().await;
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_never_signs_two_states_with_one_version_nor_an_unbacked_credit() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let mut config = hub_config(&dir.path().join("hub"), &seq);
    config.funding.match_cap = 1_000;
    let hub = weft_channel_hub::start(config).await.unwrap();
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    let bob = wallet(1, &dir.path().join("bob"), &hub, &seq).await;
    let a = alice.open_channel(0, 5_000).await.unwrap();
    let b = bob.open_channel(0, 5_000).await.unwrap();
    assert_eq!(bob.channel(&b).unwrap().latest.balance_hub, 1_000);
    let domain = hub.hub.domain;

    // Version 3 is signed (alice pays 10); another state with version 3 is refused.
    let v2 = alice.channel(&a).unwrap().latest;
    alice.pay_hub(&a, 10).await.unwrap();
    let twin = transition::pay(&v2, Side::Wallet, 20).unwrap();
    let (status, body) = post(
        &hub,
        &format!("/v1/channels/{a}/pay"),
        &signed(&key(0), &domain, twin),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("stale_version")),
        "{body}"
    );
    // A version ahead of the hub's is not signed either: the hub asks to sync first.
    let latest = alice.channel(&a).unwrap().latest;
    let mut ahead = transition::pay(&latest, Side::Wallet, 1).unwrap();
    ahead.version += 1;
    let (status, body) = post(
        &hub,
        &format!("/v1/channels/{a}/pay"),
        &signed(&key(0), &domain, ahead),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("sync_required")),
        "{body}"
    );
    // A "payment" that credits the wallet is refused.
    let credit = transition::pay(&latest, Side::Hub, 5).unwrap();
    let (status, body) = post(
        &hub,
        &format!("/v1/channels/{a}/pay"),
        &signed(&key(0), &domain, credit),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_update")),
        "{body}"
    );
    assert!(body.get("hubSignature").is_none());

    // The hub has 1,000 in bob's channel: a routed 1,500 is refused before anything is
    // signed, and nothing is recorded.
    let invoice = bob.invoice(1_500).await.unwrap();
    let err = alice
        .pay(&a, bob.address(), 1_500, invoice)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("insufficient_liquidity"), "{err}");
    assert_eq!(alice.channel(&a).unwrap().latest, latest);
    assert!(hub.hub.store.payment(&invoice).await.unwrap().is_none());
    assert!(matches!(
        hub.hub.pay_wallet(&b, 1_001).await,
        Err(HubError::Transition(_))
    ));
    // Up to the hub's balance it routes.
    let invoice = bob.invoice(1_000).await.unwrap();
    assert_eq!(
        alice.pay(&a, bob.address(), 1_000, invoice).await.unwrap(),
        RouteStatus::Settled
    );
    // Every version of each channel has exactly one state in the hub's database.
    for id in [a, b] {
        let states = hub.hub.store.states(&id).await.unwrap();
        for (i, s) in states.iter().enumerate() {
            assert_eq!(s.state.version, i as u64 + 1);
        }
    }
    alice.close().await;
    bob.close().await;
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

/// Copies the hub's database files (stopped hub).
fn copy_db(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in ["channel-hub.db", "channel-hub.db-wal", "channel-hub.db-shm"] {
        let src = from.join(f);
        let dst = to.join(f);
        if src.exists() {
            std::fs::copy(&src, &dst).unwrap();
        } else if dst.exists() {
            std::fs::remove_file(&dst).unwrap();
        }
    }
}

async fn restart(config: &HubConfig, addr: std::net::SocketAddr) -> weft_channel_hub::Running {
    let config = HubConfig {
        listen: addr,
        ..config.clone()
    };
    weft_channel_hub::start(config).await.unwrap()
}

async fn pay_bob(alice: &Wallet, a: &B256, bob: &Wallet, amount: u128) {
    let invoice = bob.invoice(amount).await.unwrap();
    let mut tries = 0;
    loop {
        match alice.pay(a, bob.address(), amount, invoice).await {
            Ok(status) => {
                assert_eq!(status, RouteStatus::Settled);
                return;
            }
            Err(e) if e.code() == Some("sync_required") && tries < 50 => {
                alice.sync(a).await.unwrap();
            }
            Err(e) if tries < 50 => {
                tracing::debug!(error = %e, "retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("payment failed: {e}"),
        }
        tries += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_from_an_older_database_the_hub_never_signs_an_older_state() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let hub_dir = dir.path().join("hub");
    let config = hub_config(&hub_dir, &seq);
    let hub = weft_channel_hub::start(config.clone()).await.unwrap();
    let addr = hub.addr;
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    let bob = wallet(1, &dir.path().join("bob"), &hub, &seq).await;
    let a = alice.open_channel(0, 10_000).await.unwrap();
    let b = bob.open_channel(0, 10_000).await.unwrap();
    for _ in 0..3 {
        pay_bob(&alice, &a, &bob, 10).await;
    }
    assert!(hub.hub.wait_idle(&b, Duration::from_secs(5)).await);

    // A backup of the database, taken with the hub stopped.
    hub.stop().await.unwrap();
    let backup = dir.path().join("backup");
    copy_db(&hub_dir, &backup);
    let hub = restart(&config, addr).await;
    for _ in 0..3 {
        pay_bob(&alice, &a, &bob, 10).await;
    }
    wait_for("bob's last settlement", async || {
        bob.channel(&b).unwrap().latest.balance_wallet == 10_060
    })
    .await;
    let (alice_v, bob_v) = (
        alice.channel(&a).unwrap().latest.version,
        bob.channel(&b).unwrap().latest.version,
    );
    hub.stop().await.unwrap();

    // The hub comes back on the backup: its newest states are gone.
    copy_db(&backup, &hub_dir);
    bob.close().await;
    let hub = restart(&config, addr).await;
    let stale = hub.hub.store.channels().await.unwrap();
    assert!(
        stale
            .iter()
            .all(|c| c.latest.0.version < alice_v.max(bob_v))
    );
    // Bob is offline: his channel is unsynced, so the hub signs nothing on it.
    assert!(matches!(
        hub.hub.pay_wallet(&b, 1).await,
        Err(HubError::SyncRequired { .. })
    ));
    // Alice pays again: the hub learns her latest state first (sync), then signs above it.
    let bob = wallet(1, &dir.path().join("bob"), &hub, &seq).await;
    pay_bob(&alice, &a, &bob, 10).await;
    wait_for("bob's settlement after the restore", async || {
        bob.channel(&b).unwrap().latest.balance_wallet == 10_070
    })
    .await;
    let alice_after = alice.channel(&a).unwrap().latest;
    let bob_after = bob.channel(&b).unwrap().latest;
    assert!(
        alice_after.version > alice_v,
        "{} <= {alice_v}",
        alice_after.version
    );
    assert!(
        bob_after.version > bob_v,
        "{} <= {bob_v}",
        bob_after.version
    );
    assert_eq!(alice_after.balance_wallet, 10_000 - 70);
    // No version the wallets hold carries two different states signed by the hub.
    for (w, id) in [(&alice, a), (&bob, b)] {
        let history = w.history(&id).await.unwrap();
        let mut hub_signed: Vec<u64> = history
            .iter()
            .filter(|s| s.hub_signature.is_some())
            .map(|s| s.state.version)
            .collect();
        let count = hub_signed.len();
        hub_signed.dedup();
        assert_eq!(
            hub_signed.len(),
            count,
            "two hub-signed states at one version"
        );
    }

    // A wallet state that contradicts the hub's own history halts the channel.
    hub.stop().await.unwrap();
    let mut db = sqlite(&hub_dir).await;
    let mut forged = bob_after.clone();
    forged.version += 1;
    forged.balance_hub -= 1;
    forged.balance_wallet += 1;
    let bob_next = transition::pay(&bob_after, Side::Wallet, 1).unwrap();
    sqlx::query("INSERT INTO states (channel_id, version, state_hash, encoded, purpose) VALUES (?, ?, ?, ?, 'payment')")
        .bind(b.as_slice())
        .bind(forged.version as i64)
        .bind(forged.struct_hash().as_slice())
        .bind(weft_protocol::codec::Encode::to_bytes(&forged))
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    let hub = restart(&config, addr).await;
    let domain = hub.hub.domain;
    let req = weft_channel::SyncRequest {
        hub_signature: Some(hub_key_sign(&domain, &bob_next)),
        base: None,
        wallet_signature: Some(key(1).sign_digest(&bob_next.signing_hash(&domain))),
        state: bob_next,
        secrets: Vec::new(),
    };
    let (status, body) = post(&hub, &format!("/v1/channels/{b}/sync"), &req).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("channel_halted")),
        "{body}"
    );
    alice.close().await;
    bob.close().await;
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

/// The hub's signature, as if it had signed `state` before losing it (the test plays the
/// hub's past; the dev key is public).
fn hub_key_sign(domain: &Domain, state: &ChannelState) -> weft_protocol::signature::Signature {
    weft_channel_hub::config::dev_key().sign_digest(&state.signing_hash(domain))
}

/// The hub takes a wallet's payments without signing them (they only give it value). A hub
/// restored from a backup older than those payments adopts them when the wallet syncs,
/// because they pay the hub no less than what it holds, and refuses a state the wallet signed
/// alone that would pay the wallet more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_hub_adopts_the_payments_it_took_unsigned_but_not_a_forged_gain() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let hub_dir = dir.path().join("hub");
    let mut config = hub_config(&hub_dir, &seq);
    // Nothing is settled behind the payments' backs: alice's latest state stays her own.
    config.settle_idle = Duration::from_secs(3600);
    let hub = weft_channel_hub::start(config.clone()).await.unwrap();
    let addr = hub.addr;
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    let bob = wallet(1, &dir.path().join("bob"), &hub, &seq).await;
    let a = alice.open_channel(0, 10_000).await.unwrap();
    let b = bob.open_channel(0, 10_000).await.unwrap();
    hub.stop().await.unwrap();
    let backup = dir.path().join("backup");
    copy_db(&hub_dir, &backup);
    let hub = restart(&config, addr).await;
    for _ in 0..2 {
        pay_bob(&alice, &a, &bob, 100).await;
    }
    // Alice's latest is her second payment: signed by her alone, its lock's secret known.
    let mine = alice.channel(&a).unwrap();
    assert_eq!(mine.hub_signature, None);
    assert_eq!((mine.latest.version, mine.latest.locks.len()), (4, 1));
    assert_eq!(mine.latest.balance_wallet, 10_000 - 200);
    hub.stop().await.unwrap();

    // The hub comes back on the backup (version 2 of both channels) and alice syncs.
    copy_db(&backup, &hub_dir);
    let hub = restart(&config, addr).await;
    assert_eq!(
        hub.hub.store.channels().await.unwrap()[0].latest.0.version,
        2
    );
    alice.sync(&a).await.unwrap();
    let view = alice.hub_view(&a).await.unwrap();
    assert_eq!(view.latest.state, mine.latest);
    assert_eq!(view.status, "active");

    // A state alice signs alone that takes 1 back from the hub is refused.
    let domain = hub.hub.domain;
    let mut forged = mine.latest.clone();
    forged.version += 1;
    forged.balance_hub -= 1;
    forged.balance_wallet += 1;
    let req = weft_channel::SyncRequest {
        wallet_signature: Some(key(0).sign_digest(&forged.signing_hash(&domain))),
        state: forged,
        hub_signature: None,
        base: None,
        secrets: Vec::new(),
    };
    let (status, body) = post(&hub, &format!("/v1/channels/{a}/sync"), &req).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );
    assert_eq!(alice.hub_view(&a).await.unwrap().latest.state, mine.latest);

    // Payments go on: the next one settles the lock whose secret alice's sync carried.
    wait_for("bob's sync", async || {
        bob.hub_view(&b)
            .await
            .is_ok_and(|v| v.status == "active" && v.latest.state.version == 4)
    })
    .await;
    pay_bob(&alice, &a, &bob, 100).await;
    let after = alice.channel(&a).unwrap().latest;
    assert_eq!(after.version, 5);
    assert_eq!(
        after.locks.len(),
        1,
        "the previous lock was settled: {after:?}"
    );
    assert_eq!(after.balance_hub, mine.latest.balance_hub + 100);
    alice.close().await;
    bob.close().await;
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_registration_is_refuted_with_the_latest_state() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let hub = start_hub(dir.path(), &seq).await;
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    let bob = wallet(1, &dir.path().join("bob"), &hub, &seq).await;
    let a = alice.open_channel(0, 10_000).await.unwrap();
    bob.open_channel(0, 10_000).await.unwrap();
    for _ in 0..3 {
        pay_bob(&alice, &a, &bob, 100).await;
    }
    let latest = alice.channel(&a).unwrap().latest;
    assert_eq!(latest.balance_wallet, 9_700);

    // Alice registers version 2, where she still had 10,000.
    alice.register_on_rollup(&a, Some(2)).await.unwrap();
    let registered = || {
        seq.node.state.read().channel(&a).map(|r| match &r.status {
            ChannelStatus::Disputed { state, deadline } => Some((state.version, *deadline)),
            _ => None,
        })
    };
    wait_for("the hub's refutation", async || {
        registered()
            .flatten()
            .is_some_and(|(v, _)| v == latest.version)
    })
    .await;
    let record = seq.node.state.read().channel(&a).cloned().unwrap();
    let ChannelStatus::Disputed { state, .. } = record.status else {
        panic!("not disputed")
    };
    assert_eq!(state, latest);
    assert_eq!(
        hub.hub.view(&a, &alice.address()).await.unwrap().status,
        "disputed"
    );
    alice.close().await;
    bob.close().await;
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

/// The payer locks a payment to the hub and then stops answering: the payee is paid and the
/// payer never countersigns the settlement. Before the payer's lock expires, the hub reveals
/// the secret on the rollup and registers the payer's channel with the co-signed state
/// holding the lock, so that conclusion pays the lock to the hub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payer_that_stops_answering_has_its_lock_enforced_on_the_rollup() {
    use weft_channel::{RouteReply, RouteRequest};
    use weft_protocol::{
        channel::{Lock, LockDirection},
        transaction::{Transaction, Transfer},
    };

    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let mut config = hub_config(&dir.path().join("hub"), &seq);
    config.locks.min_blocks = 10;
    config.locks.margin_blocks = 6;
    let hub = weft_channel_hub::start(config).await.unwrap();
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    // Bob's lock lives 14 blocks here: his watcher would reveal its secret on the rollup
    // itself within its guard of 20; the test shows the hub doing it.
    let bob = wallet_with(1, &dir.path().join("bob"), &hub, &seq, |c| {
        c.reveal_guard_blocks = 1;
    })
    .await;
    let a = alice.open_channel(0, 10_000).await.unwrap();
    let b = bob.open_channel(0, 10_000).await.unwrap();
    let before = alice.channel(&a).unwrap().latest;
    // Alice's wallet goes away; she sends one more lock by hand and never answers again.
    alice.close().await;

    let domain = hub.hub.domain;
    let hashlock = bob.invoice(100).await.unwrap();
    let expiry = hub.hub.head() + 10 + 6 + 4;
    let locked = transition::add_lock(
        &before,
        Lock {
            amount: 100,
            hashlock,
            expiry,
            direction: LockDirection::WalletToHub,
        },
    )
    .unwrap();
    let request = RouteRequest {
        wallet_signature: key(0).sign_digest(&locked.signing_hash(&domain)),
        state: locked.clone(),
        payee: bob.address(),
    };
    let (status, body) = post(&hub, &format!("/v1/channels/{a}/route"), &request).await;
    assert_eq!(status, 200, "{body}");
    let reply: RouteReply = serde_json::from_value(body).unwrap();
    assert_eq!(reply.status, RouteStatus::Settled);
    // Bob was paid off-chain.
    wait_for("bob's settlement", async || {
        bob.channel(&b).unwrap().latest.balance_wallet == 10_100
    })
    .await;
    assert!(
        seq.node
            .state
            .read()
            .secret_revealed_at(&hashlock)
            .is_none(),
        "nothing on the rollup yet"
    );

    // Blocks go by (a dev account's transfers); the hub acts before the lock expires.
    let rollup = weft_api::Client::new(&format!("http://{}", seq.addr));
    let sender = key(5);
    let registered = || {
        seq.node
            .state
            .read()
            .channel(&a)
            .and_then(|r| match &r.status {
                ChannelStatus::Disputed { state, .. } => Some(state.clone()),
                _ => None,
            })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while registered().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the hub never enforced the lock"
        );
        let (hash, _) = rollup
            .sign_and_submit(&sender, &domain, |nonce| {
                Transaction::Transfer(Transfer {
                    from: sender.address(),
                    to: bob.address(),
                    token: 0,
                    amount: 1,
                    fee: 0,
                    nonce,
                })
            })
            .await
            .unwrap();
        rollup
            .wait_executed(&hash, Duration::from_secs(10))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(registered(), Some(locked), "registered with the lock");
    let revealed = seq.node.state.read().secret_revealed_at(&hashlock);
    assert!(
        revealed.is_some_and(|at| at < expiry),
        "secret revealed at {revealed:?}, lock expiry {expiry}"
    );
    assert_eq!(
        hub.hub.view(&a, &alice.address()).await.unwrap().status,
        "disputed"
    );
    bob.close().await;
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

/// A hand-built route request: `state` (the payer's latest plus a lock to the hub) signed
/// by dev key `i`.
fn route_request(
    i: u32,
    domain: &Domain,
    state: ChannelState,
    payee: weft_protocol::primitives::Address,
) -> weft_channel::RouteRequest {
    weft_channel::RouteRequest {
        wallet_signature: key(i).sign_digest(&state.signing_hash(domain)),
        state,
        payee,
    }
}

fn lock_to_hub(amount: u128, hashlock: B256, expiry: u64) -> weft_protocol::channel::Lock {
    weft_protocol::channel::Lock {
        amount,
        hashlock,
        expiry,
        direction: weft_protocol::channel::LockDirection::WalletToHub,
    }
}

/// A and B collude (audit issue 18, item 1): A routes a payment to B, then registers its
/// channel with an older state; the hub refutes with A's latest, which holds the lock, while
/// B keeps the secret. A cannot revive its channel through sync. B then reveals the secret
/// to the hub: the hub must reveal it on the rollup, so that the conclusion pays A's lock to
/// the hub, which has paid B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payer_colluding_with_its_payee_cannot_keep_a_routed_payment() {
    use common::{fill_block, l2_balance, sequencer_with_window};
    use weft_channel::RouteReply;

    const WINDOW: u64 = 40;
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer_with_window(&dir.path().join("seq"), WINDOW).await;
    let mut config = hub_config(&dir.path().join("hub"), &seq);
    config.locks.min_blocks = 2;
    config.locks.margin_blocks = 10;
    config.route_timeout = Duration::from_millis(300);
    let hub = weft_channel_hub::start(config).await.unwrap();
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    // Bob's own watcher would reveal the secret on the rollup near expiry: not here.
    let bob = wallet_with(1, &dir.path().join("bob"), &hub, &seq, |c| {
        c.reveal_guard_blocks = 0;
    })
    .await;
    let a = alice.open_channel(0, 10_000).await.unwrap();
    let b = bob.open_channel(0, 10_000).await.unwrap();
    let domain = hub.hub.domain;
    let before = alice.channel(&a).unwrap().latest;

    // Alice locks 100 to the hub for Bob; Bob holds the offer without answering.
    bob.set_answering(false);
    let hashlock = bob.invoice(100).await.unwrap();
    let expiry = hub.hub.head() + 12 + 8;
    let locked = transition::add_lock(&before, lock_to_hub(100, hashlock, expiry)).unwrap();
    let request = route_request(0, &domain, locked.clone(), bob.address());
    let (status, body) = post(&hub, &format!("/v1/channels/{a}/route"), &request).await;
    assert_eq!(status, 200, "{body}");
    let reply: RouteReply = serde_json::from_value(body).unwrap();
    assert_eq!(reply.status, RouteStatus::Pending);
    wait_for("bob's lock offer", async || {
        bob.channel(&b).unwrap().offer.is_some()
    })
    .await;

    // Alice registers her state without the lock; the hub refutes with the one holding it.
    alice
        .register_on_rollup(&a, Some(before.version))
        .await
        .unwrap();
    let registered = || {
        seq.node
            .state
            .read()
            .channel(&a)
            .and_then(|r| match &r.status {
                ChannelStatus::Disputed { state, .. } => Some(state.clone()),
                _ => None,
            })
    };
    wait_for("the hub's refutation", async || {
        registered().is_some_and(|s| s == locked)
    })
    .await;

    // Alice cannot bring her disputed channel back to life with a state she signed alone.
    let revive = transition::pay(&locked, Side::Wallet, 1).unwrap();
    let (status, body) = post(
        &hub,
        &format!("/v1/channels/{a}/sync"),
        &serde_json::json!({
            "state": revive,
            "walletSignature": key(0).sign_digest(&revive.signing_hash(&domain)),
        }),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("channel_not_active")),
        "{body}"
    );
    assert_eq!(
        hub.hub.view(&a, &alice.address()).await.unwrap().status,
        "disputed"
    );

    // Bob reveals the secret to the hub: the hub pays him and reveals it on the rollup.
    bob.set_answering(true);
    wait_for("the hub's reveal on the rollup", async || {
        seq.node
            .state
            .read()
            .secret_revealed_at(&hashlock)
            .is_some()
    })
    .await;
    let revealed = seq.node.state.read().secret_revealed_at(&hashlock).unwrap();
    assert!(
        revealed <= expiry,
        "revealed at {revealed}, expiry {expiry}"
    );
    wait_for("bob's settlement", async || {
        bob.channel(&b).unwrap().latest.balance_wallet == 10_100
    })
    .await;

    // The dispute concludes: Alice gets her balance without the lock, the hub the lock.
    let alice_before = l2_balance(&seq, &alice.address()).await;
    let hub_before = l2_balance(&seq, &hub.hub.address).await;
    for _ in 0..WINDOW * 5 {
        if seq
            .node
            .state
            .read()
            .channel(&a)
            .is_some_and(|r| r.status == ChannelStatus::Closed)
        {
            break;
        }
        fill_block(&seq).await;
    }
    assert_eq!(
        seq.node.state.read().channel(&a).unwrap().status,
        ChannelStatus::Closed
    );
    assert_eq!(
        l2_balance(&seq, &alice.address()).await - alice_before,
        locked.balance_wallet
    );
    assert_eq!(
        l2_balance(&seq, &hub.hub.address).await - hub_before,
        locked.balance_hub + 100
    );
    alice.close().await;
    bob.close().await;
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

/// A payer's lock may not outlast a dispute of its channel (audit issue 18, item 1): the
/// hub refuses an expiry past the last block it scanned plus the dispute window less its
/// reveal guard, and takes one at the bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_that_could_outlast_a_dispute_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let hub = start_hub(dir.path(), &seq).await;
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    let bob = wallet(1, &dir.path().join("bob"), &hub, &seq).await;
    let a = alice.open_channel(0, 10_000).await.unwrap();
    bob.open_channel(0, 10_000).await.unwrap();
    let info: weft_channel::HubInfo = reqwest::get(format!("http://{}/v1/info", hub.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        info.max_lock_blocks,
        hub.hub.dispute_window - hub.hub.config.locks.margin_blocks / 2
    );
    let latest = alice.channel(&a).unwrap().latest;
    let hashlock = bob.invoice(100).await.unwrap();
    let max = hub.hub.max_lock_expiry();
    let too_late = transition::add_lock(&latest, lock_to_hub(100, hashlock, max + 1)).unwrap();
    let request = route_request(0, &hub.hub.domain, too_late, bob.address());
    let (status, body) = post(&hub, &format!("/v1/channels/{a}/route"), &request).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("lock_expiry_too_late")),
        "{body}"
    );
    assert!(hub.hub.store.payment(&hashlock).await.unwrap().is_none());
    // The wallet library keeps its locks within the bound.
    assert_eq!(
        alice.pay(&a, bob.address(), 100, hashlock).await.unwrap(),
        RouteStatus::Settled
    );
    alice.close().await;
    bob.close().await;
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

/// Sync cannot push a channel's version past the bound (audit issue 18, item 9): the hub
/// builds `version + 1` on what it adopts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_to_a_version_past_the_bound_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let hub = start_hub(dir.path(), &seq).await;
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    let a = alice.open_channel(0, 1_000).await.unwrap();
    let latest = alice.channel(&a).unwrap().latest;
    for version in [u64::MAX, transition::MAX_VERSION + 1] {
        let mut far = transition::pay(&latest, Side::Wallet, 1).unwrap();
        far.version = version;
        let (status, body) = post(
            &hub,
            &format!("/v1/channels/{a}/sync"),
            &serde_json::json!({
                "state": far,
                "walletSignature": key(0).sign_digest(&far.signing_hash(&hub.hub.domain)),
            }),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("version_too_high")),
            "{body}"
        );
    }
    // The channel goes on from its real latest.
    alice.pay_hub(&a, 10).await.unwrap();
    assert_eq!(
        hub.hub
            .view(&a, &alice.address())
            .await
            .unwrap()
            .latest
            .state
            .version,
        latest.version + 1
    );
    alice.close().await;
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

/// A captured WebSocket login cannot be replayed (audit issue 18, item 7): each socket
/// gets its own one-time challenge, a login signed over another socket's challenge is
/// refused and the live session stays; an old-style signed query opens nothing; a fresh
/// login by the key's holder replaces the session, which is told so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captured_websocket_login_cannot_be_replayed() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use weft_channel::{HubLogin, HubMessage, HubRequest, WalletMessage};

    type Socket = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;
    async fn next(socket: &mut Socket) -> Option<HubMessage> {
        let frame = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("an answer in time");
        match frame {
            Some(Ok(Message::Text(t))) => Some(serde_json::from_str(&t).unwrap()),
            _ => None,
        }
    }
    async fn send(socket: &mut Socket, text: &str) {
        socket.send(Message::Text(text.into())).await.unwrap();
    }

    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let hub = start_hub(dir.path(), &seq).await;
    let domain = hub.hub.domain;
    let url = format!("ws://{}/v1/ws", hub.addr);
    let carol = key(3);
    let connect = async |url: &str| tokio_tungstenite::connect_async(url).await.unwrap().0;
    let challenge = |m: Option<HubMessage>| match m {
        Some(HubMessage::Challenge { challenge }) => challenge,
        other => panic!("expected a challenge, got {other:?}"),
    };

    // Carol logs in over her socket's challenge.
    let mut live = connect(&url).await;
    let c1 = challenge(next(&mut live).await);
    let login = WalletMessage::Login {
        wallet: carol.address(),
        signature: HubLogin {
            wallet: carol.address(),
            challenge: c1,
        }
        .sign(&carol, &domain),
    };
    let captured = serde_json::to_string(&login).unwrap();
    send(&mut live, &captured).await;
    assert_eq!(
        next(&mut live).await,
        Some(HubMessage::LoggedIn {
            wallet: carol.address()
        })
    );
    assert!(hub.hub.sessions.is_connected(&carol.address()));

    // The captured login, replayed on another socket, meets another challenge: refused.
    let mut replay = connect(&url).await;
    let c2 = challenge(next(&mut replay).await);
    assert_ne!(c1, c2);
    send(&mut replay, &captured).await;
    match next(&mut replay).await {
        Some(HubMessage::Error { code, .. }) => assert_eq!(code, "unauthorized"),
        other => panic!("the replayed login was not refused: {other:?}"),
    }
    assert!(next(&mut replay).await.is_none(), "the socket closes");
    // The old signed query (valid for minutes) opens nothing either.
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let query = HubRequest {
        wallet: carol.address(),
        method: "GET",
        path: "/v1/ws",
        timestamp,
    }
    .sign(&carol, &domain);
    let mut old_style = connect(&format!(
        "{url}?wallet={}&timestamp={timestamp}&signature={query}",
        carol.address()
    ))
    .await;
    challenge(next(&mut old_style).await);
    drop(old_style);

    // Carol's session is still hers: a payment offer would still reach this socket.
    assert!(hub.hub.sessions.is_connected(&carol.address()));
    assert!(hub.hub.sessions.send(
        &carol.address(),
        HubMessage::SyncRequest {
            channel_id: B256::ZERO,
            version: 0
        }
    ));
    assert!(matches!(
        next(&mut live).await,
        Some(HubMessage::SyncRequest { .. })
    ));

    // Carol herself logs in again (a reconnect): the old session is told and closed.
    let mut fresh = connect(&url).await;
    let c3 = challenge(next(&mut fresh).await);
    let relogin = WalletMessage::Login {
        wallet: carol.address(),
        signature: HubLogin {
            wallet: carol.address(),
            challenge: c3,
        }
        .sign(&carol, &domain),
    };
    send(&mut fresh, &serde_json::to_string(&relogin).unwrap()).await;
    assert!(matches!(
        next(&mut fresh).await,
        Some(HubMessage::LoggedIn { .. })
    ));
    match next(&mut live).await {
        Some(HubMessage::Error { code, .. }) => assert_eq!(code, "session_replaced"),
        other => panic!("the replaced session was not told: {other:?}"),
    }
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

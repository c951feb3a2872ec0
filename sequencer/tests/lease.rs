//! The leader lease on PostgreSQL (skipped without `DATABASE_URL`): a second node waits as a
//! hot standby, following the stored blocks; when the leader's lease runs out (it stopped renewing: paused, cut off) the
//! standby takes it with a higher epoch, opens the state with every block the leader
//! committed and goes on; the deposed leader cannot write a block any more and stops; a
//! clean stop releases the lease so the next standby takes over at once. Block numbers stay
//! unique and continuous throughout.

mod common;

use std::time::{Duration, Instant};

use weft_protocol::primitives::B256;
use weft_sequencer::{
    config::LeaseConfig,
    store::{Fence, Store},
};
use weft_storage::testkit::TestDatabase;

use common::{Client, transfer};

const WAIT: Duration = Duration::from_secs(20);
const TTL: Duration = Duration::from_millis(1_000);

fn config(db: &TestDatabase, holder: &str) -> weft_sequencer::config::Config {
    let dir = db.dir().join(holder);
    let mut c = common::config(&dir, db.url().map(str::to_owned));
    c.lease = Some(LeaseConfig {
        holder: holder.into(),
        ttl: TTL,
    });
    c
}

async fn submit(client: &Client, tx: &weft_protocol::transaction::SignedTransaction) -> u64 {
    let (_, v) = client.submit(tx).await;
    let hash: B256 = v["hash"].as_str().unwrap().parse().unwrap();
    client.wait_executed(&hash, WAIT).await["blockNumber"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_a_lapsed_lease_and_the_deposed_leader_cannot_write() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let a = weft_sequencer::start(config(&db, "a")).await.unwrap();
    let domain = a.node.domain;
    let client_a = Client::new(a.addr);
    // Three blocks (each transfer waits for its block) before the standby starts.
    for nonce in 0..3 {
        submit(&client_a, &transfer(&domain, 0, 1, 5, nonce)).await;
    }

    // b waits while a renews, following a's blocks as a hot standby; a seals one more.
    let standby = tokio::spawn(weft_sequencer::start(config(&db, "b")));
    tokio::time::sleep(TTL).await;
    let first = submit(&client_a, &transfer(&domain, 0, 1, 5, 3)).await;
    assert!(first >= 4, "four blocks: {first}");
    tokio::time::sleep(TTL).await;
    assert!(
        !standby.is_finished(),
        "b must wait while a holds the lease"
    );
    let store = Store::connect(db.url(), db.dir()).await.unwrap();
    let held = store.lease().await.unwrap();
    assert_eq!((held.holder.as_str(), held.epoch), ("a", 1));

    // a's lease lapses, as the database sees it, as if a had stopped renewing (paused, cut
    // off from the database).
    let a_fence = Fence {
        holder: "a".into(),
        epoch: 1,
    };
    store.release_lease(&a_fence).await.unwrap();
    let started = Instant::now();
    let b = standby.await.unwrap().unwrap();
    let takeover = started.elapsed();
    assert!(
        takeover < TTL,
        "b took the lapsed lease within a poll: {takeover:?}"
    );
    let lease = store.lease().await.unwrap();
    assert_eq!((lease.holder.as_str(), lease.epoch), ("b", 2));

    // b has a's blocks and continues the chain. It followed them while waiting: the
    // takeover replayed at most the block sealed since its last poll (a cold start replays
    // all four).
    let client_b = Client::new(b.addr);
    assert_eq!(b.node.head().number, first);
    let replayed = b.node.recovery.blocks_replayed;
    assert!(replayed <= 1, "b replayed {replayed} blocks at takeover");
    let second = submit(&client_b, &transfer(&domain, 0, 1, 5, 4)).await;
    assert_eq!(second, first + 1);

    // a finds its lease lost at its next renewal and stops sealing; whatever it still
    // holds cannot be written.
    let deadline = Instant::now() + WAIT;
    while !a.builder_finished() {
        assert!(Instant::now() < deadline, "a must notice it lost the lease");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let late = transfer(&domain, 2, 3, 5, 0);
    let _ = client_a.submit(&late).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        a.stop().await.is_err(),
        "a lost its lease: its stop reports it"
    );
    let late_hash = late.transaction.hash(&domain);
    assert!(
        store.transaction(&late_hash).await.unwrap().is_none(),
        "the deposed leader wrote nothing"
    );
    let (stored, _) = store.head().await.unwrap().unwrap();
    assert_eq!(
        stored.number,
        b.node.head().number,
        "every stored block is b's"
    );

    // A clean stop releases the lease: c takes over without waiting for the TTL.
    let head = b.node.head().number;
    b.stop().await.unwrap();
    let started = Instant::now();
    let c = weft_sequencer::start(config(&db, "c")).await.unwrap();
    assert!(started.elapsed() < TTL, "{:?}", started.elapsed());
    assert_eq!(c.node.head().number, head);
    assert_eq!(store.lease().await.unwrap().epoch, 3);
    let client_c = Client::new(c.addr);
    let third = submit(&client_c, &transfer(&domain, 4, 5, 5, 0)).await;
    assert_eq!(third, head + 1);
    c.stop().await.unwrap();
    store.close().await;
    db.drop_database().await;
}

/// A follower of the leader's database serves the read routes from the blocks the leader
/// stores (each replayed and checked) and refuses submissions with `not_leader`, REST and
/// JSON-RPC alike; its feed tells of the blocks it follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_serves_reads_and_refuses_submissions() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let leader = weft_sequencer::start(config(&db, "leader")).await.unwrap();
    let domain = leader.node.domain;
    let leader_client = Client::new(leader.addr);
    let first = submit(&leader_client, &transfer(&domain, 0, 1, 5, 0)).await;

    let mut follower_config = config(&db, "follower");
    follower_config.lease = None;
    let follower = weft_sequencer::start_follower(follower_config)
        .await
        .unwrap();
    let client = Client::new(follower.addr);
    assert_eq!(follower.node.head().number, first, "caught up at start");

    // A block sealed after the follower started reaches it, its state and its feed.
    let mut feed = follower.node.feed.subscribe();
    let tx = transfer(&domain, 0, 1, 7, 1);
    let second = submit(&leader_client, &tx).await;
    let hash = tx.transaction.hash(&domain);
    let seen = client.wait_executed(&hash, WAIT).await;
    assert_eq!(seen["blockNumber"], second, "{seen}");
    let receiver = weft_sequencer::config::GenesisConfig::dev_key(1).address();
    let deadline = Instant::now() + WAIT;
    while client.balance(&receiver).await != leader_client.balance(&receiver).await {
        assert!(Instant::now() < deadline, "the follower's state lags");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(follower.node.head().number, second);
    let event = tokio::time::timeout(WAIT, feed.recv())
        .await
        .unwrap()
        .unwrap();
    match &*event {
        weft_sequencer::feed::Event::Block(b) => assert_eq!(b.number, second),
        other => panic!("a block event, not {other:?}"),
    }
    let (_, ours) = client.get("/v1/blocks/latest").await;
    let (_, theirs) = leader_client.get("/v1/blocks/latest").await;
    assert_eq!(ours, theirs);

    // Submissions are the leader's.
    let (status, v) = client.submit(&transfer(&domain, 2, 3, 5, 0)).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (503, Some("not_leader")),
        "{v}"
    );
    let raw = common::rpc::signed(
        4,
        0,
        Some(receiver),
        weft_protocol::primitives::U256::from(1),
        Default::default(),
        21_000,
        weft_protocol::testkit::evm::MAX_FEE,
    );
    let message = common::rpc::Rpc::new(follower.addr).refused(&raw).await;
    assert!(message.contains("follows the leader"), "{message}");

    follower.stop().await.unwrap();
    leader.stop().await.unwrap();
    db.drop_database().await;
}

//! Restarting exactly: a graceful stop and a `kill -9` at an arbitrary moment both resume
//! at the next block on top of the stored head, with the rebuilt state root equal to the
//! stored one, and no executed transaction lost or executed twice. On SQLite always, on
//! PostgreSQL when `DATABASE_URL` is set.

mod common;

use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{Client, config, transfer};
use serde_json::Value;
use weft_protocol::primitives::B256;
use weft_sequencer::config::GenesisConfig;
use weft_storage::testkit::TestDatabase;

async fn graceful_restart(database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), database_url);
    c.snapshot_every = 3;
    let running = weft_sequencer::start(c.clone()).await.unwrap();
    let client = Client::new(running.addr);
    let d = running.node.domain;
    let mut last = B256::ZERO;
    for nonce in 0..40u64 {
        for sender in 0..5u32 {
            let (s, v) = client
                .submit(&transfer(&d, sender, sender + 5, 1, nonce))
                .await;
            assert_eq!(s, 200, "{v}");
            last = v["hash"].as_str().unwrap().parse().unwrap();
        }
        if nonce % 10 == 9 {
            client.wait_executed(&last, Duration::from_secs(20)).await;
        }
    }
    client.wait_executed(&last, Duration::from_secs(20)).await;
    let (_, head_before) = client.get("/v1/blocks/latest").await;
    running.stop().await.unwrap();

    let running = weft_sequencer::start(c).await.unwrap();
    let client = Client::new(running.addr);
    let (_, head_after) = client.get("/v1/blocks/latest").await;
    assert_eq!(
        head_after, head_before,
        "the stored head survives the restart"
    );
    assert_eq!(
        running.node.state.read().state_root().to_string(),
        head_before["stateRoot"].as_str().unwrap()
    );
    let (s, v) = client.submit(&transfer(&d, 0, 1, 1, 40)).await;
    assert_eq!(s, 200, "{v}");
    let hash: B256 = v["hash"].as_str().unwrap().parse().unwrap();
    let done = client.wait_executed(&hash, Duration::from_secs(10)).await;
    let number = done["blockNumber"].as_u64().unwrap();
    assert_eq!(number, head_before["number"].as_u64().unwrap() + 1);
    let (_, block) = client.get(&format!("/v1/blocks/{number}")).await;
    assert_eq!(block["parentHash"], head_before["hash"]);
    for sender in 0..5u32 {
        let (_, a) = client
            .get(&format!(
                "/v1/accounts/{}",
                GenesisConfig::dev_key(sender).address()
            ))
            .await;
        assert_eq!(a["nonce"], if sender == 0 { 41 } else { 40 });
    }
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_chain_never_resumes_with_another_dispute_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), None);
    c.dispute_window = 12;
    let running = weft_sequencer::start(c.clone()).await.unwrap();
    let client = Client::new(running.addr);
    let (s, v) = client
        .submit(&transfer(&running.node.domain, 0, 1, 1, 0))
        .await;
    assert_eq!(s, 200, "{v}");
    let hash = v["hash"].as_str().unwrap().parse().unwrap();
    client.wait_executed(&hash, Duration::from_secs(20)).await;
    running.stop().await.unwrap();

    let other = weft_sequencer::config::Config {
        dispute_window: 13,
        ..c.clone()
    };
    let refused = weft_sequencer::start(other).await.unwrap_err();
    assert!(
        format!("{refused:#}").contains("dispute window of 12 blocks"),
        "{refused:#}"
    );
    let running = weft_sequencer::start(c).await.unwrap();
    assert_eq!(running.node.head.borrow().number, 1);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn graceful_restart_resumes_exactly_on_sqlite() {
    graceful_restart(None).await;
}

#[tokio::test]
async fn graceful_restart_resumes_exactly_on_postgres() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    graceful_restart(db.url().map(str::to_owned)).await;
    db.drop_database().await;
}

/// Starts the real binary on a free port.
fn spawn_node(data_dir: &std::path::Path, database_url: Option<&str>, port: u16) -> Child {
    spawn_node_with(data_dir, database_url, port, 30)
}

fn spawn_node_with(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    port: u16,
    block_time_ms: u64,
) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft-sequencer"));
    cmd.arg("--data-dir")
        .arg(data_dir)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--block-time-ms")
        .arg(block_time_ms.to_string())
        .arg("--dev-accounts")
        .arg("20")
        .arg("--rate-per-second")
        .arg("0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    match database_url {
        Some(url) => cmd.arg("--database-url").arg(url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    cmd.spawn().expect("spawn weft-sequencer")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_healthy(client: &Client) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client
            .http
            .get(format!("{}/health", client.base))
            .send()
            .await
            && r.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "node did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn kill_9_loses_nothing(database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = spawn_node(dir.path(), database_url.as_deref(), port);
    let client = Client::new(format!("127.0.0.1:{port}").parse().unwrap());
    wait_healthy(&client).await;
    let d = config(dir.path(), None).domain();

    // Submit a steady stream from 10 senders; remember what was reported executed.
    let mut executed: HashMap<B256, (u64, u64)> = HashMap::new();
    let mut submitted = Vec::new();
    let kill_after = Duration::from_millis(1_500);
    let started = Instant::now();
    let mut nonce = 0u64;
    while started.elapsed() < kill_after {
        for sender in 0..10u32 {
            let tx = transfer(&d, sender, sender + 10, 1, nonce);
            let (s, v) = client.submit(&tx).await;
            assert_eq!(s, 200, "{v}");
            submitted.push(tx.transaction.hash(&d));
        }
        nonce += 1;
        // Poll a few statuses as a client would.
        for hash in submitted.iter().rev().take(20) {
            let (_, v) = client.get(&format!("/v1/transactions/{hash}")).await;
            if v["status"] == "executed" {
                executed.insert(
                    *hash,
                    (
                        v["blockNumber"].as_u64().unwrap(),
                        v["index"].as_u64().unwrap(),
                    ),
                );
            }
        }
    }
    child.kill().unwrap(); // SIGKILL: no drain, no snapshot
    child.wait().unwrap();
    assert!(
        !executed.is_empty(),
        "some transactions were executed before the kill"
    );

    let mut child = spawn_node(dir.path(), database_url.as_deref(), port);
    wait_healthy(&client).await;
    for (hash, (block, index)) in &executed {
        let (s, v) = client.get(&format!("/v1/transactions/{hash}")).await;
        assert_eq!(s, 200, "executed transaction {hash} lost");
        assert_eq!(
            (v["blockNumber"].as_u64(), v["index"].as_u64()),
            (Some(*block), Some(*index))
        );
    }
    // Nonces equal the number of each sender's stored transactions: nothing executed twice.
    let (_, head) = client.get("/v1/blocks/latest").await;
    let mut per_sender: HashMap<String, u64> = HashMap::new();
    for n in 1..=head["number"].as_u64().unwrap() {
        let (_, block) = client.get(&format!("/v1/blocks/{n}")).await;
        if n > 1 {
            let (_, parent) = client.get(&format!("/v1/blocks/{}", n - 1)).await;
            assert_eq!(block["parentHash"], parent["hash"]);
        }
        for h in block["transactions"].as_array().unwrap() {
            let (_, v): (u16, Value) = client
                .get(&format!("/v1/transactions/{}", h.as_str().unwrap()))
                .await;
            *per_sender
                .entry(v["transaction"]["from"].as_str().unwrap().to_lowercase())
                .or_default() += 1;
        }
    }
    for sender in 0..10u32 {
        let address = GenesisConfig::dev_key(sender).address();
        let (_, a) = client.get(&format!("/v1/accounts/{address}")).await;
        let stored = per_sender
            .get(&address.to_string().to_lowercase())
            .copied()
            .unwrap_or(0);
        assert_eq!(a["nonce"].as_u64().unwrap(), stored, "sender {sender}");
    }
    // And it keeps going on top of the stored head.
    let tx = transfer(&d, 19, 18, 1, 0);
    let (s, v) = client.submit(&tx).await;
    assert_eq!(s, 200, "{v}");
    let done = client
        .wait_executed(&tx.transaction.hash(&d), Duration::from_secs(10))
        .await;
    assert_eq!(
        done["blockNumber"].as_u64().unwrap(),
        head["number"].as_u64().unwrap() + 1
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn kill_9_loses_nothing_executed_on_sqlite() {
    kill_9_loses_nothing(None).await;
}

#[tokio::test]
async fn kill_9_loses_nothing_executed_on_postgres() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    kill_9_loses_nothing(db.url().map(str::to_owned)).await;
    db.drop_database().await;
}

/// SIGTERM: the node stops accepting, seals every ready transaction, snapshots, exits 0.
#[tokio::test]
async fn sigterm_drains_the_mempool_before_exiting() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // A long block time keeps the submissions queued until the signal.
    let mut child = spawn_node_with(dir.path(), None, port, 60_000);
    let client = Client::new(format!("127.0.0.1:{port}").parse().unwrap());
    wait_healthy(&client).await;
    let d = config(dir.path(), None).domain();
    let mut hashes = Vec::new();
    for nonce in 0..20u64 {
        let tx = transfer(&d, 3, 4, 1, nonce);
        let (s, v) = client.submit(&tx).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "queued");
        hashes.push(tx.transaction.hash(&d));
    }
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful exit, got {exit:?}");

    let mut child = spawn_node(dir.path(), None, port);
    wait_healthy(&client).await;
    for hash in &hashes {
        let (s, v) = client.get(&format!("/v1/transactions/{hash}")).await;
        assert_eq!(
            (s, v["status"].as_str()),
            (200, Some("executed")),
            "{hash}: {v}"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A node on a runtime of its own, so that a test can drop it mid-flight like a crash: no
/// drain, no last snapshot point, in-flight database transactions abandoned.
fn start_crashable(
    c: weft_sequencer::config::Config,
) -> (tokio::runtime::Runtime, std::net::SocketAddr) {
    // Built on a thread of its own: a runtime cannot be started from inside the test's.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let running = rt.block_on(weft_sequencer::start(c)).unwrap();
        let addr = running.addr;
        // Leaked into the runtime: shutting the runtime down drops every task.
        std::mem::forget(running);
        (rt, addr)
    })
    .join()
    .unwrap()
}

/// Submits `rounds` transfers from each of 10 senders starting at `nonce` and waits until
/// the last is executed.
async fn load(client: &Client, d: &weft_protocol::eip712::Domain, nonce: u64, rounds: u64) {
    let mut last = B256::ZERO;
    for n in nonce..nonce + rounds {
        for sender in 0..10u32 {
            let (s, v) = client.submit(&transfer(d, sender, sender + 10, 1, n)).await;
            assert_eq!(s, 200, "{v}");
            last = v["hash"].as_str().unwrap().parse().unwrap();
        }
    }
    client.wait_executed(&last, Duration::from_secs(20)).await;
}

async fn stored_head(c: &weft_sequencer::config::Config) -> (u64, String) {
    let store = weft_sequencer::store::Store::connect(None, &c.data_dir)
        .await
        .unwrap();
    let (header, _) = store.head().await.unwrap().unwrap();
    (header.number, header.state_root.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_right_after_a_snapshot_point_restarts_from_it_without_replay() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), None);
    c.snapshot_every = 1; // a point after every block: the last one is the head's
    // A state large enough that a block's delta is smaller than a full snapshot.
    c.genesis.dev_accounts = 2_000;
    let (rt, addr) = start_crashable(c.clone());
    let client = Client::new(addr);
    let d = c.domain();
    // Two waves, so at least two blocks: a full snapshot, then a delta.
    load(&client, &d, 0, 5).await;
    load(&client, &d, 5, 5).await;
    let store = weft_sequencer::store::Store::connect(None, &c.data_dir)
        .await
        .unwrap();
    let (head, _) = stored_head(&c).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while store
        .latest_snapshot()
        .await
        .unwrap()
        .map(|s| s.block_number)
        != Some(head)
    {
        assert!(Instant::now() < deadline, "no snapshot point of the head");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let chain = store.snapshot_chain().await.unwrap();
    assert!(chain.len() > 1, "a full snapshot and deltas after it");
    rt.shutdown_background();

    let node = weft_sequencer::node::Node::open(c.clone()).await.unwrap();
    let (head_after, root) = stored_head(&c).await;
    assert_eq!(head_after, head);
    assert_eq!(node.recovery.snapshot_block, Some(head));
    assert_eq!(node.recovery.blocks_replayed, 0);
    assert!(node.recovery.deltas_applied >= 1);
    assert_eq!(node.state.read().state_root().to_string(), root);
    drop(node);

    // And it resumes on top of it.
    let running = weft_sequencer::start(c.clone()).await.unwrap();
    let client = Client::new(running.addr);
    load(&client, &d, 10, 2).await;
    for sender in 0..10u32 {
        let (_, a) = client
            .get(&format!(
                "/v1/accounts/{}",
                GenesisConfig::dev_key(sender).address()
            ))
            .await;
        assert_eq!(a["nonce"], 12);
    }
    running.stop().await.unwrap();
}

/// A crash in the middle of a snapshot point's write: the write's database transaction
/// has inserted a large row and pruned the old ones, and SQLite has spilled uncommitted
/// pages to its log, when the disk is copied (what a `kill -9` leaves). The copy restarts
/// from the previous point, replays, and reaches exactly the stored head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_in_the_middle_of_a_snapshot_point_write_restarts_from_the_previous_one() {
    use sqlx::{Connection, Executor};
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), None);
    c.snapshot_every_txs = 50;
    let (rt, addr) = start_crashable(c.clone());
    let client = Client::new(addr);
    let d = c.domain();
    load(&client, &d, 0, 12).await;
    rt.shutdown_background();
    let store = weft_sequencer::store::Store::connect(None, &c.data_dir)
        .await
        .unwrap();
    let before = store.snapshot_chain().await.unwrap();
    assert!(!before.is_empty());
    let (head, root) = stored_head(&c).await;
    store.close().await;

    let db = dir.path().join(weft_sequencer::store::DEFAULT_SQLITE_FILE);
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    conn.execute("PRAGMA cache_size = 64").await.unwrap();
    conn.execute("BEGIN IMMEDIATE").await.unwrap();
    let mut torn = weft_protocol::snapshot::SNAPSHOT_MAGIC.to_vec();
    torn.resize(32 << 20, 0xab);
    sqlx::query("INSERT INTO snapshots (block_number, state_root, data) VALUES ($1, $2, $3)")
        .bind(head as i64 + 1_000)
        .bind(vec![0u8; 32])
        .bind(torn)
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("DELETE FROM snapshots WHERE block_number < $1")
        .bind(head as i64 + 1_000)
        .execute(&mut conn)
        .await
        .unwrap();
    let crashed = tempfile::tempdir().unwrap();
    for suffix in ["", "-wal"] {
        let from = format!("{}{suffix}", db.display());
        if std::path::Path::new(&from).exists() {
            std::fs::copy(
                &from,
                crashed.path().join(format!(
                    "{}{suffix}",
                    weft_sequencer::store::DEFAULT_SQLITE_FILE
                )),
            )
            .unwrap();
        }
    }
    drop(conn);

    let mut c2 = c.clone();
    c2.data_dir = crashed.path().to_path_buf();
    let node = weft_sequencer::node::Node::open(c2).await.unwrap();
    assert_eq!(node.head().number, head);
    assert_eq!(
        node.recovery.snapshot_block,
        Some(before.last().unwrap().block_number)
    );
    assert_eq!(node.state.read().state_root().to_string(), root);
}

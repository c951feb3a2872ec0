//! The live feed (`GET /v1/ws`) end to end: blocks in order with no gap from a resumed
//! `fromBlock`, batches as they are sealed, followed hashes and addresses, refused client
//! messages and queries, and the connection cap.

mod common;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};
use weft_protocol::primitives::B256;
use weft_sequencer::config::GenesisConfig;
use weft_storage::testkit::TestDatabase;

use common::{Client, transfer};

const WAIT: Duration = Duration::from_secs(20);

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// The next JSON message (pings and other frames skipped).
async fn next(ws: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time")
            .expect("the connection open")
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// Reads messages until `until` holds for one; checks that blocks come in order with no gap
/// after `last_block`, which it advances.
async fn read_until(
    ws: &mut Socket,
    last_block: &mut u64,
    until: impl Fn(&Value) -> bool,
) -> Value {
    loop {
        let v = next(ws).await;
        if v["type"] == "block" {
            let n = v["number"].as_u64().unwrap();
            assert_eq!(n, *last_block + 1, "blocks in order, none skipped: {v}");
            *last_block = n;
        }
        if until(&v) {
            return v;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_resumes_follows_transactions_and_batches() {
    let db = TestDatabase::sqlite();
    let mut config = common::config(db.dir(), None);
    config.batch.max_blocks = 2;
    config.batch.max_age = Duration::ZERO;
    config.api.max_feed_connections = 2;
    let running = weft_sequencer::start(config).await.unwrap();
    let client = Client::new(running.addr);
    let domain = running.node.domain;

    // Two blocks before anyone listens.
    let a = transfer(&domain, 0, 1, 5, 0);
    let a_hash = client.submit(&a).await.1["hash"]
        .as_str()
        .unwrap()
        .parse::<B256>()
        .unwrap();
    client.wait_executed(&a_hash, WAIT).await;
    let b = transfer(&domain, 0, 1, 5, 1);
    let b_hash: B256 = client.submit(&b).await.1["hash"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let executed = client.wait_executed(&b_hash, WAIT).await;
    let head = executed["blockNumber"].as_u64().unwrap();

    // Resumed from block 1: the stored blocks first, in order, then the live ones.
    let url = format!("ws://{}/v1/ws?fromBlock=1", running.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let mut last = 0;
    read_until(&mut ws, &mut last, |v| {
        v["type"] == "block" && v["number"] == head
    })
    .await;

    // Follow `a` (executed already: its status now) and dev 3's address.
    let dev3 = GenesisConfig::dev_key(3).address();
    let watch = json!({"watch": {"hashes": [a_hash], "addresses": [dev3]}});
    ws.send(Message::Text(watch.to_string().into()))
        .await
        .unwrap();
    let status = read_until(&mut ws, &mut last, |v| v["type"] == "tx").await;
    assert_eq!(status["hash"], json!(a_hash));
    assert!(
        ["executed", "failed"].contains(&status["status"].as_str().unwrap())
            || status["batchIndex"].is_u64(),
        "{status}"
    );
    let watching = read_until(&mut ws, &mut last, |v| v["type"] == "watching").await;
    assert_eq!(
        (watching["hashes"].as_u64(), watching["addresses"].as_u64()),
        (Some(1), Some(1))
    );

    // A transfer to dev 3 from another sender: followed by address, then its batch.
    let c = transfer(&domain, 2, 3, 7, 0);
    let c_hash: B256 = client.submit(&c).await.1["hash"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let seen = read_until(&mut ws, &mut last, |v| {
        v["type"] == "tx" && v["hash"] == json!(c_hash)
    })
    .await;
    assert_eq!(seen["status"], "executed", "{seen}");
    let block = seen["blockNumber"].as_u64().unwrap();
    let batch = read_until(&mut ws, &mut last, |v| {
        v["type"] == "batch"
            && v["fromBlock"].as_u64().unwrap() <= block
            && block <= v["toBlock"].as_u64().unwrap()
    })
    .await;
    assert_eq!(batch["status"], "sealed", "{batch}");
    assert!(batch["daBytes"].as_u64().unwrap() > 0, "{batch}");

    // A bad message is answered, the connection stays.
    ws.send(Message::Text("{\"follow\": 1}".into()))
        .await
        .unwrap();
    let error = read_until(&mut ws, &mut last, |v| v["type"] == "error").await;
    assert_eq!(error["code"], "invalid_message");
    let too_many: Vec<String> = (0..101).map(|i| format!("{:#042x}", i + 1)).collect();
    let watch = json!({"watch": {"addresses": too_many}});
    ws.send(Message::Text(watch.to_string().into()))
        .await
        .unwrap();
    let error = read_until(&mut ws, &mut last, |v| v["type"] == "error").await;
    assert_eq!(error["code"], "limit");

    // A second live connection (without blocks) still fits; a third does not.
    let url2 = format!("ws://{}/v1/ws?blocks=false", running.addr);
    let (mut second, _) = tokio_tungstenite::connect_async(&url2).await.unwrap();
    let refused = tokio_tungstenite::connect_async(&url2).await.unwrap_err();
    assert!(refused.to_string().contains("503"), "{refused}");
    // A bad query is refused before the upgrade.
    let bad = format!("ws://{}/v1/ws?fromBlock=soon", running.addr);
    let refused = tokio_tungstenite::connect_async(&bad).await.unwrap_err();
    assert!(refused.to_string().contains("400"), "{refused}");

    // The block-less connection follows only what it watches.
    let d = transfer(&domain, 4, 5, 1, 0);
    let watch = json!({"watch": {"addresses": [GenesisConfig::dev_key(5).address()]}});
    second
        .send(Message::Text(watch.to_string().into()))
        .await
        .unwrap();
    assert_eq!(next(&mut second).await["type"], "watching");
    let d_hash = client.submit(&d).await.1["hash"].clone();
    loop {
        let v = next(&mut second).await;
        assert_ne!(v["type"], "block", "blocks are off: {v}");
        if v["type"] == "tx" {
            assert_eq!(v["hash"], d_hash);
            break;
        }
    }
    // The first connection saw every block meanwhile.
    read_until(&mut ws, &mut last, |v| {
        v["type"] == "block" && v["txCount"] == 1 && v["number"].as_u64().unwrap() > block
    })
    .await;
    running.stop().await.unwrap();
}

//! The leader's ingress from NATS JetStream against the local server (127.0.0.1:4222; the
//! test says so and returns when none answers): pre-verified transfers published ahead,
//! some twice (the stream drops the copies), are executed exactly once; every message is
//! acknowledged once its block is committed (the work-queue stream is empty); across a
//! restart of the leader mid-stream nothing is lost or executed twice.

mod common;

use std::time::{Duration, Instant};

use weft_protocol::{primitives::B256, transaction::SignedTransaction};
use weft_sequencer::{
    config::{Config, GenesisConfig},
    ingress::{IngressConfig, open_stream, publish},
};
use weft_storage::testkit::TestDatabase;

use common::{Client, transfer};

const NATS: &str = "nats://127.0.0.1:4222";
const WAIT: Duration = Duration::from_secs(30);

fn ingress_config() -> IngressConfig {
    let suffix: u64 = rand::random();
    IngressConfig {
        nats_url: NATS.into(),
        stream: format!("WEFT_TEST_{suffix:x}"),
    }
}

fn config(db: &TestDatabase, ingress: &IngressConfig) -> Config {
    let mut c = common::config(db.dir(), db.url().map(str::to_owned));
    c.ingress = Some(ingress.clone());
    c
}

/// `senders` × `per_sender` transfers, each sender's nonces in order.
fn transfers(
    domain: &weft_protocol::eip712::Domain,
    senders: u32,
    per_sender: u64,
    first_nonce: u64,
) -> Vec<(B256, SignedTransaction)> {
    (first_nonce..first_nonce + per_sender)
        .flat_map(|nonce| {
            (0..senders).map(move |s| {
                let tx = transfer(domain, s, senders + s, 1, nonce);
                (tx.transaction.hash(domain), tx)
            })
        })
        .collect()
}

async fn wait_nonces(client: &Client, senders: u32, nonce: u64) {
    let deadline = Instant::now() + WAIT;
    for s in 0..senders {
        let address = GenesisConfig::dev_key(s).address();
        loop {
            let (_, v) = client.get(&format!("/v1/accounts/{address}")).await;
            if v["nonce"].as_u64() == Some(nonce) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "dev {s} at nonce {}, not {nonce}",
                v["nonce"]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_transactions_are_executed_once_and_acknowledged_after_commit() {
    let ingress = ingress_config();
    let Ok((js, mut stream)) = open_stream(&ingress).await else {
        eprintln!("no NATS with JetStream at {NATS}: skipping");
        return;
    };
    let db = TestDatabase::sqlite();
    let domain = config(&db, &ingress).domain();
    let subject = ingress.subject();

    // 8 senders × 25 transfers, published before the leader runs; 20 published twice.
    let first = transfers(&domain, 8, 25, 0);
    for (hash, tx) in &first {
        assert!(!publish(&js, &subject, hash, tx).await.unwrap());
    }
    for (hash, tx) in first.iter().take(20) {
        assert!(
            publish(&js, &subject, hash, tx).await.unwrap(),
            "a copy is dropped"
        );
    }
    assert_eq!(stream.info().await.unwrap().state.messages, 200);

    let running = weft_sequencer::start(config(&db, &ingress)).await.unwrap();
    let client = Client::new(running.addr);
    wait_nonces(&client, 8, 25).await;
    for (hash, _) in &first {
        let v = client.wait_executed(hash, WAIT).await;
        assert_eq!(v["status"], "executed", "{v}");
    }
    // Every message acknowledged once its block was committed: the queue is empty.
    let deadline = Instant::now() + WAIT;
    while stream.info().await.unwrap().state.messages > 0 {
        assert!(Instant::now() < deadline, "messages left unacknowledged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // More traffic, with the leader stopped in the middle of it and started again.
    let second = transfers(&domain, 8, 25, 25);
    let (head_half, tail_half) = second.split_at(100);
    for (hash, tx) in head_half {
        publish(&js, &subject, hash, tx).await.unwrap();
    }
    let leader = running.node.clone();
    running.stop().await.unwrap();
    // A clean stop acknowledged every message whose block it wrote and handed the rest back.
    let executed: u64 = (0..8)
        .map(|s| {
            let address = GenesisConfig::dev_key(s).address();
            leader
                .state
                .read()
                .account_by_address(&address)
                .unwrap()
                .nonce
                - 25
        })
        .sum();
    // The server applies acknowledgements a moment after the client has flushed them (a CI
    // run read the stream while 25 were still on their way): wait for the count to come down,
    // then check it stays at what was handed back.
    let expected = 100 - executed;
    let deadline = Instant::now() + WAIT;
    let mut left = stream.info().await.unwrap().state.messages;
    while left > expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        left = stream.info().await.unwrap().state.messages;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(stream.info().await.unwrap().state.messages, expected);
    for (hash, tx) in tail_half {
        publish(&js, &subject, hash, tx).await.unwrap();
    }
    let running = weft_sequencer::start(config(&db, &ingress)).await.unwrap();
    let client = Client::new(running.addr);
    wait_nonces(&client, 8, 50).await;
    let deadline = Instant::now() + WAIT;
    while stream.info().await.unwrap().state.messages > 0 {
        assert!(Instant::now() < deadline, "messages left unacknowledged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Exactly once: each receiver got 50 transfers of 1.
    let dev_balance = config(&db, &ingress).genesis.dev_balance;
    for s in 8..16 {
        let address = GenesisConfig::dev_key(s).address();
        assert_eq!(client.balance(&address).await, dev_balance + 50);
    }
    running.stop().await.unwrap();
    js.delete_stream(&ingress.stream).await.unwrap();
}

/// A leader on SQLite taking `ingress`, and an admission node publishing to it (its own
/// listener, the same chain settings, no database).
async fn leader_and_front(
    ingress: &IngressConfig,
) -> (
    TestDatabase,
    weft_sequencer::Running,
    weft_sequencer::admission_node::RunningAdmission,
    tempfile::TempDir,
) {
    let db = TestDatabase::sqlite();
    let leader = weft_sequencer::start(config(&db, ingress)).await.unwrap();
    let front_dir = tempfile::tempdir().unwrap();
    let front =
        weft_sequencer::admission_node::start(&common::config(front_dir.path(), None), ingress)
            .await
            .unwrap();
    (db, leader, front, front_dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admission_node_checks_publishes_and_the_leader_executes() {
    let ingress = ingress_config();
    let Ok((js, mut stream)) = open_stream(&ingress).await else {
        eprintln!("no NATS with JetStream at {NATS}: skipping");
        return;
    };
    let (_db, leader, front, _front_dir) = leader_and_front(&ingress).await;
    let domain = leader.node.domain;
    let front_client = Client::new(front.addr);

    // One at a time and as a batch, through the admission node.
    let single = transfer(&domain, 0, 1, 3, 0);
    let (status, v) = front_client.submit(&single).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("queued")), "{v}");
    let batch: Vec<_> = (1..6)
        .map(|nonce| transfer(&domain, 0, 1, 3, nonce))
        .collect();
    let body =
        serde_json::json!({ "transactions": batch.iter().map(common::body).collect::<Vec<_>>() });
    let (status, v) = front_client.post("/v1/transactions/batch", &body).await;
    assert_eq!(status, 200, "{v}");
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "queued"),
        "{v}"
    );

    // A forged signature never reaches the stream.
    let mut forged = transfer(&domain, 2, 1, 3, 0);
    forged.signature = transfer(&domain, 3, 1, 3, 0).signature;
    let (status, v) = front_client.submit(&forged).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("invalid_signature")),
        "{v}"
    );

    let leader_client = Client::new(leader.addr);
    let last = batch.last().unwrap().transaction.hash(&domain);
    let executed = leader_client.wait_executed(&last, WAIT).await;
    assert_eq!(executed["status"], "executed", "{executed}");
    wait_nonces(&leader_client, 1, 6).await;
    let deadline = Instant::now() + WAIT;
    while stream.info().await.unwrap().state.messages > 0 {
        assert!(Instant::now() < deadline, "messages left unacknowledged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let forged_hash = forged.transaction.hash(&domain);
    let (status, _) = leader_client
        .get(&format!("/v1/transactions/{forged_hash}"))
        .await;
    assert_eq!(status, 404, "the forged transfer never reached the leader");
    front.stop().await.unwrap();
    leader.stop().await.unwrap();
    js.delete_stream(&ingress.stream).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_nats_is_down_keeps_serving_and_retries() {
    let db = TestDatabase::sqlite();
    let unreachable = IngressConfig {
        nats_url: "nats://127.0.0.1:9".into(),
        stream: "WEFT_NOWHERE".into(),
    };
    let running = weft_sequencer::start(config(&db, &unreachable))
        .await
        .unwrap();
    let client = Client::new(running.addr);
    let tx = transfer(&running.node.domain, 0, 1, 3, 0);
    let (_, v) = client.submit(&tx).await;
    let hash: B256 = v["hash"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        client.wait_executed(&hash, WAIT).await["status"],
        "executed"
    );
    assert!(!running.builder_finished());
    running.stop().await.unwrap();
}

/// `eth_sendRawTransaction` through an admission node: the stateless checks and the recovery
/// there, the envelope published with its sender; the leader executes it without recovering
/// it again and acknowledges it after commit. A wrong chain is refused at the front with
/// geth's text; a method that needs state is not served there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admission_node_takes_raw_ethereum_transactions() {
    use common::rpc::{Rpc, number, signed_on};
    use weft_protocol::{primitives::U256, testkit::evm::MAX_FEE};

    let ingress = ingress_config();
    let Ok((js, mut stream)) = open_stream(&ingress).await else {
        eprintln!("no NATS with JetStream at {NATS}: skipping");
        return;
    };
    let (_db, leader, front, _front_dir) = leader_and_front(&ingress).await;
    let front_rpc = Rpc::new(front.addr);
    let leader_rpc = Rpc::new(leader.addr);
    let chain = number(&front_rpc.ok("eth_chainId", serde_json::json!([])).await);
    assert_eq!(
        chain,
        u128::from(leader.node.domain.chain_id()),
        "the front answers the chain id"
    );
    let chain_id = leader.node.domain.chain_id();

    // Two transfers of one sender, in nonce order, then one to a new address.
    let to = weft_protocol::primitives::Address::repeat_byte(0x5d);
    let pay = |chain_id: u64, nonce: u64, value: u64| {
        signed_on(
            chain_id,
            4,
            nonce,
            Some(to),
            U256::from(value),
            Default::default(),
            21_000,
            MAX_FEE,
        )
    };
    let mut hashes = Vec::new();
    for nonce in 0..2 {
        hashes.push(front_rpc.send(&pay(chain_id, nonce, 1_000 + nonce)).await);
    }
    for hash in &hashes {
        let receipt = leader_rpc.receipt(hash, WAIT).await;
        assert_eq!(receipt["status"], "0x1", "{receipt}");
    }
    let balance = leader_rpc
        .ok("eth_getBalance", serde_json::json!([to, "latest"]))
        .await;
    assert_eq!(number(&balance), 2_001);

    // A JSON-RPC batch (answered concurrently at the front): the sender's next three nonces
    // around a refusal, each answer in its request's place, all three executed.
    let other_chain = pay(chain_id + 1, 5, 0);
    let raws = [
        pay(chain_id, 2, 1),
        pay(chain_id, 3, 1),
        other_chain.clone(),
        pay(chain_id, 4, 1),
    ];
    let batch: Vec<_> = raws
        .iter()
        .enumerate()
        .map(|(id, raw)| serde_json::json!({ "jsonrpc": "2.0", "id": id, "method": "eth_sendRawTransaction", "params": [raw] }))
        .collect();
    let (status, answers) = front_rpc
        .raw(serde_json::Value::from(batch).to_string())
        .await;
    assert_eq!(status, 200, "{answers}");
    let answers = answers.as_array().expect("a batch answer").clone();
    let ids: Vec<_> = answers.iter().map(|a| a["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [0, 1, 2, 3]);
    assert_eq!(answers[2]["error"]["code"], -32000, "{answers:?}");
    for i in [0, 1, 3] {
        let hash = weft_protocol::primitives::keccak256(&raws[i]);
        assert_eq!(answers[i]["result"], serde_json::json!(hash), "{answers:?}");
        let receipt = leader_rpc.receipt(&hash, WAIT).await;
        assert_eq!(receipt["status"], "0x1", "{receipt}");
    }

    // Refused at the front: another chain (geth's words), and reads.
    let message = front_rpc.refused(&other_chain).await;
    assert!(
        message.starts_with("invalid chain id for signer"),
        "{message}"
    );
    let err = front_rpc
        .call("eth_getBalance", serde_json::json!([to, "latest"]))
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32601, "{err}");

    // Every message acknowledged after its block.
    let deadline = Instant::now() + WAIT;
    while stream.info().await.unwrap().state.messages > 0 {
        assert!(Instant::now() < deadline, "messages left unacknowledged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    front.stop().await.unwrap();
    leader.stop().await.unwrap();
    js.delete_stream(&ingress.stream).await.unwrap();
}

/// An admission node given the leader's database follows it and refuses what the state
/// already rules out before publishing: a nonce below the sender's, a balance short of the
/// transfer (native kinds and Ethereum transactions, with geth's words); this very
/// transaction resubmitted after its inclusion is answered as included, not published.
/// PostgreSQL (`DATABASE_URL`) and NATS, each skipped with a line when absent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admission_node_following_the_leader_checks_nonces_and_balances() {
    use common::rpc::{Rpc, signed_on};
    use weft_protocol::{primitives::U256, testkit::evm::MAX_FEE};

    let ingress = ingress_config();
    let Ok((js, _stream)) = open_stream(&ingress).await else {
        eprintln!("no NATS with JetStream at {NATS}: skipping");
        return;
    };
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let leader = weft_sequencer::start(config(&db, &ingress)).await.unwrap();
    let front_dir = tempfile::tempdir().unwrap();
    let front_config = common::config(front_dir.path(), db.url().map(str::to_owned));
    let front = weft_sequencer::admission_node::start(&front_config, &ingress)
        .await
        .unwrap();
    let domain = leader.node.domain;
    let (front_client, leader_client) = (Client::new(front.addr), Client::new(leader.addr));

    let first = transfer(&domain, 0, 1, 3, 0);
    let (status, v) = front_client.submit(&first).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("queued")), "{v}");
    let hash = first.transaction.hash(&domain);
    assert_eq!(
        leader_client.wait_executed(&hash, WAIT).await["status"],
        "executed"
    );
    // Once the front's follower has replayed that block, a resubmission is answered as
    // included.
    let deadline = Instant::now() + WAIT;
    let included = loop {
        let (status, v) = front_client.submit(&first).await;
        assert_eq!(status, 200, "{v}");
        if v["status"] != "queued" {
            break v;
        }
        assert!(Instant::now() < deadline, "the front never saw the block");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(included["status"], "executed", "{included}");
    assert!(included["blockNumber"].as_u64().is_some(), "{included}");

    // Another transaction at the spent nonce; more than the sender holds.
    let stale = transfer(&domain, 0, 2, 5, 0);
    let (status, v) = front_client.submit(&stale).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("nonce_too_low")),
        "{v}"
    );
    let broke = transfer(&domain, 0, 1, u128::from(u64::MAX) << 40, 1);
    let (status, v) = front_client.submit(&broke).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("insufficient_balance")),
        "{v}"
    );
    for refused in [&stale, &broke] {
        let hash = refused.transaction.hash(&domain);
        let (status, _) = leader_client.get(&format!("/v1/transactions/{hash}")).await;
        assert_eq!(
            status, 404,
            "a refused transaction never reached the leader"
        );
    }

    // The same through eth_sendRawTransaction.
    let front_rpc = Rpc::new(front.addr);
    let chain_id = domain.chain_id();
    let to = weft_protocol::primitives::Address::repeat_byte(0x6e);
    let raw = |nonce, value| {
        signed_on(
            chain_id,
            5,
            nonce,
            Some(to),
            value,
            Default::default(),
            21_000,
            MAX_FEE,
        )
    };
    let sent = front_rpc.send(&raw(0, U256::from(7))).await;
    Rpc::new(leader.addr).receipt(&sent, WAIT).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let answer = front_rpc
            .call(
                "eth_sendRawTransaction",
                serde_json::json!([raw(0, U256::from(8))]),
            )
            .await;
        match answer {
            Err(err) => {
                let message = err["message"].as_str().unwrap();
                assert!(message.starts_with("nonce too low"), "{err}");
                break;
            }
            // Not replayed by the front yet: published, and refused by the leader.
            Ok(_) => assert!(Instant::now() < deadline, "the front never saw the block"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let message = front_rpc.refused(&raw(1, U256::from(u128::MAX))).await;
    assert!(
        message.starts_with("insufficient funds for gas * price + value"),
        "{message}"
    );

    front.stop().await.unwrap();
    leader.stop().await.unwrap();
    js.delete_stream(&ingress.stream).await.unwrap();
    db.drop_database().await;
}

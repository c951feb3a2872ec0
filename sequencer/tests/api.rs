//! The REST API end to end over a real socket, on SQLite (and PostgreSQL where the test
//! says so): submission, status lifecycle, reads, and every rejection code.

mod common;
#[path = "api/exodus_proofs.rs"]
mod exodus_proofs;

use std::time::Duration;

use common::{Client, config, submission_with, transfer};
use serde_json::{Value, json};
use weft_protocol::{
    eip712::Domain,
    primitives::{Address, B256, U256},
    signature::Signature,
    state::AccountProof,
    transaction::{ChannelConclude, Deposit, Transaction, Transfer},
};
use weft_sequencer::config::{Config, GenesisConfig};

async fn start(
    edit: impl FnOnce(&mut Config),
) -> (weft_sequencer::Running, Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), None);
    edit(&mut c);
    let running = weft_sequencer::start(c).await.unwrap();
    let client = Client::new(running.addr);
    (running, client, dir)
}

fn domain(running: &weft_sequencer::Running) -> Domain {
    running.node.domain
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("<none>")
}

#[tokio::test]
async fn a_submitted_transfer_is_executed_and_readable_everywhere() {
    let (running, client, _dir) = start(|_| {}).await;
    let d = domain(&running);
    let tx = transfer(&d, 0, 1, 100, 0);
    let (status, v) = client.submit(&tx).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "queued");
    let hash: B256 = v["hash"].as_str().unwrap().parse().unwrap();
    assert_eq!(hash, tx.transaction.hash(&d));

    let done = client.wait_executed(&hash, Duration::from_secs(10)).await;
    assert_eq!(done["status"], "executed");
    assert_eq!(done["receipt"]["status"], "success");
    assert_eq!(done["receipt"]["feePaid"], "1");
    let number = done["blockNumber"].as_u64().unwrap();

    let (_, block) = client.get(&format!("/v1/blocks/{number}")).await;
    assert!(
        block["transactions"]
            .as_array()
            .unwrap()
            .contains(&json!(hash))
    );
    let (_, by_hash) = client
        .get(&format!("/v1/blocks/{}", block["hash"].as_str().unwrap()))
        .await;
    assert_eq!(by_hash, block);
    let (_, latest) = client.get("/v1/blocks/latest").await;
    assert!(latest["number"].as_u64().unwrap() >= number);

    let receiver = GenesisConfig::dev_key(1).address();
    let dev = running.node.config.genesis.dev_balance;
    assert_eq!(client.balance(&receiver).await, dev + 100);
    let (_, account) = client
        .get(&format!(
            "/v1/accounts/{}",
            GenesisConfig::dev_key(0).address()
        ))
        .await;
    assert_eq!(account["nonce"], 1);
    assert_eq!(account["nextNonce"], 1);

    let (status, proof) = client.get(&format!("/v1/accounts/{receiver}/proof")).await;
    assert_eq!(status, 200);
    let root: B256 = proof["stateRoot"].as_str().unwrap().parse().unwrap();
    let p: AccountProof = serde_json::from_value(proof.clone()).unwrap();
    assert!(p.verify(&root));
    assert_eq!(p.account.address, receiver);

    let (status, _) = client
        .get(&format!("/v1/accounts/{}/proof", Address::repeat_byte(9)))
        .await;
    assert_eq!(status, 404);
    let (_, health) = client.get("/health").await;
    assert_eq!(health["status"], "ok");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn resubmitting_a_transaction_is_idempotent() {
    let (running, client, _dir) = start(|_| {}).await;
    let tx = transfer(&domain(&running), 2, 3, 5, 0);
    let (s1, v1) = client.submit(&tx).await;
    let (s2, v2) = client.submit(&tx).await;
    assert_eq!((s1, s2), (200, 200), "{v1} {v2}");
    assert_eq!(v1["hash"], v2["hash"]);
    let hash: B256 = v1["hash"].as_str().unwrap().parse().unwrap();
    let done = client.wait_executed(&hash, Duration::from_secs(10)).await;
    let (s3, v3) = client.submit(&tx).await;
    assert_eq!(s3, 200, "{v3}");
    assert_eq!(v3["status"], "executed");
    assert_eq!(v3["blockNumber"], done["blockNumber"]);
    let (_, account) = client
        .get(&format!(
            "/v1/accounts/{}",
            GenesisConfig::dev_key(2).address()
        ))
        .await;
    assert_eq!(account["nonce"], 1, "executed once");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn each_rejection_has_its_own_code() {
    let (running, client, _dir) = start(|c| c.min_fee = 1).await;
    let d = domain(&running);
    let ok = transfer(&d, 4, 5, 10, 0);

    let mut cases: Vec<(&str, Value)> = vec![
        (
            "wrong_chain_id",
            submission_with(&ok, &json!({ "chainId": 1 })),
        ),
        (
            "wrong_contract",
            submission_with(
                &ok,
                &json!({ "verifyingContract": Address::repeat_byte(1) }),
            ),
        ),
        (
            "nonce_too_high",
            common::body(&transfer(&d, 4, 5, 10, 1_000)),
        ),
        (
            "insufficient_balance",
            common::body(&transfer(&d, 4, 5, u128::MAX / 2, 0)),
        ),
        ("zero_amount", common::body(&transfer(&d, 4, 5, 0, 0))),
        ("self_transfer", common::body(&transfer(&d, 4, 4, 1, 0))),
    ];
    // Signed by someone else: recovery yields another address.
    let mut forged = ok.clone();
    forged.signature = GenesisConfig::dev_key(9).sign_digest(&ok.transaction.hash(&d));
    cases.push(("invalid_signature", common::body(&forged)));
    // Signed for another chain, without echoing it.
    let other_chain = Domain::new(1, d.verifying_contract());
    cases.push((
        "invalid_signature",
        common::body(
            &ok.transaction
                .clone()
                .sign(&GenesisConfig::dev_key(4), &other_chain),
        ),
    ));
    // The malleated twin of a valid signature: (r, n - s, !v).
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let s = U256::from_be_bytes(ok.signature.s.0);
    let high = Signature {
        r: ok.signature.r,
        s: B256::from(n - s),
        y_parity: !ok.signature.y_parity,
    };
    let mut high_s = ok.clone();
    high_s.signature = high;
    cases.push(("high_s_signature", common::body(&high_s)));
    let mut low_fee = transfer(&d, 4, 5, 10, 0);
    if let Transaction::Transfer(t) = &mut low_fee.transaction {
        t.fee = 0;
    }
    cases.push((
        "fee_too_low",
        common::body(
            &low_fee
                .transaction
                .clone()
                .sign(&GenesisConfig::dev_key(4), &d),
        ),
    ));
    let key = GenesisConfig::dev_key(4);
    let unknown_token = Transaction::Transfer(Transfer {
        from: key.address(),
        to: Address::repeat_byte(7),
        token: 9,
        amount: 1,
        fee: 1,
        nonce: 0,
    });
    cases.push(("unknown_token", common::body(&unknown_token.sign(&key, &d))));
    let deposit = Transaction::Deposit(Deposit {
        queue_index: 0,
        to: key.address(),
        token: 0,
        amount: 1,
    });
    cases.push(("system_kind", common::body(&deposit.sign(&key, &d))));
    let conclude = Transaction::ChannelConclude(ChannelConclude {
        from: key.address(),
        channel_id: B256::repeat_byte(1),
        fee: 1,
        nonce: 0,
    });
    cases.push(("unknown_channel", common::body(&conclude.sign(&key, &d))));

    for (expected, body) in cases {
        let (status, v) = client.post("/v1/transactions", &body).await;
        assert_eq!(status, 400, "{expected}: {v}");
        assert_eq!(code(&v), expected, "{v}");
    }

    // Stale nonce: once the first transaction is executed, a different one with nonce 0.
    let (_, v) = client.submit(&ok).await;
    let hash: B256 = v["hash"].as_str().unwrap().parse().unwrap();
    client.wait_executed(&hash, Duration::from_secs(10)).await;
    let (status, v) = client.submit(&transfer(&d, 4, 6, 10, 0)).await;
    assert_eq!((status, code(&v)), (400, "nonce_too_low"), "{v}");
    // Two different transactions with the same pending nonce.
    let (s, _) = client.submit(&transfer(&d, 4, 6, 10, 5)).await;
    assert_eq!(s, 200);
    let (status, v) = client.submit(&transfer(&d, 4, 7, 10, 5)).await;
    assert_eq!((status, code(&v)), (400, "nonce_already_pending"), "{v}");

    let (_, metrics) = (
        200,
        reqwest::get(format!("{}/metrics", client.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert!(
        metrics.contains("weft_admission_rejections_total{reason=\"high_s_signature\"} 1"),
        "{metrics}"
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn cheap_checks_run_before_signature_recovery() {
    let (running, client, _dir) = start(|_| {}).await;
    let d = domain(&running);
    let mut garbage = transfer(&d, 6, 7, 1, 500);
    garbage.signature = Signature {
        r: B256::repeat_byte(1),
        s: B256::repeat_byte(2),
        y_parity: false,
    };
    let (status, v) = client.submit(&garbage).await;
    assert_eq!(
        (status, code(&v)),
        (400, "nonce_too_high"),
        "a bad nonce is refused before any recovery: {v}"
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_batch_gives_each_submission_its_own_result() {
    let (running, client, _dir) = start(|c| c.api.max_batch = 4).await;
    let d = domain(&running);
    let txs = [
        transfer(&d, 8, 9, 1, 0),
        transfer(&d, 8, 9, 1, 1),
        transfer(&d, 8, 9, 0, 2),
    ];
    let body = json!({ "transactions": txs.iter().map(common::body).collect::<Vec<_>>() });
    let (status, v) = client.post("/v1/transactions/batch", &body).await;
    assert_eq!(status, 200, "{v}");
    let results = v["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], "queued");
    assert_eq!(results[1]["status"], "queued");
    assert_eq!(results[2]["error"]["code"], "zero_amount");

    let (status, v) = client
        .post("/v1/transactions/batch", &json!({ "transactions": [] }))
        .await;
    assert_eq!((status, code(&v)), (400, "empty_batch"));
    let five: Vec<Value> = (0..5)
        .map(|i| common::body(&transfer(&d, 10, 11, 1, i)))
        .collect();
    let (status, v) = client
        .post("/v1/transactions/batch", &json!({ "transactions": five }))
        .await;
    assert_eq!((status, code(&v)), (400, "batch_too_large"));
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_full_mempool_answers_503() {
    let (running, client, _dir) = start(|c| {
        c.mempool.max_txs = 2;
        c.block.block_time = Duration::from_secs(30);
        c.block.max_txs = 100;
    })
    .await;
    let d = domain(&running);
    assert_eq!(client.submit(&transfer(&d, 12, 13, 1, 0)).await.0, 200);
    assert_eq!(client.submit(&transfer(&d, 12, 13, 1, 1)).await.0, 200);
    let (status, v) = client.submit(&transfer(&d, 12, 13, 1, 2)).await;
    assert_eq!((status, code(&v)), (503, "mempool_full"), "{v}");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn limits_content_types_and_unknown_routes_answer_with_codes() {
    let (running, client, _dir) = start(|c| c.api.max_body_bytes = 1_024).await;
    let big = json!({ "transactions": vec![json!("x".repeat(100)); 50] });
    let (status, v) = client.post("/v1/transactions/batch", &big).await;
    assert_eq!((status, code(&v)), (413, "body_too_large"), "{v}");

    let r = client
        .http
        .post(format!("{}/v1/transactions", client.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    let v: Value = r.json().await.unwrap();
    assert_eq!(code(&v), "unsupported_media_type");

    let (status, v) = client.get("/v1/nothing").await;
    assert_eq!((status, code(&v)), (404, "not_found"));
    let (status, v) = client.post("/v1/domain", &json!({})).await;
    assert_eq!((status, code(&v)), (405, "method_not_allowed"));
    let (status, v) = client.get("/v1/transactions/0x12").await;
    assert_eq!((status, code(&v)), (400, "invalid_hash"));
    let (status, v) = client.get("/v1/blocks/-1").await;
    assert_eq!((status, code(&v)), (400, "invalid_block_id"));
    running.stop().await.unwrap();
}

#[tokio::test]
async fn clients_over_their_rate_get_429() {
    let (running, client, _dir) = start(|c| {
        c.api.rate_per_second = 5;
        c.api.rate_burst = 5;
    })
    .await;
    let mut codes = Vec::new();
    for _ in 0..12 {
        let (status, v) = client.get("/v1/domain").await;
        codes.push((status, v.get("code").cloned()));
    }
    assert!(codes[..5].iter().all(|(s, _)| *s == 200));
    assert!(
        codes
            .iter()
            .any(|(s, c)| *s == 429 && c == &Some(json!("rate_limited"))),
        "{codes:?}"
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn domain_types_and_openapi_describe_the_api() {
    let (running, client, _dir) = start(|c| c.dispute_window = 77).await;
    let (_, domain) = client.get("/v1/domain").await;
    assert_eq!(domain["name"], "Weft");
    assert_eq!(domain["chainId"], running.node.config.chain_id);
    let (_, chain) = client.get("/v1/chain").await;
    assert_eq!(chain["domain"], domain);
    assert_eq!(chain["disputeWindow"], 77);
    let (_, types) = client.get("/v1/types").await;
    assert_eq!(
        types["kinds"]["transfer"]["types"]["Transfer"][0],
        json!({ "name": "from", "type": "address" })
    );
    assert_eq!(types["kinds"].as_object().unwrap().len(), 11);
    let (_, openapi) = client.get("/v1/openapi.json").await;
    let paths = openapi["paths"].as_object().unwrap();
    for route in [
        "/v1/transactions",
        "/v1/transactions/batch",
        "/v1/transactions/{hash}",
        "/v1/transactions/{hash}/withdrawal",
        "/v1/accounts/{address}",
        "/v1/accounts/{address}/proof",
        "/v1/blocks/{id}",
        "/v1/blocks/{id}/transactions",
        "/v1/channels/{id}",
        "/v1/batches/{index}",
        "/v1/batches/{index}/witness",
        "/v1/domain",
        "/v1/chain",
        "/v1/types",
        "/v1/openapi.json",
        "/health",
        "/metrics",
    ] {
        assert!(paths.contains_key(route), "{route} is not documented");
    }
    running.stop().await.unwrap();
}

#[tokio::test]
async fn an_invalid_signature_flood_does_not_starve_valid_traffic() {
    let (running, client, _dir) = start(|_| {}).await;
    let d = domain(&running);
    // Invalid signatures that pass every cheap check, so each costs a recovery.
    let flood: Vec<Value> = (0..200u64)
        .map(|i| {
            let mut t = transfer(&d, 14, 15, 1 + u128::from(i), i % 60);
            t.signature = GenesisConfig::dev_key(19).sign_digest(&t.transaction.hash(&d));
            common::body(&t)
        })
        .collect();
    let flooders: Vec<_> = (0..4)
        .map(|_| {
            let (client, flood) = (client.clone(), flood.clone());
            tokio::spawn(async move {
                let mut invalid = 0;
                for _ in 0..10 {
                    let (_, v) = client
                        .post("/v1/transactions/batch", &json!({ "transactions": flood }))
                        .await;
                    invalid += v["results"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|r| r["error"]["code"] == "invalid_signature")
                        .count();
                }
                invalid
            })
        })
        .collect();
    let started = std::time::Instant::now();
    let mut latencies = Vec::new();
    for nonce in 0..30 {
        let t0 = std::time::Instant::now();
        let (status, v) = client.submit(&transfer(&d, 16, 17, 1, nonce)).await;
        latencies.push(t0.elapsed());
        assert_eq!(status, 200, "{v}");
    }
    let last = transfer(&d, 16, 17, 1, 29).transaction.hash(&d);
    client.wait_executed(&last, Duration::from_secs(60)).await;
    let invalid: usize = futures_sum(flooders).await;
    latencies.sort();
    eprintln!(
        "valid submissions under flood: median {:?}, max {:?}, all 30 executed after {:?}; {invalid} invalid rejected",
        latencies[15],
        latencies[29],
        started.elapsed()
    );
    assert_eq!(invalid, 4 * 10 * 200, "every forged signature is rejected");
    running.stop().await.unwrap();
}

async fn futures_sum(handles: Vec<tokio::task::JoinHandle<usize>>) -> usize {
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap();
    }
    total
}

/// A copy of `tx` with its signature replaced.
fn with_signature(tx: &weft_protocol::transaction::SignedTransaction, sig: Signature) -> Value {
    let mut t = tx.clone();
    t.signature = sig;
    common::body(&t)
}

fn zero_signature() -> Signature {
    Signature {
        r: B256::ZERO,
        s: B256::ZERO,
        y_parity: false,
    }
}

#[tokio::test]
async fn a_duplicate_inside_a_batch_gets_its_first_copys_outcome() {
    let (running, client, _dir) = start(|_| {}).await;
    let d = domain(&running);
    let tx = transfer(&d, 3, 4, 7, 0);
    let forged = GenesisConfig::dev_key(9).sign_digest(&tx.transaction.hash(&d));
    let body = json!({ "transactions": [with_signature(&tx, forged), common::body(&tx)] });
    let (status, v) = client.post("/v1/transactions/batch", &body).await;
    assert_eq!(status, 200, "{v}");
    let results = v["results"].as_array().unwrap();
    assert_eq!(results[0]["error"]["code"], "invalid_signature", "{v}");
    assert_eq!(
        results[1], results[0],
        "the copy gets the first one's outcome"
    );
    let hash = tx.transaction.hash(&d);
    let (status, _) = client.get(&format!("/v1/transactions/{hash}")).await;
    assert_eq!(status, 404, "nothing was admitted");

    // Two identical valid copies: both queued, admitted once.
    let body = json!({ "transactions": [common::body(&tx), common::body(&tx)] });
    let (_, v) = client.post("/v1/transactions/batch", &body).await;
    let results = v["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], "queued", "{v}");
    assert_eq!(results[1], results[0]);
    // A valid first copy and a second signature that is not the sender's: the second is
    // checked, not acknowledged.
    let next = transfer(&d, 3, 4, 7, 1);
    let body = json!({ "transactions": [
        common::body(&next),
        with_signature(&next, zero_signature()),
    ] });
    let (_, v) = client.post("/v1/transactions/batch", &body).await;
    let results = v["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], "queued", "{v}");
    assert!(results[1]["error"]["code"].is_string(), "{v}");
    client
        .wait_executed(&next.transaction.hash(&d), Duration::from_secs(10))
        .await;
    let (_, account) = client
        .get(&format!(
            "/v1/accounts/{}",
            GenesisConfig::dev_key(3).address()
        ))
        .await;
    assert_eq!(account["nonce"], 2);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn resubmission_is_idempotent_only_for_the_same_signed_transaction() {
    let (running, client, _dir) = start(|_| {}).await;
    let d = domain(&running);
    let tx = transfer(&d, 2, 3, 5, 0);
    let (_, v) = client.submit(&tx).await;
    let hash: B256 = v["hash"].as_str().unwrap().parse().unwrap();
    client.wait_executed(&hash, Duration::from_secs(10)).await;
    let forged = GenesisConfig::dev_key(9).sign_digest(&hash);
    for sig in [zero_signature(), forged] {
        let (status, v) = client
            .post("/v1/transactions", &with_signature(&tx, sig))
            .await;
        assert_eq!((status, code(&v)), (400, "nonce_too_low"), "{v}");
    }
    // The same while it waits in the mempool (nonce 5 waits for 1..4).
    let queued = transfer(&d, 2, 3, 5, 5);
    assert_eq!(client.submit(&queued).await.0, 200);
    let (status, v) = client
        .post(
            "/v1/transactions",
            &with_signature(&queued, zero_signature()),
        )
        .await;
    assert_eq!((status, code(&v)), (400, "nonce_already_pending"), "{v}");
    let (status, v) = client.submit(&queued).await;
    assert_eq!((status, &v["status"]), (200, &json!("queued")), "{v}");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn resubmission_answers_the_status_get_gives() {
    let (running, client, _dir) = start(|c| {
        c.batch.max_blocks = 1;
        c.batch.max_age = Duration::ZERO;
    })
    .await;
    let d = domain(&running);
    let tx = transfer(&d, 5, 6, 5, 0);
    let (_, v) = client.submit(&tx).await;
    let hash: B256 = v["hash"].as_str().unwrap().parse().unwrap();
    let done = client.wait_executed(&hash, Duration::from_secs(10)).await;
    let block = done["blockNumber"].as_u64().unwrap();
    let store = &running.node.store;
    let batch = common::l1::wait(Duration::from_secs(10), "batched", || async {
        store.batch_of_block(block).await.unwrap()
    })
    .await;
    store
        .set_batch_status(
            batch.commitment.index,
            weft_sequencer::store::BatchStatus::Finalized,
            Some(B256::repeat_byte(1)),
        )
        .await
        .unwrap();
    let (_, view) = client.get(&format!("/v1/transactions/{hash}")).await;
    assert_eq!(view["status"], "finalized");
    let (status, v) = client.submit(&tx).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], view["status"], "{v}");
    assert_eq!(v["blockNumber"], block);

    // A failed transaction resubmitted answers `failed`, as GET does: nonce 1 spends all,
    // nonce 2 passes admission (checked against the state before 1) and fails.
    let left = client.balance(&GenesisConfig::dev_key(5).address()).await;
    let all = transfer(&d, 5, 6, left - 1, 1);
    let broke = transfer(&d, 5, 6, 1, 2);
    assert_eq!(client.submit(&all).await.0, 200);
    assert_eq!(client.submit(&broke).await.0, 200);
    let broke_hash = broke.transaction.hash(&d);
    let failed = client
        .wait_executed(&broke_hash, Duration::from_secs(10))
        .await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let (status, v) = client.submit(&broke).await;
    assert_eq!((status, &v["status"]), (200, &json!("failed")), "{v}");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn batch_indexes_beyond_i64_are_not_found() {
    let (running, client, _dir) = start(|_| {}).await;
    for path in [
        "/v1/batches/9223372036854775808",
        "/v1/batches/9223372036854775808/witness",
        "/v1/batches/18446744073709551615",
        "/v1/blocks/9223372036854775808",
        "/v1/blocks/9223372036854775808/transactions",
    ] {
        let (status, v) = client.get(path).await;
        assert_eq!((status, code(&v)), (404, "not_found"), "{path}: {v}");
    }
    running.stop().await.unwrap();
}

#[tokio::test]
async fn malformed_signatures_get_malformed_signature() {
    let (running, client, _dir) = start(|_| {}).await;
    let tx = transfer(&domain(&running), 7, 8, 1, 0);
    let good = common::body(&tx)["signature"].as_str().unwrap().to_owned();
    let short = good[..good.len() - 2].to_owned();
    let v29 = format!("{}1d", &good[..good.len() - 2]);
    for sig in [short, v29, "0x12".to_owned()] {
        let mut body = common::body(&tx);
        body["signature"] = json!(sig);
        let (status, v) = client.post("/v1/transactions", &body).await;
        assert_eq!(
            (status, code(&v)),
            (400, "malformed_signature"),
            "{sig}: {v}"
        );
        let (status, v) = client
            .post("/v1/transactions/batch", &json!({ "transactions": [body] }))
            .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["results"][0]["error"]["code"], "malformed_signature");
    }
    running.stop().await.unwrap();
}

#[tokio::test]
async fn block_zero_is_the_genesis() {
    let (running, client, _dir) = start(|_| {}).await;
    let (status, genesis) = client.get("/v1/blocks/0").await;
    assert_eq!(status, 200, "{genesis}");
    assert_eq!(genesis["number"], 0);
    assert_eq!(genesis["txCount"], 0);
    assert_eq!(genesis["stateRoot"], json!(running.node.genesis_root));
    assert_eq!(genesis["hash"], json!(B256::ZERO));
    let (_, health) = client.get("/health").await;
    assert_eq!(health["headHash"], genesis["hash"]);
    let (status, txs) = client.get("/v1/blocks/0/transactions").await;
    assert_eq!(status, 200, "{txs}");
    assert_eq!(txs["transactions"], json!([]));
    // Block 1's parent is block 0.
    let tx = transfer(&domain(&running), 7, 8, 1, 0);
    let (_, v) = client.submit(&tx).await;
    let hash: B256 = v["hash"].as_str().unwrap().parse().unwrap();
    client.wait_executed(&hash, Duration::from_secs(10)).await;
    let (_, one) = client.get("/v1/blocks/1").await;
    assert_eq!(one["parentHash"], genesis["hash"]);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn chain_publishes_the_fee_rule() {
    let (running, client, _dir) = start(|c| c.min_fee = 3).await;
    let (_, chain) = client.get("/v1/chain").await;
    assert_eq!(chain["fee"]["minFee"], "3", "{chain}");
    assert_eq!(chain["fee"]["token"], "transaction", "{chain}");
    let d = domain(&running);
    let tx = transfer(&d, 1, 2, 5, 0); // fee 1
    let (status, v) = client.submit(&tx).await;
    assert_eq!((status, code(&v)), (400, "fee_too_low"), "{v}");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn types_are_keyed_by_the_submission_kind_name() {
    let (running, client, _dir) = start(|_| {}).await;
    let (_, types) = client.get("/v1/types").await;
    let kinds = types["kinds"].as_object().unwrap();
    assert_eq!(kinds.len(), 11);
    let tx = transfer(&domain(&running), 1, 2, 5, 0);
    let kind = common::body(&tx)["transaction"]["type"].clone();
    assert_eq!(kind, "transfer");
    assert_eq!(kinds["transfer"]["primaryType"], "Transfer");
    for (name, k) in kinds {
        let primary = k["primaryType"].as_str().unwrap();
        let mut chars = primary.chars();
        let camel: String = chars.next().unwrap().to_lowercase().chain(chars).collect();
        assert_eq!(name, &camel, "one spelling: the submission's `type`");
        assert!(k["types"][primary].is_array(), "{k}");
    }
    assert_eq!(kinds["channelOpen"]["primaryType"], "ChannelOpen");
    running.stop().await.unwrap();
}

/// An account proof checked with the rules of docs/api.md ("Verifying an account proof")
/// alone: keccak-256 is the only thing taken from a library.
#[tokio::test]
async fn an_account_proof_verifies_from_the_documented_rules_alone() {
    use weft_protocol::primitives::keccak256;
    let (running, client, _dir) = start(|_| {}).await;
    let tx = transfer(&domain(&running), 11, 12, 9, 0);
    let (_, v) = client.submit(&tx).await;
    let hash: B256 = v["hash"].as_str().unwrap().parse().unwrap();
    client.wait_executed(&hash, Duration::from_secs(10)).await;

    let hex = |v: &Value| -> Vec<u8> {
        let s = v.as_str().unwrap();
        (2..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    for dev in [11, 12, 0] {
        let address = GenesisConfig::dev_key(dev).address();
        let (status, view) = client.get(&format!("/v1/accounts/{address}/proof")).await;
        assert_eq!(status, 200, "{view}");
        let account = &view["account"];
        // Leaf: address ‖ uint64 nonce ‖ (uint32 token ‖ uint128 amount)* over the
        // non-zero balances sorted by token.
        let mut preimage = hex(&account["address"]);
        preimage.extend_from_slice(&account["nonce"].as_u64().unwrap().to_be_bytes());
        let mut balances: Vec<(u32, u128)> = account["balances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                let token = b["token"].as_u64().unwrap() as u32;
                (token, b["amount"].as_str().unwrap().parse().unwrap())
            })
            .filter(|(_, amount)| *amount > 0)
            .collect();
        balances.sort();
        for (token, amount) in balances {
            preimage.extend_from_slice(&token.to_be_bytes());
            preimage.extend_from_slice(&amount.to_be_bytes());
        }
        assert_eq!(preimage, hex(&view["leafPreimage"]), "{view}");
        let leaf = keccak256(&preimage).0;
        assert_eq!(leaf.to_vec(), hex(&view["leaf"]));
        // Combined index: position in the partition, partition above bit 28.
        let index = view["index"].as_u64().unwrap();
        let leaf_index = (index / 16) | ((index % 16) << 28);
        assert_eq!(view["leafIndex"].as_u64().unwrap(), leaf_index);
        // The Merkle rule: bit k of the index says whether the sibling is on the left.
        let siblings: Vec<Vec<u8>> = view["siblings"]
            .as_array()
            .unwrap()
            .iter()
            .map(&hex)
            .collect();
        // 28 levels of the partition, 4 over the partition roots, then the storage root.
        assert_eq!(siblings.len(), 33);
        let fold = |siblings: &[Vec<u8>]| {
            let mut h = leaf.to_vec();
            for (k, s) in siblings.iter().enumerate() {
                let pair = if (leaf_index >> k) & 1 == 0 {
                    [h.as_slice(), s].concat()
                } else {
                    [s.as_slice(), h.as_slice()].concat()
                };
                h = keccak256(&pair).0.to_vec();
            }
            h
        };
        let accounts_root = fold(&siblings);
        assert_eq!(accounts_root, hex(&view["accountsRoot"]));
        // State root: keccak256(accountsRoot ‖ channelsRoot ‖ secretsRoot ‖ tokensHash ‖
        // uint256 queuePosition).
        let state_root = |accounts_root: &[u8]| {
            let mut pre = accounts_root.to_vec();
            for field in ["channelsRoot", "secretsRoot", "tokensHash"] {
                pre.extend(hex(&view[field]));
            }
            let mut word = [0u8; 32];
            word[24..].copy_from_slice(&view["queuePosition"].as_u64().unwrap().to_be_bytes());
            pre.extend_from_slice(&word);
            keccak256(&pre).0.to_vec()
        };
        assert_eq!(state_root(&accounts_root), hex(&view["stateRoot"]));
        // Any flipped bit of a sibling breaks it.
        let mut bad = siblings.clone();
        bad[dev as usize % 33][0] ^= 1;
        assert_ne!(state_root(&fold(&bad)), hex(&view["stateRoot"]));
    }
    running.stop().await.unwrap();
}

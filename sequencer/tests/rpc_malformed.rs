//! 10,000 generated malformed JSON-RPC requests: bad JSON, wrong shapes, wrong and odd
//! parameters for every method, odd block tags, huge and nested batches. Every answer must
//! be a JSON-RPC answer (never an internal error, never a 5xx), and the node must keep
//! producing blocks afterwards.

mod common;

use rand::{Rng, SeedableRng, rngs::SmallRng};
use serde_json::{Value, json};
use weft_storage::testkit::TestDatabase;

use common::rpc::Rpc;

const REQUESTS: usize = 10_000;

const METHODS: &[&str] = &[
    "eth_chainId",
    "net_version",
    "web3_clientVersion",
    "eth_blockNumber",
    "eth_syncing",
    "eth_getBlockByNumber",
    "eth_getBlockByHash",
    "eth_getTransactionCount",
    "eth_getBalance",
    "eth_getCode",
    "eth_getStorageAt",
    "eth_call",
    "eth_estimateGas",
    "eth_gasPrice",
    "eth_maxPriorityFeePerGas",
    "eth_feeHistory",
    "eth_sendRawTransaction",
    "eth_getTransactionByHash",
    "eth_getTransactionReceipt",
    "eth_getLogs",
    "eth_getProof",
    "eth_accounts",
    "eth_subscribe",
    "eth_unsubscribe",
    "weft_getTransactionStatus",
    "eth_getBlockTransactionCountByNumber",
    "no_such_method",
    "",
];

/// A value of some JSON shape, biased towards what the methods parse.
fn value(rng: &mut SmallRng, depth: u32) -> Value {
    match rng.random_range(0..16) {
        0 => Value::Null,
        1 => json!(rng.random::<bool>()),
        2 => json!(rng.random::<i64>()),
        3 => json!(rng.random::<f64>() * 1e30),
        4 => json!(
            [
                "latest",
                "pending",
                "earliest",
                "safe",
                "finalized",
                "0x",
                "0x-1",
                "0x0"
            ][rng.random_range(0..8)]
        ),
        5 => json!(format!("0x{:x}", rng.random::<u128>())),
        6 => json!(format!("0x{}", "ff".repeat(rng.random_range(0..80)))),
        7 => json!(format!("0x{}", "0".repeat(rng.random_range(0..70)))),
        8 => json!("zz"),
        9 => json!(format!("0x{}", "a".repeat(rng.random_range(0..200_000)))),
        10 | 11 if depth < 4 => {
            let n = rng.random_range(0..6);
            Value::Array((0..n).map(|_| value(rng, depth + 1)).collect())
        }
        12 | 13 if depth < 4 => {
            let keys = [
                "from",
                "to",
                "data",
                "input",
                "gas",
                "value",
                "address",
                "topics",
                "fromBlock",
                "toBlock",
                "blockHash",
                "maxFeePerGas",
                "gasPrice",
                "nonce",
            ];
            let n = rng.random_range(0..5);
            let mut object = serde_json::Map::new();
            for _ in 0..n {
                object.insert(
                    keys[rng.random_range(0..keys.len())].into(),
                    value(rng, depth + 1),
                );
            }
            Value::Object(object)
        }
        14 => json!("\u{0}\u{ffff}"),
        _ => json!({}),
    }
}

/// One request, possibly malformed.
fn request(rng: &mut SmallRng) -> Value {
    let method = METHODS[rng.random_range(0..METHODS.len())];
    let params = match rng.random_range(0..4) {
        0 => value(rng, 0),
        _ => Value::Array((0..rng.random_range(0..5)).map(|_| value(rng, 1)).collect()),
    };
    let mut request =
        json!({ "jsonrpc": "2.0", "id": rng.random::<u32>(), "method": method, "params": params });
    match rng.random_range(0..12) {
        0 => request["jsonrpc"] = json!("1.0"),
        1 => request["id"] = json!({ "nested": true }),
        2 => request = json!(method),
        3 => {
            request.as_object_mut().unwrap().remove("id");
        }
        _ => {}
    }
    request
}

/// A body: a request, a batch, or bytes that are not JSON.
fn body(rng: &mut SmallRng) -> Vec<u8> {
    let text = match rng.random_range(0..10) {
        0 => {
            // Cut anywhere, inside a UTF-8 sequence too.
            let mut bytes = request(rng).to_string().into_bytes();
            bytes.truncate(rng.random_range(0..bytes.len().max(1)));
            return bytes;
        }
        1 => (0..rng.random_range(0..64))
            .map(|_| char::from(rng.random_range(0x20u8..0x7f)))
            .collect(),
        2 => {
            let n = [0, 1, 2, 50, 100, 101, 500][rng.random_range(0..7)];
            Value::Array((0..n).map(|_| request(rng)).collect()).to_string()
        }
        3 => "[".repeat(rng.random_range(1..2_000)),
        _ => request(rng).to_string(),
    };
    text.into_bytes()
}

#[tokio::test]
async fn ten_thousand_malformed_requests_get_answers_and_no_internal_error() {
    let db = TestDatabase::sqlite();
    let mut config = common::config(db.dir(), None);
    config.chain_id = common::rpc::CHAIN_ID;
    let running = weft_sequencer::start(config).await.unwrap();
    let rpc = Rpc::new(running.addr);
    let mut rng = SmallRng::seed_from_u64(17);
    let bodies: Vec<Vec<u8>> = (0..REQUESTS).map(|_| body(&mut rng)).collect();
    let mut errors = 0;
    for chunk in bodies.chunks(16) {
        let tasks: Vec<_> = chunk
            .iter()
            .cloned()
            .map(|b| {
                let rpc = rpc.clone();
                tokio::spawn(async move { (rpc.raw(b.clone()).await, b) })
            })
            .collect();
        for task in tasks {
            let ((status, answer), sent) = task.await.unwrap();
            let short = String::from_utf8_lossy(&sent[..sent.len().min(300)]);
            assert!(
                status == 200 || status == 204 || status == 413,
                "{status} for {short}"
            );
            if status != 200 {
                continue;
            }
            let answers = match &answer {
                Value::Array(a) => a.clone(),
                other => vec![other.clone()],
            };
            for a in answers {
                assert_eq!(a["jsonrpc"], "2.0", "{a} for {short}");
                if let Some(code) = a["error"]["code"].as_i64() {
                    assert_ne!(code, -32603, "internal error {a} for {short}");
                    errors += 1;
                }
            }
        }
    }
    assert!(errors > REQUESTS / 2, "most of them are refused: {errors}");
    // The node still works.
    let hash = rpc
        .send(&common::rpc::signed(
            0,
            0,
            Some(weft_protocol::primitives::Address::repeat_byte(7)),
            weft_protocol::primitives::U256::from(1),
            Default::default(),
            21_000,
            1_000_000_000,
        ))
        .await;
    rpc.receipt(&hash, std::time::Duration::from_secs(20)).await;
    assert!(!running.builder_finished());
    running.stop().await.unwrap();
}

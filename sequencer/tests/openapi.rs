//! The OpenAPI document built from the types (`sequencer/src/api/openapi.rs`): complete,
//! self-contained, and in step with the kinds admission takes and the codes the docs list.
//! schemathesis (`schemathesis.rs`) holds the running server to it.

mod common;

use std::{collections::BTreeSet, path::Path, time::Duration};

use serde_json::Value;
use weft_protocol::primitives::{Address, B256};
use weft_protocol::transaction::ALL_TYPES;
use weft_sequencer::api::openapi::document;

#[test]
fn every_reference_resolves_and_every_schema_is_used() {
    let doc = document();
    let errors = weft_service::openapi::reference_errors(&doc);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(doc["openapi"], "3.1.0");
    if let Ok(path) = std::env::var("WEFT_OPENAPI_OUT") {
        std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    }
}

/// What the review found: the submission schema listed three kinds; batch indexes had no
/// maximum; a block id had no pattern; an empty batch was not excluded.
#[test]
fn a_submission_may_carry_every_signed_kind_and_nothing_else() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let submission = schemas
        .get("SubmissionInput")
        .or_else(|| schemas.get("Submission"))
        .expect("the submission's schema");
    let kinds_ref = submission["properties"]["transaction"]["$ref"]
        .as_str()
        .expect("the transaction is a reference");
    let kinds = &schemas[kinds_ref.rsplit('/').next().unwrap()]["oneOf"];
    let mut tags: Vec<String> = kinds
        .as_array()
        .expect("oneOf")
        .iter()
        .map(|k| {
            let tag = &k["properties"]["type"];
            tag.get("const")
                .or_else(|| tag["enum"].get(0))
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("a kind without a type tag: {k}"))
                .to_owned()
        })
        .collect();
    tags.sort();
    // Every kind with EIP-712 types, as /v1/types names it, but the system kinds (they
    // come from L1 only).
    let mut expected: Vec<String> = ALL_TYPES
        .iter()
        .filter(|t| t.name != "Deposit" && t.name != "ForcedWithdraw")
        .map(|t| {
            let mut c = t.name.chars();
            c.next().unwrap().to_ascii_lowercase().to_string() + c.as_str()
        })
        .collect();
    expected.sort();
    assert_eq!(tags, expected);

    let batch = schemas
        .get("SubmitBatchInput")
        .or_else(|| schemas.get("SubmitBatch"))
        .unwrap();
    assert_eq!(batch["properties"]["transactions"]["minItems"], 1);
    assert_eq!(batch["additionalProperties"], false);

    let index = &doc["paths"]["/v1/batches/{index}"]["get"]["parameters"][0]["schema"];
    assert_eq!(index["maximum"], u64::MAX);
    let id = &doc["paths"]["/v1/blocks/{id}"]["get"]["parameters"][0]["schema"];
    assert!(id["pattern"].is_string());
}

#[test]
fn every_route_documents_its_refusals() {
    let doc = document();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            for status in ["405", "429", "503"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} does not document {status}"
                );
            }
            if method == "post" {
                for status in ["400", "413", "415"] {
                    assert!(responses.contains_key(status), "{path} lacks {status}");
                }
            }
        }
    }
}

/// Every error code the server may answer is in the schema of the error body and in
/// docs/api.md (the server asserts, in debug builds, that it answers no other).
#[test]
fn every_error_code_is_documented() {
    let doc = document();
    let codes: Vec<&str> = doc["components"]["schemas"]["ErrorBody"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let listed: Vec<&str> = weft_api::ERROR_CODES.iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, listed);
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md"))
            .unwrap();
    let missing = weft_service::openapi::undocumented(weft_api::ERROR_CODES, &docs);
    assert!(missing.is_empty(), "docs/api.md does not list {missing:?}");
}

/// Validates `(status, body)` of `GET path` against what the document says that route
/// answers with that status.
struct Conformance {
    doc: Value,
    checked: usize,
}

impl Conformance {
    fn check(&mut self, route: &str, method: &str, status: u16, body: &Value) {
        let errors = self.errors(route, method, status, body);
        assert!(
            errors.is_empty(),
            "{method} {route} ({status}) does not conform: {errors:#?}\n{body:#}"
        );
        self.checked += 1;
    }

    fn errors(&self, route: &str, method: &str, status: u16, body: &Value) -> Vec<String> {
        weft_service::openapi::answer_errors(&self.doc, route, method, status, body)
    }
}

/// A node with transfers, a withdrawal, a channel, a revealed secret and contracts (logs
/// included): every answer of every read route, success or error, conforms to the document.
/// (schemathesis' random inputs mostly reach the error answers; this reaches the others.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_populated_nodes_answers_conform_to_the_document() {
    use alloy::primitives::U256;
    use weft_protocol::{
        channel::channel_id,
        primitives::keccak256,
        testkit::evm::{calldata, init_code},
        transaction::{ChannelOpen, RevealSecret, Transaction, Withdraw},
    };
    use weft_sequencer::config::GenesisConfig;

    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path(), None);
    config.chain_id = weft_protocol::testkit::evm::CHAIN_ID;
    let running = weft_sequencer::start(config).await.unwrap();
    let client = common::Client::new(running.addr);
    let rpc = common::rpc::Rpc::new(running.addr);
    let domain = running.node.domain;
    let key = GenesisConfig::dev_key;

    let transfer = common::transfer(&domain, 0, 1, 5, 0);
    let withdraw = Transaction::Withdraw(Withdraw {
        from: key(2).address(),
        l1_recipient: key(2).address(),
        token: 0,
        amount: 7,
        fee: 1,
        nonce: 0,
    })
    .sign(&key(2), &domain);
    let open = Transaction::ChannelOpen(ChannelOpen {
        from: key(3).address(),
        hub: key(4).address(),
        token: 0,
        amount: 1_000,
        fee: 1,
        nonce: 0,
    })
    .sign(&key(3), &domain);
    let reveal = Transaction::RevealSecret(RevealSecret {
        from: key(5).address(),
        secret: B256::repeat_byte(9),
        fee: 1,
        nonce: 0,
    })
    .sign(&key(5), &domain);
    let mut hashes = Vec::new();
    for tx in [&transfer, &withdraw, &open, &reveal] {
        let (status, reply) = client.submit(tx).await;
        assert_eq!(status, 200, "{reply}");
        hashes.push(reply["hash"].as_str().unwrap().parse::<B256>().unwrap());
    }
    let deploy = rpc
        .send(&common::rpc::signed(
            6,
            0,
            None,
            U256::ZERO,
            init_code("Counter"),
            300_000,
            10_000_000_000,
        ))
        .await;
    let receipt = rpc.receipt(&deploy, Duration::from_secs(20)).await;
    let counter: Address = receipt["contractAddress"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let increment = rpc
        .send(&common::rpc::signed(
            6,
            1,
            Some(counter),
            U256::ZERO,
            calldata("increment()", &[]),
            100_000,
            10_000_000_000,
        ))
        .await;
    rpc.receipt(&increment, Duration::from_secs(20)).await;
    hashes.extend([deploy, increment]);
    for h in &hashes {
        client.wait_executed(h, Duration::from_secs(20)).await;
    }

    let mut c = Conformance {
        doc: document(),
        checked: 0,
    };
    // The check can fail: an amount as a JSON number, an unknown status.
    let route = "/v1/transactions/{hash}";
    let (_, mut view) = client.get(&format!("/v1/transactions/{}", hashes[0])).await;
    c.check(route, "get", 200, &view);
    view["transaction"]["amount"] = 5.into();
    assert!(!c.errors(route, "get", 200, &view).is_empty());
    view["status"] = "lost".into();
    assert_eq!(c.errors(route, "get", 200, &view).len(), 2);

    let get = async |c: &mut Conformance, route: &str, path: String| {
        let (status, body) = client.get(&path).await;
        c.check(route, "get", status, &body);
        body
    };
    let mut blocks = BTreeSet::new();
    for h in &hashes {
        let view = get(
            &mut c,
            "/v1/transactions/{hash}",
            format!("/v1/transactions/{h}"),
        )
        .await;
        blocks.insert(view["blockNumber"].as_u64().unwrap());
        get(
            &mut c,
            "/v1/transactions/{hash}/withdrawal",
            format!("/v1/transactions/{h}/withdrawal"),
        )
        .await;
    }
    for n in blocks.iter().copied().chain([0]) {
        get(&mut c, "/v1/blocks/{id}", format!("/v1/blocks/{n}")).await;
        get(
            &mut c,
            "/v1/blocks/{id}/transactions",
            format!("/v1/blocks/{n}/transactions"),
        )
        .await;
    }
    get(&mut c, "/v1/blocks/{id}", "/v1/blocks/latest".into()).await;
    for i in [0, 1, 2, 3, 4, 5, 6] {
        let a = key(i).address();
        get(
            &mut c,
            "/v1/accounts/{address}",
            format!("/v1/accounts/{a}"),
        )
        .await;
        get(
            &mut c,
            "/v1/accounts/{address}/proof",
            format!("/v1/accounts/{a}/proof"),
        )
        .await;
    }
    get(
        &mut c,
        "/v1/accounts/{address}/proof",
        format!("/v1/accounts/{counter}/proof"),
    )
    .await;
    let channel = channel_id(&key(3).address(), &key(4).address(), 0);
    let view = get(
        &mut c,
        "/v1/channels/{id}",
        format!("/v1/channels/{channel}"),
    )
    .await;
    assert_eq!(view["status"]["type"], "open", "{view}");
    get(
        &mut c,
        "/v1/channels/{id}/proof",
        format!("/v1/channels/{channel}/proof"),
    )
    .await;
    let hashlock = keccak256(B256::repeat_byte(9));
    get(
        &mut c,
        "/v1/secrets/{hashlock}/proof",
        format!("/v1/secrets/{hashlock}/proof"),
    )
    .await;
    for i in [0, 1] {
        get(&mut c, "/v1/batches/{index}", format!("/v1/batches/{i}")).await;
        get(
            &mut c,
            "/v1/batches/{index}/witness",
            format!("/v1/batches/{i}/witness"),
        )
        .await;
    }
    for route in ["/v1/domain", "/v1/chain", "/v1/types", "/health"] {
        get(&mut c, route, route.into()).await;
    }
    assert!(c.checked >= 40, "{} answers checked", c.checked);
    running.stop().await.unwrap();
}

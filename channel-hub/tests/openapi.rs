//! The hub's OpenAPI document (`channel-hub/src/openapi.rs`): self-contained, its error
//! codes documented, schemathesis finds nothing against a live hub, and the answers of a
//! hub holding a channel with a routed payment conform to it.

mod common;

use std::path::Path;

use common::{pay_routed, sequencer, start_hub, wallet};
use serde_json::Value;
use weft_channel_hub::openapi::document;
use weft_service::openapi::{answer_errors, reference_errors};

#[test]
fn every_reference_resolves_and_every_code_is_documented() {
    let doc = document();
    let errors = reference_errors(&doc);
    assert!(errors.is_empty(), "{errors:#?}");
    let codes = &doc["components"]["schemas"]["HubErrorCode"]["enum"];
    let listed: Vec<&str> = weft_channel::ERROR_CODES.iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, &serde_json::json!(listed));
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/channels.md"))
            .unwrap();
    let missing = weft_service::openapi::undocumented(weft_channel::ERROR_CODES, &docs);
    assert!(
        missing.is_empty(),
        "docs/channels.md does not list {missing:?}"
    );
    // The WebSocket's messages are described, each kind by its tag.
    let ws = &doc["paths"]["/v1/ws"]["get"];
    for key in ["x-websocket-from-hub", "x-websocket-from-wallet"] {
        assert!(ws[key]["$ref"].is_string(), "{key}: {}", ws[key]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_hub_answers_as_its_document_says() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let hub = start_hub(dir.path(), &seq).await;
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    let bob = wallet(1, &dir.path().join("bob"), &hub, &seq).await;
    let a = alice.open_channel(0, 10_000).await.unwrap();
    bob.open_channel(0, 10_000).await.unwrap();
    pay_routed(&alice, &a, &bob, 1_000).await;

    let doc = document();
    let http = reqwest::Client::new();
    let base = format!("http://{}", hub.addr);
    for route in ["/v1/info", "/v1/types", "/health", "/v1/openapi.json"] {
        let answer = http.get(format!("{base}{route}")).send().await.unwrap();
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap();
        let errors = answer_errors(&doc, route, "get", status, &body);
        assert!(errors.is_empty(), "GET {route}: {errors:#?}\n{body:#}");
    }
    // A signed read, through the wallet's own client (its JSON is the hub's, re-encoded by
    // the same types).
    let view = serde_json::to_value(alice.hub_view(&a).await.unwrap()).unwrap();
    let errors = answer_errors(&doc, "/v1/channels/{id}", "get", 200, &view);
    assert!(errors.is_empty(), "{errors:#?}\n{view:#}");
    assert!(view["latest"]["hubSignature"].is_string(), "{view}");

    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sequencer/tests/schemathesis/run.sh");
    let (passed, report) =
        weft_service::testing::run_bounded(&run, &[&format!("{base}/v1/openapi.json")], 300).await;
    eprintln!("{report}");
    assert!(passed, "schemathesis found failures:\n{report}");
}

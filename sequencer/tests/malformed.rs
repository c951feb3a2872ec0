//! 10,000 generated malformed requests: no crash, no 5xx, every answer a 4xx with a stable
//! code. Run in-process against the real router (`oneshot`), with real storage behind it.

mod common;

use std::collections::BTreeMap;

use axum::{
    body::{Body, to_bytes},
    http::{Method, Request, header},
};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::{Value, json};
use tower::ServiceExt;
use weft_sequencer::{api, node::Node};

const REQUESTS: usize = 10_000;

/// Every code the API may answer a malformed request with.
const KNOWN: &[&str] = &[
    "invalid_json",
    "invalid_request",
    "unsupported_media_type",
    "body_too_large",
    "invalid_hash",
    "invalid_address",
    "invalid_block_id",
    "invalid_path",
    "not_found",
    "method_not_allowed",
    "empty_batch",
    "batch_too_large",
    "malformed_signature",
    "invalid_signature",
    "high_s_signature",
    "nonce_too_high",
    "nonce_too_low",
    "insufficient_balance",
    "zero_amount",
    "self_transfer",
    "amount_overflow",
    "unknown_token",
    "system_kind",
    "unsupported_kind",
    "unknown_channel",
    "self_channel",
    "invalid_co_signature",
    "too_many_locks",
    "wrong_chain_id",
    "wrong_contract",
    "fee_too_low",
];

fn junk_value(rng: &mut StdRng) -> Value {
    match rng.random_range(0..12) {
        0 => json!(null),
        1 => json!(rng.random::<bool>()),
        2 => json!(rng.random::<i64>()),
        3 => json!("340282366920938463463374607431768211456999"),
        4 => json!(1e300),
        5 => json!("0x12"),
        6 => json!(format!("0x{}", "zz".repeat(20))),
        7 => json!([1, 2, 3]),
        8 => json!({ "nested": { "deep": [] } }),
        9 => json!(-1),
        10 => json!("18446744073709551616"),
        _ => json!("not a number"),
    }
}

fn mutate(rng: &mut StdRng, base: &Value) -> (Method, String, Option<&'static str>, Vec<u8>) {
    let post = |body: Vec<u8>| {
        (
            Method::POST,
            "/v1/transactions".to_string(),
            Some("application/json"),
            body,
        )
    };
    match rng.random_range(0..10) {
        // Truncated JSON.
        0 => {
            let text = base.to_string();
            let cut = rng.random_range(0..text.len() - 1);
            post(text.as_bytes()[..cut].to_vec())
        }
        // A field of the transaction replaced by a value of the wrong type or range.
        1 | 2 => {
            let mut v = base.clone();
            let field = *["from", "to", "token", "amount", "fee", "nonce", "type"]
                .choose(rng)
                .unwrap();
            v["transaction"][field] = junk_value(rng);
            post(v.to_string().into_bytes())
        }
        // The signature replaced.
        3 => {
            let mut v = base.clone();
            v["signature"] = junk_value(rng);
            post(v.to_string().into_bytes())
        }
        // An unknown field, at the top or inside.
        4 => {
            let mut v = base.clone();
            if rng.random_bool(0.5) {
                v["memo"] = json!("hi");
            } else {
                v["transaction"]["memo"] = json!(1);
            }
            post(v.to_string().into_bytes())
        }
        // Wrong or missing content type.
        5 => {
            let ct = [None, Some("text/plain"), Some("application/xml")]
                .choose(rng)
                .copied()
                .unwrap();
            (
                Method::POST,
                "/v1/transactions".into(),
                ct,
                base.to_string().into_bytes(),
            )
        }
        // Oversize body.
        6 => post(vec![b' '; 70_000]),
        // Random bytes.
        7 => post(
            (0..rng.random_range(0..200))
                .map(|_| rng.random())
                .collect(),
        ),
        // Bad path parameters.
        8 => {
            let junk: String = (0..rng.random_range(0..70))
                .map(|_| *b"0x123456789abcdefXYZ-%~".choose(rng).unwrap() as char)
                .collect();
            let path = match rng.random_range(0..4) {
                0 => format!("/v1/transactions/{junk}"),
                1 => format!("/v1/accounts/{junk}"),
                2 => format!("/v1/accounts/{junk}/proof"),
                _ => format!("/v1/blocks/{junk}z"),
            };
            (Method::GET, path, None, Vec::new())
        }
        // Batches with broken members or wrong shapes.
        _ => {
            let body = match rng.random_range(0..3) {
                0 => json!({ "transactions": [junk_value(rng)] }),
                1 => json!({ "transactions": junk_value(rng) }),
                _ => json!({ "txs": [] }),
            };
            (
                Method::POST,
                "/v1/transactions/batch".into(),
                Some("application/json"),
                body.to_string().into_bytes(),
            )
        }
    }
}

#[tokio::test]
async fn ten_thousand_malformed_requests_get_4xx_with_stable_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = common::config(dir.path(), None);
    c.api.max_body_bytes = 64 * 1024;
    let node = Node::open(c).await.unwrap();
    let app = api::app(node.clone());
    let d = node.domain;
    // Well-formed and signed, but never admissible (nonce far ahead), so every mutation
    // of it is refused too.
    let base = common::body(&common::transfer(&d, 0, 1, 5, 1_000_000));

    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..REQUESTS {
        let (method, path, ct, body) = mutate(&mut rng, &base);
        let mut req = Request::builder().method(method).uri(&path);
        if let Some(ct) = ct {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let response = app
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let v: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("request {i} ({path}): non-JSON answer {status}"));
        assert!(
            status.is_client_error(),
            "request {i} ({path}): {status} {v}"
        );
        let code = v["code"]
            .as_str()
            .unwrap_or_else(|| panic!("request {i}: no code in {v}"));
        assert!(KNOWN.contains(&code), "request {i}: unexpected code {code}");
        assert!(v["message"].is_string());
        *by_code.entry(code.to_string()).or_default() += 1;
    }
    eprintln!("{REQUESTS} malformed requests, answers by code: {by_code:?}");
    assert!(
        by_code.len() >= 8,
        "the generator reaches many distinct rejections"
    );
}

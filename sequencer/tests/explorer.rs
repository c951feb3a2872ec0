//! The explorer's pages over HTTP: home, block, transaction (native and Ethereum, with its
//! logs), address (balances, code, transactions sent and received), batch, search (each
//! kind of query redirects to its page; unknown ones are a 404 page), and the escaping of
//! what users control.

mod common;

use std::time::Duration;

use weft_protocol::{
    primitives::{Address, B256, U256},
    testkit::evm::token_init_code,
};
use weft_sequencer::config::GenesisConfig;
use weft_storage::testkit::TestDatabase;

use common::{
    Client,
    rpc::{CHAIN_ID, Rpc, signed},
    transfer,
};

const WAIT: Duration = Duration::from_secs(20);

/// GETs a page: final status, final path (after redirects), body.
async fn page(client: &Client, path: &str) -> (u16, String, String) {
    let r = client
        .http
        .get(format!("{}{path}", client.base))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let path = r.url().path().to_string();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = r.text().await.unwrap();
    if path.starts_with("/explorer") && !path.ends_with(".js") {
        assert!(kind.starts_with("text/html"), "{path}: {kind}");
    }
    (status, path, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_and_search_finds_what_it_names() {
    let db = TestDatabase::sqlite();
    let mut config = common::config(db.dir(), db.url().map(str::to_owned));
    config.chain_id = CHAIN_ID;
    config.batch.max_blocks = 1;
    config.batch.max_age = Duration::ZERO;
    let running = weft_sequencer::start(config).await.unwrap();
    let client = Client::new(running.addr);
    let rpc = Rpc::new(running.addr);
    let domain = running.node.domain;

    let tx = transfer(&domain, 0, 1, 5, 0);
    let hash: B256 = client.submit(&tx).await.1["hash"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let executed = client.wait_executed(&hash, WAIT).await;
    let block = executed["blockNumber"].as_u64().unwrap();
    let deploy = rpc
        .send(&signed(
            2,
            0,
            None,
            U256::ZERO,
            token_init_code("Weft", "WFT"),
            3_000_000,
            1_000_000_000,
        ))
        .await;
    let receipt = rpc.receipt(&deploy, WAIT).await;
    let token: Address = receipt["contractAddress"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let token = token.to_string();

    // Home: heights and the latest blocks.
    let (status, _, home) = page(&client, "/explorer").await;
    assert_eq!(status, 200);
    assert!(home.contains(&format!("/explorer/block/{block}")), "{home}");
    assert!(home.contains("live.js"));
    let (status, path, _) = page(&client, "/").await;
    assert_eq!((status, path.as_str()), (200, "/explorer"));

    // The block and its transaction.
    let (status, _, html) = page(&client, &format!("/explorer/block/{block}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&hash.to_string()) && html.contains("transfer"),
        "{html}"
    );
    let (status, _, html) = page(&client, &format!("/explorer/tx/{hash}")).await;
    assert_eq!(status, 200);
    let from = GenesisConfig::dev_key(0).address();
    assert!(
        html.contains("executed") && html.contains(&from.to_string()),
        "{html}"
    );
    assert!(
        html.contains("&#34;amount&#34;: &#34;5&#34;"),
        "the decoded fields: {html}"
    );

    // The Ethereum deployment: the call, the contract, its logs (none for a deploy).
    let (status, _, html) = page(&client, &format!("/explorer/tx/{deploy}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Ethereum call") && html.contains(&token),
        "{html}"
    );

    // Addresses: the sender's list holds the transfer; the token shows its code.
    let (status, _, html) = page(&client, &format!("/explorer/address/{from}")).await;
    assert_eq!(status, 200);
    assert!(html.contains(&hash.to_string()), "{html}");
    let to = GenesisConfig::dev_key(1).address();
    let (_, _, html) = page(&client, &format!("/explorer/address/{to}")).await;
    assert!(
        html.contains(&hash.to_string()),
        "received transfers are listed: {html}"
    );
    let (_, _, html) = page(&client, &format!("/explorer/address/{token}")).await;
    assert!(html.contains("contract code"), "{html}");

    // The batch of the transfer's block.
    let batch = loop {
        let (status, v) = client.get(&format!("/v1/transactions/{hash}")).await;
        assert_eq!(status, 200);
        if let Some(index) = v["batch"]["index"].as_u64() {
            break index;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (status, _, html) = page(&client, &format!("/explorer/batch/{batch}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("sealed") && html.contains("calldata"),
        "{html}"
    );

    // Search: each kind of query lands on its page.
    for (q, expected) in [
        (hash.to_string(), format!("/explorer/tx/{hash}")),
        (block.to_string(), format!("/explorer/block/{block}")),
        (from.to_string(), format!("/explorer/address/{from}")),
        (format!("batch {batch}"), format!("/explorer/batch/{batch}")),
    ] {
        let (status, path, _) = page(
            &client,
            &format!("/explorer/search?q={}", q.replace(' ', "+")),
        )
        .await;
        assert_eq!((status, path), (200, expected), "{q}");
    }
    let (_, v) = client.get(&format!("/v1/blocks/{block}")).await;
    let block_hash = v["hash"].as_str().unwrap().to_string();
    let (status, path, _) = page(&client, &format!("/explorer/search?q={block_hash}")).await;
    assert_eq!(
        (status, path),
        (200, format!("/explorer/block/{block_hash}"))
    );

    // What is not there, and what users type, comes back escaped.
    let (status, _, html) = page(&client, &format!("/explorer/tx/{}", B256::repeat_byte(7))).await;
    assert_eq!(status, 404);
    assert!(html.contains("No transaction"), "{html}");
    let (status, _, html) = page(
        &client,
        "/explorer/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    )
    .await;
    assert_eq!(status, 400);
    assert!(!html.contains("<script>alert"), "{html}");
    let (status, _, html) = page(&client, "/explorer/address/%3Cb%3E").await;
    assert_eq!(status, 404);
    assert!(
        html.contains("&#60;b&#62;") && !html.contains("\"<b>\""),
        "{html}"
    );
    let (status, _, js) = page(&client, "/explorer/live.js").await;
    assert!(status == 200 && js.contains("/v1/ws"));
    running.stop().await.unwrap();
}

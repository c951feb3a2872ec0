//! Ethereum JSON-RPC end to end over HTTP and WebSocket: an ERC-20 deployed, minted,
//! transferred and read back; receipts and logs surviving a restart; every refusal of
//! `eth_sendRawTransaction` with geth's wording; the protocol's limits.

mod common;

use std::time::Duration;

use alloy::primitives::TxKind;
use alloy_consensus::{TxEip1559, TxEip4844, TxEip7702, TxLegacy};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use weft_protocol::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    signature::SigningKey,
    testkit::evm::{Arg, calldata, seal, token_init_code},
};
use weft_sequencer::config::{Config, GenesisConfig};
use weft_storage::testkit::TestDatabase;

use common::rpc::{CHAIN_ID, Rpc, number, signed};

const WAIT: Duration = Duration::from_secs(20);
const GWEI: u128 = 1_000_000_000;

fn config(db: &TestDatabase) -> Config {
    let mut c = common::config(db.dir(), db.url().map(str::to_owned));
    c.chain_id = CHAIN_ID;
    c
}

fn dev(i: u32) -> Address {
    GenesisConfig::dev_key(i).address()
}

fn transfer_topic() -> B256 {
    keccak256("Transfer(address,address,uint256)")
}

/// Deploys the token from dev 0 (nonce 0), mints 1,000 to dev 0 (nonce 1) and transfers
/// 250 to dev 1 (nonce 2); the token's address and the transfer's hash.
async fn deploy_mint_transfer(rpc: &Rpc) -> (Address, B256) {
    let deploy = rpc
        .send(&signed(
            0,
            0,
            None,
            U256::ZERO,
            token_init_code("Weft", "WFT"),
            3_000_000,
            GWEI,
        ))
        .await;
    let receipt = rpc.receipt(&deploy, WAIT).await;
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let token: Address = receipt["contractAddress"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mint = calldata(
        "mint(address,uint256)",
        &[Arg::A(dev(0)), Arg::U(U256::from(1_000))],
    );
    let mint = rpc
        .send(&signed(0, 1, Some(token), U256::ZERO, mint, 200_000, GWEI))
        .await;
    let pay = calldata(
        "transfer(address,uint256)",
        &[Arg::A(dev(1)), Arg::U(U256::from(250))],
    );
    let pay = rpc
        .send(&signed(0, 2, Some(token), U256::ZERO, pay, 200_000, GWEI))
        .await;
    assert_eq!(rpc.receipt(&mint, WAIT).await["status"], "0x1");
    (token, pay)
}

async fn balance_of(rpc: &Rpc, token: Address, holder: Address) -> u128 {
    let data = calldata("balanceOf(address)", &[Arg::A(holder)]);
    let out = rpc
        .ok("eth_call", json!([{ "to": token, "data": data }, "latest"]))
        .await;
    let balance: U256 = out.as_str().unwrap().parse().unwrap();
    balance.to()
}

#[tokio::test]
async fn an_erc20_is_deployed_used_and_read_back_and_survives_a_restart() {
    let db = TestDatabase::sqlite();
    let running = weft_sequencer::start(config(&db)).await.unwrap();
    let rpc = Rpc::new(running.addr);

    assert_eq!(
        rpc.ok("eth_chainId", json!([])).await,
        format!("{CHAIN_ID:#x}")
    );
    assert_eq!(rpc.ok("net_version", json!([])).await, CHAIN_ID.to_string());
    assert_eq!(rpc.ok("eth_accounts", json!([])).await, json!([]));
    assert_eq!(rpc.ok("eth_syncing", json!([])).await, json!(false));
    let missing = rpc
        .call("eth_signTransaction", json!([]))
        .await
        .unwrap_err();
    assert_eq!(missing["code"], -32601, "{missing}");

    let (token, pay) = deploy_mint_transfer(&rpc).await;
    let receipt = rpc.receipt(&pay, WAIT).await;
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    assert_eq!(receipt["from"], json!(dev(0)));
    assert_eq!(receipt["to"], json!(token));
    let logs = receipt["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1, "{receipt}");
    assert_eq!(logs[0]["address"], json!(token));
    assert_eq!(logs[0]["topics"][0], json!(transfer_topic()));
    assert_eq!(logs[0]["topics"][1], json!(dev(0).into_word()));
    assert_eq!(logs[0]["topics"][2], json!(dev(1).into_word()));
    assert_eq!(number(&logs[0]["data"]), 250);
    let gas_used = number(&receipt["gasUsed"]);
    assert!((21_000..200_000).contains(&gas_used), "{receipt}");

    assert_eq!(balance_of(&rpc, token, dev(0)).await, 750);
    assert_eq!(balance_of(&rpc, token, dev(1)).await, 250);
    let code = rpc.ok("eth_getCode", json!([token, "latest"])).await;
    assert!(code.as_str().unwrap().len() > 1_000, "{code}");
    // OpenZeppelin 5's ERC20 keeps the total supply in slot 2.
    let supply = rpc
        .ok("eth_getStorageAt", json!([token, "0x2", "latest"]))
        .await;
    assert_eq!(number(&supply), 1_000);
    assert_eq!(
        number(
            &rpc.ok("eth_getTransactionCount", json!([dev(0), "latest"]))
                .await
        ),
        3
    );

    // The block holds it, by number and by hash, with hashes or whole transactions.
    let block_number = receipt["blockNumber"].clone();
    let block = rpc
        .ok("eth_getBlockByNumber", json!([block_number, true]))
        .await;
    assert_eq!(block["hash"], receipt["blockHash"]);
    assert_eq!(block["baseFeePerGas"], "0x989680");
    // Its logs bloom, stored with the block, holds the transfer's log.
    let bloom: alloy::primitives::Bloom =
        serde_json::from_value(block["logsBloom"].clone()).unwrap();
    for input in [token.as_slice(), transfer_topic().as_slice()] {
        assert!(bloom.contains_input(alloy::primitives::BloomInput::Raw(input)));
    }
    let txs = block["transactions"].as_array().unwrap();
    let tx = txs
        .iter()
        .find(|t| t["hash"] == json!(pay))
        .expect("in its block");
    assert_eq!(tx["from"], json!(dev(0)));
    let by_hash = rpc
        .ok("eth_getBlockByHash", json!([receipt["blockHash"], false]))
        .await;
    assert!(
        by_hash["transactions"]
            .as_array()
            .unwrap()
            .contains(&json!(pay))
    );
    let got = rpc.ok("eth_getTransactionByHash", json!([pay])).await;
    assert_eq!(got["blockNumber"], block_number);
    assert_eq!(got["nonce"], "0x2");

    // Logs by address and by topic over the whole chain.
    let head = rpc.ok("eth_blockNumber", json!([])).await;
    let logs = rpc
        .ok(
            "eth_getLogs",
            json!([{ "fromBlock": "0x0", "toBlock": head, "address": token }]),
        )
        .await;
    assert_eq!(
        logs.as_array().unwrap().len(),
        2,
        "mint and transfer: {logs}"
    );
    let to_dev1 = rpc
        .ok(
            "eth_getLogs",
            json!([{ "fromBlock": "earliest", "topics": [transfer_topic(), null, dev(1).into_word()] }]),
        )
        .await;
    assert_eq!(to_dev1.as_array().unwrap().len(), 1, "{to_dev1}");

    // Estimates, reverts with their data, the fee market's answers.
    let pay_more = calldata(
        "transfer(address,uint256)",
        &[Arg::A(dev(2)), Arg::U(U256::from(10))],
    );
    let estimate = rpc
        .ok(
            "eth_estimateGas",
            json!([{ "from": dev(1), "to": token, "data": pay_more }]),
        )
        .await;
    assert!((21_000..100_000).contains(&number(&estimate)), "{estimate}");
    let too_much = calldata(
        "transfer(address,uint256)",
        &[Arg::A(dev(2)), Arg::U(U256::from(10_000))],
    );
    let reverted = rpc
        .call(
            "eth_call",
            json!([{ "from": dev(1), "to": token, "data": too_much }, "latest"]),
        )
        .await
        .unwrap_err();
    assert_eq!(reverted["code"], 3, "{reverted}");
    // ERC20InsufficientBalance(address,uint256,uint256)
    assert!(
        reverted["data"].as_str().unwrap().starts_with("0xe450d38c"),
        "{reverted}"
    );
    let estimate = rpc
        .call(
            "eth_estimateGas",
            json!([{ "from": dev(1), "to": token, "data": too_much }]),
        )
        .await
        .unwrap_err();
    assert_eq!(estimate["code"], 3, "{estimate}");
    let history = rpc
        .ok("eth_feeHistory", json!(["0x2", "latest", [50.0]]))
        .await;
    assert_eq!(
        history["baseFeePerGas"].as_array().unwrap().len(),
        3,
        "{history}"
    );
    assert_eq!(
        history["gasUsedRatio"].as_array().unwrap().len(),
        2,
        "{history}"
    );
    // The newest block holds the token transfer: its tip, 0.001 gwei, at the median.
    assert_eq!(history["reward"][1][0], "0xf4240", "{history}");
    assert_eq!(number(&rpc.ok("eth_gasPrice", json!([])).await), 10_000_000);
    let status = rpc.ok("weft_getTransactionStatus", json!([pay])).await;
    assert_eq!(status["status"], "executed", "{status}");
    let (code, rest) = common::Client::new(running.addr)
        .get(&format!("/v1/transactions/{pay}"))
        .await;
    assert_eq!((code, &rest["status"]), (200, &json!("executed")), "{rest}");

    // The state root's proof of the token account.
    let proof = rpc
        .ok("eth_getProof", json!([token, ["0x2"], "latest"]))
        .await;
    assert_eq!(
        proof["accountProof"].as_array().unwrap().len(),
        33,
        "{proof}"
    );
    assert_eq!(number(&proof["storageProof"][0]["value"]), 1_000);

    // After a restart: receipts, logs, nonces, and the chain goes on.
    running.stop().await.unwrap();
    let running = weft_sequencer::start(config(&db)).await.unwrap();
    let rpc = Rpc::new(running.addr);
    let again = rpc.ok("eth_getTransactionReceipt", json!([pay])).await;
    assert_eq!(again, receipt);
    let logs_again = rpc
        .ok(
            "eth_getLogs",
            json!([{ "fromBlock": "0x0", "toBlock": head, "address": token }]),
        )
        .await;
    assert_eq!(logs_again, logs);
    assert_eq!(
        number(
            &rpc.ok("eth_getTransactionCount", json!([dev(0), "pending"]))
                .await
        ),
        3
    );
    let pay_again = calldata(
        "transfer(address,uint256)",
        &[Arg::A(dev(1)), Arg::U(U256::from(50))],
    );
    let hash = rpc
        .send(&signed(
            0,
            3,
            Some(token),
            U256::ZERO,
            pay_again,
            200_000,
            GWEI,
        ))
        .await;
    assert_eq!(rpc.receipt(&hash, WAIT).await["status"], "0x1");
    assert_eq!(balance_of(&rpc, token, dev(1)).await, 300);
    running.stop().await.unwrap();
}

/// The bytes of `tx` signed by dev key 5.
fn sealed<T>(tx: T) -> Bytes
where
    T: alloy_consensus::SignableTransaction<alloy::primitives::Signature>,
    alloy_consensus::TxEnvelope: From<alloy_consensus::Signed<T>>,
{
    use alloy::eips::eip2718::Encodable2718;
    seal(tx, &GenesisConfig::dev_key(5)).encoded_2718().into()
}

fn eip1559(chain_id: u64, nonce: u64, gas_limit: u64, max_fee: u128, input: Bytes) -> TxEip1559 {
    TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: 0,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1),
        input,
        access_list: Default::default(),
    }
}

#[tokio::test]
async fn every_refusal_answers_with_geth_wording() {
    let db = TestDatabase::sqlite();
    let running = weft_sequencer::start(config(&db)).await.unwrap();
    let rpc = Rpc::new(running.addr);
    let refused = async |raw: Bytes| -> String {
        let e = rpc
            .call("eth_sendRawTransaction", json!([raw]))
            .await
            .expect_err("refused");
        assert_eq!(e["code"], -32000, "{e}");
        e["message"].as_str().unwrap().to_owned()
    };
    let starts = |message: String, prefix: &str| {
        assert!(
            message.starts_with(prefix),
            "{message:?} should start with {prefix:?}"
        );
    };
    starts(refused(Bytes::from_static(&[0x02, 0xc0])).await, "");
    starts(
        refused(sealed(eip1559(1, 0, 21_000, GWEI, Bytes::new()))).await,
        "invalid chain id for signer",
    );
    let pre_155 = TxLegacy {
        chain_id: None,
        nonce: 0,
        gas_price: GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(Address::repeat_byte(1)),
        value: U256::ZERO,
        input: Bytes::new(),
    };
    starts(refused(sealed(pre_155)).await, "only replay-protected");
    let blob = TxEip4844 {
        chain_id: CHAIN_ID,
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: GWEI,
        max_priority_fee_per_gas: 0,
        to: Address::repeat_byte(1),
        value: U256::ZERO,
        access_list: Default::default(),
        blob_versioned_hashes: vec![B256::repeat_byte(1)],
        max_fee_per_blob_gas: 1,
        input: Bytes::new(),
    };
    starts(
        refused(sealed(blob)).await,
        "transaction type not supported",
    );
    let set_code = TxEip7702 {
        chain_id: CHAIN_ID,
        nonce: 0,
        gas_limit: 50_000,
        max_fee_per_gas: GWEI,
        max_priority_fee_per_gas: 0,
        to: Address::repeat_byte(1),
        value: U256::ZERO,
        access_list: Default::default(),
        authorization_list: Vec::new(),
        input: Bytes::new(),
    };
    starts(
        refused(sealed(set_code)).await,
        "transaction type not supported",
    );
    let big = Bytes::from(vec![1u8; 130 * 1024]);
    starts(
        refused(sealed(eip1559(CHAIN_ID, 0, 29_000_000, GWEI, big))).await,
        "oversized data",
    );
    starts(
        refused(sealed(eip1559(CHAIN_ID, 0, 30_000_001, GWEI, Bytes::new()))).await,
        "exceeds block gas limit",
    );
    starts(
        refused(sealed(eip1559(CHAIN_ID, 0, 20_000, GWEI, Bytes::new()))).await,
        "intrinsic gas too low",
    );
    starts(
        refused(sealed(eip1559(CHAIN_ID, 0, 21_000, 1_000, Bytes::new()))).await,
        "max fee per gas less than block base fee",
    );
    starts(
        refused(sealed(eip1559(CHAIN_ID, 5_000, 21_000, GWEI, Bytes::new()))).await,
        "nonce too high",
    );
    // A key without funds.
    let poor = SigningKey::from_seed(b"poor");
    let unfunded = seal(eip1559(CHAIN_ID, 0, 21_000, GWEI, Bytes::new()), &poor);
    let unfunded: Bytes = alloy::eips::eip2718::Encodable2718::encoded_2718(&unfunded).into();
    starts(
        refused(unfunded).await,
        "insufficient funds for gas * price + value",
    );
    // Included, then sent again under another signature at the same nonce; replaced only
    // with a 10 % bump while pending.
    let first = rpc
        .send(&sealed(eip1559(CHAIN_ID, 0, 21_000, GWEI, Bytes::new())))
        .await;
    rpc.receipt(&first, WAIT).await;
    assert_eq!(
        rpc.send(&sealed(eip1559(CHAIN_ID, 0, 21_000, GWEI, Bytes::new())))
            .await,
        first,
        "the same transaction again is idempotent"
    );
    starts(
        refused(sealed(eip1559(CHAIN_ID, 0, 21_000, 2 * GWEI, Bytes::new()))).await,
        "nonce too low",
    );
    // Nonce 2 waits for nonce 1 (a gap), so it can be replaced.
    let waiting = sealed(eip1559(CHAIN_ID, 2, 21_000, 10 * GWEI, Bytes::new()));
    rpc.send(&waiting).await;
    starts(
        refused(sealed(eip1559(
            CHAIN_ID,
            2,
            21_000,
            10 * GWEI + GWEI / 2,
            Bytes::new(),
        )))
        .await,
        "replacement transaction underpriced",
    );
    let mut bumped = eip1559(CHAIN_ID, 2, 21_000, 11 * GWEI, Bytes::new());
    bumped.max_priority_fee_per_gas = 0;
    let replacement = rpc.send(&sealed(bumped)).await;
    let gap = rpc
        .send(&sealed(eip1559(CHAIN_ID, 1, 21_000, GWEI, Bytes::new())))
        .await;
    rpc.receipt(&gap, WAIT).await;
    assert_eq!(rpc.receipt(&replacement, WAIT).await["status"], "0x1");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn the_protocol_refuses_what_is_not_json_rpc_and_bounds_batches_and_ranges() {
    let db = TestDatabase::sqlite();
    let running = weft_sequencer::start(config(&db)).await.unwrap();
    let rpc = Rpc::new(running.addr);
    let (status, v) = rpc.raw("{not json").await;
    assert_eq!((status, &v["error"]["code"]), (200, &json!(-32700)), "{v}");
    let (_, v) = rpc.raw("[]").await;
    assert_eq!(v["error"]["code"], -32600, "{v}");
    let call = json!({ "jsonrpc": "2.0", "id": 7, "method": "eth_chainId" });
    let batch = Value::Array(vec![call.clone(); 101]);
    let (_, v) = rpc.raw(batch.to_string()).await;
    assert_eq!(v["error"]["code"], -32600, "{v}");
    let batch = json!([call, { "jsonrpc": "2.0", "id": 8, "method": "eth_nope" }, 5]);
    let (_, v) = rpc.raw(batch.to_string()).await;
    let answers = v.as_array().expect("a batch answer");
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0]["result"], format!("{CHAIN_ID:#x}"));
    assert_eq!(answers[1]["error"]["code"], -32601);
    assert_eq!(answers[2]["error"]["code"], -32600);
    let (status, _) = rpc
        .raw(json!({ "jsonrpc": "2.0", "method": "eth_chainId" }).to_string())
        .await;
    assert_eq!(status, 204, "a notification gets no answer");
    for (method, params) in [
        ("eth_getBalance", json!(["0x12"])),
        ("eth_getBalance", json!([Address::ZERO, "0xzz"])),
        ("eth_getBlockByNumber", json!(["latest", true, 3])),
        ("eth_getBlockByNumber", json!({ "block": "latest" })),
        ("eth_sendRawTransaction", json!(["zz"])),
    ] {
        let e = rpc.call(method, params.clone()).await.unwrap_err();
        assert_eq!(e["code"], -32602, "{method} {params}: {e}");
    }
    let e = rpc
        .call(
            "eth_getLogs",
            json!([{ "fromBlock": "0x0", "toBlock": "0x100000" }]),
        )
        .await;
    assert_eq!(e, Ok(json!([])), "a range past the head stops at the head");
    let e = rpc
        .call("eth_getBalance", json!([Address::ZERO, "0x0"]))
        .await;
    assert!(e.is_ok(), "block 0 is the head of an empty chain: {e:?}");
    let hash = rpc
        .send(&signed(
            0,
            0,
            Some(dev(1)),
            U256::from(1),
            Bytes::new(),
            21_000,
            GWEI,
        ))
        .await;
    rpc.receipt(&hash, WAIT).await;
    let e = rpc
        .call("eth_getBalance", json!([Address::ZERO, "0x0"]))
        .await
        .unwrap_err();
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("historical state is not available"),
        "{e}"
    );
    running.stop().await.unwrap();
}

/// A batch's `eth_sendRawTransaction` requests are admitted together (one recovery job):
/// each answer is the one the request gets alone, in the batch's order, a sender's
/// consecutive nonces in one batch both queue, and a notification is admitted unanswered.
#[tokio::test]
async fn a_batch_of_raw_transactions_is_answered_as_each_would_be_alone() {
    let db = TestDatabase::sqlite();
    let running = weft_sequencer::start(config(&db)).await.unwrap();
    let rpc = Rpc::new(running.addr);
    let pay = |from, nonce, value: u128| {
        signed(
            from,
            nonce,
            Some(dev(9)),
            U256::from(value),
            Bytes::new(),
            21_000,
            GWEI,
        )
    };
    let (first, second, unaffordable) = (pay(2, 0, 1), pay(2, 1, 1), pay(3, 0, u128::MAX / 2));
    let other_chain = sealed(eip1559(CHAIN_ID + 1, 0, 21_000, GWEI, Bytes::new()));
    let unanswered = pay(4, 0, 1);
    let send = |id: u64, raw: &Bytes| json!({ "jsonrpc": "2.0", "id": id, "method": "eth_sendRawTransaction", "params": [raw] });
    let batch = json!([
        send(1, &first),
        send(2, &second),
        send(3, &first),
        send(4, &Bytes::from_static(&[0x02, 0xc0])),
        { "jsonrpc": "2.0", "id": 5, "method": "eth_chainId" },
        send(6, &unaffordable),
        send(7, &other_chain),
        { "jsonrpc": "2.0", "method": "eth_sendRawTransaction", "params": [unanswered] },
        { "jsonrpc": "2.0", "id": 9, "method": "eth_sendRawTransaction", "params": [] },
    ]);
    let (status, v) = rpc.raw(batch.to_string()).await;
    assert_eq!(status, 200, "{v}");
    let answers = v.as_array().expect("a batch answer");
    let ids: Vec<u64> = answers.iter().map(|a| a["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6, 7, 9], "{v}");
    let hash = |raw: &Bytes| json!(keccak256(raw));
    assert_eq!(answers[0]["result"], hash(&first), "{v}");
    assert_eq!(answers[1]["result"], hash(&second), "{v}");
    assert_eq!(
        answers[2]["result"],
        hash(&first),
        "the same transaction again: {v}"
    );
    assert_eq!(answers[4]["result"], format!("{CHAIN_ID:#x}"));
    assert_eq!(answers[7]["error"]["code"], -32602, "{v}");
    // Each refusal as the request alone gets it.
    for (answer, raw) in [
        (&answers[3], Bytes::from_static(&[0x02, 0xc0])),
        (&answers[5], unaffordable),
        (&answers[6], other_chain),
    ] {
        assert_eq!(answer["error"]["code"], -32000, "{answer}");
        assert_eq!(
            answer["error"]["message"],
            rpc.refused(&raw).await,
            "{answer}"
        );
    }
    for raw in [&first, &second, &unanswered] {
        let receipt = rpc.receipt(&keccak256(raw), WAIT).await;
        assert_eq!(receipt["status"], "0x1", "{receipt}");
    }
    let nonce = rpc
        .ok("eth_getTransactionCount", json!([dev(2), "latest"]))
        .await;
    assert_eq!(number(&nonce), 2);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn websocket_subscribers_get_new_heads_logs_and_pending_transactions() {
    let db = TestDatabase::sqlite();
    let running = weft_sequencer::start(config(&db)).await.unwrap();
    let rpc = Rpc::new(running.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/rpc", running.addr))
        .await
        .unwrap();
    let mut subscribe = async |id: u64, params: Value| -> String {
        let request =
            json!({ "jsonrpc": "2.0", "id": id, "method": "eth_subscribe", "params": params });
        ws.send(Message::Text(request.to_string().into()))
            .await
            .unwrap();
        loop {
            let Message::Text(text) = ws.next().await.unwrap().unwrap() else {
                continue;
            };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["id"] == id {
                return v["result"].as_str().expect("a subscription id").to_owned();
            }
        }
    };
    let heads = subscribe(1, json!(["newHeads"])).await;
    let pending = subscribe(2, json!(["newPendingTransactions"])).await;
    let logs = subscribe(3, json!(["logs", { "topics": [transfer_topic()] }])).await;
    let (token, pay) = deploy_mint_transfer(&rpc).await;
    rpc.receipt(&pay, WAIT).await;
    let (mut seen_head, mut seen_pending, mut seen_logs) = (false, 0, 0);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !(seen_head && seen_pending == 3 && seen_logs == 2) {
        let message = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("notifications in time")
            .unwrap()
            .unwrap();
        let Message::Text(text) = message else {
            continue;
        };
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["method"], "eth_subscription", "{v}");
        let (sub, result) = (&v["params"]["subscription"], &v["params"]["result"]);
        if *sub == json!(heads) {
            assert!(
                result["number"].is_string() && result["hash"].is_string(),
                "{v}"
            );
            seen_head = true;
        } else if *sub == json!(pending) {
            seen_pending += 1;
        } else if *sub == json!(logs) {
            assert_eq!(result["address"], json!(token));
            seen_logs += 1;
        }
    }
    let request =
        json!({ "jsonrpc": "2.0", "id": 9, "method": "eth_unsubscribe", "params": [heads] });
    ws.send(Message::Text(request.to_string().into()))
        .await
        .unwrap();
    running.stop().await.unwrap();
}

/// Transactions declare more gas than they use. Once the builder has seen that, a block
/// takes more declared gas than it holds, and what does not fit by gas used is left out
/// for the next block instead of failing: no receipt says "exceeds block gas limit".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_are_packed_by_gas_used_and_what_does_not_fit_waits_for_the_next() {
    let db = TestDatabase::sqlite();
    let running = weft_sequencer::start(config(&db)).await.unwrap();
    let rpc = Rpc::new(running.addr);
    // One batch request: admitted together, so that the builder sees most of it at once.
    let send_all = |raws: Vec<Bytes>| {
        let rpc = &rpc;
        async move {
            let batch: Vec<Value> = raws
                .iter()
                .enumerate()
                .map(|(id, raw)| json!({ "jsonrpc": "2.0", "id": id, "method": "eth_sendRawTransaction", "params": [raw] }))
                .collect();
            let (status, v) = rpc.raw(Value::from(batch).to_string()).await;
            assert_eq!(status, 200, "{v}");
            let mut receipts = Vec::new();
            for raw in &raws {
                receipts.push(rpc.receipt(&keccak256(raw), WAIT).await);
            }
            receipts
        }
    };
    let blocks_of = |receipts: &[Value]| {
        let mut counts = std::collections::BTreeMap::<u128, usize>::new();
        for r in receipts {
            *counts.entry(number(&r["blockNumber"])).or_default() += 1;
        }
        counts
    };
    // ETH transfers declaring 3M gas and using 21k: the builder learns the share.
    let pay = |from: u32, nonce: u64| {
        signed(
            from,
            nonce,
            Some(dev(0)),
            U256::from(1),
            Bytes::new(),
            3_000_000,
            GWEI,
        )
    };
    for nonce in 0..3 {
        let receipts = send_all((1..=10).map(|from| pay(from, nonce)).collect()).await;
        assert!(receipts.iter().all(|r| r["status"] == "0x1"));
    }
    // 30 of them declare 90M: one block holds more than 10 (30M declared).
    let receipts = send_all(
        (3..6)
            .flat_map(|nonce| (1..=10).map(move |from| pay(from, nonce)))
            .collect(),
    )
    .await;
    assert!(receipts.iter().all(|r| r["status"] == "0x1"));
    let most = blocks_of(&receipts).into_values().max().unwrap();
    assert!(most > 10, "{:?}", blocks_of(&receipts));
    // Creations that loop until their 9M gas is spent: three fit in a block (27M of 30M),
    // the rest are left out, block after block, and each runs out of gas in its turn.
    let endless = Bytes::from_static(&[0x5b, 0x60, 0x00, 0x56]); // JUMPDEST PUSH1 0 JUMP
    let creates: Vec<Bytes> = (0..12u32)
        .map(|i| {
            signed(
                11 + i % 9,
                u64::from(i / 9),
                None,
                U256::ZERO,
                endless.clone(),
                9_000_000,
                GWEI,
            )
        })
        .collect();
    let receipts = send_all(creates).await;
    for r in &receipts {
        assert_eq!(r["status"], "0x0", "{r}");
        assert_eq!(
            number(&r["gasUsed"]),
            9_000_000,
            "out of gas, not refused: {r}"
        );
    }
    let per_block = blocks_of(&receipts);
    assert!(per_block.values().all(|&n| n <= 3), "{per_block:?}");
    let metrics = reqwest::get(format!("http://{}/metrics", running.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let left_out: f64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("weft_transactions_left_out_total ")?
                .parse()
                .ok()
        })
        .expect("the left-out counter");
    assert!(left_out >= 1.0, "{left_out}");
    running.stop().await.unwrap();
}

//! Real Ethereum clients against the sequencer's JSON-RPC on a devnet stack (anvil with the
//! contracts, the sequencer posting batches, the prover): `tests/js/*.test.mjs` (cast,
//! viem, ethers; see `tests/js/README.md`) under `node --test`; every batch holding their
//! transactions (contract creations, ERC-20 calls, ETH sent to new addresses) is re-executed
//! by the prover and finalized on L1; then the sequencer is killed (`kill -9`) and
//! restarted, the receipts of the first run must be served unchanged, and the same client
//! tests must pass again.

use std::{path::Path, process::Command};

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
    sol,
};
use serde_json::{Value, json};
use weft_api::BatchStatus;
use weft_protocol::evm::predeploy::WITHDRAWALS;
use weft_tests::{L1Options, ProverOptions, SequencerOptions, Stack};

const ETHER: u128 = 1_000_000_000_000_000_000;

sol! {
    /// The withdrawal predeploy (docs/evm.md): burns the value, a leaf for L1.
    #[sol(rpc)]
    interface IWithdrawals {
        function withdraw(address to) external payable;
    }
}

/// Runs the JavaScript client tests against `url`; panics with their output if one fails.
fn run_client_tests(root: &Path, url: &str, chain_id: u64) {
    let keys: Vec<String> = (0..3)
        .map(|i| {
            weft_protocol::genesis::dev_key(i)
                .secret_bytes()
                .to_string()
        })
        .collect();
    let output = Command::new("node")
        .args(["--test", "--test-reporter=spec", "tests/js/"])
        .current_dir(root)
        .env("WEFT_RPC_URL", format!("{url}/rpc"))
        .env(
            "WEFT_WS_URL",
            format!("{}/rpc", url.replace("http://", "ws://")),
        )
        .env("WEFT_CHAIN_ID", chain_id.to_string())
        .env("WEFT_DEV_KEYS", keys.join(","))
        .output()
        .expect("node runs (Node 20, `npm ci` for the clients)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "client tests failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("fail 0"), "{stdout}");
}

async fn rpc(url: &str, method: &str, params: Value) -> Value {
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    let reply: Value = reqwest::Client::new()
        .post(format!("{url}/rpc"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(reply.get("error").is_none(), "{method}: {reply}");
    reply["result"].clone()
}

#[tokio::test]
async fn cast_viem_and_ethers_work_against_weft_before_and_after_a_sequencer_crash() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut stack = Stack::builder()
        .l1(L1Options::default())
        .sequencer(SequencerOptions {
            // The node's default: the cheaper carrier, blobs at anvil's fees.
            l1_da: "auto",
            ..SequencerOptions::default()
        })
        .prover(ProverOptions::default())
        .start()
        .await;
    let url = stack.sequencer_url();
    let chain_id = rpc(&url, "eth_chainId", json!([])).await;
    let chain_id =
        u64::from_str_radix(chain_id.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    run_client_tests(root, &url, chain_id);
    // L1 holds ETH to pay it with (the devnet's genesis balances have no deposit behind
    // them): a deposit of 1 ETH.
    let payer = stack.l1().accounts[4];
    stack.deposit_eth(payer, payer, ETHER).await;
    // An EOA withdraws 1 ETH to L1 through the withdrawal predeploy, sent by alloy's own
    // provider (nonce, gas and fees filled over Weft's JSON-RPC).
    let l1_recipient = Address::repeat_byte(0x7a);
    let l2 = stack.l2_wallet(&weft_protocol::genesis::dev_key(5));
    let withdrawal = IWithdrawals::new(WITHDRAWALS, &l2)
        .withdraw(l1_recipient)
        .value(U256::from(ETHER))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(withdrawal.status(), "{withdrawal:?}");
    // The prover accepts the batches of Ethereum transactions: all of them reach finality.
    let covered = stack
        .wait_all_committed(std::time::Duration::from_secs(60))
        .await;
    stack
        .wait_batch_status(covered, BatchStatus::Finalized)
        .await;
    // Its leaf is in the batch's withdrawals root (the prover re-executed the same root),
    // and it is claimed on L1 with the proof the API serves.
    let tx = withdrawal.transaction_hash;
    let w = stack.api().withdrawal(&tx).await.unwrap();
    // An EVM transaction's leaf is identified by its transactions-root leaf, which
    // re-execution from L1 computes without the signature, not by its Ethereum hash.
    let view = stack.api().transaction(&tx).await.unwrap().unwrap();
    let weft_protocol::transaction::Transaction::Evm(sent) = &view.transaction else {
        panic!("an EVM transaction: {view:?}")
    };
    assert_eq!(
        (w.tx_hash, w.id, w.recipient, w.amount),
        (tx, sent.leaf(), l1_recipient, ETHER)
    );
    stack.claim(&tx, payer).await;
    assert_eq!(
        stack.l1().provider.get_balance(l1_recipient).await.unwrap(),
        U256::from(ETHER)
    );

    // Every receipt of the newest block, before the crash.
    let head = rpc(&url, "eth_blockNumber", json!([])).await;
    let block = rpc(&url, "eth_getBlockByNumber", json!([head, false])).await;
    let mut receipts = Vec::new();
    for hash in block["transactions"].as_array().unwrap() {
        receipts.push(rpc(&url, "eth_getTransactionReceipt", json!([hash])).await);
    }
    assert!(!receipts.is_empty());

    stack.sequencer_mut().kill();
    stack.sequencer_mut().restart().await;
    assert_eq!(
        rpc(&url, "eth_getBlockByNumber", json!([head, false])).await,
        block
    );
    for receipt in &receipts {
        let hash = &receipt["transactionHash"];
        assert_eq!(
            &rpc(&url, "eth_getTransactionReceipt", json!([hash])).await,
            receipt
        );
    }
    run_client_tests(root, &url, chain_id);
}

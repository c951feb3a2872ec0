//! The whole stack settling on L1: anvil with the contracts, the sequencer posting its
//! batches, the prover re-executing and attesting each of them (no test-only attestation:
//! the real prover process). Deposits of ETH and an ERC-20 on L1 are credited on L2,
//! transfers and withdrawals execute, batches are committed by the poster, attested by the
//! prover, finalized and claimed on L1, with exact balances on both layers; a forced
//! withdrawal served by the sequencer; one left unserved, then exodus.
//!
//! Moved from `sequencer/tests/l1.rs`, whose rebuild tests stay in the sequencer crate.

use std::time::Duration;

use alloy::{primitives::U256, rpc::types::TransactionReceipt};
use sqlx::{Connection, SqliteConnection};
use weft_api::BatchStatus;
use weft_l1::exodus::exodus_withdraw_call;
use weft_protocol::{
    eip712::Domain,
    primitives::{Address, B256},
    signature::SigningKey,
    state::AccountProof,
    transaction::{SignedTransaction, Transaction, Transfer, Withdraw},
};
use weft_tests::{L1Options, ProverOptions, SequencerOptions, Stack, mined};

const ETHER: u128 = 1_000_000_000_000_000_000;

async fn start() -> Stack {
    Stack::builder()
        .l1(L1Options::default())
        .sequencer(SequencerOptions::default())
        .prover(ProverOptions::default())
        .start()
        .await
}

/// A signed L2 transfer.
fn transfer(
    domain: &Domain,
    key: &SigningKey,
    to: Address,
    token: u32,
    amount: u128,
    nonce: u64,
) -> SignedTransaction {
    Transaction::Transfer(Transfer {
        from: key.address(),
        to,
        token,
        amount,
        fee: 1,
        nonce,
    })
    .sign(key, domain)
}

/// A signed L2 withdrawal to `l1_recipient`.
fn withdraw(
    domain: &Domain,
    key: &SigningKey,
    l1_recipient: Address,
    token: u32,
    amount: u128,
    nonce: u64,
) -> SignedTransaction {
    Transaction::Withdraw(Withdraw {
        from: key.address(),
        l1_recipient,
        token,
        amount,
        fee: 1,
        nonce,
    })
    .sign(key, domain)
}

/// Submits and waits until executed successfully; the hash.
async fn execute(stack: &Stack, tx: &SignedTransaction) -> B256 {
    let hash = stack.api().submit(tx).await.unwrap();
    stack
        .api()
        .wait_executed(&hash, Duration::from_secs(20))
        .await
        .unwrap_or_else(|e| panic!("{hash} not executed: {e}"));
    hash
}

/// Waits until `address` holds `amount` of `token` on L2.
async fn wait_l2_balance(stack: &Stack, address: Address, token: u32, amount: u128) {
    stack
        .wait(
            &format!("L2 balance {amount} of token {token} at {address}"),
            Duration::from_secs(20),
            || async { (stack.l2_balance(&address, token).await == amount).then_some(()) },
        )
        .await;
}

/// Waits until the API shows `tx` with `status`; the view.
async fn wait_tx_status(stack: &Stack, tx: &B256, status: &str) -> serde_json::Value {
    stack
        .wait(
            &format!("transaction {tx} {status}"),
            Duration::from_secs(20),
            || async {
                let (_, v) = stack.get(&format!("/v1/transactions/{tx}")).await;
                (v["status"] == status).then_some(v)
            },
        )
        .await
}

/// Waits until every block is committed, then until the prover's attestations finalized
/// the last batch (a zero delay finalizes at once); its index.
async fn wait_all_finalized(stack: &Stack) -> u64 {
    let last = stack.wait_all_committed(Duration::from_secs(20)).await;
    stack.wait_batch_status(last, BatchStatus::Finalized).await;
    last
}

/// The gas cost of an L1 receipt in wei.
fn cost(receipt: &TransactionReceipt) -> U256 {
    U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_transfers_and_withdrawals_settle_on_l1_with_exact_balances() {
    let stack = start().await;
    let dev = stack.l1();
    let rollup = stack.rollup();
    let domain = stack.domain().await;
    let token = *dev.token.address();
    let (alice_l1, carol, claimer) = (dev.accounts[1], dev.accounts[5], dev.accounts[4]);
    // L2 keys; the L1 recipients of their withdrawals are fresh, so balances are exact.
    let alice = SigningKey::from_seed(b"alice");
    let bob = SigningKey::from_seed(b"bob");
    let (bob_out, alice_out) = (Address::repeat_byte(0xb0), Address::repeat_byte(0xa0));

    // L1: 3 ETH and 500 tokens to alice on L2.
    let alice_l1_before = dev.eth_balance(alice_l1).await;
    let mut alice_l1_gas = U256::ZERO;
    let r = mined(
        rollup
            .depositETH(alice.address())
            .value(U256::from(3 * ETHER))
            .from(alice_l1),
    )
    .await;
    alice_l1_gas += cost(&r);
    for r in [
        mined(
            dev.token
                .mint(alice_l1, U256::from(1_000u64))
                .from(alice_l1),
        )
        .await,
        mined(
            dev.token
                .approve(*rollup.address(), U256::MAX)
                .from(alice_l1),
        )
        .await,
        mined(
            rollup
                .depositERC20(token, 500, alice.address())
                .from(alice_l1),
        )
        .await,
    ] {
        alice_l1_gas += cost(&r);
    }
    // Credited on L2 once confirmed.
    wait_l2_balance(&stack, alice.address(), 0, 3 * ETHER).await;
    wait_l2_balance(&stack, alice.address(), 1, 500).await;

    // L2: transfers to bob, then both withdraw to L1.
    let paid = execute(
        &stack,
        &transfer(&domain, &alice, bob.address(), 0, ETHER, 0),
    )
    .await;
    let (status, v) = stack
        .get(&format!("/v1/transactions/{paid}/withdrawal"))
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (404, Some("not_a_withdrawal"))
    );
    execute(&stack, &transfer(&domain, &alice, bob.address(), 1, 100, 1)).await;
    let bob_w = execute(&stack, &withdraw(&domain, &bob, bob_out, 0, ETHER / 2, 0)).await;
    let alice_w = execute(&stack, &withdraw(&domain, &alice, alice_out, 1, 200, 2)).await;
    assert_eq!(stack.l2_balance(&alice.address(), 0).await, 2 * ETHER - 1);
    assert_eq!(
        stack.l2_balance(&alice.address(), 1).await,
        500 - 100 - 1 - 200 - 1
    );
    assert_eq!(
        stack.l2_balance(&bob.address(), 0).await,
        ETHER - ETHER / 2 - 1
    );
    assert_eq!(stack.l2_balance(&bob.address(), 1).await, 100);

    // Committed by the poster; the API shows the L1 transaction. (The prover may already
    // have attested it: "committed" or later.)
    stack.wait_all_committed(Duration::from_secs(20)).await;
    let v = stack
        .wait(
            "bob's withdrawal committed",
            Duration::from_secs(20),
            || async {
                let (_, v) = stack.get(&format!("/v1/transactions/{bob_w}")).await;
                v["batch"]["commitL1Tx"].is_string().then_some(v)
            },
        )
        .await;
    assert!(v["batch"]["commitL1Tx"].is_string(), "{v}");
    let (status, w) = stack
        .get(&format!("/v1/transactions/{bob_w}/withdrawal"))
        .await;
    assert_eq!(status, 200, "{w}");
    assert!(
        ["committed", "proven", "finalized"].contains(&w["batchStatus"].as_str().unwrap()),
        "{w}"
    );

    // Attested by the prover (proven; a zero delay finalizes at once), then claimed on L1.
    wait_all_finalized(&stack).await;
    let v = wait_tx_status(&stack, &alice_w, "finalized").await;
    assert!(
        v["batch"]["proveL1Tx"].is_string() && v["batch"]["finalizeL1Tx"].is_string(),
        "{v}"
    );
    stack.claim(&bob_w, claimer).await;
    stack.claim(&alice_w, claimer).await;
    assert_eq!(dev.eth_balance(bob_out).await, U256::from(ETHER / 2));
    assert_eq!(dev.token_balance(alice_out).await, U256::from(200));
    assert_eq!(
        dev.eth_balance(*rollup.address()).await,
        U256::from(3 * ETHER - ETHER / 2)
    );
    assert_eq!(dev.token_balance(*rollup.address()).await, U256::from(300));
    assert_eq!(
        dev.eth_balance(alice_l1).await,
        alice_l1_before - U256::from(3 * ETHER) - alice_l1_gas
    );
    assert_eq!(dev.token_balance(alice_l1).await, U256::from(500));

    // A forced withdrawal served by the sequencer: carol deposits to her own address, then
    // forces it out from L1; the sequencer includes it, and she claims it.
    mined(
        rollup
            .depositETH(carol)
            .value(U256::from(2 * ETHER))
            .from(carol),
    )
    .await;
    wait_l2_balance(&stack, carol, 0, 2 * ETHER).await;
    let forced = mined(rollup.forceWithdraw(0).from(carol)).await;
    let entry = forced
        .decoded_log::<weft_l1::Rollup::QueueEntry>()
        .unwrap()
        .data;
    wait_l2_balance(&stack, carol, 0, 0).await;
    stack
        .api()
        .wait_executed(&entry.entryHash, Duration::from_secs(20))
        .await
        .unwrap();
    let (_, served) = stack
        .get(&format!("/v1/transactions/{}", entry.entryHash))
        .await;
    assert_eq!(
        served["receipt"]["withdrawal"]["amount"],
        (2 * ETHER).to_string(),
        "{served}"
    );
    wait_all_finalized(&stack).await;
    let carol_before = dev.eth_balance(carol).await;
    stack.claim(&entry.entryHash, claimer).await;
    assert_eq!(
        dev.eth_balance(carol).await,
        carol_before + U256::from(2 * ETHER)
    );
    assert_eq!(
        dev.eth_balance(*rollup.address()).await,
        U256::from(3 * ETHER - ETHER / 2)
    );

    // Every queue entry was taken once, in order; nothing was posted twice.
    let mut db = SqliteConnection::connect(&stack.sequencer_db_url())
        .await
        .unwrap();
    let (taken, last): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), MAX(queue_index) FROM l1_queue")
            .fetch_one(&mut db)
            .await
            .unwrap();
    db.close().await.unwrap();
    let queue_length = rollup.queueLength().call().await.unwrap();
    assert_eq!(taken as u64, queue_length);
    assert_eq!(last as u64 + 1, queue_length, "contiguous from 0");
    let indexes: Vec<u64> = committed_events(&stack).await;
    assert_eq!(indexes, (1..=indexes.len() as u64).collect::<Vec<_>>());
    let (_, health) = stack.get("/health").await;
    assert_eq!(health["status"], "ok", "{health}");
    let metrics = stack.api().metrics().await.unwrap();
    assert!(metrics.contains("weft_l1_fees_paid_wei_total"), "{metrics}");
}

/// The index of every BatchCommitted event on the canonical chain, in order.
async fn committed_events(stack: &Stack) -> Vec<u64> {
    use alloy::{providers::Provider, sol_types::SolEvent};
    let filter = alloy::rpc::types::Filter::new()
        .address(*stack.rollup().address())
        .event_signature(weft_l1::Rollup::BatchCommitted::SIGNATURE_HASH)
        .from_block(0);
    stack
        .l1()
        .provider
        .get_logs(&filter)
        .await
        .unwrap()
        .iter()
        .map(|l| {
            l.log_decode::<weft_l1::Rollup::BatchCommitted>()
                .unwrap()
                .inner
                .data
                .index
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unserved_forced_withdrawal_opens_exodus_and_pays_the_finalized_balance() {
    let mut stack = start().await;
    let (dave, relayer) = (stack.l1().accounts[6], stack.l1().accounts[4]);
    mined(
        stack
            .rollup()
            .depositETH(dave)
            .value(U256::from(ETHER))
            .from(dave),
    )
    .await;
    wait_l2_balance(&stack, dave, 0, ETHER).await;
    wait_all_finalized(&stack).await;
    // The account proof against the latest state, which is the last finalized one.
    let (_, v) = stack.get(&format!("/v1/accounts/{dave}/proof")).await;
    let proof: AccountProof = serde_json::from_value(v.clone()).unwrap();
    let root: B256 = v["stateRoot"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        root,
        stack.rollup().finalizedStateRoot().call().await.unwrap()
    );

    // The sequencer goes away; dave's forced withdrawal is never served.
    stack.sequencer_mut().stop().await;
    let dev = stack.l1();
    let rollup = &dev.rollup;
    let forced = mined(rollup.forceWithdraw(0).from(dave)).await;
    let entry = forced
        .decoded_log::<weft_l1::Rollup::QueueEntry>()
        .unwrap()
        .data;
    dev.increase_time(dev.config.forced_withdrawal_deadline + 1)
        .await;
    mined(rollup.activateExodus(entry.queueIndex).from(relayer)).await;
    assert!(rollup.frozen().call().await.unwrap());
    let before = dev.eth_balance(dave).await;
    let call = exodus_withdraw_call(&proof, 0);
    mined(rollup.call_builder(&call).from(relayer)).await;
    assert_eq!(dev.eth_balance(dave).await, before + U256::from(ETHER));
}

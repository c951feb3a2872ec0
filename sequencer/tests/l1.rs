//! The sequencer with its L1 side on anvil, end to end: deposits of ETH and an ERC-20 on
//! L1 are credited on L2, transfers and withdrawals execute, batches are committed by the
//! poster, attested (a test-only attestation with the prover key: the prover service is
//! built separately), finalized and claimed on L1, with exact balances on both layers; a
//! forced withdrawal served by the sequencer; one left unserved, then exodus; and the L2
//! rebuilt from L1 alone.

mod common;

use std::time::Duration;

use alloy::primitives::{Address, U256};
use common::{
    Client, config,
    l1::{ETHER, L1Node, Setup, wait},
};
use weft_l1::{exodus::exodus_withdraw_call, testkit::mined};
use weft_protocol::{
    primitives::B256,
    signature::SigningKey,
    state::AccountProof,
    transaction::{Transaction, Transfer, Withdraw},
};
use weft_sequencer::{
    config::L1Config,
    l1::{AlloyL1, rebuild::rebuild},
    store::BatchStatus,
};

/// A signed L2 transfer.
fn transfer(
    node: &L1Node,
    key: &SigningKey,
    to: Address,
    token: u32,
    amount: u128,
    nonce: u64,
) -> weft_protocol::transaction::SignedTransaction {
    Transaction::Transfer(Transfer {
        from: key.address(),
        to,
        token,
        amount,
        fee: 1,
        nonce,
    })
    .sign(key, &node.running().node.domain)
}

/// A signed L2 withdrawal to `l1_recipient`.
fn withdraw(
    node: &L1Node,
    key: &SigningKey,
    l1_recipient: Address,
    token: u32,
    amount: u128,
    nonce: u64,
) -> weft_protocol::transaction::SignedTransaction {
    Transaction::Withdraw(Withdraw {
        from: key.address(),
        l1_recipient,
        token,
        amount,
        fee: 1,
        nonce,
    })
    .sign(key, &node.running().node.domain)
}

/// Submits and waits until executed successfully; the hash.
async fn execute(client: &Client, tx: &weft_protocol::transaction::SignedTransaction) -> B256 {
    let (status, v) = client.submit(tx).await;
    assert_eq!(status, 200, "{v}");
    let hash: B256 = v["hash"].as_str().unwrap().parse().unwrap();
    let done = client.wait_executed(&hash, Duration::from_secs(20)).await;
    assert_eq!(done["status"], "executed", "{done}");
    hash
}

/// Waits until `address` holds `amount` of `token` on L2.
async fn wait_l2_balance(node: &L1Node, address: Address, token: u32, amount: u128) {
    wait(
        Duration::from_secs(20),
        &format!("L2 balance {amount} of token {token} at {address}"),
        || async { (node.l2_balance(&address, token).await == amount).then_some(()) },
    )
    .await;
}

/// Waits until the API shows `tx` with `status`; the view.
async fn wait_tx_status(node: &L1Node, tx: &B256, status: &str) -> serde_json::Value {
    wait(
        Duration::from_secs(20),
        &format!("transaction {tx} {status}"),
        || async {
            let (_, v) = node.client.get(&format!("/v1/transactions/{tx}")).await;
            (v["status"] == status).then_some(v)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_transfers_and_withdrawals_settle_on_l1_with_exact_balances() {
    let node = L1Node::start(Setup::default(), |_| {}).await;
    let dev = &node.dev;
    let rollup = &dev.rollup;
    let token = *dev.token.address();
    let (alice_l1, carol) = (dev.accounts[1], dev.accounts[5]);
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
    alice_l1_gas += L1Node::cost(&r);
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
        alice_l1_gas += L1Node::cost(&r);
    }
    // Credited on L2 once confirmed.
    wait_l2_balance(&node, alice.address(), 0, 3 * ETHER).await;
    wait_l2_balance(&node, alice.address(), 1, 500).await;

    // L2: transfers to bob, then both withdraw to L1.
    let c = &node.client;
    let paid = execute(c, &transfer(&node, &alice, bob.address(), 0, ETHER, 0)).await;
    let (status, v) = c.get(&format!("/v1/transactions/{paid}/withdrawal")).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (404, Some("not_a_withdrawal"))
    );
    execute(c, &transfer(&node, &alice, bob.address(), 1, 100, 1)).await;
    let bob_w = execute(c, &withdraw(&node, &bob, bob_out, 0, ETHER / 2, 0)).await;
    let alice_w = execute(c, &withdraw(&node, &alice, alice_out, 1, 200, 2)).await;
    assert_eq!(node.l2_balance(&alice.address(), 0).await, 2 * ETHER - 1);
    assert_eq!(
        node.l2_balance(&alice.address(), 1).await,
        500 - 100 - 1 - 200 - 1
    );
    assert_eq!(
        node.l2_balance(&bob.address(), 0).await,
        ETHER - ETHER / 2 - 1
    );
    assert_eq!(node.l2_balance(&bob.address(), 1).await, 100);

    // Committed by the poster; the API shows the L1 transaction.
    node.wait_all_committed(Duration::from_secs(20)).await;
    let v = wait_tx_status(&node, &bob_w, "committed").await;
    assert!(v["batch"]["commitL1Tx"].is_string(), "{v}");
    let (status, w) = c.get(&format!("/v1/transactions/{bob_w}/withdrawal")).await;
    assert_eq!(
        (status, w["batchStatus"].as_str()),
        (200, Some("committed")),
        "{w}"
    );

    // Attested (proven; a zero delay finalizes at once), then claimed on L1.
    let last = node.prove_committed().await;
    node.wait_batch_status(last, BatchStatus::Finalized).await;
    let v = wait_tx_status(&node, &alice_w, "finalized").await;
    assert!(
        v["batch"]["proveL1Tx"].is_string() && v["batch"]["finalizeL1Tx"].is_string(),
        "{v}"
    );
    node.claim(&bob_w).await;
    node.claim(&alice_w).await;
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
    wait_l2_balance(&node, carol, 0, 2 * ETHER).await;
    let forced = mined(rollup.forceWithdraw(0).from(carol)).await;
    let entry = forced
        .decoded_log::<weft_l1::Rollup::QueueEntry>()
        .unwrap()
        .data;
    wait_l2_balance(&node, carol, 0, 0).await;
    let served = c
        .wait_executed(&entry.entryHash, Duration::from_secs(20))
        .await;
    assert_eq!(
        served["receipt"]["withdrawal"]["amount"],
        (2 * ETHER).to_string(),
        "{served}"
    );
    node.wait_all_committed(Duration::from_secs(20)).await;
    let last = node.prove_committed().await;
    node.wait_batch_status(last, BatchStatus::Finalized).await;
    let carol_before = dev.eth_balance(carol).await;
    node.claim(&entry.entryHash).await;
    assert_eq!(
        dev.eth_balance(carol).await,
        carol_before + U256::from(2 * ETHER)
    );
    assert_eq!(
        dev.eth_balance(*rollup.address()).await,
        U256::from(3 * ETHER - ETHER / 2)
    );

    // Every queue entry was taken once, in order; nothing was posted twice.
    let node_ref = node.running().node.clone();
    let queue = node_ref.store.queue_entries(0, 100).await.unwrap();
    assert_eq!(
        queue.len() as u64,
        rollup.queueLength().call().await.unwrap()
    );
    let events = node.committed_events().await;
    let indexes: Vec<u64> = events.iter().map(|e| e.0).collect();
    assert_eq!(indexes, (1..=indexes.len() as u64).collect::<Vec<_>>());
    let (_, health) = c.get("/health").await;
    assert_eq!(health["status"], "ok", "{health}");
    let metrics = c
        .http
        .get(format!("{}/metrics", c.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("weft_l1_fees_paid_wei_total"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unserved_forced_withdrawal_opens_exodus_and_pays_the_finalized_balance() {
    let mut node = L1Node::start(Setup::default(), |_| {}).await;
    let (dave, relayer) = (node.dev.accounts[6], node.dev.accounts[4]);
    mined(
        node.dev
            .rollup
            .depositETH(dave)
            .value(U256::from(ETHER))
            .from(dave),
    )
    .await;
    wait_l2_balance(&node, dave, 0, ETHER).await;
    node.wait_all_committed(Duration::from_secs(20)).await;
    let last = node.prove_committed().await;
    node.wait_batch_status(last, BatchStatus::Finalized).await;
    // The account proof against the latest state, which is the last finalized one.
    let (_, v) = node.client.get(&format!("/v1/accounts/{dave}/proof")).await;
    let proof: AccountProof = serde_json::from_value(v["proof"].clone()).unwrap();
    let root: B256 = v["stateRoot"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        root,
        node.dev.rollup.finalizedStateRoot().call().await.unwrap()
    );

    // The sequencer goes away; dave's forced withdrawal is never served.
    node.stop().await;
    let rollup = &node.dev.rollup;
    let forced = mined(rollup.forceWithdraw(0).from(dave)).await;
    let entry = forced
        .decoded_log::<weft_l1::Rollup::QueueEntry>()
        .unwrap()
        .data;
    node.dev
        .increase_time(node.dev.config.forced_withdrawal_deadline + 1)
        .await;
    mined(rollup.activateExodus(entry.queueIndex).from(relayer)).await;
    assert!(rollup.frozen().call().await.unwrap());
    let before = node.dev.eth_balance(dave).await;
    let call = exodus_withdraw_call(&proof, 0);
    mined(node.dev.rollup.call_builder(&call).from(relayer)).await;
    assert_eq!(node.dev.eth_balance(dave).await, before + U256::from(ETHER));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_from_l1_reproduces_every_committed_block() {
    let node = L1Node::start(Setup::default(), |c| c.batch.max_blocks = 2).await;
    let (alice_l1, alice) = (node.dev.accounts[1], SigningKey::from_seed(b"alice"));
    mined(
        node.dev
            .rollup
            .depositETH(alice.address())
            .value(U256::from(ETHER))
            .from(alice_l1),
    )
    .await;
    wait_l2_balance(&node, alice.address(), 0, ETHER).await;
    let c = &node.client;
    for nonce in 0..6u64 {
        // New accounts and withdrawals, so the payloads introduce addresses and leaves.
        let to = weft_protocol::testkit::test_address(nonce);
        let tx = if nonce % 3 == 2 {
            withdraw(&node, &alice, to, 0, 1_000, nonce)
        } else {
            transfer(&node, &alice, to, 0, 5_000 + u128::from(nonce), nonce)
        };
        execute(c, &tx).await;
    }
    let batches = node.wait_all_committed(Duration::from_secs(20)).await;
    assert!(batches >= 2, "several batches");
    let original = node.running().node.clone();

    let dir = tempfile::tempdir().unwrap();
    let mut fresh = config(dir.path(), None);
    fresh.rollup_address = node.config.rollup_address;
    fresh.l1 = Some(L1Config {
        from_block: node.dev.deploy_block,
        ..L1Config::new(node.dev.endpoint())
    });
    let l1 = AlloyL1::new(
        &node.dev.endpoint(),
        fresh.rollup_address,
        Duration::from_secs(5),
    )
    .unwrap();
    let report = rebuild(&fresh, &l1).await.unwrap();
    assert_eq!(report.batches, batches);
    assert_eq!(report.queue_entries, 1);
    let committed = original.store.batch(batches).await.unwrap().unwrap();
    assert_eq!(report.blocks, committed.commitment.to_block);
    assert_eq!(report.state_root, committed.commitment.new_state_root);
    // A second rebuild into the same directory is refused.
    assert!(rebuild(&fresh, &l1).await.is_err());

    // The node starts from the rebuilt directory, with the sequencer's very blocks.
    fresh.l1 = None;
    let rebuilt = weft_sequencer::start(fresh).await.unwrap();
    for n in 1..=report.blocks {
        let (a, b) = (
            original.store.header_by_number(n).await.unwrap().unwrap(),
            rebuilt
                .node
                .store
                .header_by_number(n)
                .await
                .unwrap()
                .unwrap(),
        );
        assert_eq!(a, b, "block {n}");
        let (ta, tb) = (
            original.store.block_transactions(n).await.unwrap(),
            rebuilt.node.store.block_transactions(n).await.unwrap(),
        );
        assert_eq!(ta.len(), tb.len());
        for (x, y) in ta.iter().zip(&tb) {
            assert_eq!(
                (x.hash, &x.transaction, &x.receipt),
                (y.hash, &y.transaction, &y.receipt)
            );
            assert!(y.signature.is_none(), "signatures are not on L1");
        }
    }
    let b = rebuilt.node.store.batch(batches).await.unwrap().unwrap();
    assert_eq!(b.commitment, committed.commitment);
    assert!(b.status >= BatchStatus::Committed && b.commit_l1_tx.is_some());
    assert_eq!(rebuilt.node.state.read().state_root(), report.state_root);
    rebuilt.stop().await.unwrap();
}

/// The sequencer took its last batch back (`revertBatches`, before any proof): a rebuild
/// stops before it; once the batch is committed again, the rebuild uses that later commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_skips_reverted_commits() {
    let mut node = L1Node::start(Setup::default(), |c| c.batch.max_blocks = 2).await;
    let (alice_l1, alice) = (node.dev.accounts[1], SigningKey::from_seed(b"alice"));
    mined(
        node.dev
            .rollup
            .depositETH(alice.address())
            .value(U256::from(ETHER))
            .from(alice_l1),
    )
    .await;
    wait_l2_balance(&node, alice.address(), 0, ETHER).await;
    for nonce in 0..4u64 {
        let to = weft_protocol::testkit::test_address(nonce);
        execute(&node.client, &transfer(&node, &alice, to, 0, 7_000, nonce)).await;
    }
    let batches = node.wait_all_committed(Duration::from_secs(20)).await;
    assert!(batches >= 2, "several batches");
    let original = node.running().node.clone();
    let last = original.store.batch(batches).await.unwrap().unwrap();
    let before = original.store.batch(batches - 1).await.unwrap().unwrap();
    node.stop().await;

    let rebuild_into = |dir: &std::path::Path| {
        let mut fresh = config(dir, None);
        fresh.rollup_address = node.config.rollup_address;
        fresh.l1 = Some(L1Config {
            from_block: node.dev.deploy_block,
            ..L1Config::new(node.dev.endpoint())
        });
        fresh
    };
    let l1 = AlloyL1::new(
        &node.dev.endpoint(),
        node.config.rollup_address,
        Duration::from_secs(5),
    )
    .unwrap();

    // The sequencer (the devnet's default sender) reverts the last batch.
    mined(node.dev.rollup.revertBatches(batches)).await;
    let dir = tempfile::tempdir().unwrap();
    let report = rebuild(&rebuild_into(dir.path()), &l1).await.unwrap();
    assert_eq!(report.batches, batches - 1);
    assert_eq!(report.state_root, before.commitment.new_state_root);

    // Committed again: the rebuild takes the later commit.
    mined(node.dev.rollup.commitBatch(
        weft_l1::to_sol(&last.commitment),
        last.da_payload.clone().into(),
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let report = rebuild(&rebuild_into(dir.path()), &l1).await.unwrap();
    assert_eq!(report.batches, batches);
    assert_eq!(report.state_root, last.commitment.new_state_root);
}

//! Rebuilding the L2 from L1 alone, against the node posting to a real anvil: the rebuild
//! reproduces every committed block, and skips reverted commits. In process, for the node's
//! store. (The settlement flows with the prover are whole-stack tests: `tests/tests/`.)

mod common;

use std::time::Duration;

use alloy::primitives::{Address, U256};
use common::{
    Client, config,
    l1::{ETHER, L1Node, Setup, wait},
};
use weft_l1::testkit::mined;
use weft_protocol::{
    batch::{BatchCommitment, Carrier},
    primitives::B256,
    signature::SigningKey,
    transaction::{Transaction, Transfer, Withdraw},
};
use weft_sequencer::{
    config::L1Config,
    l1::{AlloyL1, rebuild::rebuild},
    store::{BatchStatus, StoredBatch},
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
    let (mut fresh, l1) = rebuild_setup(&node, dir.path());
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
    assert_same_blocks(&original, &rebuilt.node, report.blocks).await;
    let b = rebuilt.node.store.batch(batches).await.unwrap().unwrap();
    assert_eq!(b.commitment, committed.commitment);
    assert!(b.status >= BatchStatus::Committed && b.commit_l1_tx.is_some());
    assert_eq!(rebuilt.node.state.read().state_root(), report.state_root);
    rebuilt.stop().await.unwrap();
}

/// A fresh configuration in `dir` that rebuilds from `node`'s L1, and the L1 client.
fn rebuild_setup(
    node: &L1Node,
    dir: &std::path::Path,
) -> (weft_sequencer::config::Config, AlloyL1) {
    let mut fresh = config(dir, None);
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
    (fresh, l1)
}

/// Blocks `1..=to` of the rebuilt node are the original's: headers, transactions and
/// receipts (signatures are not on L1: rebuilt transactions have none, apart or in an EVM
/// envelope).
async fn assert_same_blocks(
    original: &weft_sequencer::node::Node,
    rebuilt: &weft_sequencer::node::Node,
    to: u64,
) {
    for n in 1..=to {
        assert_eq!(
            original.store.header_by_number(n).await.unwrap(),
            rebuilt.store.header_by_number(n).await.unwrap(),
            "block {n}"
        );
        let (x, y) = (
            original.store.block_transactions(n).await.unwrap(),
            rebuilt.store.block_transactions(n).await.unwrap(),
        );
        assert_eq!(x.len(), y.len(), "block {n}");
        for (x, y) in x.iter().zip(&y) {
            // An EVM transaction comes back without its signature, so without its Ethereum
            // hash: it is stored under its transactions-root leaf (a native kind's hash).
            assert_eq!(
                (
                    x.transaction.leaf_with(x.hash),
                    x.transaction.without_signature(),
                    &x.receipt
                ),
                (y.hash, y.transaction.clone(), &y.receipt)
            );
            assert!(y.signature.is_none(), "signatures are not on L1");
        }
    }
}

/// `batch`'s commitment as `commitBatch` takes it: with its payload's calldata DA hash.
fn in_calldata(batch: &StoredBatch) -> BatchCommitment {
    BatchCommitment {
        da_hash: Carrier::Calldata.da_hash(&batch.da_payload),
        ..batch.commitment
    }
}

/// A node posting batches of at most 2 blocks, and alice with 1 ETH deposited from L1.
async fn node_with_funded_alice() -> (L1Node, SigningKey) {
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
    (node, alice)
}

/// The sequencer took its last batch back (`revertBatches`, before any proof): a rebuild
/// stops before it; once the batch is committed again, the rebuild uses that later commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_skips_reverted_commits() {
    let (mut node, alice) = node_with_funded_alice().await;
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

    // Committed again (in calldata, whichever carrier the poster chose): the rebuild
    // takes the later commit.
    mined(node.dev.rollup.commitBatch(
        weft_l1::to_sol(&in_calldata(&last)),
        last.da_payload.clone().into(),
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let report = rebuild(&rebuild_into(dir.path()), &l1).await.unwrap();
    assert_eq!(report.batches, batches);
    assert_eq!(report.state_root, last.commitment.new_state_root);
}

/// The live watcher follows `BatchesReverted`: the reverted batches are `sealed` again here
/// (a node without a key, so nothing re-posts them), and once committed again they carry
/// the new commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_follows_reverted_commits() {
    let (mut node, alice) = node_with_funded_alice().await;
    let to = weft_protocol::testkit::test_address(1);
    execute(&node.client, &transfer(&node, &alice, to, 0, 7_000, 0)).await;
    let batches = node.wait_all_committed(Duration::from_secs(20)).await;
    node.wait_batch_status(batches, BatchStatus::Committed)
        .await;
    let last = node
        .running()
        .node
        .store
        .batch(batches)
        .await
        .unwrap()
        .unwrap();
    let first_commit = last.commit_l1_tx.expect("committed");

    // The same node, watching only: nothing posts while L1 takes the last commit back.
    node.stop().await;
    node.config.l1.as_mut().unwrap().sequencer_key = None;
    node.restart().await;
    mined(node.dev.rollup.revertBatches(batches)).await;
    let path = format!("/v1/batches/{batches}");
    wait(
        Duration::from_secs(20),
        "the batch sealed again",
        || async {
            let (_, v) = node.client.get(&path).await;
            (v["status"] == "sealed" && v["l1"]["commitL1Tx"].is_null()).then_some(())
        },
    )
    .await;

    // Committed again (here by hand, as the poster would): the new commit is recorded.
    let again = mined(node.dev.rollup.commitBatch(
        weft_l1::to_sol(&in_calldata(&last)),
        last.da_payload.clone().into(),
    ))
    .await;
    assert_ne!(again.transaction_hash, first_commit);
    wait(
        Duration::from_secs(20),
        "the batch committed again",
        || async {
            let (_, v) = node.client.get(&path).await;
            (v["status"] == "committed"
                && v["l1"]["commitL1Tx"] == serde_json::json!(again.transaction_hash))
            .then_some(())
        },
    )
    .await;
    node.stop().await;
}

/// Contracts rebuilt from L1 alone: two ERC-20s and an AMM pair deployed, liquidity added,
/// a swap, and a contract reading `BLOCKHASH`, all through `eth_sendRawTransaction`; the
/// rebuild reproduces every block (headers, transactions, receipts with their logs), the
/// contracts' code and storage, and the state root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_from_l1_reproduces_contracts_and_their_storage() {
    use common::rpc::{Rpc, signed_on};
    use weft_protocol::testkit::evm::{Arg, MAX_FEE, calldata, init_code, token_init_code};
    use weft_sequencer::config::GenesisConfig;

    // In blobs: the rebuild reads them back from anvil's beacon API.
    let node = L1Node::start(Setup::default(), |c| {
        c.batch.max_blocks = 2;
        c.l1.as_mut().unwrap().da_mode = weft_sequencer::config::DaMode::Blobs;
    })
    .await;
    let rpc = Rpc::new(node.running().addr);
    let chain_id = node.running().node.domain.chain_id();
    let me = GenesisConfig::dev_key(0).address();
    let (a, b, pair) = (me.create(0), me.create(1), me.create(2));
    let call = |sig: &str, args: &[Arg]| calldata(sig, args);
    let txs: Vec<(Option<Address>, alloy::primitives::Bytes)> = vec![
        (None, token_init_code("A", "A")),
        (None, token_init_code("B", "B")),
        (None, init_code("Pair")),
        (
            Some(pair),
            call("initialize(address,address)", &[Arg::A(a), Arg::A(b)]),
        ),
        (
            Some(a),
            call(
                "mint(address,uint256)",
                &[Arg::A(pair), Arg::U(U256::from(1_000_000))],
            ),
        ),
        (
            Some(b),
            call(
                "mint(address,uint256)",
                &[Arg::A(pair), Arg::U(U256::from(1_000_000))],
            ),
        ),
        (Some(pair), call("mint(address)", &[Arg::A(me)])),
        (
            Some(a),
            call(
                "mint(address,uint256)",
                &[Arg::A(pair), Arg::U(U256::from(1_000))],
            ),
        ),
        (
            Some(pair),
            call(
                "swap(uint256,uint256,address)",
                &[Arg::U(U256::ZERO), Arg::U(U256::from(900)), Arg::A(me)],
            ),
        ),
        // SSTORE(0, BLOCKHASH(NUMBER - 1)) in the creation code.
        (
            None,
            vec![0x60, 0x01, 0x43, 0x03, 0x40, 0x60, 0x00, 0x55, 0x00].into(),
        ),
    ];
    let reader = me.create(txs.len() as u64 - 1);
    for (nonce, (to, input)) in txs.into_iter().enumerate() {
        let raw = signed_on(
            chain_id,
            0,
            nonce as u64,
            to,
            U256::ZERO,
            input,
            3_000_000,
            MAX_FEE,
        );
        let hash = rpc.send(&raw).await;
        let receipt = rpc.receipt(&hash, Duration::from_secs(20)).await;
        assert_eq!(receipt["status"], "0x1", "transaction {nonce}: {receipt}");
    }
    let batches = node.wait_all_committed(Duration::from_secs(30)).await;
    let original = node.running().node.clone();
    let posted = original.store.batch(1).await.unwrap().unwrap();
    assert_eq!(
        posted.commitment.da_hash,
        Carrier::Blobs.da_hash(&posted.da_payload),
        "posted in blobs"
    );

    let dir = tempfile::tempdir().unwrap();
    let (mut fresh, l1) = rebuild_setup(&node, dir.path());
    let report = rebuild(&fresh, &l1).await.unwrap();
    let committed = original.store.batch(batches).await.unwrap().unwrap();
    assert_eq!(report.state_root, committed.commitment.new_state_root);
    fresh.l1 = None;
    let rebuilt = weft_sequencer::start(fresh).await.unwrap();
    assert_same_blocks(&original, &rebuilt.node, report.blocks).await;
    // Code and storage, as a client reads them from each node.
    let again = Rpc::new(rebuilt.addr);
    for (contract, slots) in [(a, 6), (b, 6), (pair, 8), (reader, 1)] {
        let code = rpc
            .ok("eth_getCode", serde_json::json!([contract, "latest"]))
            .await;
        // The reader's creation code returns no runtime code; the others have theirs.
        assert_eq!(code == "0x", contract == reader, "{contract}: {code}");
        assert_eq!(
            again
                .ok("eth_getCode", serde_json::json!([contract, "latest"]))
                .await,
            code
        );
        for slot in 0..slots {
            let args = serde_json::json!([contract, format!("{slot:#x}"), "latest"]);
            assert_eq!(
                again.ok("eth_getStorageAt", args.clone()).await,
                rpc.ok("eth_getStorageAt", args).await,
                "{contract} slot {slot}"
            );
        }
    }
    // The BLOCKHASH the reader stored is the hash of the block before its own.
    let stored = rpc
        .ok(
            "eth_getStorageAt",
            serde_json::json!([reader, "0x0", "latest"]),
        )
        .await;
    assert_ne!(stored, serde_json::json!(format!("{:#066x}", 0)));
    assert_eq!(rebuilt.node.state.read().state_root(), report.state_root);
    rebuilt.stop().await.unwrap();
}

//! Batches: sealed from stored blocks, contiguous, and each one re-executes from its DA
//! payload alone (plus the state after the previous batch) to its committed roots.

mod common;

use std::time::{Duration, Instant};

use common::{Client, config, transfer};
use weft_protocol::{
    batch::{Carrier, apply_batch},
    execution::SequentialExecutor,
    primitives::B256,
    transaction::{Transaction, Withdraw},
};
use weft_sequencer::{config::GenesisConfig, node::genesis_state, store::BatchStatus};

/// Signs transfers (some to new accounts) and withdrawals from dev accounts 0..4: `rounds`
/// nonces each, a pause between rounds so that they spread over several blocks. Returns the
/// last hash.
async fn submit_rounds(client: &Client, d: &weft_protocol::eip712::Domain, rounds: u64) -> B256 {
    let mut last = None;
    for nonce in 0..rounds {
        for sender in 0..4u32 {
            let tx = if nonce % 4 == 3 {
                let key = GenesisConfig::dev_key(sender);
                Transaction::Withdraw(Withdraw {
                    from: key.address(),
                    l1_recipient: key.address(),
                    token: 0,
                    amount: 1_000,
                    fee: 1,
                    nonce,
                })
                .sign(&key, d)
            } else {
                // Some receivers are new accounts, so the DA introduces addresses.
                let mut t = transfer(d, sender, 10 + sender, 7, nonce);
                if let Transaction::Transfer(inner) = &mut t.transaction
                    && nonce % 4 == 1
                {
                    inner.to =
                        weft_protocol::testkit::test_address(u64::from(sender) * 100 + nonce);
                }
                t.transaction
                    .clone()
                    .sign(&GenesisConfig::dev_key(sender), d)
            };
            let (s, v) = client.submit(&tx).await;
            assert_eq!(s, 200, "{v}");
            last = Some(tx.transaction.hash(d));
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    last.expect("at least one round")
}

/// Re-executes `batch` from its payload (calldata) on `state`, the state after the batch
/// before it, against its commitment.
fn reexecute(
    state: &mut weft_protocol::state::State,
    chain: &weft_protocol::execution::ChainParams,
    batch: &weft_sequencer::store::StoredBatch,
) -> Result<Vec<weft_protocol::da::DaBlock>, weft_protocol::batch::BatchError> {
    apply_batch(
        state,
        chain,
        &batch.commitment,
        &batch.da_payload,
        Carrier::Calldata,
        &mut SequentialExecutor,
    )
}

#[tokio::test]
async fn blocks_handed_to_the_batcher_are_the_stored_blocks_and_the_store_stands_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), None);
    // Nothing is batched while the test looks.
    c.batch.max_blocks = 1_000;
    c.batch.max_age = Duration::from_secs(3_600);
    let running = weft_sequencer::start(c.clone()).await.unwrap();
    let client = Client::new(running.addr);
    let d = running.node.domain;
    let last = submit_rounds(&client, &d, 8).await;
    let head = client.wait_executed(&last, Duration::from_secs(20)).await["blockNumber"]
        .as_u64()
        .unwrap();
    assert!(head >= 2, "several blocks");
    let node = &running.node;
    for n in 1..=head {
        let handed = node
            .recent_blocks
            .get(n)
            .expect("every stored block handed over");
        let stored = weft_sequencer::batcher::stored_block(node, n)
            .await
            .unwrap();
        assert_eq!(*handed, stored, "block {n}");
    }
    // Without the hand-over, the batcher reads the blocks back, to the same batch.
    node.recent_blocks.forget_through(head);
    let batch = weft_sequencer::batcher::seal(node, 1, head).await.unwrap();
    assert_eq!(node.metrics.batcher_block_reads.get(), head);
    let mut state = genesis_state(&c).unwrap();
    let chain = weft_protocol::execution::ChainParams {
        domain: d,
        dispute_window: c.dispute_window,
    };
    reexecute(&mut state, &chain, &batch).unwrap();
    assert_eq!(batch.accounts_after, state.account_count());
    assert_eq!(
        batch.commitment.new_state_root,
        node.state.read().state_root()
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn every_batch_re_executes_from_its_payload_to_its_commitment() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), None);
    c.batch.max_blocks = 3;
    c.batch.max_age = Duration::ZERO;
    let running = weft_sequencer::start(c.clone()).await.unwrap();
    let client = Client::new(running.addr);
    let d = running.node.domain;
    let chain = weft_protocol::execution::ChainParams {
        domain: d,
        dispute_window: c.dispute_window,
    };
    let last = submit_rounds(&client, &d, 12).await;
    let done = client.wait_executed(&last, Duration::from_secs(20)).await;
    let head = done["blockNumber"].as_u64().unwrap();

    // Wait until the batcher covers the head.
    let deadline = Instant::now() + Duration::from_secs(20);
    let store = running.node.store.clone();
    while store
        .latest_batch()
        .await
        .unwrap()
        .is_none_or(|b| b.commitment.to_block < head)
    {
        assert!(Instant::now() < deadline, "batches do not reach the head");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut state = genesis_state(&c).unwrap();
    let mut next_block = 1;
    let mut withdrawals = 0;
    let latest = store
        .latest_batch()
        .await
        .unwrap()
        .unwrap()
        .commitment
        .index;
    assert!(latest >= 2, "several batches");
    for index in 1..=latest {
        let batch = store.batch(index).await.unwrap().unwrap();
        assert_eq!(batch.status, BatchStatus::Sealed);
        assert_eq!(batch.commitment.from_block, next_block);
        assert!(batch.commitment.to_block - batch.commitment.from_block < 3);
        next_block = batch.commitment.to_block + 1;
        let blocks =
            reexecute(&mut state, &chain, &batch).unwrap_or_else(|e| panic!("batch {index}: {e}"));
        withdrawals += blocks
            .iter()
            .flat_map(|b| &b.transactions)
            .filter(|t| matches!(t, Transaction::Withdraw(_)))
            .count();
        assert_eq!(batch.accounts_after, state.account_count());
    }
    assert_eq!(withdrawals, 12);
    // Every block reached the batcher in memory: none was read back from the database.
    assert_eq!(running.node.metrics.batcher_block_reads.get(), 0);

    // A batch's payload with one byte changed no longer re-executes to its commitment.
    let batch = store.batch(1).await.unwrap().unwrap();
    let mut tampered = batch.da_payload.clone();
    let last_byte = tampered.len() - 1;
    tampered[last_byte] ^= 1;
    let mut fresh = genesis_state(&c).unwrap();
    assert!(
        apply_batch(
            &mut fresh,
            &chain,
            &batch.commitment,
            &tampered,
            Carrier::Calldata,
            &mut SequentialExecutor
        )
        .is_err()
    );

    let (status, v) = client.get("/v1/batches/1").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "sealed");
    // The witness holds every transaction of the batch with a signature that verifies.
    let (status, w) = client.get("/v1/batches/1/witness").await;
    assert_eq!(status, 200, "{w}");
    let mut signed = 0;
    for block in w["blocks"].as_array().unwrap() {
        for t in block["transactions"].as_array().unwrap() {
            let tx: weft_protocol::transaction::SignedTransaction = serde_json::from_value(
                serde_json::json!({ "transaction": t["transaction"], "signature": t["signature"] }),
            )
            .unwrap();
            assert_eq!(
                tx.verify(&d).unwrap().hash.to_string(),
                t["hash"].as_str().unwrap()
            );
            signed += 1;
        }
    }
    assert!(signed > 0);
    let (_, tx) = client.get(&format!("/v1/transactions/{last}")).await;
    assert_eq!(tx["batch"]["index"].as_u64(), Some(latest));
    running.stop().await.unwrap();
}

#[tokio::test]
async fn queue_entries_enter_blocks_in_order_and_batches_commit_their_hash() {
    use std::sync::atomic::Ordering;
    use weft_protocol::{
        batch::next_queue_hash,
        primitives::B256,
        transaction::{Deposit, ForcedWithdraw},
    };
    use weft_sequencer::store::QueueEntry;

    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), None);
    c.batch.max_age = Duration::ZERO;
    let running = weft_sequencer::start(c.clone()).await.unwrap();
    let client = Client::new(running.addr);
    let node = running.node.clone();
    let d = node.domain;
    let newcomer = weft_protocol::testkit::test_address(777);
    let quitter = GenesisConfig::dev_key(5).address();
    let txs = [
        Transaction::Deposit(Deposit {
            queue_index: 0,
            to: newcomer,
            token: 0,
            amount: 5_000,
        }),
        Transaction::ForcedWithdraw(ForcedWithdraw {
            queue_index: 1,
            account: quitter,
            token: 0,
        }),
        Transaction::Deposit(Deposit {
            queue_index: 2,
            to: newcomer,
            token: 1,
            amount: 9,
        }),
    ];
    let mut chain = B256::ZERO;
    let entries: Vec<QueueEntry> = txs
        .iter()
        .enumerate()
        .map(|(i, tx)| {
            let entry_hash = tx.hash(&d);
            chain = next_queue_hash(&chain, &entry_hash);
            QueueEntry {
                queue_index: i as u64,
                transaction: tx.clone(),
                entry_hash,
                queue_hash: chain,
                l1_block_number: 1,
                l1_block_hash: B256::repeat_byte(1),
            }
        })
        .collect();
    // What the L1 watcher does once the entries are confirmed.
    node.store.insert_queue_entries(&entries).await.unwrap();
    node.queue_len.store(3, Ordering::Release);
    node.ready.notify_one();

    let done = client
        .wait_executed(&entries[2].entry_hash, Duration::from_secs(10))
        .await;
    assert!(
        done.get("signature").is_none(),
        "system kinds carry no signature: {done}"
    );
    assert_eq!(client.balance(&newcomer).await, 5_000);
    assert_eq!(
        client.balance(&quitter).await,
        0,
        "forced withdrawal takes the whole balance"
    );
    let (_, account) = client.get(&format!("/v1/accounts/{newcomer}")).await;
    assert_eq!(
        account["balances"][1]["token"], 1,
        "token 1 registered by its first deposit"
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    let batch = loop {
        if let Some(b) = node.store.latest_batch().await.unwrap()
            && b.commitment.queue_position == 3
        {
            break b;
        }
        assert!(
            Instant::now() < deadline,
            "no batch covers the queue entries"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(batch.commitment.queue_hash, chain);
    assert_ne!(
        batch.commitment.withdrawals_root,
        B256::ZERO,
        "the forced withdrawal is claimable"
    );
    running.stop().await.unwrap();
}

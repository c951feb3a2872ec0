//! The poster against a scripted L1: the faults anvil cannot produce on demand (a commit
//! that reverts on chain after a successful estimate) and the decisions of each tick, step
//! by step. The same poster runs against anvil in `tests/l1_faults.rs`.

use std::{collections::HashMap, sync::Arc, time::Duration};

use alloy::primitives::{Address, B256, Bytes, U256};
use parking_lot::Mutex;
use weft_l1::{BatchLog, CommitData, Deployment, L1Receipt, QueueLog, RollupView};
use weft_protocol::{batch::BatchCommitment, signature::SigningKey};

use super::*;
use crate::{
    config::{Config, DaMode, L1Config},
    node::Node,
    store::{BatchStatus, StoredBatch},
};

/// An L1 that records what is sent and answers from a script.
#[derive(Debug, Default)]
struct ScriptedL1 {
    state: Mutex<Script>,
}

#[derive(Debug, Default)]
struct Script {
    deployment: Option<Deployment>,
    nonce: u64,
    last_committed: u64,
    base_fee: u128,
    tip: u128,
    blob_base_fee: u128,
    sent: Vec<B256>,
    raw: Vec<Bytes>,
    receipts: HashMap<B256, L1Receipt>,
}

type R<T> = Result<T, L1Error>;

impl L1Client for ScriptedL1 {
    async fn chain_id(&self) -> R<u64> {
        Ok(31_337)
    }
    async fn block_number(&self) -> R<u64> {
        Ok(100)
    }
    async fn deployment(&self) -> R<Deployment> {
        Ok(self.state.lock().deployment.unwrap())
    }
    async fn rollup_view(&self, _: Option<u64>) -> R<RollupView> {
        Ok(RollupView {
            last_committed: self.state.lock().last_committed,
            ..RollupView::default()
        })
    }
    async fn queue_hash(&self, _: u64, _: u64) -> R<B256> {
        Ok(B256::ZERO)
    }
    async fn queue_logs(&self, _: u64, _: u64) -> R<Vec<QueueLog>> {
        Ok(Vec::new())
    }
    async fn batch_logs(&self, _: u64, _: u64) -> R<Vec<BatchLog>> {
        Ok(Vec::new())
    }
    async fn commit_data(&self, _: B256) -> R<Option<CommitData>> {
        Ok(None)
    }
    async fn nonce(&self, _: Address) -> R<u64> {
        Ok(self.state.lock().nonce)
    }
    async fn balance(&self, _: Address) -> R<U256> {
        Ok(U256::from(10u64).pow(U256::from(18u64)))
    }
    async fn fees(&self) -> R<Fees> {
        let s = self.state.lock();
        Ok(Fees {
            base_fee_per_gas: s.base_fee,
            max_priority_fee_per_gas: s.tip,
            blob_base_fee: s.blob_base_fee,
        })
    }
    async fn estimate_gas(&self, _: Address, _: Bytes, _: Vec<B256>) -> R<u64> {
        Ok(100_000)
    }
    async fn send_raw(&self, raw: Bytes) -> R<B256> {
        let tx = TxEnvelope::decode_2718(&mut raw.as_ref()).unwrap();
        let mut s = self.state.lock();
        s.sent.push(*tx.tx_hash());
        s.raw.push(raw);
        Ok(*tx.tx_hash())
    }
    async fn receipt(&self, tx: B256) -> R<Option<L1Receipt>> {
        Ok(self.state.lock().receipts.get(&tx).copied())
    }
    // The prover's operations: the poster never calls them.
    async fn committed_batch(&self, _: u64) -> R<Option<CommitData>> {
        Err(L1Error::Invalid("not scripted".into()))
    }
    async fn pending_nonce(&self, _: Address) -> R<u64> {
        Err(L1Error::Invalid("not scripted".into()))
    }
    async fn finalizable_at(&self, _: u64) -> R<u64> {
        Err(L1Error::Invalid("not scripted".into()))
    }
    async fn latest_timestamp(&self) -> R<u64> {
        Err(L1Error::Invalid("not scripted".into()))
    }
    async fn prove_batch(&self, _: u64, _: Bytes, _: u64) -> R<B256> {
        Err(L1Error::NoSigner)
    }
    async fn finalize_batch(&self, _: u64) -> R<B256> {
        Err(L1Error::NoSigner)
    }
}

impl ScriptedL1 {
    /// Includes `tx` (the last sent if `None`) in a block, succeeding or reverting.
    fn include(&self, tx: Option<B256>, success: bool) -> B256 {
        let mut s = self.state.lock();
        let tx = tx.unwrap_or_else(|| *s.sent.last().unwrap());
        s.receipts.insert(
            tx,
            L1Receipt {
                block_number: 101,
                success,
                gas_used: 90_000,
                effective_gas_price: 2,
                blob_gas_used: 0,
                blob_gas_price: 0,
            },
        );
        s.nonce += 1;
        if success {
            s.last_committed += 1;
        }
        tx
    }
}

/// A node with one sealed batch in its store and a poster on the scripted L1, posting
/// calldata.
async fn poster(
    resend_after: Duration,
) -> (
    tempfile::TempDir,
    Arc<Node>,
    Arc<ScriptedL1>,
    Poster<ScriptedL1>,
) {
    poster_in(resend_after, DaMode::Calldata).await
}

async fn poster_in(
    resend_after: Duration,
    da_mode: DaMode,
) -> (
    tempfile::TempDir,
    Arc<Node>,
    Arc<ScriptedL1>,
    Poster<ScriptedL1>,
) {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_seed(b"sequencer");
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        executor_threads: 1,
        signature_threads: 1,
        ..Config::default()
    };
    config.l1 = Some(L1Config {
        resend_after,
        da_mode,
        sequencer_key: Some(key.clone()),
        ..L1Config::new("http://127.0.0.1:1")
    });
    let node = Node::open(config.clone()).await.unwrap();
    let batch = StoredBatch {
        commitment: BatchCommitment {
            index: 1,
            from_block: 1,
            to_block: 1,
            prev_state_root: node.genesis_root,
            new_state_root: B256::repeat_byte(2),
            withdrawals_root: B256::ZERO,
            queue_position: 0,
            queue_hash: B256::ZERO,
            da_hash: B256::repeat_byte(3),
        },
        accounts_after: 0,
        da_payload: vec![1, 2, 3],
        status: BatchStatus::Sealed,
        commit_l1_tx: None,
        prove_l1_tx: None,
        finalize_l1_tx: None,
    };
    node.store.insert_batch(&batch).await.unwrap();
    let l1 = Arc::new(ScriptedL1::default());
    {
        let mut s = l1.state.lock();
        s.deployment = Some(Deployment {
            sequencer: key.address(),
            l2_chain_id: config.chain_id,
            genesis_state_root: node.genesis_root,
        });
        s.nonce = 7;
        s.base_fee = 1_000;
        s.tip = 100;
        s.blob_base_fee = 1;
    }
    let poster = Poster::new(node.clone(), l1.clone(), &key, config.l1.unwrap()).unwrap();
    (dir, node, l1, poster)
}

async fn statuses(node: &Node) -> Vec<(u64, String)> {
    node.store
        .l1_transactions()
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.nonce, t.status))
        .collect()
}

#[tokio::test]
async fn a_commit_that_reverts_on_chain_halts_the_poster() {
    let (_dir, node, l1, mut poster) = poster(Duration::from_secs(60)).await;
    assert_eq!(poster.tick().await.unwrap(), None);
    assert_eq!(l1.state.lock().sent.len(), 1, "batch 1 posted");
    l1.include(None, false);
    assert_eq!(poster.tick().await.unwrap(), None);
    assert!(node.l1.halted());
    assert!(
        node.l1
            .snapshot()
            .poster_halted
            .unwrap()
            .contains("batch 1 reverted")
    );
    assert_eq!(node.metrics.l1_poster_halted.get(), 1);
    assert_eq!(statuses(&node).await, vec![(7, "reverted".to_owned())]);
}

#[tokio::test]
async fn a_stuck_commit_is_re_signed_at_the_same_nonce_with_higher_fees() {
    let (_dir, node, l1, mut poster) = poster(Duration::ZERO).await;
    poster.tick().await.unwrap();
    // No receipt: waited long enough (resend_after 0), so re-signed with higher fees.
    poster.tick().await.unwrap();
    let stored = node.store.l1_transactions().await.unwrap();
    assert_eq!(stored.len(), 2);
    let (first, second) = (&stored[0], &stored[1]);
    assert_eq!((first.nonce, second.nonce), (7, 7));
    assert!(second.max_fee_per_gas * 10 >= first.max_fee_per_gas * 11);
    assert!(second.max_priority_fee_per_gas * 10 >= first.max_priority_fee_per_gas * 11);
    assert_eq!(l1.state.lock().sent, vec![first.tx_hash, second.tx_hash]);
    // The replacement lands; the first is replaced, nothing else is sent.
    l1.include(Some(second.tx_hash), true);
    poster.tick().await.unwrap();
    let mut s = statuses(&node).await;
    s.sort();
    assert_eq!(
        s,
        vec![(7, "included".to_owned()), (7, "replaced".to_owned())]
    );
    assert_eq!(l1.state.lock().sent.len(), 2);
    assert_eq!(node.metrics.l1_gas_used.get(), 90_000);
}

#[tokio::test]
async fn a_restarted_poster_follows_its_stored_commit_instead_of_posting_again() {
    let (_dir, node, l1, mut poster) = poster(Duration::from_secs(60)).await;
    poster.tick().await.unwrap();
    let first = l1.state.lock().sent[0];
    // The node restarts: a new poster, same store, L1 still without a receipt.
    let key = SigningKey::from_seed(b"sequencer");
    let mut restarted = Poster::new(node.clone(), l1.clone(), &key, poster.config.clone()).unwrap();
    restarted.tick().await.unwrap();
    assert_eq!(
        l1.state.lock().sent,
        vec![first, first],
        "the stored signature is sent again, nothing new is signed"
    );
    l1.include(Some(first), true);
    restarted.tick().await.unwrap();
    // Batch 1 is committed and there is no batch 2: nothing more to send.
    restarted.tick().await.unwrap();
    assert_eq!(l1.state.lock().sent.len(), 2);
    assert_eq!(statuses(&node).await, vec![(7, "included".to_owned())]);
}

#[tokio::test]
async fn a_deployment_for_another_key_halts_before_posting() {
    let (_dir, node, l1, mut poster) = poster(Duration::from_secs(60)).await;
    l1.state.lock().deployment.as_mut().unwrap().sequencer = Address::repeat_byte(9);
    poster.tick().await.unwrap();
    assert!(node.l1.halted());
    assert!(l1.state.lock().sent.is_empty());
}

#[test]
fn bumped_fees_rise_by_at_least_ten_percent_or_to_the_current_level() {
    let now = Fees {
        base_fee_per_gas: 10,
        max_priority_fee_per_gas: 1,
        blob_base_fee: 1,
    };
    for (max, tip) in [(0, 0), (1, 1), (9, 3), (1_000, 100), (u128::MAX / 2, 7)] {
        let (new_max, new_tip) = bumped_fees(max, tip, now);
        assert!(
            new_max >= max + max / 10 && (max == 0 || new_max > max),
            "{max}"
        );
        assert!(
            new_tip >= tip + tip / 10 && (tip == 0 || new_tip > tip),
            "{tip}"
        );
        assert!(new_max >= 2 * now.base_fee_per_gas + new_tip);
    }
    // A base fee that rose faster than the bump: the current level wins.
    let spiked = Fees {
        base_fee_per_gas: 1_000_000,
        max_priority_fee_per_gas: 50,
        blob_base_fee: 1,
    };
    assert_eq!(bumped_fees(100, 10, spiked), (2_000_050, 50));
}

/// The blob transaction the scripted L1 received as `raw`: its fees and sidecar.
fn blob_tx(raw: &Bytes) -> alloy_consensus::TxEip4844WithSidecar {
    let TxEnvelope::Eip4844(signed) = TxEnvelope::decode_2718(&mut raw.as_ref()).unwrap() else {
        panic!("a blob transaction")
    };
    match signed.strip_signature() {
        TxEip4844Variant::TxEip4844WithSidecar(with) => with,
        TxEip4844Variant::TxEip4844(_) => panic!("sent without its sidecar"),
    }
}

#[tokio::test]
async fn a_blob_commit_records_its_da_hash_and_a_stuck_one_is_re_signed_with_its_sidecar() {
    let (_dir, node, l1, mut poster) = poster_in(Duration::ZERO, DaMode::Blobs).await;
    poster.tick().await.unwrap();
    let first = blob_tx(&l1.state.lock().raw[0]);
    let hashes: Vec<B256> = first.sidecar.versioned_hashes().collect();
    assert_eq!(first.tx.blob_versioned_hashes, hashes);
    assert_eq!(hashes, blob::versioned_hashes(&blob::encode(&[1, 2, 3])));
    // The stored batch now commits to the blobs, as the calldata of the call does.
    let stored = node.store.batch(1).await.unwrap().unwrap();
    assert_eq!(stored.commitment.da_hash, blob::blobs_da_hash(&hashes));
    let call = Rollup::commitBatchBlobsCall::abi_decode(&first.tx.input).unwrap();
    assert_eq!(call.c.daHash, stored.commitment.da_hash);
    assert_eq!(
        node.metrics
            .l1_da_choices
            .get_or_create(&CarrierLabel {
                carrier: "blobs".into()
            })
            .get(),
        1
    );
    // No receipt: re-signed at the same nonce, every fee doubled, the same sidecar.
    poster.tick().await.unwrap();
    let second = blob_tx(&l1.state.lock().raw[1]);
    assert_eq!(second.tx.nonce, first.tx.nonce);
    assert_eq!(second.tx.max_fee_per_gas, 2 * first.tx.max_fee_per_gas);
    assert_eq!(
        second.tx.max_priority_fee_per_gas,
        2 * first.tx.max_priority_fee_per_gas
    );
    assert_eq!(
        second.tx.max_fee_per_blob_gas,
        2 * first.tx.max_fee_per_blob_gas
    );
    assert_eq!(second.sidecar, first.sidecar);
    assert_eq!(second.tx.input, first.tx.input);
}

#[test]
fn bumped_blob_fees_double_or_follow_the_current_level() {
    let now = Fees {
        base_fee_per_gas: 10,
        max_priority_fee_per_gas: 1,
        blob_base_fee: 1_000,
    };
    assert_eq!(bumped_blob_fees(100, 5, 3_000, now), (200, 10, 6_000));
    // Blob fees spiked past twice the old cap: twice the current blob base fee.
    assert_eq!(bumped_blob_fees(100, 5, 10, now).2, 2_000);
    assert_eq!(bumped_blob_fees(0, 0, 0, now), (21, 1, 2_000));
}

//! The prover's check against batches built by a real sequencer: honest batches pass;
//! a wrong state root, a tampered payload, a forged signature and a forged queue entry are
//! each refused with their own code.

use std::time::{Duration, Instant};

use weft_protocol::{
    batch::BatchCommitment,
    da::{DaBlock, decode_batch, encode_batch},
    execution::{ChainParams, SequentialExecutor},
    primitives::B256,
    signature::Signature,
    state::State,
    transaction::{Transaction, Transfer},
};
use weft_prover_stub::verify::{
    PublishedChain, Refusal, Witness, WitnessBlock, WitnessTransaction, check_batch, check_chain,
};
use weft_sequencer::{
    config::{Config, GenesisConfig},
    node::{Node, genesis_state},
    store::StoredBatch,
};

async fn witness(node: &Node, batch: &StoredBatch) -> Witness {
    let mut blocks = Vec::new();
    for n in batch.commitment.from_block..=batch.commitment.to_block {
        let (header, hash) = node.store.header_by_number(n).await.unwrap().unwrap();
        let transactions = node
            .store
            .block_transactions(n)
            .await
            .unwrap()
            .into_iter()
            .map(|t| WitnessTransaction {
                hash: t.hash,
                transaction: t.transaction,
                signature: t.signature,
            })
            .collect();
        blocks.push(WitnessBlock {
            header,
            hash,
            transactions,
        });
    }
    Witness {
        index: batch.commitment.index,
        commitment: batch.commitment,
        blocks,
    }
}

/// A node that has sealed at least two batches of signed transfers.
async fn batches() -> (weft_sequencer::Running, Config, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config {
        data_dir: dir.path().into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    c.block.block_time = Duration::from_millis(20);
    c.batch.max_blocks = 2;
    c.batch.max_age = Duration::ZERO;
    c.api.rate_per_second = 0;
    let running = weft_sequencer::start(c.clone()).await.unwrap();
    let node = running.node.clone();
    let d = node.domain;
    for nonce in 0..6u64 {
        let subs: Vec<_> = (0..5u32)
            .map(|s| {
                let key = GenesisConfig::dev_key(s);
                let tx = Transaction::Transfer(Transfer {
                    from: key.address(),
                    to: GenesisConfig::dev_key(s + 5).address(),
                    token: 0,
                    amount: 10,
                    fee: 1,
                    nonce,
                })
                .sign(&key, &d);
                weft_sequencer::admission::Submission {
                    transaction: tx.transaction,
                    signature: tx.signature,
                    chain_id: None,
                    verifying_contract: None,
                }
            })
            .collect();
        for o in weft_sequencer::admission::admit(&node, subs).await {
            o.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while node
        .store
        .latest_batch()
        .await
        .unwrap()
        .is_none_or(|b| b.commitment.index < 2)
    {
        assert!(Instant::now() < deadline, "no batches");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (running, c, dir)
}

fn check(
    state: &mut State,
    c: &Config,
    commitment: &BatchCommitment,
    payload: &[u8],
    w: &Witness,
) -> Result<(), Refusal> {
    check_batch(
        state,
        &weft_protocol::execution::ChainParams {
            domain: c.domain(),
            dispute_window: c.dispute_window,
        },
        commitment,
        payload,
        w,
        &[],
        &mut SequentialExecutor,
    )
}

#[tokio::test]
async fn honest_batches_pass_and_every_kind_of_lie_is_refused() {
    let (running, c, _dir) = batches().await;
    let node = running.node.clone();
    let b1 = node.store.batch(1).await.unwrap().unwrap();
    let b2 = node.store.batch(2).await.unwrap().unwrap();
    let (w1, w2) = (witness(&node, &b1).await, witness(&node, &b2).await);

    let mut state = genesis_state(&c).unwrap();
    check(&mut state, &c, &b1.commitment, &b1.da_payload, &w1).unwrap();
    assert_eq!(state.state_root(), b1.commitment.new_state_root);
    let after_b1 = state.clone();

    // A wrong new state root.
    let mut lie = b2.commitment;
    lie.new_state_root = B256::repeat_byte(7);
    let err = check(&mut state, &c, &lie, &b2.da_payload, &w2).unwrap_err();
    assert_eq!(err.code(), "state_mismatch", "{err}");
    assert_eq!(
        state.state_root(),
        after_b1.state_root(),
        "a refused batch leaves the state alone"
    );

    // A payload that carries a different transaction (re-encoded, so it decodes fine).
    let decoded = decode_batch(&b2.da_payload, |i| after_b1.account(i).map(|a| a.address)).unwrap();
    let mut blocks: Vec<DaBlock> = decoded.blocks.clone();
    if let Transaction::Transfer(t) = &mut blocks[0].transactions[0] {
        t.amount += 1;
    }
    let (tampered, _) = encode_batch(
        &blocks,
        decoded.accounts_before,
        decoded.queue_before,
        |a| after_b1.index_of(a),
    );
    let mut tampered_commitment = b2.commitment;
    tampered_commitment.da_hash = weft_protocol::da::da_hash(&tampered);
    let err = check(&mut state, &c, &tampered_commitment, &tampered, &w2).unwrap_err();
    assert!(
        matches!(err.code(), "payload_mismatch" | "state_mismatch"),
        "{err}"
    );

    // A forged signature in the witness.
    let mut forged = w2.clone();
    forged.blocks[0].transactions[0].signature = Some(Signature {
        r: B256::repeat_byte(1),
        s: B256::repeat_byte(1),
        y_parity: false,
    });
    let err = check(&mut state, &c, &b2.commitment, &b2.da_payload, &forged).unwrap_err();
    assert_eq!(err.code(), "bad_signature", "{err}");

    // A witness for another batch.
    let err = check(&mut state, &c, &b2.commitment, &b2.da_payload, &w1).unwrap_err();
    assert_eq!(err.code(), "witness_range", "{err}");

    // And the honest second batch still passes from the same state.
    check(&mut state, &c, &b2.commitment, &b2.da_payload, &w2).unwrap();
    assert_eq!(state.state_root(), b2.commitment.new_state_root);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn the_sequencers_published_chain_parameters_are_compared_with_the_provers() {
    let dir = tempfile::tempdir().unwrap();
    let c = Config {
        data_dir: dir.path().into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        dispute_window: 21,
        ..Config::default()
    };
    let running = weft_sequencer::start(c.clone()).await.unwrap();
    let published: PublishedChain = reqwest::get(format!("http://{}/v1/chain", running.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ours = ChainParams {
        domain: c.domain(),
        dispute_window: 21,
    };
    assert_eq!(check_chain(&ours, &published), Ok(()));
    let other_window = ChainParams {
        dispute_window: weft_protocol::channel::DEFAULT_DISPUTE_WINDOW,
        ..ours
    };
    assert!(
        check_chain(&other_window, &published)
            .unwrap_err()
            .contains("dispute window is 21 blocks")
    );
    let other_chain = ChainParams {
        domain: weft_protocol::eip712::Domain::new(c.chain_id + 1, c.rollup_address),
        ..ours
    };
    assert!(check_chain(&other_chain, &published).is_err());
    running.stop().await.unwrap();
}

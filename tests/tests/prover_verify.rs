//! The prover's check against batches built by the real sequencer (its binary; the
//! batches and witnesses come from its API): honest batches pass; a wrong state root, a
//! tampered payload, a forged signature and a witness of another batch are each refused
//! with their own code; and the sequencer's published chain parameters are compared with
//! the prover's.
//!
//! Moved from `prover-stub/tests/verify.rs`, so the prover crate does not depend on the
//! sequencer's.

use std::time::Duration;

use sqlx::{Connection, SqliteConnection};
use weft_api::BatchView;
use weft_protocol::{
    batch::BatchCommitment,
    da::{DaBlock, decode_batch, encode_batch},
    execution::{ChainParams, SequentialExecutor},
    genesis::{dev_allocations, dev_key},
    primitives::B256,
    signature::Signature,
    state::State,
    transaction::{Transaction, Transfer},
};
use weft_prover_stub::verify::{PublishedChain, Refusal, Witness, check_batch, check_chain};
use weft_tests::{SequencerOptions, Stack};

/// The sequencer's default genesis: 10 dev accounts with the default balance.
const DEV_ACCOUNTS: u32 = 10;
const DEV_BALANCE: u128 = 1_000_000_000_000_000_000_000_000;

/// What the prover checks against, from the sequencer's API.
struct Config {
    domain: weft_protocol::eip712::Domain,
    dispute_window: u64,
}

/// A sequencer that has sealed at least two batches of signed transfers.
async fn batches() -> (Stack, Config) {
    let stack = Stack::builder()
        .sequencer(SequencerOptions {
            block_time: Duration::from_millis(20),
            batch_max_blocks: Some(2),
            batch_max_age: Duration::ZERO,
            dev_accounts: DEV_ACCOUNTS,
            ..SequencerOptions::default()
        })
        .start()
        .await;
    let chain = stack.api().chain().await.unwrap();
    let d = chain.domain;
    for nonce in 0..6u64 {
        for s in 0..5u32 {
            let key = dev_key(s);
            let tx = Transaction::Transfer(Transfer {
                from: key.address(),
                to: dev_key(s + 5).address(),
                token: 0,
                amount: 10,
                fee: 1,
                nonce,
            })
            .sign(&key, &d);
            stack.api().submit(&tx).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    stack
        .wait("two batches", Duration::from_secs(20), || async {
            stack.api().batch(2).await.unwrap().map(|_| ())
        })
        .await;
    let c = Config {
        domain: chain.domain,
        dispute_window: chain.dispute_window,
    };
    (stack, c)
}

/// Batch `index`: its view, stored DA payload (the API serves its size) and witness.
async fn batch(stack: &Stack, index: u64) -> (BatchView, Vec<u8>, Witness) {
    let view = stack.api().batch(index).await.unwrap().unwrap();
    let mut db = SqliteConnection::connect(&stack.sequencer_db_url())
        .await
        .unwrap();
    let payload: Vec<u8> =
        sqlx::query_scalar("SELECT da_payload FROM batches WHERE batch_index = ?")
            .bind(index as i64)
            .fetch_one(&mut db)
            .await
            .unwrap();
    db.close().await.unwrap();
    let witness = stack.api().witness(index).await.unwrap().unwrap();
    (view, payload, witness)
}

fn genesis_state() -> State {
    State::genesis(&dev_allocations(DEV_ACCOUNTS, DEV_BALANCE), 1).unwrap()
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
        &ChainParams {
            domain: c.domain,
            dispute_window: c.dispute_window,
        },
        commitment,
        payload,
        w,
        &[],
        &mut SequentialExecutor,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_batches_pass_and_every_kind_of_lie_is_refused() {
    let (stack, c) = batches().await;
    let (b1, b1_payload, w1) = batch(&stack, 1).await;
    let (b2, b2_payload, w2) = batch(&stack, 2).await;

    let mut state = genesis_state();
    check(&mut state, &c, &b1.commitment, &b1_payload, &w1).unwrap();
    assert_eq!(state.state_root(), b1.commitment.new_state_root);
    let after_b1 = state.clone();

    // A wrong new state root.
    let mut lie = b2.commitment;
    lie.new_state_root = B256::repeat_byte(7);
    let err = check(&mut state, &c, &lie, &b2_payload, &w2).unwrap_err();
    assert_eq!(err.code(), "state_mismatch", "{err}");
    assert_eq!(
        state.state_root(),
        after_b1.state_root(),
        "a refused batch leaves the state alone"
    );

    // A payload that carries a different transaction (re-encoded, so it decodes fine).
    let decoded = decode_batch(&b2_payload, |i| after_b1.account(i).map(|a| a.address)).unwrap();
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
    let err = check(&mut state, &c, &b2.commitment, &b2_payload, &forged).unwrap_err();
    assert_eq!(err.code(), "bad_signature", "{err}");

    // A witness for another batch.
    let err = check(&mut state, &c, &b2.commitment, &b2_payload, &w1).unwrap_err();
    assert_eq!(err.code(), "witness_range", "{err}");

    // And the honest second batch still passes from the same state.
    check(&mut state, &c, &b2.commitment, &b2_payload, &w2).unwrap();
    assert_eq!(state.state_root(), b2.commitment.new_state_root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sequencers_published_chain_parameters_are_compared_with_the_provers() {
    let stack = Stack::builder()
        .sequencer(SequencerOptions {
            dispute_window: Some(21),
            ..SequencerOptions::default()
        })
        .start()
        .await;
    let domain = stack.domain().await;
    let published: PublishedChain = reqwest::get(format!("{}/v1/chain", stack.sequencer_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ours = ChainParams {
        domain,
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
        domain: weft_protocol::eip712::Domain::new(
            domain.chain_id() + 1,
            domain.verifying_contract(),
        ),
        ..ours
    };
    assert!(check_chain(&other_chain, &published).is_err());
}

//! The prover service against real anvil and a real sequencer, both processes: honest
//! batches are checked, attested and finalized on L1; after a restart nothing is attested
//! twice; a batch committed with a wrong state root is refused, the prover halts on it
//! (`/health` says why), it never finalizes, and its withdrawals cannot be claimed.
//!
//! The sequencer has no L1 side here: the test commits its batches as the deployment's
//! sequencer (anvil's first account), the lie included.

use std::time::Duration;

use alloy::primitives::{Bytes, U256};
use sqlx::{Connection, SqliteConnection};
use weft_l1::{Rollup, to_sol};
use weft_protocol::{
    genesis::dev_key,
    primitives::B256,
    transaction::{Transaction, Transfer, Withdraw},
};
use weft_tests::{L1Options, ProverOptions, SequencerL1, SequencerOptions, Stack};

/// Submits each transaction signed by its sender's dev key.
async fn submit(stack: &Stack, txs: Vec<Transaction>) {
    let domain = stack.domain().await;
    for t in txs {
        let key = (0..20)
            .map(dev_key)
            .find(|k| Some(k.address()) == t.sender())
            .unwrap();
        stack.api().submit(&t.sign(&key, &domain)).await.unwrap();
    }
}

/// The stored DA payload of batch `index` (the API serves its size, not its bytes).
async fn da_payload(stack: &Stack, index: u64) -> Vec<u8> {
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
    payload
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_batches_finalize_and_a_lie_is_refused_forever() {
    let mut stack = Stack::builder()
        .l1(L1Options {
            heartbeat: None,
            ..L1Options::default()
        })
        .sequencer(SequencerOptions {
            block_time: Duration::from_millis(20),
            batch_max_blocks: Some(1),
            batch_max_age: Duration::ZERO,
            l1: SequencerL1::Off,
            ..SequencerOptions::default()
        })
        .prover(ProverOptions::default())
        .start()
        .await;
    let transfer = |from: u32, nonce: u64| {
        Transaction::Transfer(Transfer {
            from: dev_key(from).address(),
            to: dev_key(from + 10).address(),
            token: 0,
            amount: 1_000,
            fee: 1,
            nonce,
        })
    };
    let wait = Duration::from_secs(60);

    // Two honest batches, committed on L1 as the poster would.
    submit(&stack, (0..4).map(|s| transfer(s, 0)).collect()).await;
    stack
        .wait("batch 1", wait, || async {
            stack.api().batch(1).await.unwrap().map(|_| ())
        })
        .await;
    submit(&stack, (0..4).map(|s| transfer(s, 1)).collect()).await;
    stack
        .wait("batch 2", wait, || async {
            stack.api().batch(2).await.unwrap().map(|_| ())
        })
        .await;
    for index in 1..=2 {
        let b = stack.api().batch(index).await.unwrap().unwrap();
        let payload = da_payload(&stack, index).await;
        let receipt = stack
            .l1()
            .commit(&to_sol(&b.commitment), &Bytes::from(payload))
            .await;
        assert!(receipt.status());
    }

    // The prover counts an attestation once it has seen its receipt, which can be a poll
    // after L1 shows the batch finalized.
    stack
        .wait(
            "batches 1 and 2 finalized on L1 and counted",
            wait,
            || async {
                (stack.rollup().lastFinalized().call().await.unwrap() == 2
                    && stack.prover_attested().await == 2)
                    .then_some(())
            },
        )
        .await;

    // Restarted: it reloads its state and attests nothing twice.
    stack.prover_mut().stop().await;
    stack.prover_mut().restart().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        stack.prover_attested().await,
        0,
        "nothing attested twice after a restart"
    );
    assert_eq!(stack.rollup().lastProven().call().await.unwrap(), 2);

    // Batch 3 holds a withdrawal, and is committed with a wrong state root.
    let key = dev_key(5);
    submit(
        &stack,
        vec![Transaction::Withdraw(Withdraw {
            from: key.address(),
            l1_recipient: key.address(),
            token: 0,
            amount: 500,
            fee: 1,
            nonce: 0,
        })],
    )
    .await;
    let honest = stack
        .wait("batch 3", wait, || async {
            stack.api().batch(3).await.unwrap()
        })
        .await;
    let mut lie = honest.commitment;
    lie.new_state_root = B256::repeat_byte(0x66);
    let payload = da_payload(&stack, 3).await;
    assert!(
        stack
            .l1()
            .commit(&to_sol(&lie), &Bytes::from(payload))
            .await
            .status()
    );

    let (status, health) = stack
        .wait("the prover halts on batch 3", wait, || async {
            let (status, health) = stack.prover_health().await;
            (health["status"] == "halted" && health["batch"] == 3).then_some((status, health))
        })
        .await;
    assert_eq!(status, 503, "{health}");
    assert_eq!(health["code"], "state_mismatch", "{health}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        stack.rollup().lastProven().call().await.unwrap(),
        2,
        "never attested"
    );
    assert_eq!(
        stack.rollup().lastFinalized().call().await.unwrap(),
        2,
        "never finalized"
    );
    // Its withdrawal cannot be claimed.
    let claim = stack
        .rollup()
        .withdraw(
            3,
            Default::default(),
            key.address(),
            0,
            500,
            U256::ZERO,
            vec![],
        )
        .from(stack.l1().accounts[1])
        .call()
        .await;
    let Err(err) = claim else {
        panic!("claiming from an unfinalized batch must revert")
    };
    assert!(
        matches!(
            err.as_decoded_interface_error::<Rollup::RollupErrors>(),
            Some(Rollup::RollupErrors::BatchNotFinalized(_))
        ),
        "{err}"
    );
}

//! The prover service against real anvil and a real sequencer: honest batches are checked,
//! attested and finalized on L1; after a restart nothing is attested twice; a batch
//! committed with a wrong state root is refused, the prover halts on it (`/health` says
//! why), it never finalizes, and its withdrawals cannot be claimed.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::primitives::{Bytes, U256};
use tokio::sync::watch;
use weft_l1::{
    Rollup,
    testkit::{Devnet, DevnetConfig},
    to_sol,
};
use weft_protocol::{
    genesis::dev_key,
    transaction::{Transaction, Transfer, Withdraw},
};
use weft_prover_stub::{
    config::Config as ProverConfig,
    service::{Health, Prover},
};
use weft_sequencer::{
    admission::{Submission, admit},
    config::Config,
    node::genesis_state,
};

const DEV_ACCOUNTS: u32 = 20;

async fn submit(node: &Arc<weft_sequencer::node::Node>, txs: Vec<Transaction>) {
    let subs = txs
        .into_iter()
        .map(|t| {
            let key = (0..DEV_ACCOUNTS)
                .map(dev_key)
                .find(|k| Some(k.address()) == t.sender())
                .unwrap();
            let signed = t.sign(&key, &node.domain);
            Submission {
                transaction: signed.transaction,
                signature: signed.signature,
                chain_id: None,
                verifying_contract: None,
            }
        })
        .collect();
    for outcome in admit(node, subs).await {
        outcome.unwrap();
    }
}

async fn wait_for(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn prover_config(
    devnet: &Devnet,
    sequencer: std::net::SocketAddr,
    dir: &std::path::Path,
) -> ProverConfig {
    ProverConfig {
        l1_rpc: devnet.endpoint(),
        rollup_address: *devnet.rollup.address(),
        sequencer_url: format!("http://{sequencer}"),
        prover_key: devnet.prover.clone(),
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        poll: Duration::from_millis(100),
        chain_id: weft_sequencer::config::DEFAULT_CHAIN_ID,
        dispute_window: weft_sequencer::config::DEFAULT_DISPUTE_WINDOW,
        dev_accounts: DEV_ACCOUNTS,
        dev_balance: weft_sequencer::config::DEFAULT_DEV_BALANCE,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_batches_finalize_and_a_lie_is_refused_forever() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn,weft_prover_stub=info")
        .try_init();
    // The sequencer's genesis, and a Rollup deployed for it.
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config {
        data_dir: dir.path().join("seq"),
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    c.genesis.dev_accounts = DEV_ACCOUNTS;
    c.block.block_time = Duration::from_millis(20);
    c.batch.max_blocks = 1;
    c.batch.max_age = Duration::ZERO;
    c.api.rate_per_second = 0;
    let devnet = Devnet::start(DevnetConfig {
        genesis_state_root: genesis_state(&c).unwrap().state_root(),
        ..DevnetConfig::default()
    })
    .await;
    c.rollup_address = *devnet.rollup.address();
    let running = weft_sequencer::start(c.clone()).await.unwrap();
    let node = running.node.clone();
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

    // Two honest batches, committed on L1 as the poster would.
    submit(&node, (0..4).map(|s| transfer(s, 0)).collect()).await;
    wait_for("batch 1", async || {
        node.store.batch(1).await.unwrap().is_some()
    })
    .await;
    submit(&node, (0..4).map(|s| transfer(s, 1)).collect()).await;
    wait_for("batch 2", async || {
        node.store.batch(2).await.unwrap().is_some()
    })
    .await;
    for index in 1..=2 {
        let b = node.store.batch(index).await.unwrap().unwrap();
        let receipt = devnet
            .commit(&to_sol(&b.commitment), &Bytes::from(b.da_payload.clone()))
            .await;
        assert!(receipt.status());
    }

    // The prover pays for its own L1 transactions.
    devnet
        .set_balance(devnet.prover.address(), U256::from(10).pow(U256::from(20)))
        .await;
    let prover_dir = tempfile::tempdir().unwrap();
    let (stop, stopped) = watch::channel(false);
    let prover = Prover::open(prover_config(&devnet, running.addr, prover_dir.path()))
        .await
        .unwrap();
    let task = tokio::spawn(weft_prover_stub::service::run(prover.clone(), stopped));
    // The prover counts an attestation once it has seen its receipt, which can be a poll
    // after L1 shows the batch finalized.
    wait_for("batches 1 and 2 finalized on L1 and counted", async || {
        devnet.rollup.lastFinalized().call().await.unwrap() == 2
            && prover.metrics.attested.get() == 2
    })
    .await;
    stop.send_replace(true);
    task.await.unwrap().unwrap();

    // Restarted: it reloads its state and attests nothing twice.
    let (stop, stopped) = watch::channel(false);
    let prover = Prover::open(prover_config(&devnet, running.addr, prover_dir.path()))
        .await
        .unwrap();
    let task = tokio::spawn(weft_prover_stub::service::run(prover.clone(), stopped));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        prover.metrics.attested.get(),
        0,
        "nothing attested twice after a restart"
    );
    assert_eq!(devnet.rollup.lastProven().call().await.unwrap(), 2);

    // Batch 3 holds a withdrawal, and is committed with a wrong state root.
    let key = dev_key(5);
    submit(
        &node,
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
    wait_for("batch 3", async || {
        node.store.batch(3).await.unwrap().is_some()
    })
    .await;
    let honest = node.store.batch(3).await.unwrap().unwrap();
    let mut lie = honest.commitment;
    lie.new_state_root = weft_protocol::primitives::B256::repeat_byte(0x66);
    assert!(
        devnet
            .commit(&to_sol(&lie), &Bytes::from(honest.da_payload.clone()))
            .await
            .status()
    );

    wait_for("the prover halts on batch 3", async || {
        matches!(*prover.health.read(), Health::Halted { batch: 3, .. })
    })
    .await;
    let Health::Halted { code, .. } = prover.health.read().clone() else {
        unreachable!()
    };
    assert_eq!(code, "state_mismatch");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        devnet.rollup.lastProven().call().await.unwrap(),
        2,
        "never attested"
    );
    assert_eq!(
        devnet.rollup.lastFinalized().call().await.unwrap(),
        2,
        "never finalized"
    );
    // Its withdrawal cannot be claimed.
    let claim = devnet
        .rollup
        .withdraw(
            3,
            Default::default(),
            key.address(),
            0,
            500,
            U256::ZERO,
            vec![],
        )
        .from(devnet.accounts[1])
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
    stop.send_replace(true);
    task.await.unwrap().unwrap();
    running.stop().await.unwrap();
}

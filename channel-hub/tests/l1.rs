//! Channels with the whole stack under them: anvil with the L1 contracts, the sequencer
//! posting its batches there, the prover service re-executing and attesting every batch
//! (channel transactions included), the hub and two wallets.
//!
//! Two wallets open channels and pay each other through the hub; one closes cooperatively,
//! the other registers a stale state that the hub refutes and that concludes after the
//! (short) dispute window. Every batch is committed on L1 and finalized only after the
//! prover agreed with it, and the closed channel's payout, withdrawn from the rollup, is
//! claimed on L1 to the wei (against the wallet's own deposit from L1).

mod common;

use std::time::Duration;

use alloy::{primitives::U256, providers::Provider};
use common::{fill_block, hub_config, key, l2_balance, pay_routed, wait_for, wallet};
use serde_json::Value;
use tokio::sync::watch;
use weft_channel_hub::rollup::RollupClient;
use weft_l1::testkit::{Devnet, DevnetConfig, mined};
use weft_protocol::{
    channel::ChannelStatus,
    primitives::{Address, Amount, B256},
    transaction::{Transaction, Withdraw},
};
use weft_prover_stub::{config::Config as ProverConfig, service::Prover};
use weft_sequencer::{
    config::{Config as SeqConfig, L1Config},
    node::genesis_state,
    store::BatchStatus,
};

/// The chain's dispute window here, in L2 blocks.
const WINDOW: u64 = 12;
/// Funded L2 dev accounts: the wallets are 0 and 1, the hub signs with 7.
const DEV_ACCOUNTS: u32 = 10;
const HUB_ACCOUNT: u32 = 7;
const DEPOSIT: Amount = 1_000_000;

async fn get(seq: &weft_sequencer::Running, path: &str) -> Value {
    reqwest::get(format!("http://{}{path}", seq.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_settle_through_attested_batches_and_a_payout_is_claimed_on_l1() {
    let dir = tempfile::tempdir().unwrap();
    let mut seq_config = SeqConfig {
        data_dir: dir.path().join("seq"),
        listen: "127.0.0.1:0".parse().unwrap(),
        executor_threads: 1,
        signature_threads: 1,
        dispute_window: WINDOW,
        ..SeqConfig::default()
    };
    seq_config.genesis.dev_accounts = DEV_ACCOUNTS;
    seq_config.block.block_time = Duration::from_millis(20);
    seq_config.batch.max_age = Duration::from_millis(200);
    seq_config.api.rate_per_second = 0;
    let devnet = Devnet::start(DevnetConfig {
        genesis_state_root: genesis_state(&seq_config).unwrap().state_root(),
        ..DevnetConfig::default()
    })
    .await;
    seq_config.rollup_address = *devnet.rollup.address();
    seq_config.l1 = Some(L1Config {
        confirmations: 2,
        poll_interval: Duration::from_millis(50),
        from_block: devnet.deploy_block,
        sequencer_key: Some(
            weft_protocol::signature::SigningKey::from_bytes(&devnet.keys[0]).unwrap(),
        ),
        ..L1Config::new(devnet.endpoint())
    });
    let seq = weft_sequencer::start(seq_config.clone()).await.unwrap();
    // L1 keeps making blocks (confirmations), as a chain with a block time does.
    let provider = devnet.provider.clone();
    let heartbeat = tokio::spawn(async move {
        loop {
            let _ = provider
                .raw_request::<_, Value>("anvil_mine".into(), (1,))
                .await;
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    });

    // The prover service, on the same genesis and dispute window.
    devnet
        .set_balance(devnet.prover.address(), U256::from(10).pow(U256::from(20)))
        .await;
    let prover_dir = tempfile::tempdir().unwrap();
    let prover = Prover::open(ProverConfig {
        l1_rpc: devnet.endpoint(),
        rollup_address: *devnet.rollup.address(),
        sequencer_url: format!("http://{}", seq.addr),
        prover_key: devnet.prover.clone(),
        data_dir: prover_dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        poll: Duration::from_millis(100),
        chain_id: seq_config.chain_id,
        dispute_window: WINDOW,
        dev_accounts: DEV_ACCOUNTS,
        dev_balance: seq_config.genesis.dev_balance,
    })
    .await
    .unwrap();
    let (stop_prover, stopped) = watch::channel(false);
    let prover_task = tokio::spawn(weft_prover_stub::service::run(prover.clone(), stopped));

    // Bob's funds arrive from L1 (the dev accounts' genesis balances have no L1 backing):
    // the rollup holds what his payout will claim.
    let bob_genesis = l2_balance(&seq, &key(1).address()).await;
    mined(
        devnet
            .rollup
            .depositETH(key(1).address())
            .value(U256::from(2 * DEPOSIT))
            .from(devnet.accounts[5]),
    )
    .await;
    wait_for("bob's deposit on L2", async || {
        l2_balance(&seq, &key(1).address()).await == bob_genesis + 2 * DEPOSIT
    })
    .await;

    let mut config = hub_config(&dir.path().join("hub"), &seq);
    config.key = key(HUB_ACCOUNT);
    // Locks fit in the short dispute window (at most the window less the reveal guard).
    config.locks.min_blocks = 1;
    config.locks.margin_blocks = 4;
    let hub = weft_channel_hub::start(config).await.unwrap();
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    let bob = wallet(1, &dir.path().join("bob"), &hub, &seq).await;
    let a = alice.open_channel(0, DEPOSIT).await.unwrap();
    let b = bob.open_channel(0, DEPOSIT).await.unwrap();
    let (mut to_bob, mut to_alice) = (0, 0);
    for i in 1..=40u128 {
        if i % 5 == 0 {
            pay_routed(&bob, &b, &alice, i).await;
            to_alice += i;
        } else {
            pay_routed(&alice, &a, &bob, i).await;
            to_bob += i;
        }
    }
    let (alice_owns, bob_owns) = (DEPOSIT - to_bob + to_alice, DEPOSIT + to_bob - to_alice);
    wait_for("both channels settled", async || {
        let (ca, cb) = (alice.channel(&a).unwrap(), bob.channel(&b).unwrap());
        ca.latest.locks.is_empty()
            && cb.latest.locks.is_empty()
            && ca.latest.balance_wallet == alice_owns
            && cb.latest.balance_wallet == bob_owns
    })
    .await;

    // Bob closes cooperatively; alice registers her funded state (version 2), which the
    // hub refutes with her latest; blocks go by until a watcher concludes it.
    let bob_before = l2_balance(&seq, &bob.address()).await;
    bob.close_channel(&b, true).await.unwrap();
    assert_eq!(
        l2_balance(&seq, &bob.address()).await,
        bob_before + bob_owns
    );
    let alice_latest = alice.channel(&a).unwrap().latest;
    let alice_before = l2_balance(&seq, &alice.address()).await;
    alice.register_on_rollup(&a, Some(2)).await.unwrap();
    let status =
        |seq: &weft_sequencer::Running| seq.node.state.read().channel(&a).unwrap().status.clone();
    wait_for("the hub's refutation", async || {
        matches!(status(&seq), ChannelStatus::Disputed { state, .. } if state == alice_latest)
    })
    .await;
    for _ in 0..WINDOW * 20 {
        if status(&seq) == ChannelStatus::Closed {
            break;
        }
        fill_block(&seq).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(status(&seq), ChannelStatus::Closed);
    assert_eq!(
        l2_balance(&seq, &alice.address()).await,
        alice_before + alice_owns
    );

    // Bob withdraws his channel's payout to L1.
    let recipient = Address::repeat_byte(0xb0);
    let rollup = RollupClient::new(&format!("http://{}", seq.addr));
    let bob_key = key(1);
    let (withdrawal, _) = rollup
        .sign_and_submit(&bob_key, &seq.node.domain, |nonce| {
            Transaction::Withdraw(Withdraw {
                from: bob_key.address(),
                l1_recipient: recipient,
                token: 0,
                amount: bob_owns,
                fee: 0,
                nonce,
            })
        })
        .await
        .unwrap();
    rollup
        .wait_executed(&withdrawal, Duration::from_secs(10))
        .await
        .unwrap();

    // Every batch up to the withdrawal's is committed, attested by the prover (which
    // re-executed the channel transactions to the same roots) and finalized.
    let head = seq.node.head.borrow().number;
    wait_for("every batch finalized on L1", async || {
        let Some(batch) = seq.node.store.latest_batch().await.unwrap() else {
            return false;
        };
        batch.commitment.to_block >= head
            && batch.status >= BatchStatus::Finalized
            && devnet.rollup.lastFinalized().call().await.unwrap() == batch.commitment.index
    })
    .await;
    // This prover attested every one of them (it counts once it has seen the receipt).
    let finalized = devnet.rollup.lastFinalized().call().await.unwrap();
    wait_for("the prover's count of attestations", async || {
        prover.metrics.attested.get() == finalized
    })
    .await;

    // The claim on L1 pays exactly the channel's payout.
    let w = get(&seq, &format!("/v1/transactions/{withdrawal}/withdrawal")).await;
    assert_eq!(w["batchStatus"], "finalized", "{w}");
    let proof: Vec<B256> = serde_json::from_value(w["proof"].clone()).unwrap();
    mined(
        devnet
            .rollup
            .withdraw(
                w["batchIndex"].as_u64().unwrap(),
                withdrawal,
                recipient,
                0,
                bob_owns,
                U256::from(w["leafIndex"].as_u64().unwrap()),
                proof,
            )
            .from(devnet.accounts[4]),
    )
    .await;
    assert_eq!(
        devnet.provider.get_balance(recipient).await.unwrap(),
        U256::from(bob_owns)
    );

    alice.close().await;
    bob.close().await;
    hub.stop().await.unwrap();
    stop_prover.send_replace(true);
    prover_task.await.unwrap().unwrap();
    heartbeat.abort();
    seq.stop().await.unwrap();
}

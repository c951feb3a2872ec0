//! Channels with the whole stack under them, every part its own process: anvil with the
//! L1 contracts, the sequencer posting its batches there, the prover re-executing and
//! attesting every batch (channel transactions included), the hub; two wallets in the test.
//!
//! Two wallets open channels and pay each other through the hub; one closes cooperatively,
//! the other registers a stale state that the hub refutes and that concludes after the
//! (short) dispute window. Every batch is committed on L1 and finalized only after the
//! prover agreed with it, and the closed channel's payout, withdrawn from the rollup, is
//! claimed on L1 to the wei (against the wallet's own deposit from L1).

mod common;

use std::time::Duration;

use alloy::{primitives::U256, providers::Provider};
use common::{channel, fill_block, pay_routed, wallet};
use weft_api::BatchStatus;
use weft_protocol::{
    channel::ChannelStatus,
    genesis::dev_key,
    primitives::{Address, Amount, B256},
    transaction::{Transaction, Withdraw},
};
use weft_tests::{HubOptions, L1Options, ProverOptions, SequencerOptions, Stack, mined};

/// The chain's dispute window here, in L2 blocks.
const WINDOW: u64 = 12;
/// Funded L2 dev accounts: the wallets are 0 and 1, the hub signs with 7.
const DEV_ACCOUNTS: u32 = 10;
const HUB_ACCOUNT: u32 = 7;
const DEPOSIT: Amount = 1_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_settle_through_attested_batches_and_a_payout_is_claimed_on_l1() {
    let stack = Stack::builder()
        .l1(L1Options::default())
        .sequencer(SequencerOptions {
            block_time: Duration::from_millis(20),
            dispute_window: Some(WINDOW),
            dev_accounts: DEV_ACCOUNTS,
            threads: 1,
            ..SequencerOptions::default()
        })
        .prover(ProverOptions::default())
        .hub(HubOptions {
            key: Some(dev_key(HUB_ACCOUNT)),
            // Locks fit in the short dispute window (at most the window less the reveal guard).
            args: ["--min-lock-blocks", "1", "--lock-margin-blocks", "4"]
                .map(String::from)
                .to_vec(),
            ..HubOptions::default()
        })
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let devnet = stack.l1();
    let domain = stack.domain().await;
    let wait = Duration::from_secs(15);

    // Bob's funds arrive from L1 (the dev accounts' genesis balances have no L1 backing):
    // the rollup holds what his payout will claim.
    let bob_key = dev_key(1);
    let bob_genesis = stack.l2_balance(&bob_key.address(), 0).await;
    mined(
        devnet
            .rollup
            .depositETH(bob_key.address())
            .value(U256::from(2 * DEPOSIT))
            .from(devnet.accounts[5]),
    )
    .await;
    stack
        .wait("bob's deposit on L2", wait, || async {
            (stack.l2_balance(&bob_key.address(), 0).await == bob_genesis + 2 * DEPOSIT)
                .then_some(())
        })
        .await;

    let alice = wallet(&stack, 0, &dir.path().join("alice")).await;
    let bob = wallet(&stack, 1, &dir.path().join("bob")).await;
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
    stack
        .wait("both channels settled", wait, || async {
            let (ca, cb) = (alice.channel(&a).unwrap(), bob.channel(&b).unwrap());
            (ca.latest.locks.is_empty()
                && cb.latest.locks.is_empty()
                && ca.latest.balance_wallet == alice_owns
                && cb.latest.balance_wallet == bob_owns)
                .then_some(())
        })
        .await;

    // Bob closes cooperatively; alice registers her funded state (version 2), which the
    // hub refutes with her latest; blocks go by until a watcher concludes it.
    let bob_before = stack.l2_balance(&bob.address(), 0).await;
    bob.close_channel(&b, true).await.unwrap();
    assert_eq!(
        stack.l2_balance(&bob.address(), 0).await,
        bob_before + bob_owns
    );
    let alice_latest = alice.channel(&a).unwrap().latest;
    let alice_before = stack.l2_balance(&alice.address(), 0).await;
    alice.register_on_rollup(&a, Some(2)).await.unwrap();
    let status = async || channel(&stack, &a).await.unwrap().status;
    stack
        .wait("the hub's refutation", wait, || async {
            matches!(status().await, ChannelStatus::Disputed { state, .. } if state == alice_latest)
                .then_some(())
        })
        .await;
    for _ in 0..WINDOW * 20 {
        if status().await == ChannelStatus::Closed {
            break;
        }
        fill_block(&stack).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(status().await, ChannelStatus::Closed);
    assert_eq!(
        stack.l2_balance(&alice.address(), 0).await,
        alice_before + alice_owns
    );

    // Bob withdraws his channel's payout to L1.
    let recipient = Address::repeat_byte(0xb0);
    let (withdrawal, _) = stack
        .api()
        .sign_and_submit(&bob_key, &domain, |nonce| {
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
    stack
        .api()
        .wait_executed(&withdrawal, Duration::from_secs(10))
        .await
        .unwrap();

    // Every batch up to the withdrawal's is committed, attested by the prover (which
    // re-executed the channel transactions to the same roots) and finalized.
    let head = stack.api().head().await.unwrap();
    let finalized = stack
        .wait(
            "every batch finalized on L1",
            Duration::from_secs(60),
            || async {
                let batch = stack.latest_batch().await?;
                let on_l1 = stack.rollup().lastFinalized().call().await.ok()?;
                (batch.commitment.to_block >= head
                    && batch.status >= BatchStatus::Finalized
                    && on_l1 == batch.commitment.index)
                    .then_some(on_l1)
            },
        )
        .await;
    // This prover attested every one of them (it counts once it has seen the receipt).
    stack
        .wait("the prover's count of attestations", wait, || async {
            (stack.prover_attested().await == finalized).then_some(())
        })
        .await;

    // The claim on L1 pays exactly the channel's payout.
    let (_, w) = stack
        .get(&format!("/v1/transactions/{withdrawal}/withdrawal"))
        .await;
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
}

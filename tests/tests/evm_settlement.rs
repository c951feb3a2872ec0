//! Contracts settled on L1, once with batches posted in blobs and once in calldata (issue
//! 14's "done when"): on a stack with the prover, a dApp deploys two ERC-20s and an AMM
//! pair over Weft's JSON-RPC (alloy's provider), adds liquidity and trades, and a `Vault`
//! contract withdraws to L1 for its user through the withdrawal predeploy. Every batch is
//! re-executed by the prover (read back from the beacon API when in blobs), attested and
//! finalized; the vault's withdrawal is claimed on L1 to the wei; and a rebuild from L1
//! alone reaches the sequencer's state root.

use std::time::Duration;

use alloy::{
    consensus::Transaction as _,
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use weft_api::BatchStatus;
use weft_protocol::{
    batch::Carrier,
    genesis::dev_key,
    testkit::evm::{Arg, calldata, init_code, token_init_code},
};
use weft_tests::{L1Options, ProverOptions, SequencerOptions, Stack, send_l2};

const ETHER: u128 = 1_000_000_000_000_000_000;

async fn settle(carrier: Carrier) {
    let stack = Stack::builder()
        .l1(L1Options::default())
        .sequencer(SequencerOptions {
            l1_da: carrier.as_str(),
            ..SequencerOptions::default()
        })
        .prover(ProverOptions::default())
        .start()
        .await;
    // L1 holds ETH to pay the withdrawal with (dev balances have no deposit behind them).
    let payer = stack.l1().accounts[4];
    stack.deposit_eth(payer, payer, ETHER).await;

    let key = dev_key(6);
    let me = key.address();
    let l2 = stack.l2_wallet(&key);
    let send = |to: Option<Address>, input: Bytes, value: u128| {
        let tx = TransactionRequest::default()
            .with_input(input)
            .with_value(U256::from(value));
        let tx = match to {
            Some(to) => tx.with_to(to),
            None => tx.into_create(),
        };
        let l2 = l2.clone();
        async move { send_l2(&l2, tx).await }
    };
    let (a, b, pair, vault) = (me.create(0), me.create(1), me.create(2), me.create(3));
    send(None, token_init_code("A", "A"), 0).await;
    send(None, token_init_code("B", "B"), 0).await;
    send(None, init_code("Pair"), 0).await;
    send(None, init_code("Vault"), 0).await;
    let call = |sig: &str, args: &[Arg]| calldata(sig, args);
    let liquidity = U256::from(1_000_000);
    send(
        Some(pair),
        call("initialize(address,address)", &[Arg::A(a), Arg::A(b)]),
        0,
    )
    .await;
    for token in [a, b] {
        let mint = call("mint(address,uint256)", &[Arg::A(pair), Arg::U(liquidity)]);
        send(Some(token), mint, 0).await;
    }
    send(Some(pair), call("mint(address)", &[Arg::A(me)]), 0).await;
    // A trade: 1,000 A in, 900 B out.
    let amount_in = call(
        "mint(address,uint256)",
        &[Arg::A(pair), Arg::U(U256::from(1_000))],
    );
    send(Some(a), amount_in, 0).await;
    let swap = call(
        "swap(uint256,uint256,address)",
        &[Arg::U(U256::ZERO), Arg::U(U256::from(900)), Arg::A(me)],
    );
    send(Some(pair), swap, 0).await;
    // The vault withdraws its user's deposit to L1 through the predeploy.
    let deposited = ETHER / 4;
    send(Some(vault), call("deposit()", &[]), deposited).await;
    let l1_recipient = Address::repeat_byte(0x4c);
    let withdrawal = send(
        Some(vault),
        call("withdrawTo(address)", &[Arg::A(l1_recipient)]),
        0,
    )
    .await;

    let covered = stack.wait_all_committed(Duration::from_secs(60)).await;
    let last = stack
        .wait_batch_status(covered, BatchStatus::Finalized)
        .await;
    // Every batch went the configured way: its commit on L1 carries blobs or not.
    for index in 1..=covered {
        let batch = stack.api().batch(index).await.unwrap().unwrap();
        let commit = batch.l1.commit_l1_tx.expect("committed");
        let sent = stack
            .l1()
            .provider
            .get_transaction_by_hash(commit)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            sent.blob_versioned_hashes().is_some(),
            carrier == Carrier::Blobs,
            "batch {index} in {carrier:?}"
        );
    }
    let tx: B256 = withdrawal.transaction_hash;
    stack.claim(&tx, payer).await;
    assert_eq!(
        stack.l1().provider.get_balance(l1_recipient).await.unwrap(),
        U256::from(deposited)
    );
    assert_eq!(
        stack.rebuild_from_l1("rebuilt"),
        last.commitment.new_state_root,
        "the state rebuilt from L1 alone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contracts_settle_with_batches_in_blobs() {
    settle(Carrier::Blobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contracts_settle_with_batches_in_calldata() {
    settle(Carrier::Calldata).await;
}

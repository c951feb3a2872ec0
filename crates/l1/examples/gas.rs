//! Gas used by each call of the L1 contracts, measured on anvil (`make gas`).
//!
//! Prints one table: the queue calls, `commitBatch` at several DA payload sizes,
//! `proveBatch` (with and without a finalization delay), `finalizeBatch`, `withdraw` at
//! several withdrawals-tree depths, and the exodus calls with an account proof from a real
//! protocol state. Then the two DA carriers side by side: the same payloads committed with
//! `commitBatch` (calldata) and `commitBatchBlobs` (blobs), what each cost at anvil's
//! fees, per transfer at the DA codec's measured bytes per transfer, and the payload size
//! from which blobs are cheaper at several blob-fee levels.

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::Provider,
    rpc::types::TransactionReceipt,
};
use weft_l1::{
    QueueChain,
    exodus::exodus_withdraw_call,
    testkit::{Devnet, DevnetConfig, mined, next_batch},
};
use weft_protocol::{
    execution::{BlockEnv, BlockExecutor, SequentialExecutor, Withdrawal},
    merkle::{proof_of, root_of},
    state::State,
    transaction::{Deposit, Transaction},
};

fn row(call: &str, case: &str, receipt: &TransactionReceipt) {
    println!("| {call} | {case} | {} |", receipt.gas_used);
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    println!("| call | case | gas used |\n|---|---|---:|");
    queue_and_batches().await;
    withdrawals().await;
    exodus().await;
    carriers().await;
}

/// Bytes of DA payload per native transfer on random traffic (`cargo bench -p
/// weft-protocol --bench da`).
const BYTES_PER_TRANSFER: f64 = 4.52;

/// What one commit used: gas and blob gas.
struct Cost {
    gas: u64,
    blob_gas: u64,
}

impl From<&TransactionReceipt> for Cost {
    fn from(r: &TransactionReceipt) -> Self {
        Self {
            gas: r.gas_used,
            blob_gas: r.blob_gas_used.unwrap_or_default(),
        }
    }
}

/// `commitBatch` against `commitBatchBlobs` with the same payloads on one anvil.
async fn carriers() {
    let dev = Devnet::start(DevnetConfig::default()).await;
    let mut prev = dev.genesis_batch();
    // One price for every row (anvil's base fee drifts from block to block).
    let base_fee = dev.provider.get_gas_price().await.unwrap();
    let blob_fee = dev.provider.get_blob_base_fee().await.unwrap();
    let fee = |c: &Cost| u128::from(c.gas) * base_fee + u128::from(c.blob_gas) * blob_fee;
    let sizes = [1_024usize, 10 * 1_024, 100 * 1_024, 120 * 1_024];
    println!(
        "\n| payload | transfers (at {BYTES_PER_TRANSFER} B) | calldata: gas | fee (wei) | per transfer | \
         blobs: gas | blob gas | fee (wei) | per transfer |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let mut measured = Vec::new();
    for (i, len) in sizes.into_iter().enumerate() {
        // Compressed payloads are nearly all non-zero bytes.
        let da: Bytes = (0..len).map(|j| (j * 7 + i) as u8 | 1).collect();
        let root = |k: u8| keccak256([i as u8, k]);
        let c = next_batch(&prev, 1, root(0), B256::ZERO, (0, B256::ZERO), &da);
        let calldata = Cost::from(&dev.commit(&c, &da).await);
        let mut b = next_batch(&c, 1, root(1), B256::ZERO, (0, B256::ZERO), &da);
        let blobs = Cost::from(&dev.commit_blobs(&mut b, &da).await);
        prev = b;
        let transfers = len as f64 / BYTES_PER_TRANSFER;
        println!(
            "| {len} B | {transfers:.0} | {} | {} | {:.0} | {} | {} | {} | {:.0} |",
            calldata.gas,
            fee(&calldata),
            fee(&calldata) as f64 / transfers,
            blobs.gas,
            blobs.blob_gas,
            fee(&blobs),
            fee(&blobs) as f64 / transfers
        );
        measured.push((len, calldata, blobs));
    }
    // A commit's calldata gas is the larger of execution + 16 per payload byte (the blob
    // commit's gas is that execution without the payload) and EIP-7623's floor, affine in
    // the payload (fitted on the floor-bound 10 KiB and 100 KiB rows); a blob commit adds
    // 131,072 blob gas per blob.
    let (small, large) = (&measured[1], &measured[2]);
    let per_byte = (large.1.gas - small.1.gas) as f64 / (large.0 - small.0) as f64;
    let floor_fixed = small.1.gas as f64 - per_byte * small.0 as f64;
    let blob_exec = measured.iter().map(|m| m.2.gas).max().unwrap_or_default() as f64;
    println!(
        "\nFees at anvil's gas price {base_fee} wei and blob base fee {blob_fee} wei. Calldata \
         commit: max({blob_exec:.0} + 16 gas per byte, {floor_fixed:.0} + {per_byte:.1} gas per \
         byte); blob commit: {blob_exec:.0} gas + 131,072 blob gas per blob.\n\n\
         | blob base fee / base fee | blobs cheaper from |\n|---:|---:|"
    );
    for ratio in [blob_fee as f64 / base_fee as f64, 0.01, 0.1, 1.0, 10.0] {
        // The smallest payload whose calldata gas exceeds the blob commit's gas plus one
        // blob's blob gas (in base-fee units).
        let extra = 131_072.0 * ratio;
        let standard = extra / 16.0;
        let floor = (extra + blob_exec - floor_fixed) / per_byte;
        let bytes = standard.min(floor).max(0.0).ceil();
        let at = if bytes > weft_protocol::da::blob::BLOB_CAPACITY as f64 {
            "never within one blob".to_owned()
        } else {
            format!("{bytes:.0} B ({:.0} transfers)", bytes / BYTES_PER_TRANSFER)
        };
        println!("| {ratio:.2e} | {at} |");
    }
}

async fn queue_and_batches() {
    let dev = Devnet::start(DevnetConfig::default()).await;
    let rollup = &dev.rollup;
    let user = dev.accounts[1];
    row(
        "depositETH",
        "first deposit of ETH",
        &mined(rollup.depositETH(user).value(U256::from(1)).from(user)).await,
    );
    row(
        "depositETH",
        "",
        &mined(rollup.depositETH(user).value(U256::from(1)).from(user)).await,
    );
    mined(dev.token.mint(user, U256::from(100u64))).await;
    mined(dev.token.approve(*rollup.address(), U256::MAX).from(user)).await;
    let token = *dev.token.address();
    row(
        "depositERC20",
        "first deposit of the token (registers it)",
        &mined(rollup.depositERC20(token, 1, user).from(user)).await,
    );
    row(
        "depositERC20",
        "",
        &mined(rollup.depositERC20(token, 1, user).from(user)).await,
    );
    row(
        "forceWithdraw",
        "",
        &mined(rollup.forceWithdraw(0).from(user)).await,
    );

    let head = rollup.queueHashes(U256::from(5)).call().await.unwrap();
    let mut prev = dev.genesis_batch();
    for (i, len) in [0usize, 1_024, 10 * 1_024, 100 * 1_024]
        .into_iter()
        .enumerate()
    {
        let da: Bytes = (0..len).map(|j| (j * 7 + i) as u8 | 1).collect();
        let c = next_batch(&prev, 10, keccak256([i as u8]), B256::ZERO, (5, head), &da);
        row(
            "commitBatch",
            &format!(
                "{len} B payload{}",
                if i == 0 {
                    ", batch 1 (first write of the counters)"
                } else {
                    ""
                }
            ),
            &dev.commit(&c, &da).await,
        );
        let proven = dev.prove(&c).await;
        if i == 0 {
            row("proveBatch", "finalizes at once (delay 0)", &proven);
        }
        prev = c;
    }

    let dev = Devnet::start(DevnetConfig {
        finalization_delay: 60,
        ..Default::default()
    })
    .await;
    let da = Bytes::from_static(b"x");
    let c = next_batch(
        &dev.genesis_batch(),
        1,
        keccak256(b"root"),
        B256::ZERO,
        (0, B256::ZERO),
        &da,
    );
    dev.commit(&c, &da).await;
    row(
        "proveBatch",
        "with a finalization delay",
        &dev.prove(&c).await,
    );
    dev.increase_time(60).await;
    row(
        "finalizeBatch",
        "",
        &mined(dev.rollup.finalizeBatch(1)).await,
    );
}

async fn withdrawals() {
    let dev = Devnet::start(DevnetConfig::default()).await;
    let rollup = &dev.rollup;
    let user = dev.accounts[1];
    mined(
        rollup
            .depositETH(user)
            .value(U256::from(1_000_000u64))
            .from(user),
    )
    .await;
    mined(dev.token.mint(user, U256::from(1_000_000u64))).await;
    mined(dev.token.approve(*rollup.address(), U256::MAX).from(user)).await;
    mined(
        rollup
            .depositERC20(*dev.token.address(), 1_000_000, user)
            .from(user),
    )
    .await;
    let head = rollup.queueHashes(U256::from(2)).call().await.unwrap();

    let mut prev = dev.genesis_batch();
    for (i, count) in [1usize, 16, 1_024, 65_536].into_iter().enumerate() {
        let claims: Vec<(B256, Withdrawal)> = (0..count)
            .map(|j| {
                (
                    keccak256(format!("{i}/{j}")),
                    Withdrawal {
                        recipient: Address::from_word(keccak256(format!("recipient {i}/{j}"))),
                        token: (j % 2) as u32,
                        amount: 1,
                    },
                )
            })
            .collect();
        let leaves: Vec<B256> = claims.iter().map(|(h, w)| w.leaf(h)).collect();
        let da = Bytes::from_static(b"w");
        let c = next_batch(
            &prev,
            1,
            keccak256([i as u8]),
            root_of(&leaves),
            (2, head),
            &da,
        );
        dev.commit(&c, &da).await;
        dev.prove(&c).await;
        for (j, (tx_hash, w)) in claims.iter().enumerate().take(2) {
            let proof = proof_of(&leaves, j).unwrap();
            let depth = proof.len();
            let receipt = mined(rollup.withdraw(
                c.index,
                *tx_hash,
                w.recipient,
                w.token,
                w.amount,
                U256::from(j),
                proof,
            ))
            .await;
            let asset = if w.token == 0 { "ETH" } else { "ERC-20" };
            row(
                "withdraw",
                &format!("{asset} to a fresh recipient, proof of {depth} siblings"),
                &receipt,
            );
        }
        prev = c;
    }
}

async fn exodus() {
    let dev = Devnet::start(DevnetConfig::default()).await;
    let domain = dev.domain();
    let rollup = &dev.rollup;
    let user = dev.accounts[1];
    let alice = Address::repeat_byte(0xa1);
    mined(
        rollup
            .depositETH(alice)
            .value(U256::from(1_000u64))
            .from(user),
    )
    .await;
    mined(dev.token.mint(user, U256::from(1_000u64))).await;
    mined(dev.token.approve(*rollup.address(), U256::MAX).from(user)).await;
    mined(
        rollup
            .depositERC20(*dev.token.address(), 1_000, alice)
            .from(user),
    )
    .await;
    mined(rollup.depositETH(user).value(U256::from(5u64)).from(user)).await;
    mined(rollup.forceWithdraw(0).from(user)).await;

    let deposits = [(0u64, 0u32, 1_000u128), (1, 1, 1_000)].map(|(i, token, amount)| {
        Transaction::Deposit(Deposit {
            queue_index: i,
            to: alice,
            token,
            amount,
        })
    });
    let mut chain = QueueChain::new();
    for d in &deposits {
        chain.push(d, &domain);
    }
    let mut state = State::new();
    let env = BlockEnv {
        number: 1,
        timestamp: 1,
        fee_recipient: Address::repeat_byte(0xfe),
        domain,
        dispute_window: weft_protocol::channel::DEFAULT_DISPUTE_WINDOW,
        gas_limit: weft_protocol::evm::DEFAULT_BLOCK_GAS_LIMIT,
        base_fee: weft_protocol::evm::DEFAULT_MIN_BASE_FEE,
    };
    let txs: Vec<_> = deposits
        .iter()
        .map(|d| d.clone().assume_verified(&domain))
        .collect();
    let out = SequentialExecutor
        .execute_block(&mut state, &env, &txs)
        .unwrap();
    let da = Bytes::from_static(b"e");
    let c = next_batch(
        &dev.genesis_batch(),
        1,
        out.state_root,
        out.withdrawals_root,
        (2, chain.hash_at(2).unwrap()),
        &da,
    );
    dev.commit(&c, &da).await;
    dev.prove(&c).await;
    dev.increase_time(dev.config.forced_withdrawal_deadline + 1)
        .await;
    row("activateExodus", "", &mined(rollup.activateExodus(3)).await);
    let proof = state
        .account_proof(state.index_of(&alice).unwrap())
        .unwrap();
    row(
        "exodusWithdraw",
        "ETH, account with 2 balances, 32 siblings",
        &mined(rollup.call_builder(&exodus_withdraw_call(&proof, 0))).await,
    );
    row(
        "exodusWithdraw",
        "ERC-20, account with 2 balances, 32 siblings",
        &mined(rollup.call_builder(&exodus_withdraw_call(&proof, 1))).await,
    );
    row(
        "refundDeposit",
        "ETH",
        &mined(rollup.refundDeposit(2)).await,
    );
}

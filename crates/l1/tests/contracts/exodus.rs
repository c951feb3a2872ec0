//! Exodus: freezing when a forced withdrawal is ignored, account-proof withdrawals against
//! the last finalized state, deposit refunds, and everything a frozen contract refuses.
//!
//! The finalized state is real: the L1 deposits are executed on L2 by the protocol's
//! sequential executor (queue entries as L2 transactions), and the resulting state root,
//! withdrawals root and queue position are what batch 1 commits.

use alloy::primitives::{Address, B256, U256};
use weft_l1::{
    QueueChain, Rollup,
    Rollup::RollupErrors as E,
    exodus::exodus_withdraw_call,
    testkit::{Devnet, DevnetConfig, mined, next_batch},
};
use weft_protocol::{
    execution::{BlockEnv, BlockExecutor, SequentialExecutor},
    merkle::proof_of,
    signature::SigningKey,
    state::State,
    transaction::{Deposit, ForcedWithdraw, Transaction, Withdraw},
};

use crate::common::{call_reverts, payload, reverts, some_root};

const ETHER: u128 = 1_000_000_000_000_000_000;
const DEADLINE: u64 = 3_600;

#[tokio::test]
async fn exodus_pays_the_last_finalized_state_and_refunds_unconsumed_deposits() {
    let dev = Devnet::start(DevnetConfig {
        forced_withdrawal_deadline: DEADLINE,
        ..Default::default()
    })
    .await;
    let domain = dev.domain();
    let rollup = &dev.rollup;
    let (depositor, bob, relayer) = (dev.accounts[1], dev.accounts[2], dev.accounts[5]);
    // Alice is an L2 key with a fresh L1 address: exodus pays there, so balances are exact.
    let alice = SigningKey::from_seed(b"alice");
    let l1_recipient = Address::repeat_byte(0x77);
    let token = *dev.token.address();

    // Queue: 0: 3 ETH to alice, 1: 500 tokens to alice, 2: 1 ETH to bob, 3: bob forces.
    mined(
        rollup
            .depositETH(alice.address())
            .value(U256::from(3 * ETHER))
            .from(depositor),
    )
    .await;
    mined(dev.token.mint(depositor, U256::from(500u64))).await;
    mined(
        dev.token
            .approve(*rollup.address(), U256::MAX)
            .from(depositor),
    )
    .await;
    mined(
        rollup
            .depositERC20(token, 500, alice.address())
            .from(depositor),
    )
    .await;
    mined(rollup.depositETH(bob).value(U256::from(ETHER)).from(bob)).await;
    mined(rollup.forceWithdraw(0).from(bob)).await;
    let queue = [
        Transaction::Deposit(Deposit {
            queue_index: 0,
            to: alice.address(),
            token: 0,
            amount: 3 * ETHER,
        }),
        Transaction::Deposit(Deposit {
            queue_index: 1,
            to: alice.address(),
            token: 1,
            amount: 500,
        }),
        Transaction::Deposit(Deposit {
            queue_index: 2,
            to: bob,
            token: 0,
            amount: ETHER,
        }),
        Transaction::ForcedWithdraw(ForcedWithdraw {
            queue_index: 3,
            account: bob,
            token: 0,
        }),
    ];
    let mut chain = QueueChain::new();
    for tx in &queue {
        chain.push(tx, &domain);
    }
    assert_eq!(
        rollup.queueHashes(U256::from(4)).call().await.unwrap(),
        *chain.head()
    );

    // L2 block 1: the first two deposits, then alice withdraws 1 ETH.
    let mut state = State::new();
    assert_eq!(state.state_root(), dev.config.genesis_state_root);
    let withdraw = Transaction::Withdraw(Withdraw {
        from: alice.address(),
        l1_recipient,
        token: 0,
        amount: ETHER,
        fee: 0,
        nonce: 0,
    })
    .sign(&alice, &domain)
    .verify(&domain)
    .unwrap();
    let txs = vec![
        queue[0].clone().assume_verified(&domain),
        queue[1].clone().assume_verified(&domain),
        withdraw.clone(),
    ];
    let env = BlockEnv {
        number: 1,
        timestamp: 1,
        fee_recipient: Address::repeat_byte(0xfe),
        domain,
        dispute_window: weft_protocol::channel::DEFAULT_DISPUTE_WINDOW,
        gas_limit: weft_protocol::evm::DEFAULT_BLOCK_GAS_LIMIT,
        base_fee: weft_protocol::evm::DEFAULT_MIN_BASE_FEE,
    };
    let out = SequentialExecutor
        .execute_block(&mut state, &env, &txs)
        .unwrap();
    assert!(out.receipts.iter().all(|r| r.is_success()));
    assert_eq!(out.queue_position, 2);

    // Batch 1 commits that state; it is proven and finalized at once.
    let da = payload(200, 7);
    let c1 = next_batch(
        &dev.genesis_batch(),
        1,
        out.state_root,
        out.withdrawals_root,
        (2, chain.hash_at(2).unwrap()),
        &da,
    );
    dev.commit(&c1, &da).await;
    dev.prove(&c1).await;

    // Not frozen yet: no exodus payouts, no refunds.
    let alice_index = state.index_of(&alice.address()).unwrap();
    let proof = state.account_proof(alice_index).unwrap();
    assert!(proof.verify(&out.state_root));
    let exodus_eth = exodus_withdraw_call(&proof, 0);
    assert_eq!(
        reverts(rollup.call_builder(&exodus_eth)).await,
        E::NotFrozen(Rollup::NotFrozen {})
    );
    assert_eq!(
        reverts(rollup.refundDeposit(2)).await,
        E::NotFrozen(Rollup::NotFrozen {})
    );

    // Exodus: not for a deposit, not for a missing entry, not before the deadline.
    assert_eq!(
        reverts(rollup.activateExodus(2)).await,
        E::NotAForcedWithdrawal(Rollup::NotAForcedWithdrawal { queueIndex: 2 })
    );
    assert_eq!(
        reverts(rollup.activateExodus(4)).await,
        E::QueueIndexOutOfRange(Rollup::QueueIndexOutOfRange { queueIndex: 4 })
    );
    let deadline = rollup.queueEntry(3).call().await.unwrap().deadline;
    assert_eq!(
        reverts(rollup.activateExodus(3)).await,
        E::DeadlineNotPassed(Rollup::DeadlineNotPassed { deadline })
    );
    dev.increase_time(DEADLINE + 1).await;
    let receipt = mined(rollup.activateExodus(3).from(relayer)).await;
    assert_eq!(
        receipt
            .decoded_log::<Rollup::ExodusActivated>()
            .unwrap()
            .data,
        Rollup::ExodusActivated { queueIndex: 3 }
    );
    assert!(rollup.frozen().call().await.unwrap());

    // Frozen: no batches, no queue entries, no second freeze.
    let c2 = next_batch(&c1, 1, some_root(2), B256::ZERO, (4, *chain.head()), &da);
    let frozen = E::Frozen(Rollup::Frozen {});
    assert_eq!(
        reverts(rollup.commitBatch(c2.clone(), da.clone())).await,
        frozen
    );
    assert_eq!(
        reverts(rollup.proveBatch(2, dev.attestation(&c2))).await,
        frozen
    );
    assert_eq!(reverts(rollup.finalizeBatch(2)).await, frozen);
    assert_eq!(
        reverts(rollup.depositETH(bob).value(U256::from(1)).from(bob)).await,
        frozen
    );
    assert_eq!(
        reverts(rollup.depositERC20(token, 1, bob).from(depositor)).await,
        frozen
    );
    assert_eq!(reverts(rollup.forceWithdraw(0).from(bob)).await, frozen);
    assert_eq!(reverts(rollup.activateExodus(3)).await, frozen);
    assert_eq!(reverts(rollup.revertBatches(2)).await, frozen);

    // The finalized batch's withdrawal is still claimable.
    let leaf_index = 0;
    mined(rollup.withdraw(
        1,
        withdraw.hash,
        l1_recipient,
        0,
        ETHER,
        U256::from(leaf_index),
        proof_of(&out.withdrawal_leaves, leaf_index).unwrap(),
    ))
    .await;
    assert_eq!(dev.eth_balance(l1_recipient).await, U256::from(ETHER));

    // Alice takes out her ETH (3 deposited - 1 withdrawn) and her tokens, once each; anyone
    // may submit, she is paid.
    let receipt = mined(rollup.call_builder(&exodus_eth).from(relayer)).await;
    assert_eq!(
        receipt
            .decoded_log::<Rollup::ExodusWithdrawn>()
            .unwrap()
            .data,
        Rollup::ExodusWithdrawn {
            account: alice.address(),
            token: 0,
            amount: 2 * ETHER
        }
    );
    assert_eq!(
        dev.eth_balance(alice.address()).await,
        U256::from(2 * ETHER)
    );
    mined(rollup.call_builder(&exodus_withdraw_call(&proof, 1))).await;
    assert_eq!(dev.token_balance(alice.address()).await, U256::from(500));
    for token in [0, 1] {
        assert_eq!(
            reverts(rollup.call_builder(&exodus_withdraw_call(&proof, token))).await,
            E::AlreadyClaimed(Rollup::AlreadyClaimed {
                account: alice.address(),
                token
            })
        );
    }

    // Bob's deposit was never consumed by a finalized batch: refunded to its L1 depositor.
    let before = dev.eth_balance(bob).await;
    let receipt = mined(rollup.refundDeposit(2).from(relayer)).await;
    assert_eq!(
        receipt
            .decoded_log::<Rollup::DepositRefunded>()
            .unwrap()
            .data,
        Rollup::DepositRefunded {
            queueIndex: 2,
            depositor: bob,
            token: 0,
            amount: ETHER
        }
    );
    assert_eq!(dev.eth_balance(bob).await, before + U256::from(ETHER));
    assert_eq!(
        reverts(rollup.refundDeposit(2)).await,
        E::AlreadyRefunded(Rollup::AlreadyRefunded { queueIndex: 2 })
    );
    assert_eq!(
        reverts(rollup.refundDeposit(0)).await,
        E::DepositConsumed(Rollup::DepositConsumed { queueIndex: 0 })
    );
    assert_eq!(
        reverts(rollup.refundDeposit(3)).await,
        E::NotADeposit(Rollup::NotADeposit { queueIndex: 3 })
    );
    assert_eq!(
        reverts(rollup.refundDeposit(9)).await,
        E::QueueIndexOutOfRange(Rollup::QueueIndexOutOfRange { queueIndex: 9 })
    );
    // Every wei is accounted for: 1 withdrawn + 2 exodus + 1 refunded of 4 deposited.
    assert_eq!(dev.eth_balance(*rollup.address()).await, U256::ZERO);
    assert_eq!(dev.token_balance(*rollup.address()).await, U256::ZERO);
    // And the supply the cap bounds followed every payout down to nothing.
    for token in [0, 1] {
        assert_eq!(rollup.outstanding(token).call().await.unwrap(), U256::ZERO);
    }
}

#[tokio::test]
async fn exodus_rejects_altered_account_proofs() {
    let dev = Devnet::start(DevnetConfig::default()).await;
    let domain = dev.domain();
    let rollup = &dev.rollup;
    let (depositor, alice) = (dev.accounts[1], dev.accounts[2]);

    // L2 holds alice's 5 wei and a forced withdrawal nobody serves.
    mined(
        rollup
            .depositETH(alice)
            .value(U256::from(5))
            .from(depositor),
    )
    .await;
    mined(rollup.forceWithdraw(0).from(alice)).await;
    let deposit = Transaction::Deposit(Deposit {
        queue_index: 0,
        to: alice,
        token: 0,
        amount: 5,
    });
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
    let out = SequentialExecutor
        .execute_block(
            &mut state,
            &env,
            &[deposit.clone().assume_verified(&domain)],
        )
        .unwrap();
    let mut chain = QueueChain::new();
    chain.push(&deposit, &domain);
    let da = payload(1, 1);
    let c1 = next_batch(
        &dev.genesis_batch(),
        1,
        out.state_root,
        out.withdrawals_root,
        (1, chain.hash_at(1).unwrap()),
        &da,
    );
    dev.commit(&c1, &da).await;
    dev.prove(&c1).await;
    dev.increase_time(dev.config.forced_withdrawal_deadline + 1)
        .await;
    mined(rollup.activateExodus(1)).await;

    let index = state.index_of(&alice).unwrap();
    let proof = state.account_proof(index).unwrap();
    let invalid = E::InvalidProof(Rollup::InvalidProof {});
    let honest = exodus_withdraw_call(&proof, 0);
    let mut cases: Vec<(&str, Rollup::exodusWithdrawCall)> = Vec::new();
    let mut c = honest.clone();
    c.balances[0].amount += 1;
    cases.push(("inflated balance", c));
    let mut c = honest.clone();
    c.nonce += 1;
    cases.push(("nonce", c));
    let mut c = honest.clone();
    c.account = dev.accounts[3];
    cases.push(("another account", c));
    let mut c = honest.clone();
    c.accountIndex ^= 1;
    cases.push(("another index", c));
    let mut c = honest.clone();
    c.accountIndex ^= 1 << 4;
    cases.push(("another position in the partition", c));
    let mut c = honest.clone();
    c.siblings[31].0[0] ^= 1;
    cases.push(("partition-root sibling", c));
    let mut c = honest.clone();
    c.siblings[0].0[31] ^= 0x80;
    cases.push(("leaf sibling", c));
    let mut c = honest.clone();
    c.siblings.pop();
    cases.push(("short path", c));
    let mut c = honest.clone();
    c.tokensHash.0[5] ^= 1;
    cases.push(("tokens hash", c));
    let mut c = honest.clone();
    c.queuePosition += 1;
    cases.push(("queue position", c));
    let mut c = honest.clone();
    c.balances.push(Rollup::Balance {
        token: 1,
        amount: 1,
    });
    cases.push(("extra balance", c));
    for (what, call) in &cases {
        assert_eq!(
            call_reverts(rollup.call_builder(call)).await,
            invalid,
            "{what}"
        );
    }
    // A token the account does not hold.
    assert_eq!(
        reverts(rollup.call_builder(&exodus_withdraw_call(&proof, 1))).await,
        E::NothingToWithdraw(Rollup::NothingToWithdraw {})
    );
    let before = dev.eth_balance(alice).await;
    mined(rollup.call_builder(&honest).from(depositor)).await;
    assert_eq!(dev.eth_balance(alice).await, before + U256::from(5));
}

#[tokio::test]
async fn exodus_is_refused_once_the_forced_withdrawal_is_served() {
    let dev = Devnet::start(DevnetConfig::default()).await;
    let rollup = &dev.rollup;
    let bob = dev.accounts[2];
    mined(rollup.forceWithdraw(0).from(bob)).await;
    mined(rollup.forceWithdraw(0).from(bob)).await;
    let da = payload(8, 8);
    // Batch 1 consumes entry 0 and is finalized; entry 1 stays queued.
    let queue_hash = rollup.queueHashes(U256::from(1)).call().await.unwrap();
    let c1 = next_batch(
        &dev.genesis_batch(),
        1,
        some_root(1),
        B256::ZERO,
        (1, queue_hash),
        &da,
    );
    dev.commit(&c1, &da).await;
    dev.prove(&c1).await;
    dev.increase_time(dev.config.forced_withdrawal_deadline + 1)
        .await;
    assert_eq!(
        reverts(rollup.activateExodus(0)).await,
        E::ForcedWithdrawalServed(Rollup::ForcedWithdrawalServed { queueIndex: 0 })
    );
    // Entry 1 was not served in time: exodus.
    mined(rollup.activateExodus(1)).await;
    assert!(rollup.frozen().call().await.unwrap());
}

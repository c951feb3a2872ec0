//! Deposits and forced withdrawals: events, the queue hash chain, token ids, the supply cap.

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
};
use weft_l1::{
    QueueChain, Rollup,
    Rollup::RollupErrors as E,
    testkit::{Devnet, DevnetConfig, mined},
};
use weft_protocol::transaction::{Deposit, ForcedWithdraw, Transaction};

use crate::common::reverts;

const ETHER: u128 = 1_000_000_000_000_000_000;

#[tokio::test]
async fn queue_entries_chain_the_l2_transaction_hashes() {
    let dev = Devnet::start(DevnetConfig::default()).await;
    let domain = dev.domain();
    let rollup = &dev.rollup;
    assert_eq!(
        rollup.domainSeparator().call().await.unwrap(),
        domain.separator()
    );
    let (alice, bob) = (dev.accounts[1], dev.accounts[2]);
    let l2_alice = Address::repeat_byte(0xa1);
    let mut chain = QueueChain::new();

    // ETH, token 0.
    let receipt = mined(
        rollup
            .depositETH(l2_alice)
            .value(U256::from(ETHER))
            .from(alice),
    )
    .await;
    let tx = Transaction::Deposit(Deposit {
        queue_index: 0,
        to: l2_alice,
        token: 0,
        amount: ETHER,
    });
    let head = chain.push(&tx, &domain);
    let event = receipt.decoded_log::<Rollup::QueueEntry>().unwrap().data;
    assert_eq!(
        event,
        Rollup::QueueEntry {
            queueIndex: 0,
            kind: 0,
            account: l2_alice,
            token: 0,
            amount: ETHER,
            entryHash: tx.hash(&domain),
            queueHash: head,
        }
    );

    // The first ERC-20 deposit registers the token as id 1; the second reuses it.
    let token = *dev.token.address();
    mined(dev.token.mint(alice, U256::from(1_000u64))).await;
    mined(dev.token.approve(*rollup.address(), U256::MAX).from(alice)).await;
    let receipt = mined(rollup.depositERC20(token, 300, l2_alice).from(alice)).await;
    assert_eq!(
        receipt
            .decoded_log::<Rollup::TokenRegistered>()
            .unwrap()
            .data,
        Rollup::TokenRegistered { token, id: 1 }
    );
    let receipt = mined(rollup.depositERC20(token, 200, bob).from(alice)).await;
    assert!(receipt.decoded_log::<Rollup::TokenRegistered>().is_none());
    for (index, to, amount) in [(1u64, l2_alice, 300u128), (2, bob, 200)] {
        chain.push(
            &Transaction::Deposit(Deposit {
                queue_index: index,
                to,
                token: 1,
                amount,
            }),
            &domain,
        );
    }
    assert_eq!(rollup.tokenIdOf(token).call().await.unwrap(), 1);
    assert_eq!(rollup.tokens(U256::from(1)).call().await.unwrap(), token);
    assert_eq!(rollup.tokenCount().call().await.unwrap(), 2);

    // A forced withdrawal records its deadline.
    let receipt = mined(rollup.forceWithdraw(1).from(bob)).await;
    let tx = Transaction::ForcedWithdraw(ForcedWithdraw {
        queue_index: 3,
        account: bob,
        token: 1,
    });
    let head = chain.push(&tx, &domain);
    let event = receipt.decoded_log::<Rollup::QueueEntry>().unwrap().data;
    assert_eq!((event.kind, event.account, event.token), (1, bob, 1));
    assert_eq!((event.entryHash, event.queueHash), (tx.hash(&domain), head));
    let block = dev
        .provider
        .get_block_by_number(receipt.block_number.unwrap().into())
        .await
        .unwrap()
        .unwrap();
    let entry = rollup.queueEntry(3).call().await.unwrap();
    assert_eq!(
        entry,
        Rollup::QueueRecord {
            account: bob,
            token: 1,
            deadline: block.header.timestamp + dev.config.forced_withdrawal_deadline,
            amount: 0,
        }
    );
    let entry = rollup.queueEntry(2).call().await.unwrap();
    assert_eq!(
        (entry.account, entry.deadline, entry.amount),
        (alice, 0, 200)
    );

    // The contract's chain is the Rust chain at every position.
    assert_eq!(rollup.queueLength().call().await.unwrap(), chain.len());
    for i in 0..=chain.len() {
        assert_eq!(
            rollup.queueHashes(U256::from(i)).call().await.unwrap(),
            chain.hash_at(i).unwrap()
        );
    }
    assert_eq!(
        rollup.outstanding(0).call().await.unwrap(),
        U256::from(ETHER)
    );
    assert_eq!(rollup.outstanding(1).call().await.unwrap(), U256::from(500));
    assert_eq!(dev.eth_balance(*rollup.address()).await, U256::from(ETHER));
    assert_eq!(dev.token_balance(*rollup.address()).await, U256::from(500));
}

#[tokio::test]
async fn zero_and_malformed_queue_entries_revert() {
    let dev = Devnet::start(DevnetConfig::default()).await;
    let rollup = &dev.rollup;
    let alice = dev.accounts[1];
    let token = *dev.token.address();
    assert_eq!(
        reverts(rollup.depositETH(alice).from(alice)).await,
        E::ZeroAmount(Rollup::ZeroAmount {})
    );
    assert_eq!(
        reverts(rollup.depositERC20(token, 0, alice).from(alice)).await,
        E::ZeroAmount(Rollup::ZeroAmount {})
    );
    assert_eq!(
        reverts(
            rollup
                .depositETH(Address::ZERO)
                .value(U256::from(1))
                .from(alice)
        )
        .await,
        E::ZeroAddress(Rollup::ZeroAddress {})
    );
    // An account without code is no token.
    assert_eq!(
        reverts(rollup.depositERC20(dev.accounts[3], 1, alice).from(alice)).await,
        E::NotAToken(Rollup::NotAToken {
            token: dev.accounts[3]
        })
    );
    // No allowance: the token's revert becomes TransferFailed.
    mined(dev.token.mint(alice, U256::from(10u64))).await;
    assert_eq!(
        reverts(rollup.depositERC20(token, 5, alice).from(alice)).await,
        E::TransferFailed(Rollup::TransferFailed {})
    );
    assert_eq!(
        reverts(rollup.forceWithdraw(1).from(alice)).await,
        E::UnknownToken(Rollup::UnknownToken { token: 1 })
    );
    assert_eq!(rollup.queueLength().call().await.unwrap(), 0);
}

#[tokio::test]
async fn deposits_over_the_u128_supply_cap_revert() {
    let dev = Devnet::start(DevnetConfig::default()).await;
    let rollup = &dev.rollup;
    let alice = dev.accounts[1];
    let cap = U256::from(u128::MAX);

    // ETH: one deposit beyond the cap, then the cap exactly, then one wei more.
    dev.set_balance(alice, U256::from(2u8) << 130).await;
    assert_eq!(
        reverts(
            rollup
                .depositETH(alice)
                .value(cap + U256::from(1))
                .from(alice)
        )
        .await,
        E::DepositCapExceeded(Rollup::DepositCapExceeded { token: 0 })
    );
    // In two parts: anvil refuses a single value this close to 2^128 as "insufficient funds".
    let half = U256::from(1u128 << 127);
    mined(rollup.depositETH(alice).value(half).from(alice)).await;
    mined(rollup.depositETH(alice).value(cap - half).from(alice)).await;
    assert_eq!(
        reverts(rollup.depositETH(alice).value(U256::from(1)).from(alice)).await,
        E::DepositCapExceeded(Rollup::DepositCapExceeded { token: 0 })
    );

    // ERC-20: the same, cumulative over two deposits.
    let token = *dev.token.address();
    mined(dev.token.mint(alice, U256::from(2u8) << 130)).await;
    mined(dev.token.approve(*rollup.address(), U256::MAX).from(alice)).await;
    mined(rollup.depositERC20(token, u128::MAX - 1, alice).from(alice)).await;
    mined(rollup.depositERC20(token, 1, alice).from(alice)).await;
    assert_eq!(
        reverts(rollup.depositERC20(token, 1, alice).from(alice)).await,
        E::DepositCapExceeded(Rollup::DepositCapExceeded { token: 1 })
    );
    assert_eq!(rollup.outstanding(0).call().await.unwrap(), cap);
    assert_eq!(rollup.outstanding(1).call().await.unwrap(), cap);
    assert_eq!(rollup.queueLength().call().await.unwrap(), 4);
}

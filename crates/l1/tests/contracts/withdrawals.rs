//! withdraw: payment against a finalized batch's withdrawals root, once, with the Merkle rule
//! of `weft_protocol::merkle`.

use alloy::primitives::{Address, B256, U256};
use weft_l1::{
    Rollup,
    Rollup::{BatchCommitment, RollupErrors as E},
    testkit::{Devnet, DevnetConfig, mined, next_batch},
};
use weft_protocol::{
    execution::Withdrawal,
    merkle::{proof_of, root_of},
    primitives::keccak256,
};

use crate::common::{call_reverts, payload, reverts};

const ETHER: u128 = 1_000_000_000_000_000_000;

/// One withdrawal of the test batch: its transaction hash and what it pays.
struct Claim {
    tx_hash: B256,
    withdrawal: Withdrawal,
}

/// Five withdrawals (ETH and token 1) to fresh recipients; a depth-3 tree.
fn claims() -> Vec<Claim> {
    let amounts: [(u32, u128); 5] = [(0, ETHER), (1, 300), (0, 2 * ETHER), (1, 5), (0, 7)];
    amounts
        .iter()
        .enumerate()
        .map(|(i, &(token, amount))| Claim {
            tx_hash: keccak256([i as u8, 0xee]),
            withdrawal: Withdrawal {
                recipient: Address::repeat_byte(0x70 + i as u8),
                token,
                amount,
            },
        })
        .collect()
}

fn leaves(claims: &[Claim]) -> Vec<B256> {
    claims
        .iter()
        .map(|c| c.withdrawal.leaf(&c.tx_hash))
        .collect()
}

/// A devnet holding 10 ETH and 1000 tokens, with batch 1 committing `claims()` and proven.
async fn with_batch(config: DevnetConfig) -> (Devnet, BatchCommitment) {
    let dev = Devnet::start(config).await;
    let alice = dev.accounts[1];
    let rollup = &dev.rollup;
    mined(
        rollup
            .depositETH(alice)
            .value(U256::from(10 * ETHER))
            .from(alice),
    )
    .await;
    mined(dev.token.mint(alice, U256::from(1_000u64))).await;
    mined(dev.token.approve(*rollup.address(), U256::MAX).from(alice)).await;
    mined(
        rollup
            .depositERC20(*dev.token.address(), 1_000, alice)
            .from(alice),
    )
    .await;
    let queue_hash = rollup.queueHashes(U256::from(2)).call().await.unwrap();
    let da = payload(64, 9);
    let c1 = next_batch(
        &dev.genesis_batch(),
        1,
        keccak256(b"state after batch 1"),
        root_of(&leaves(&claims())),
        (2, queue_hash),
        &da,
    );
    dev.commit(&c1, &da).await;
    dev.prove(&c1).await;
    (dev, c1)
}

fn withdraw_call<'a>(
    dev: &'a Devnet,
    batch: u64,
    claim: &Claim,
    index: u64,
    proof: Vec<B256>,
) -> alloy::contract::SolCallBuilder<&'a alloy::providers::DynProvider, Rollup::withdrawCall> {
    dev.rollup.withdraw(
        batch,
        claim.tx_hash,
        claim.withdrawal.recipient,
        claim.withdrawal.token,
        claim.withdrawal.amount,
        U256::from(index),
        proof,
    )
}

#[tokio::test]
async fn withdraws_eth_and_erc20_once() {
    let (dev, c1) = with_batch(DevnetConfig::default()).await;
    let claims = claims();
    let leaves = leaves(&claims);
    for i in [0usize, 1, 4] {
        let claim = &claims[i];
        let w = &claim.withdrawal;
        let proof = proof_of(&leaves, i).unwrap();
        // Anyone may submit; the recipient is paid.
        let receipt = mined(
            withdraw_call(&dev, c1.index, claim, i as u64, proof.clone()).from(dev.accounts[6]),
        )
        .await;
        assert_eq!(
            receipt.decoded_log::<Rollup::Withdrawn>().unwrap().data,
            Rollup::Withdrawn {
                batchIndex: 1,
                leaf: leaves[i],
                recipient: w.recipient,
                token: w.token,
                amount: w.amount,
            }
        );
        let paid = if w.token == 0 {
            dev.eth_balance(w.recipient).await
        } else {
            dev.token_balance(w.recipient).await
        };
        assert_eq!(paid, U256::from(w.amount));
        assert!(dev.rollup.withdrawn(leaves[i]).call().await.unwrap());
        assert_eq!(
            reverts(withdraw_call(&dev, c1.index, claim, i as u64, proof)).await,
            E::AlreadyWithdrawn(Rollup::AlreadyWithdrawn { leaf: leaves[i] })
        );
    }
    assert_eq!(
        dev.eth_balance(*dev.rollup.address()).await,
        U256::from(10 * ETHER - ETHER - 7)
    );
    assert_eq!(
        dev.token_balance(*dev.rollup.address()).await,
        U256::from(700)
    );
}

#[tokio::test]
async fn withdraw_rejects_every_altered_proof() {
    let (dev, c1) = with_batch(DevnetConfig::default()).await;
    let claims = claims();
    let leaves = leaves(&claims);
    let i = 2;
    let proof = proof_of(&leaves, i).unwrap();
    assert_eq!(proof.len(), 3);
    let invalid = E::InvalidProof(Rollup::InvalidProof {});

    // Every single bit flip of every sibling.
    for k in 0..proof.len() {
        for bit in 0..256 {
            let mut p = proof.clone();
            p[k].0[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                call_reverts(withdraw_call(&dev, 1, &claims[i], i as u64, p)).await,
                invalid
            );
        }
    }
    // Every other index: in range it is another position, beyond 2^len it is out of range
    // (without the range check, index + 8 would take the same path).
    for bit in 0..64 {
        let index = i as u64 ^ (1 << bit);
        assert_eq!(
            call_reverts(withdraw_call(&dev, 1, &claims[i], index, proof.clone())).await,
            invalid,
            "index {index}"
        );
    }
    let huge = dev.rollup.withdraw(
        1,
        claims[i].tx_hash,
        claims[i].withdrawal.recipient,
        claims[i].withdrawal.token,
        claims[i].withdrawal.amount,
        U256::from(i) + (U256::from(1) << 200),
        proof.clone(),
    );
    assert_eq!(call_reverts(huge).await, invalid);
    // Altered leaf fields: amount, token, recipient, transaction hash.
    let w = &claims[i].withdrawal;
    let altered = [
        (claims[i].tx_hash, w.recipient, w.token, w.amount + 1),
        (claims[i].tx_hash, w.recipient, 1, w.amount),
        (
            claims[i].tx_hash,
            Address::repeat_byte(0x99),
            w.token,
            w.amount,
        ),
        (keccak256(b"other"), w.recipient, w.token, w.amount),
    ];
    for (tx_hash, recipient, token, amount) in altered {
        let call = dev.rollup.withdraw(
            1,
            tx_hash,
            recipient,
            token,
            amount,
            U256::from(i),
            proof.clone(),
        );
        assert_eq!(call_reverts(call).await, invalid);
    }
    // Shorter, longer, another leaf's proof.
    for p in [
        proof[..2].to_vec(),
        [proof.clone(), vec![B256::ZERO]].concat(),
        proof_of(&leaves, 3).unwrap(),
    ] {
        assert_eq!(
            call_reverts(withdraw_call(&dev, 1, &claims[i], i as u64, p)).await,
            invalid
        );
    }
    // The honest proof pays.
    mined(withdraw_call(&dev, c1.index, &claims[i], i as u64, proof)).await;
    assert_eq!(dev.eth_balance(w.recipient).await, U256::from(w.amount));
}

#[tokio::test]
async fn withdraw_waits_for_finalization() {
    let delay = 300;
    let (dev, c1) = with_batch(DevnetConfig {
        finalization_delay: delay,
        ..Default::default()
    })
    .await;
    let claims = claims();
    let leaves = leaves(&claims);
    let proof = proof_of(&leaves, 0).unwrap();
    // Proven but not finalized; genesis; never committed.
    for batch in [1, 0, 2] {
        assert_eq!(
            reverts(withdraw_call(&dev, batch, &claims[0], 0, proof.clone())).await,
            E::BatchNotFinalized(Rollup::BatchNotFinalized { index: batch })
        );
    }
    dev.increase_time(delay).await;
    mined(dev.rollup.finalizeBatch(c1.index)).await;
    mined(withdraw_call(&dev, 1, &claims[0], 0, proof)).await;
    assert_eq!(
        dev.eth_balance(claims[0].withdrawal.recipient).await,
        U256::from(ETHER)
    );
}

/// A registered token whose code is gone (self-destructed, or a metamorphic contract
/// between deployments): a low-level call to it succeeds with no data, which must not count
/// as a transfer, or the claim is marked paid while nothing moves.
#[tokio::test]
async fn withdraw_refuses_a_token_without_code() {
    let (dev, c1) = with_batch(DevnetConfig::default()).await;
    let claims = claims();
    let leaves = leaves(&claims);
    let token = *dev.token.address();
    dev.set_code(token, Default::default()).await;
    let i = 1;
    assert_eq!(claims[i].withdrawal.token, 1);
    let proof = proof_of(&leaves, i).unwrap();
    assert_eq!(
        reverts(withdraw_call(
            &dev,
            c1.index,
            &claims[i],
            i as u64,
            proof.clone()
        ))
        .await,
        E::NotAToken(Rollup::NotAToken { token })
    );
    assert!(!dev.rollup.withdrawn(leaves[i]).call().await.unwrap());
    // ETH claims are unaffected: an address without code is a normal ETH recipient.
    mined(withdraw_call(
        &dev,
        c1.index,
        &claims[0],
        0,
        proof_of(&leaves, 0).unwrap(),
    ))
    .await;
}

/// The cap bounds what is outstanding on L2, not what was ever deposited: after a deposit of
/// the whole `uint128` range is withdrawn, the token can be deposited again.
#[tokio::test]
async fn paid_withdrawals_free_the_deposit_cap() {
    let dev = Devnet::start(DevnetConfig::default()).await;
    let rollup = &dev.rollup;
    let alice = dev.accounts[1];
    let token = *dev.token.address();
    mined(dev.token.mint(alice, U256::from(2u8) << 130)).await;
    mined(dev.token.approve(*rollup.address(), U256::MAX).from(alice)).await;
    mined(rollup.depositERC20(token, u128::MAX, alice).from(alice)).await;
    assert_eq!(
        reverts(rollup.depositERC20(token, 1, alice).from(alice)).await,
        E::DepositCapExceeded(Rollup::DepositCapExceeded { token: 1 })
    );

    // Batch 1 consumes the deposit and withdraws all of it.
    let claim = Claim {
        tx_hash: keccak256(b"withdraw everything"),
        withdrawal: Withdrawal {
            recipient: alice,
            token: 1,
            amount: u128::MAX,
        },
    };
    let leaves = leaves(std::slice::from_ref(&claim));
    let da = payload(8, 1);
    let c1 = next_batch(
        &dev.genesis_batch(),
        1,
        keccak256(b"state after batch 1"),
        root_of(&leaves),
        (1, rollup.queueHashes(U256::from(1)).call().await.unwrap()),
        &da,
    );
    dev.commit(&c1, &da).await;
    dev.prove(&c1).await;
    mined(withdraw_call(
        &dev,
        1,
        &claim,
        0,
        proof_of(&leaves, 0).unwrap(),
    ))
    .await;
    assert_eq!(rollup.outstanding(1).call().await.unwrap(), U256::ZERO);

    // Nothing is outstanding: the token takes deposits again, up to the cap.
    mined(rollup.depositERC20(token, 5, alice).from(alice)).await;
    assert_eq!(rollup.outstanding(1).call().await.unwrap(), U256::from(5));
    assert_eq!(
        reverts(rollup.depositERC20(token, u128::MAX - 4, alice).from(alice)).await,
        E::DepositCapExceeded(Rollup::DepositCapExceeded { token: 1 })
    );
}

/// A withdrawal may not pay more of a token than is outstanding (deposited less paid out),
/// even when the contract holds more of it (sent to it directly): an unbacked L2 balance
/// cannot be paid from funds that are not its token's deposits.
#[tokio::test]
async fn withdraw_never_pays_more_than_is_outstanding() {
    let dev = Devnet::start(DevnetConfig::default()).await;
    let rollup = &dev.rollup;
    let alice = dev.accounts[1];
    let token = *dev.token.address();
    mined(dev.token.mint(alice, U256::from(1_000u64))).await;
    mined(dev.token.approve(*rollup.address(), U256::MAX).from(alice)).await;
    mined(rollup.depositERC20(token, 5, alice).from(alice)).await;
    mined(
        dev.token
            .transfer(*rollup.address(), U256::from(100u64))
            .from(alice),
    )
    .await;

    let claim = Claim {
        tx_hash: keccak256(b"six of five"),
        withdrawal: Withdrawal {
            recipient: Address::repeat_byte(0x61),
            token: 1,
            amount: 6,
        },
    };
    let leaves = leaves(std::slice::from_ref(&claim));
    let da = payload(8, 2);
    let c1 = next_batch(
        &dev.genesis_batch(),
        1,
        keccak256(b"state after batch 1"),
        root_of(&leaves),
        (1, rollup.queueHashes(U256::from(1)).call().await.unwrap()),
        &da,
    );
    dev.commit(&c1, &da).await;
    dev.prove(&c1).await;
    assert_eq!(
        reverts(withdraw_call(
            &dev,
            1,
            &claim,
            0,
            proof_of(&leaves, 0).unwrap()
        ))
        .await,
        E::PayoutExceedsOutstanding(Rollup::PayoutExceedsOutstanding {
            token: 1,
            amount: U256::from(6),
            outstanding: U256::from(5),
        })
    );
    assert!(!rollup.withdrawn(leaves[0]).call().await.unwrap());
}

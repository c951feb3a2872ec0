//! commitBatch, proveBatch, finalizeBatch: every check, and the lifecycle with and without a
//! finalization delay.

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use weft_l1::{
    BatchStatus, QueueChain, Rollup,
    Rollup::{BatchCommitment, RollupErrors as E},
    attest, attestation_digest, commitment_hash,
    testkit::{Devnet, DevnetConfig, mined, next_batch},
};
use weft_protocol::{
    signature::SigningKey,
    transaction::{Deposit, Transaction},
};

use crate::common::{call_reverts, payload, reverts, some_root, status};

/// A devnet with two ETH deposits queued; returns it with the queue chain.
async fn with_two_deposits(config: DevnetConfig) -> (Devnet, QueueChain) {
    let dev = Devnet::start(config).await;
    let domain = dev.domain();
    let mut chain = QueueChain::new();
    for i in 0..2u64 {
        let to = Address::repeat_byte(0x10 + i as u8);
        mined(
            dev.rollup
                .depositETH(to)
                .value(U256::from(1_000 + i))
                .from(dev.accounts[1]),
        )
        .await;
        chain.push(
            &Transaction::Deposit(Deposit {
                queue_index: i,
                to,
                token: 0,
                amount: u128::from(1_000 + i),
            }),
            &domain,
        );
    }
    (dev, chain)
}

fn queue_at(chain: &QueueChain, position: u64) -> (u64, B256) {
    (position, chain.hash_at(position).unwrap())
}

#[tokio::test]
async fn commit_rejects_every_inconsistent_commitment() {
    let (dev, chain) = with_two_deposits(DevnetConfig::default()).await;
    let rollup = &dev.rollup;
    let da = payload(100, 1);
    let g = dev.genesis_batch();
    let c1 = next_batch(&g, 3, some_root(1), B256::ZERO, queue_at(&chain, 1), &da);

    // Only the sequencer commits.
    assert_eq!(
        reverts(
            rollup
                .commitBatch(c1.clone(), da.clone())
                .from(dev.accounts[1])
        )
        .await,
        E::NotSequencer(Rollup::NotSequencer {})
    );
    // Skipped batch index (and index 0).
    for index in [0, 2] {
        let c = BatchCommitment {
            index,
            ..c1.clone()
        };
        assert_eq!(
            reverts(rollup.commitBatch(c, da.clone())).await,
            E::BatchIndexMismatch(Rollup::BatchIndexMismatch {
                expected: 1,
                got: index
            })
        );
    }
    // The first batch starts at block 1, on the genesis root.
    let c = BatchCommitment {
        fromBlock: 0,
        ..c1.clone()
    };
    assert_eq!(
        reverts(rollup.commitBatch(c, da.clone())).await,
        E::FromBlockMismatch(Rollup::FromBlockMismatch {
            expected: 1,
            got: 0
        })
    );
    let c = BatchCommitment {
        prevStateRoot: some_root(9),
        ..c1.clone()
    };
    assert_eq!(
        reverts(rollup.commitBatch(c, da.clone())).await,
        E::PrevStateRootMismatch(Rollup::PrevStateRootMismatch {
            expected: g.newStateRoot,
            got: some_root(9)
        })
    );
    dev.commit(&c1, &da).await;

    // Repeated batch index.
    assert_eq!(
        reverts(rollup.commitBatch(c1.clone(), da.clone())).await,
        E::BatchIndexMismatch(Rollup::BatchIndexMismatch {
            expected: 2,
            got: 1
        })
    );

    let da2 = payload(40, 2);
    let c2 = next_batch(
        &c1,
        2,
        some_root(2),
        some_root(20),
        queue_at(&chain, 2),
        &da2,
    );
    let check = |c: BatchCommitment, expected: E| {
        let call = rollup.commitBatch(c, da2.clone());
        async move { assert_eq!(reverts(call).await, expected) }
    };
    // Wrong previous root: genesis again, or anything else.
    for root in [g.newStateRoot, some_root(7)] {
        check(
            BatchCommitment {
                prevStateRoot: root,
                ..c2.clone()
            },
            E::PrevStateRootMismatch(Rollup::PrevStateRootMismatch {
                expected: c1.newStateRoot,
                got: root,
            }),
        )
        .await;
    }
    // fromBlock overlapping or leaving a gap; an empty range.
    for from in [c1.toBlock, c1.toBlock + 2] {
        check(
            BatchCommitment {
                fromBlock: from,
                toBlock: from + 1,
                ..c2.clone()
            },
            E::FromBlockMismatch(Rollup::FromBlockMismatch {
                expected: c1.toBlock + 1,
                got: from,
            }),
        )
        .await;
    }
    check(
        BatchCommitment {
            toBlock: c2.fromBlock - 1,
            ..c2.clone()
        },
        E::InvalidBlockRange(Rollup::InvalidBlockRange {
            fromBlock: c2.fromBlock,
            toBlock: c2.fromBlock - 1,
        }),
    )
    .await;
    check(
        BatchCommitment {
            newStateRoot: B256::ZERO,
            ..c2.clone()
        },
        E::ZeroStateRoot(Rollup::ZeroStateRoot {}),
    )
    .await;
    // Queue: backwards, beyond the queue (a skipped entry that does not exist yet), a forged
    // hash, and the hash of another position.
    check(
        BatchCommitment {
            queuePosition: 0,
            queueHash: B256::ZERO,
            ..c2.clone()
        },
        E::QueuePositionBackwards(Rollup::QueuePositionBackwards {
            previous: 1,
            got: 0,
        }),
    )
    .await;
    check(
        BatchCommitment {
            queuePosition: 3,
            ..c2.clone()
        },
        E::QueuePositionBeyondQueue(Rollup::QueuePositionBeyondQueue {
            queueLength: 2,
            got: 3,
        }),
    )
    .await;
    for forged in [some_root(5), chain.hash_at(1).unwrap()] {
        check(
            BatchCommitment {
                queueHash: forged,
                ..c2.clone()
            },
            E::QueueHashMismatch(Rollup::QueueHashMismatch {
                expected: chain.hash_at(2).unwrap(),
                got: forged,
            }),
        )
        .await;
    }
    // The payload must be the one the commitment names.
    assert_eq!(
        reverts(rollup.commitBatch(c2.clone(), payload(41, 2))).await,
        E::DaHashMismatch(Rollup::DaHashMismatch {
            expected: keccak256(payload(41, 2)),
            got: c2.daHash,
        })
    );
    check(
        BatchCommitment {
            daHash: some_root(3),
            ..c2.clone()
        },
        E::DaHashMismatch(Rollup::DaHashMismatch {
            expected: keccak256(&da2),
            got: some_root(3),
        }),
    )
    .await;

    // The consistent one goes through, and stays committed.
    dev.commit(&c2, &da2).await;
    assert_eq!(rollup.lastCommitted().call().await.unwrap(), 2);
    assert_eq!(status(&dev, 2).await, BatchStatus::Committed);
    assert_eq!(status(&dev, 3).await, BatchStatus::None);
}

#[tokio::test]
async fn commit_prove_finalize_with_no_delay() {
    let (dev, chain) = with_two_deposits(DevnetConfig::default()).await;
    let rollup = &dev.rollup;
    let da = payload(1_000, 3);
    let c1 = next_batch(
        &dev.genesis_batch(),
        4,
        some_root(1),
        some_root(11),
        queue_at(&chain, 2),
        &da,
    );
    assert_eq!(
        rollup.commitmentHash(c1.clone()).call().await.unwrap(),
        commitment_hash(&c1)
    );
    let receipt = dev.commit(&c1, &da).await;
    assert_eq!(
        receipt
            .decoded_log::<Rollup::BatchCommitted>()
            .unwrap()
            .data,
        Rollup::BatchCommitted {
            index: 1,
            commitmentHash: commitment_hash(&c1),
            newStateRoot: c1.newStateRoot,
            toBlock: 4,
        }
    );
    let stored = rollup.batch(1).call().await.unwrap();
    assert_eq!(
        (
            stored.commitmentHash,
            stored.newStateRoot,
            stored.withdrawalsRoot
        ),
        (commitment_hash(&c1), c1.newStateRoot, c1.withdrawalsRoot)
    );
    assert_eq!(
        (stored.toBlock, stored.queuePosition, stored.provenAt),
        (4, 2, 0)
    );
    assert_eq!(
        rollup
            .attestationDigest(commitment_hash(&c1))
            .call()
            .await
            .unwrap(),
        dev.attestation_digest(&c1)
    );

    // Anyone may submit the proof; with no delay it finalizes at once.
    let receipt = mined(
        rollup
            .proveBatch(1, dev.attestation(&c1))
            .from(dev.accounts[4]),
    )
    .await;
    assert_eq!(
        receipt.decoded_log::<Rollup::BatchProven>().unwrap().data,
        Rollup::BatchProven {
            index: 1,
            commitmentHash: commitment_hash(&c1)
        }
    );
    assert_eq!(
        receipt
            .decoded_log::<Rollup::BatchFinalized>()
            .unwrap()
            .data,
        Rollup::BatchFinalized {
            index: 1,
            newStateRoot: c1.newStateRoot
        }
    );
    assert_eq!(status(&dev, 1).await, BatchStatus::Finalized);
    assert_eq!(rollup.lastProven().call().await.unwrap(), 1);
    assert_eq!(rollup.lastFinalized().call().await.unwrap(), 1);
    assert_eq!(
        rollup.finalizedStateRoot().call().await.unwrap(),
        c1.newStateRoot
    );
    // Nothing left to finalize by hand.
    assert_eq!(
        reverts(rollup.finalizeBatch(1)).await,
        E::BatchOutOfOrder(Rollup::BatchOutOfOrder {
            expected: 2,
            got: 1
        })
    );
}

#[tokio::test]
async fn finalization_waits_for_the_delay_and_goes_in_order() {
    let delay = 600;
    let (dev, chain) = with_two_deposits(DevnetConfig {
        finalization_delay: delay,
        ..Default::default()
    })
    .await;
    let rollup = &dev.rollup;
    let da = payload(10, 4);
    let c1 = next_batch(
        &dev.genesis_batch(),
        1,
        some_root(1),
        B256::ZERO,
        queue_at(&chain, 1),
        &da,
    );
    let c2 = next_batch(&c1, 1, some_root(2), B256::ZERO, queue_at(&chain, 2), &da);
    dev.commit(&c1, &da).await;
    dev.commit(&c2, &da).await;
    assert_eq!(
        reverts(rollup.finalizeBatch(1)).await,
        E::BatchNotProven(Rollup::BatchNotProven { index: 1 })
    );
    let receipt = dev.prove(&c1).await;
    assert!(receipt.decoded_log::<Rollup::BatchFinalized>().is_none());
    assert_eq!(status(&dev, 1).await, BatchStatus::Proven);
    let proven_at = rollup.batch(1).call().await.unwrap().provenAt;
    assert_eq!(
        reverts(rollup.finalizeBatch(1)).await,
        E::FinalizationDelayPending(Rollup::FinalizationDelayPending {
            readyAt: proven_at + delay
        })
    );
    assert_eq!(
        reverts(rollup.finalizeBatch(2)).await,
        E::BatchOutOfOrder(Rollup::BatchOutOfOrder {
            expected: 1,
            got: 2
        })
    );

    dev.increase_time(delay).await;
    let receipt = mined(rollup.finalizeBatch(1).from(dev.accounts[5])).await;
    assert_eq!(
        receipt
            .decoded_log::<Rollup::BatchFinalized>()
            .unwrap()
            .data,
        Rollup::BatchFinalized {
            index: 1,
            newStateRoot: c1.newStateRoot
        }
    );
    assert_eq!(status(&dev, 1).await, BatchStatus::Finalized);
    assert_eq!(
        reverts(rollup.finalizeBatch(2)).await,
        E::BatchNotProven(Rollup::BatchNotProven { index: 2 })
    );
    dev.prove(&c2).await;
    dev.increase_time(delay).await;
    mined(rollup.finalizeBatch(2)).await;
    assert_eq!(rollup.lastFinalized().call().await.unwrap(), 2);
    assert_eq!(
        rollup.finalizedStateRoot().call().await.unwrap(),
        c2.newStateRoot
    );
}

#[tokio::test]
async fn prove_rejects_out_of_order_and_uncommitted_batches() {
    let (dev, chain) = with_two_deposits(DevnetConfig::default()).await;
    let rollup = &dev.rollup;
    let da = payload(10, 5);
    let c1 = next_batch(
        &dev.genesis_batch(),
        1,
        some_root(1),
        B256::ZERO,
        queue_at(&chain, 0),
        &da,
    );
    let c2 = next_batch(&c1, 1, some_root(2), B256::ZERO, queue_at(&chain, 2), &da);
    assert_eq!(
        reverts(rollup.proveBatch(1, dev.attestation(&c1))).await,
        E::BatchNotCommitted(Rollup::BatchNotCommitted { index: 1 })
    );
    dev.commit(&c1, &da).await;
    dev.commit(&c2, &da).await;
    assert_eq!(
        reverts(rollup.proveBatch(2, dev.attestation(&c2))).await,
        E::BatchOutOfOrder(Rollup::BatchOutOfOrder {
            expected: 1,
            got: 2
        })
    );
    dev.prove(&c1).await;
    assert_eq!(
        reverts(rollup.proveBatch(1, dev.attestation(&c1))).await,
        E::BatchOutOfOrder(Rollup::BatchOutOfOrder {
            expected: 2,
            got: 1
        })
    );
    dev.prove(&c2).await;
    let c3 = next_batch(&c2, 1, some_root(3), B256::ZERO, queue_at(&chain, 2), &da);
    assert_eq!(
        reverts(rollup.proveBatch(3, dev.attestation(&c3))).await,
        E::BatchNotCommitted(Rollup::BatchNotCommitted { index: 3 })
    );
}

/// `(r, n - s, !v)`: the same signature's high-s twin.
fn high_s(sig: &Bytes) -> Bytes {
    const N: U256 = U256::from_be_bytes([
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36,
        0x41, 0x41,
    ]);
    let mut out = sig.to_vec();
    let s = U256::from_be_slice(&sig[32..64]);
    out[32..64].copy_from_slice(&(N - s).to_be_bytes::<32>());
    out[64] = if sig[64] == 27 { 28 } else { 27 };
    out.into()
}

#[tokio::test]
async fn prove_rejects_bad_and_replayed_attestations() {
    let (dev, chain) = with_two_deposits(DevnetConfig::default()).await;
    let rollup = &dev.rollup;
    let da = payload(10, 6);
    let c1 = next_batch(
        &dev.genesis_batch(),
        1,
        some_root(1),
        B256::ZERO,
        queue_at(&chain, 1),
        &da,
    );
    let c2 = next_batch(&c1, 1, some_root(2), B256::ZERO, queue_at(&chain, 2), &da);
    dev.commit(&c1, &da).await;
    dev.commit(&c2, &da).await;

    let good = dev.attestation(&c1);
    let d1 = dev.attestation_digest(&c1);
    let mut bad_v = good.to_vec();
    bad_v[64] = 29;
    let mut flipped = good.to_vec();
    flipped[10] ^= 1;
    let bad = [
        ("wrong key", attest(&SigningKey::from_seed(b"mallory"), &d1)),
        ("high s", high_s(&good)),
        ("bad v", bad_v.into()),
        ("flipped bit", flipped.into()),
        ("zero signature", Bytes::from(vec![0u8; 65])),
        ("garbage", Bytes::from(vec![0xab; 65])),
        ("too short", good.slice(..64)),
        ("too long", [good.to_vec(), vec![0]].concat().into()),
        ("empty", Bytes::new()),
        (
            "commitment hash signed without the binding",
            attest(&dev.prover, &commitment_hash(&c1)),
        ),
        (
            "another deployment",
            attest(
                &dev.prover,
                &attestation_digest(
                    Address::repeat_byte(1),
                    dev.l1_chain_id,
                    commitment_hash(&c1),
                ),
            ),
        ),
        (
            "another L1 chain",
            attest(
                &dev.prover,
                &attestation_digest(*rollup.address(), dev.l1_chain_id + 1, commitment_hash(&c1)),
            ),
        ),
        ("batch 2's attestation", dev.attestation(&c2)),
    ];
    for (what, proof) in bad {
        assert_eq!(
            reverts(rollup.proveBatch(1, proof.clone())).await,
            E::InvalidAttestation(Rollup::InvalidAttestation {}),
            "{what}"
        );
        assert!(
            !dev.verifier.verify(d1, proof).call().await.unwrap(),
            "{what}"
        );
    }
    // v in {0, 1} would be a second encoding of the same signature: refused.
    let mut v01 = good.to_vec();
    v01[64] -= 27;
    assert!(
        !dev.verifier
            .verify(d1, v01.clone().into())
            .call()
            .await
            .unwrap()
    );
    assert_eq!(
        reverts(rollup.proveBatch(1, v01.into())).await,
        E::InvalidAttestation(Rollup::InvalidAttestation {})
    );

    // Batch 1's attestation does not prove batch 2 (replay).
    mined(rollup.proveBatch(1, good.clone())).await;
    assert_eq!(
        reverts(rollup.proveBatch(2, good)).await,
        E::InvalidAttestation(Rollup::InvalidAttestation {})
    );
    assert_eq!(
        call_reverts(rollup.proveBatch(2, dev.attestation(&c1))).await,
        E::InvalidAttestation(Rollup::InvalidAttestation {})
    );
    dev.prove(&c2).await;
}

/// `toBlock` is bounded: a batch of at most `MAX_BATCH_BLOCKS` blocks, so the next batch's
/// `fromBlock = toBlock + 1` can never overflow (`toBlock = 2^64 - 1` would leave the rollup
/// unable to commit anything after it).
#[tokio::test]
async fn commit_bounds_the_block_range() {
    let (dev, chain) = with_two_deposits(DevnetConfig::default()).await;
    let rollup = &dev.rollup;
    let da = payload(10, 3);
    let c1 = next_batch(
        &dev.genesis_batch(),
        1,
        some_root(1),
        B256::ZERO,
        queue_at(&chain, 1),
        &da,
    );
    let max = rollup.MAX_BATCH_BLOCKS().call().await.unwrap();
    assert_eq!(max, 1 << 20);
    for to in [u64::MAX, c1.fromBlock + max] {
        let c = BatchCommitment {
            toBlock: to,
            ..c1.clone()
        };
        assert_eq!(
            reverts(rollup.commitBatch(c, da.clone())).await,
            E::InvalidBlockRange(Rollup::InvalidBlockRange {
                fromBlock: c1.fromBlock,
                toBlock: to,
            }),
            "toBlock {to}"
        );
    }
    // The longest batch allowed, then the next one after it.
    let c1 = BatchCommitment {
        toBlock: c1.fromBlock + max - 1,
        ..c1
    };
    dev.commit(&c1, &da).await;
    let c2 = next_batch(&c1, 1, some_root(2), B256::ZERO, queue_at(&chain, 2), &da);
    dev.commit(&c2, &da).await;
}

#[tokio::test]
async fn sequencer_reverts_unproven_batches_and_commits_again() {
    let (dev, chain) = with_two_deposits(DevnetConfig::default()).await;
    let rollup = &dev.rollup;
    let da = payload(10, 5);
    let g = dev.genesis_batch();
    let c1 = next_batch(&g, 2, some_root(1), B256::ZERO, queue_at(&chain, 1), &da);
    let c2 = next_batch(&c1, 2, some_root(2), B256::ZERO, queue_at(&chain, 1), &da);
    let c3 = next_batch(&c2, 2, some_root(3), B256::ZERO, queue_at(&chain, 2), &da);
    for c in [&c1, &c2, &c3] {
        dev.commit(c, &da).await;
    }
    dev.prove(&c1).await;

    // Only the sequencer; never a proven batch (nor genesis); never beyond lastCommitted.
    assert_eq!(
        reverts(rollup.revertBatches(2).from(dev.accounts[1])).await,
        E::NotSequencer(Rollup::NotSequencer {})
    );
    for index in [0, 1] {
        assert_eq!(
            reverts(rollup.revertBatches(index)).await,
            E::BatchAlreadyProven(Rollup::BatchAlreadyProven { index })
        );
    }
    assert_eq!(
        reverts(rollup.revertBatches(4)).await,
        E::BatchNotCommitted(Rollup::BatchNotCommitted { index: 4 })
    );

    let receipt = mined(rollup.revertBatches(2)).await;
    assert_eq!(
        receipt
            .decoded_log::<Rollup::BatchesReverted>()
            .unwrap()
            .data,
        Rollup::BatchesReverted {
            fromIndex: 2,
            toIndex: 3
        }
    );
    assert_eq!(rollup.lastCommitted().call().await.unwrap(), 1);
    for index in [2, 3] {
        assert_eq!(status(&dev, index).await, BatchStatus::None);
        assert_eq!(
            rollup.batch(index).call().await.unwrap(),
            Rollup::Batch::default()
        );
    }
    // A reverted batch cannot be proven.
    assert_eq!(
        reverts(rollup.proveBatch(2, dev.attestation(&c2))).await,
        E::BatchNotCommitted(Rollup::BatchNotCommitted { index: 2 })
    );
    // Batch 2 is committed again, differently, on batch 1; it proves and finalizes.
    let c2b = next_batch(&c1, 1, some_root(22), B256::ZERO, queue_at(&chain, 2), &da);
    assert_eq!(
        reverts(rollup.commitBatch(c3.clone(), da.clone())).await,
        E::BatchIndexMismatch(Rollup::BatchIndexMismatch {
            expected: 2,
            got: 3
        })
    );
    dev.commit(&c2b, &da).await;
    assert_eq!(
        rollup.batch(2).call().await.unwrap().commitmentHash,
        commitment_hash(&c2b)
    );
    assert_eq!(
        reverts(rollup.proveBatch(2, dev.attestation(&c2))).await,
        E::InvalidAttestation(Rollup::InvalidAttestation {})
    );
    dev.prove(&c2b).await;
    assert_eq!(status(&dev, 2).await, BatchStatus::Finalized);
    assert_eq!(
        reverts(rollup.revertBatches(2)).await,
        E::BatchAlreadyProven(Rollup::BatchAlreadyProven { index: 2 })
    );
}

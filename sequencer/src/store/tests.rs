//! Every test body runs on SQLite, then on a fresh PostgreSQL database when `DATABASE_URL`
//! names a server (CI sets it).

use std::time::Instant;

use weft_protocol::{
    block::transactions_root,
    channel::{ChannelState, Lock, LockDirection},
    execution::{FailureReason, Status, Withdrawal},
    primitives::{Address, Bytes},
    signature::SigningKey,
    testkit::{test_address, test_domain},
    transaction::{
        ChannelConclude, ChannelDeposit, ChannelOpen, ChannelSettle, Deposit, ForcedWithdraw,
        RevealSecret, Transfer, Withdraw,
    },
};

use weft_storage::{
    StoreError,
    testkit::{TestDatabase, on_every_backend},
};

use super::{transactions::FAILURE_REASONS, *};

/// A new connection (pool) to the test's database.
pub(super) async fn connect(db: &TestDatabase) -> Store {
    Store::connect(db.url(), db.dir()).await.expect("connect")
}

/// Builds a block from transactions and receipts: hashes under the test domain, positions,
/// transaction count and root.
fn block(
    number: u64,
    parent_hash: B256,
    txs: Vec<(Transaction, Option<Signature>, Receipt)>,
) -> SealedBlock {
    let domain = test_domain();
    let transactions: Vec<StoredTransaction> = txs
        .into_iter()
        .enumerate()
        .map(
            |(index, (transaction, signature, receipt))| StoredTransaction {
                hash: transaction.hash(&domain),
                block_number: number,
                index: index as u32,
                transaction,
                signature,
                receipt,
            },
        )
        .collect();
    seal(number, parent_hash, transactions)
}

/// Header and hash over `transactions` as they are.
pub(super) fn seal(
    number: u64,
    parent_hash: B256,
    transactions: Vec<StoredTransaction>,
) -> SealedBlock {
    let hashes: Vec<B256> = transactions.iter().map(|t| t.hash).collect();
    let header = BlockHeader {
        number,
        parent_hash,
        timestamp: 1_700_000_000 + number,
        fee_recipient: Address::repeat_byte(0xfe),
        tx_count: transactions.len() as u64,
        transactions_root: transactions_root(&hashes),
        state_root: B256::repeat_byte(number as u8),
        withdrawals_root: B256::repeat_byte(0x77),
        queue_position: number * 3,
    };
    SealedBlock {
        hash: header.hash(),
        header,
        transactions,
        account_count: Some(number as u32 * 10),
    }
}

/// `count` successful transfers with one fixed signature (the store does not verify
/// signatures); `seed` keeps hashes distinct across blocks.
pub(super) fn transfer_block(
    number: u64,
    parent_hash: B256,
    count: usize,
    seed: u64,
) -> SealedBlock {
    let signature = SigningKey::from_seed(b"fixed").sign_digest(&B256::repeat_byte(1));
    let txs = (0..count as u64)
        .map(|i| {
            let tx = Transaction::Transfer(Transfer {
                from: test_address(seed << 32 | i),
                to: test_address(i + 1),
                token: 0,
                amount: 1_000 + u128::from(i),
                fee: 2,
                nonce: i,
            });
            (tx, Some(signature), success(2))
        })
        .collect();
    block(number, parent_hash, txs)
}

fn success(fee_paid: u128) -> Receipt {
    Receipt {
        status: Status::Success,
        fee_paid,
        withdrawal: None,
        evm: None,
    }
}

fn failed(reason: FailureReason, fee_paid: u128) -> Receipt {
    Receipt {
        status: Status::Failed(reason),
        fee_paid,
        withdrawal: None,
        evm: None,
    }
}

/// A block holding every transaction kind, signed kinds with real signatures, and
/// successful, failed and withdrawal receipts.
fn every_kind_block() -> SealedBlock {
    let domain = test_domain();
    let alice = SigningKey::from_seed(b"alice");
    let hub = SigningKey::from_seed(b"hub");
    let from = alice.address();
    let channel_id = B256::repeat_byte(0xc1);
    let state = ChannelState {
        channel_id,
        version: 7,
        balance_wallet: 1_000,
        balance_hub: u128::MAX,
        locks: vec![
            Lock {
                amount: 5,
                hashlock: B256::repeat_byte(0xaa),
                expiry: u64::MAX,
                direction: LockDirection::WalletToHub,
            },
            Lock {
                amount: 6,
                hashlock: B256::repeat_byte(0xbb),
                expiry: 9,
                direction: LockDirection::HubToWallet,
            },
        ],
        is_final: true,
    };
    let co_sign = |key: &SigningKey| {
        Bytes::copy_from_slice(&key.sign_digest(&B256::repeat_byte(0x5e)).to_bytes())
    };
    let settle = |nonce| ChannelSettle {
        from,
        state: state.clone(),
        wallet_signature: co_sign(&alice),
        hub_signature: co_sign(&hub),
        fee: 3,
        nonce,
    };
    let withdrawal = |recipient, token, amount| Receipt {
        withdrawal: Some(Withdrawal {
            recipient,
            token,
            amount,
        }),
        ..success(1)
    };
    let signed = vec![
        (
            Transaction::Transfer(Transfer {
                from,
                to: hub.address(),
                token: 0,
                amount: 5,
                fee: 1,
                nonce: 0,
            }),
            success(1),
        ),
        (
            Transaction::Withdraw(Withdraw {
                from,
                l1_recipient: Address::repeat_byte(0x11),
                token: u32::MAX,
                amount: u128::MAX - 1,
                fee: 1,
                nonce: 1,
            }),
            Receipt {
                fee_paid: u128::MAX,
                ..withdrawal(Address::repeat_byte(0x11), u32::MAX, u128::MAX - 1)
            },
        ),
        (
            Transaction::ChannelOpen(ChannelOpen {
                from,
                hub: hub.address(),
                token: 1,
                amount: 10,
                fee: 3,
                nonce: 2,
            }),
            failed(FailureReason::InsufficientBalance, 3),
        ),
        (
            Transaction::ChannelDeposit({
                let s = settle(3);
                ChannelDeposit {
                    from,
                    channel_id,
                    amount: 10,
                    state: s.state,
                    wallet_signature: s.wallet_signature,
                    hub_signature: s.hub_signature,
                    fee: 0,
                    nonce: 3,
                }
            }),
            failed(FailureReason::UnsupportedKind, 0),
        ),
        (
            Transaction::ChannelClose(settle(4)),
            failed(FailureReason::UnsupportedKind, 0),
        ),
        (
            Transaction::ChannelRegister(settle(5)),
            failed(FailureReason::UnsupportedKind, 0),
        ),
        (
            Transaction::ChannelRefute(settle(6)),
            failed(FailureReason::UnsupportedKind, 0),
        ),
        (
            Transaction::ChannelConclude(ChannelConclude {
                from,
                channel_id,
                fee: 0,
                nonce: 7,
            }),
            failed(FailureReason::UnsupportedKind, 0),
        ),
        (
            Transaction::RevealSecret(RevealSecret {
                from,
                secret: B256::repeat_byte(0x5c),
                fee: 1,
                nonce: 8,
            }),
            success(1),
        ),
        (
            // The largest nonce a column holds: a replay far ahead, included as failed.
            Transaction::Transfer(Transfer {
                from,
                to: hub.address(),
                token: 0,
                amount: 1,
                fee: 1,
                nonce: i64::MAX as u64,
            }),
            failed(FailureReason::BadNonce, 0),
        ),
    ];
    let mut txs: Vec<_> = signed
        .into_iter()
        .map(|(tx, receipt)| {
            let signature = tx.clone().sign(&alice, &domain).signature;
            (tx, Some(signature), receipt)
        })
        .collect();
    txs.push((
        Transaction::Deposit(Deposit {
            queue_index: 0,
            to: from,
            token: 1,
            amount: u128::MAX,
        }),
        None,
        success(0),
    ));
    txs.push((
        Transaction::ForcedWithdraw(ForcedWithdraw {
            queue_index: 1,
            account: from,
            token: 1,
        }),
        None,
        Receipt {
            fee_paid: 0,
            ..withdrawal(from, 1, 12_345)
        },
    ));
    block(1, B256::ZERO, txs)
}

#[tokio::test]
async fn a_block_of_every_kind_round_trips() {
    on_every_backend(async |db| {
        let store = connect(db).await;
        let block = every_kind_block();
        assert!(block.transactions.iter().any(|t| t.signature.is_none()));
        store.insert_block(&block).await.unwrap();

        assert_eq!(
            store.block_transactions(1).await.unwrap(),
            block.transactions
        );
        let hashes: Vec<B256> = block.transactions.iter().map(|t| t.hash).collect();
        assert_eq!(store.block_transaction_hashes(1).await.unwrap(), hashes);
        for tx in &block.transactions {
            assert_eq!(
                store.transaction(&tx.hash).await.unwrap().as_ref(),
                Some(tx)
            );
        }
        assert_eq!(
            store.transaction(&B256::repeat_byte(9)).await.unwrap(),
            None
        );
        assert!(store.block_transactions(2).await.unwrap().is_empty());
        assert!(
            store
                .block_transaction_hashes(u64::MAX)
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn a_block_keeps_its_account_count() {
    on_every_backend(async |db| {
        let store = connect(db).await;
        let first = transfer_block(1, B256::ZERO, 2, 1);
        let mut second = transfer_block(2, first.hash, 2, 2);
        second.account_count = None;
        store.insert_block(&first).await.unwrap();
        store.insert_block(&second).await.unwrap();
        assert_eq!(store.block_account_count(1).await.unwrap(), Some(10));
        assert_eq!(store.block_account_count(2).await.unwrap(), None);
        assert_eq!(store.block_account_count(3).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn headers_are_found_by_number_and_hash_and_the_head_is_the_newest() {
    on_every_backend(async |db| {
        let store = connect(db).await;
        assert_eq!(store.head().await.unwrap(), None);
        assert_eq!(store.header_by_number(1).await.unwrap(), None);

        let mut parent = B256::ZERO;
        let mut blocks = Vec::new();
        for number in 1..=3 {
            let block = transfer_block(number, parent, number as usize, number);
            store.insert_block(&block).await.unwrap();
            parent = block.hash;
            blocks.push(block);
        }
        let entry = |b: &SealedBlock| Some((b.header, b.hash));
        assert_eq!(store.head().await.unwrap(), entry(&blocks[2]));
        for block in &blocks {
            let number = block.header.number;
            assert_eq!(store.header_by_number(number).await.unwrap(), entry(block));
            assert_eq!(
                store.header_by_hash(&block.hash).await.unwrap(),
                entry(block)
            );
        }
        assert_eq!(store.header_by_number(0).await.unwrap(), None);
        assert_eq!(store.header_by_number(4).await.unwrap(), None);
        assert_eq!(store.header_by_number(u64::MAX).await.unwrap(), None);
        assert_eq!(store.header_by_hash(&B256::ZERO).await.unwrap(), None);
    })
    .await;
}

/// Head, block 2 and one of its transactions: what a refused block 2 must not change.
async fn assert_only_block_1(store: &Store, block_1: &SealedBlock, refused: &SealedBlock) {
    assert_eq!(
        store.head().await.unwrap(),
        Some((block_1.header, block_1.hash))
    );
    assert_eq!(store.header_by_number(2).await.unwrap(), None);
    assert_eq!(store.header_by_hash(&refused.hash).await.unwrap(), None);
    assert!(store.block_transactions(2).await.unwrap().is_empty());
    let first = &refused.transactions[0];
    assert_eq!(store.transaction(&first.hash).await.unwrap(), None);
}

#[tokio::test]
async fn refuses_blocks_that_do_not_extend_the_head_and_writes_nothing() {
    on_every_backend(async |db| {
        let store = connect(db).await;
        let not_first = transfer_block(2, B256::ZERO, 3, 2);
        assert!(matches!(
            store.insert_block(&not_first).await,
            Err(Error::DoesNotExtendHead {
                number: 2,
                expected_number: 1,
                ..
            })
        ));
        let orphan = transfer_block(1, B256::repeat_byte(1), 3, 1);
        assert!(matches!(
            store.insert_block(&orphan).await,
            Err(Error::DoesNotExtendHead { number: 1, .. })
        ));
        assert_eq!(store.head().await.unwrap(), None);
        assert_eq!(
            store
                .transaction(&orphan.transactions[0].hash)
                .await
                .unwrap(),
            None
        );

        let block_1 = transfer_block(1, B256::ZERO, 3, 1);
        store.insert_block(&block_1).await.unwrap();
        let gap = transfer_block(3, block_1.hash, 3, 3);
        let err = store.insert_block(&gap).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::DoesNotExtendHead {
                    number: 3,
                    expected_number: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().starts_with("block 3 with parent"), "{err}");
        let wrong_parent = transfer_block(2, B256::repeat_byte(0xee), 3, 2);
        assert!(matches!(
            store.insert_block(&wrong_parent).await,
            Err(Error::DoesNotExtendHead {
                number: 2,
                expected_number: 2,
                ..
            })
        ));
        let again = transfer_block(1, B256::ZERO, 3, 5);
        assert!(matches!(
            store.insert_block(&again).await,
            Err(Error::DoesNotExtendHead { number: 1, .. })
        ));
        assert_only_block_1(&store, &block_1, &wrong_parent).await;

        // Caller bugs are refused before the database sees them.
        let mut bad_hash = transfer_block(2, block_1.hash, 3, 2);
        bad_hash.hash = B256::repeat_byte(3);
        assert!(matches!(
            store.insert_block(&bad_hash).await,
            Err(Error::InconsistentBlock { number: 2, .. })
        ));
        let mut bad_index = transfer_block(2, block_1.hash, 3, 2);
        bad_index.transactions.swap(0, 1);
        let bad_index = seal(2, block_1.hash, bad_index.transactions);
        assert!(matches!(
            store.insert_block(&bad_index).await,
            Err(Error::InconsistentBlock { number: 2, .. })
        ));
        let mut too_late = transfer_block(2, block_1.hash, 3, 2);
        too_late.header.timestamp = u64::MAX;
        too_late.hash = too_late.header.hash();
        assert!(matches!(
            store.insert_block(&too_late).await,
            Err(Error::Storage(StoreError::OutOfRange {
                value: u64::MAX,
                ..
            }))
        ));
        assert_only_block_1(&store, &block_1, &too_late).await;
    })
    .await;
}

#[tokio::test]
async fn a_block_that_fails_midway_leaves_nothing_behind() {
    on_every_backend(async |db| {
        let store = connect(db).await;
        let block_1 = transfer_block(1, B256::ZERO, 10, 1);
        store.insert_block(&block_1).await.unwrap();

        // Position 600 repeats a transaction of block 1: the second chunk of rows fails on
        // the primary key after the header and the first 500 rows went in.
        let mut txs = transfer_block(2, block_1.hash, 700, 2).transactions;
        txs[600] = StoredTransaction {
            block_number: 2,
            index: 600,
            ..block_1.transactions[0].clone()
        };
        let doomed = seal(2, block_1.hash, txs);
        let err = store.insert_block(&doomed).await.unwrap_err();
        assert!(
            matches!(err, Error::Storage(StoreError::Database(_))),
            "{err}"
        );
        assert_only_block_1(&store, &block_1, &doomed).await;
        assert_eq!(
            store
                .transaction(&block_1.transactions[0].hash)
                .await
                .unwrap(),
            Some(block_1.transactions[0].clone())
        );

        // The store is still usable.
        let block_2 = transfer_block(2, block_1.hash, 700, 2);
        store.insert_block(&block_2).await.unwrap();
        assert_eq!(
            store.block_transactions(2).await.unwrap(),
            block_2.transactions
        );
    })
    .await;
}

#[tokio::test]
async fn snapshots_keep_the_newest_two() {
    on_every_backend(async |db| {
        let store = connect(db).await;
        assert_eq!(store.latest_snapshot().await.unwrap(), None);
        let snapshot = |block_number: u64, fill: u8| {
            let mut data = weft_protocol::snapshot::SNAPSHOT_MAGIC.to_vec();
            data.resize(1000 * (block_number as usize + 1), fill);
            StoredSnapshot {
                block_number,
                state_root: B256::repeat_byte(fill),
                data,
            }
        };
        for number in [0, 1, 2, 3] {
            store.save_snapshot(&snapshot(number, 1)).await.unwrap();
            assert_eq!(
                store.latest_snapshot().await.unwrap(),
                Some(snapshot(number, 1))
            );
        }
        let stored = async || -> Vec<i64> {
            sqlx::query_scalar("SELECT block_number FROM snapshots ORDER BY block_number")
                .fetch_all(&store.pool)
                .await
                .unwrap()
        };
        assert_eq!(stored().await, [2, 3]);

        // The same block again replaces it; an older one does not survive.
        store.save_snapshot(&snapshot(3, 2)).await.unwrap();
        store.save_snapshot(&snapshot(1, 2)).await.unwrap();
        assert_eq!(stored().await, [2, 3]);
        assert_eq!(store.latest_snapshot().await.unwrap(), Some(snapshot(3, 2)));

        // Deltas follow their full snapshot in the chain and are pruned with it.
        let delta = |block_number: u64| {
            let mut data = weft_protocol::snapshot::DELTA_MAGIC.to_vec();
            data.extend_from_slice(&[block_number as u8; 100]);
            StoredSnapshot {
                block_number,
                state_root: B256::repeat_byte(9),
                data,
            }
        };
        store.save_snapshot_delta(&delta(4)).await.unwrap();
        store.save_snapshot_delta(&delta(5)).await.unwrap();
        assert_eq!(
            store.snapshot_chain().await.unwrap(),
            [snapshot(3, 2), delta(4), delta(5)]
        );
        store.save_snapshot(&snapshot(6, 3)).await.unwrap();
        assert_eq!(stored().await, [3, 4, 5, 6]);
        assert_eq!(store.snapshot_chain().await.unwrap(), [snapshot(6, 3)]);
        store.save_snapshot(&snapshot(7, 3)).await.unwrap();
        assert_eq!(stored().await, [6, 7]);
    })
    .await;
}

#[tokio::test]
async fn a_new_connection_sees_what_an_earlier_one_wrote() {
    on_every_backend(async |db| {
        let store = connect(db).await;
        let block_1 = every_kind_block();
        let block_2 = transfer_block(2, block_1.hash, 3, 2);
        store.insert_block(&block_1).await.unwrap();
        store.insert_block(&block_2).await.unwrap();
        let snapshot = StoredSnapshot {
            block_number: 2,
            state_root: block_2.header.state_root,
            data: vec![7; 4096],
        };
        store.save_snapshot(&snapshot).await.unwrap();
        store.close().await;
        drop(store);

        let reopened = connect(db).await;
        assert_eq!(
            reopened.head().await.unwrap(),
            Some((block_2.header, block_2.hash))
        );
        assert_eq!(
            reopened.block_transactions(1).await.unwrap(),
            block_1.transactions
        );
        assert_eq!(reopened.latest_snapshot().await.unwrap(), Some(snapshot));
        let block_3 = transfer_block(3, block_2.hash, 3, 3);
        reopened.insert_block(&block_3).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn rows_changed_behind_the_store_are_reported_corrupt() {
    on_every_backend(async |db| {
        let store = connect(db).await;
        let block = transfer_block(1, B256::ZERO, 3, 1);
        store.insert_block(&block).await.unwrap();
        let hash = block.transactions[1].hash;

        let tamper = async |sql: &'static str| {
            sqlx::query(sql).execute(&store.pool).await.unwrap();
        };
        tamper("UPDATE transactions SET fee_paid = '01' WHERE idx = 1").await;
        let err = store.transaction(&hash).await.unwrap_err();
        assert!(matches!(err, Error::Storage(StoreError::Corrupt { table: "transactions", .. })), "{err}");
        assert!(err.to_string().contains(&hash.to_string()), "{err}");
        assert!(err.to_string().contains("fee_paid"), "{err}");

        tamper("UPDATE transactions SET fee_paid = '2', status = 'failed', failure_reason = 'gremlins' WHERE idx = 1").await;
        let err = store.block_transactions(1).await.unwrap_err();
        assert!(err.to_string().contains("gremlins"), "{err}");

        tamper("UPDATE transactions SET status = 'success', failure_reason = NULL WHERE idx = 1")
            .await;
        assert_eq!(
            store.transaction(&hash).await.unwrap().as_ref(),
            Some(&block.transactions[1])
        );

        tamper("UPDATE blocks SET timestamp = timestamp + 1").await;
        let err = store.head().await.unwrap_err();
        assert!(matches!(err, Error::Storage(StoreError::Corrupt { table: "blocks", .. })), "{err}");
    })
    .await;
}

#[tokio::test]
async fn inserts_a_block_of_ten_thousand_transactions() {
    on_every_backend(async |db| {
        let store = connect(db).await;
        let block = transfer_block(1, B256::ZERO, 10_000, 1);
        let started = Instant::now();
        store.insert_block(&block).await.unwrap();
        let inserted = started.elapsed();
        let started = Instant::now();
        let read = store.block_transactions(1).await.unwrap();
        let read_back = started.elapsed();
        assert_eq!(read.len(), 10_000);
        assert_eq!(read[9_999], block.transactions[9_999]);
        eprintln!(
            "{:?}: inserted a block of 10,000 transactions in {inserted:?}, read it back in \
             {read_back:?}",
            store.backend()
        );
    })
    .await;
}

#[tokio::test]
async fn without_a_url_the_store_is_the_sqlite_file_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(None, dir.path()).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(dir.path().join(DEFAULT_SQLITE_FILE).exists());
    let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(cache, -i64::from(SQLITE_CACHE_KIB));
}

#[test]
fn embedded_migrations_are_the_files_in_both_directories() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/sequencer");
    let embedded: Vec<&str> = MIGRATIONS.iter().map(|(file, _, _)| *file).collect();
    for (backend, index) in [("sqlite", 1), ("postgres", 2)] {
        let mut files: Vec<String> = std::fs::read_dir(format!("{root}/{backend}"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(files, embedded, "{backend}");
        for (file, sqlite, postgres) in MIGRATIONS {
            let sql = [sqlite, postgres][index - 1];
            let on_disk = std::fs::read_to_string(format!("{root}/{backend}/{file}")).unwrap();
            assert_eq!(*sql, on_disk, "{backend}/{file}");
        }
    }
}

#[test]
fn every_status_round_trips_through_its_columns() {
    // Fails to compile when FailureReason gains a variant: list it in FAILURE_REASONS.
    fn listed(reason: FailureReason) {
        match reason {
            FailureReason::BadNonce
            | FailureReason::UnknownToken
            | FailureReason::InsufficientFee
            | FailureReason::ZeroAmount
            | FailureReason::SelfTransfer
            | FailureReason::AmountOverflow
            | FailureReason::InsufficientBalance
            | FailureReason::SupplyOverflow
            | FailureReason::NothingToWithdraw
            | FailureReason::SecretAlreadyRevealed
            | FailureReason::UnsupportedKind
            | FailureReason::UnknownChannel
            | FailureReason::SelfChannel
            | FailureReason::ChannelExists
            | FailureReason::NotParticipant
            | FailureReason::ChannelNotOpen
            | FailureReason::ChannelNotDisputed
            | FailureReason::ChannelClosed
            | FailureReason::InvalidCoSignature
            | FailureReason::NotFinal
            | FailureReason::TotalMismatch
            | FailureReason::TooManyLocks
            | FailureReason::StaleVersion
            | FailureReason::DisputeExpired
            | FailureReason::DisputePending
            | FailureReason::InsufficientFunds
            | FailureReason::IntrinsicGasTooLow
            | FailureReason::FeeCapTooLow
            | FailureReason::BlockGasExceeded
            | FailureReason::SenderNotEoa
            | FailureReason::InvalidEvmTransaction
            | FailureReason::Reverted
            | FailureReason::OutOfGas
            | FailureReason::Halted => {}
        }
    }
    let statuses = std::iter::once(Status::Success).chain(FAILURE_REASONS.map(|r| {
        listed(r);
        Status::Failed(r)
    }));
    for status in statuses {
        let (s, reason) = transactions::status_columns(&status);
        assert_eq!(transactions::status_from_columns(s, reason), Ok(status));
    }
    assert!(transactions::status_from_columns("success", Some("bad_nonce")).is_err());
    assert!(transactions::status_from_columns("failed", None).is_err());
}

#[test]
fn the_multi_row_insert_has_a_placeholder_per_column() {
    let columns = transactions::INSERT_COLUMNS.split(',').count();
    assert_eq!(columns, transactions::INSERT_COLUMN_COUNT);
    let postgres = transactions::insert_sql(Backend::Postgres, 2);
    assert!(
        postgres.ends_with(&format!(", ${})", 2 * columns)),
        "{postgres}"
    );
    let sqlite = transactions::insert_sql(Backend::Sqlite, 2);
    assert_eq!(sqlite.matches('?').count(), 2 * columns);
    // No statement journal on SQLite; PostgreSQL has no `OR FAIL`.
    assert!(
        sqlite.starts_with("INSERT OR FAIL INTO transactions"),
        "{sqlite}"
    );
    assert!(
        postgres.starts_with("INSERT INTO transactions"),
        "{postgres}"
    );
}

#[tokio::test]
async fn queue_entries_are_taken_once_and_chain_their_hashes() {
    on_every_backend(async |db: &TestDatabase| {
        let store = connect(db).await;
        let domain = test_domain();
        let mut chain = B256::ZERO;
        let entries: Vec<QueueEntry> = (0..3u64)
            .map(|i| {
                let tx = Transaction::Deposit(Deposit {
                    queue_index: i,
                    to: test_address(i),
                    token: 0,
                    amount: 5,
                });
                let entry_hash = tx.hash(&domain);
                chain = weft_protocol::batch::next_queue_hash(&chain, &entry_hash);
                QueueEntry {
                    queue_index: i,
                    transaction: tx,
                    entry_hash,
                    queue_hash: chain,
                    l1_block_number: 10 + i,
                    l1_block_hash: B256::repeat_byte(i as u8),
                }
            })
            .collect();
        store.insert_queue_entries(&entries[..2]).await.unwrap();
        // Taking overlapping entries again is idempotent.
        store.insert_queue_entries(&entries).await.unwrap();
        assert_eq!(store.queue_len().await.unwrap(), 3);
        assert_eq!(store.queue_entries(1, 10).await.unwrap(), entries[1..]);
        assert_eq!(store.queue_hash_at(0).await.unwrap(), Some(B256::ZERO));
        assert_eq!(store.queue_hash_at(3).await.unwrap(), Some(chain));
        assert_eq!(store.queue_hash_at(4).await.unwrap(), None);
        let mut forged = entries[0].clone();
        forged.entry_hash = B256::repeat_byte(9);
        assert!(matches!(
            store.insert_queue_entries(&[forged]).await,
            Err(Error::QueueConflict { queue_index: 0 })
        ));
    })
    .await;
}

#[tokio::test]
async fn batches_are_contiguous_and_only_move_forward() {
    on_every_backend(async |db: &TestDatabase| {
        let store = connect(db).await;
        let batch = |index: u64| StoredBatch {
            commitment: weft_protocol::batch::BatchCommitment {
                index,
                from_block: 10 * index - 9,
                to_block: 10 * index,
                prev_state_root: B256::repeat_byte(index as u8),
                new_state_root: B256::repeat_byte(index as u8 + 1),
                withdrawals_root: B256::ZERO,
                queue_position: 0,
                queue_hash: B256::ZERO,
                da_hash: B256::repeat_byte(7),
            },
            accounts_after: 42,
            da_payload: vec![1, 2, 3],
            status: BatchStatus::Sealed,
            commit_l1_tx: None,
            prove_l1_tx: None,
            finalize_l1_tx: None,
        };
        assert!(matches!(
            store.insert_batch(&batch(2)).await,
            Err(Error::BatchOutOfOrder { .. })
        ));
        store.insert_batch(&batch(1)).await.unwrap();
        store.insert_batch(&batch(2)).await.unwrap();
        assert_eq!(store.batch(1).await.unwrap(), Some(batch(1)));
        assert_eq!(
            store
                .latest_batch()
                .await
                .unwrap()
                .unwrap()
                .commitment
                .index,
            2
        );
        assert_eq!(
            store
                .batch_of_block(15)
                .await
                .unwrap()
                .unwrap()
                .commitment
                .index,
            2
        );
        assert_eq!(store.batch_of_block(21).await.unwrap(), None);

        let l1_tx = B256::repeat_byte(0xc0);
        store
            .set_batch_status(1, BatchStatus::Committed, Some(l1_tx))
            .await
            .unwrap();
        store
            .set_batch_status(1, BatchStatus::Proven, None)
            .await
            .unwrap();
        // Never backwards.
        store
            .set_batch_status(1, BatchStatus::Committed, Some(B256::ZERO))
            .await
            .unwrap();
        let b = store.batch(1).await.unwrap().unwrap();
        assert_eq!(b.status, BatchStatus::Proven);
        assert_eq!(b.commit_l1_tx, Some(l1_tx));
        // At the same status, the newer L1 transaction (a commit posted again after a reorg).
        let again = B256::repeat_byte(0xc1);
        store
            .set_batch_status(2, BatchStatus::Committed, Some(l1_tx))
            .await
            .unwrap();
        store
            .set_batch_status(2, BatchStatus::Committed, Some(again))
            .await
            .unwrap();
        let b = store.batch(2).await.unwrap().unwrap();
        assert_eq!(
            (b.status, b.commit_l1_tx),
            (BatchStatus::Committed, Some(again))
        );
    })
    .await;
}

#[tokio::test]
async fn l1_transactions_are_stored_before_sending_and_listed_while_pending() {
    on_every_backend(async |db: &TestDatabase| {
        let store = connect(db).await;
        let t = |hash: u8, fee: u128| StoredL1Transaction {
            tx_hash: B256::repeat_byte(hash),
            nonce: 7,
            purpose: "commit".into(),
            batch_index: Some(3),
            raw: vec![hash; 10],
            max_fee_per_gas: fee,
            max_priority_fee_per_gas: 1,
            status: "pending".into(),
            created_at: u64::from(hash),
        };
        store.insert_l1_transaction(&t(1, 100)).await.unwrap();
        store.insert_l1_transaction(&t(2, 110)).await.unwrap();
        let pending = store.pending_l1_transactions().await.unwrap();
        assert_eq!(
            pending,
            vec![t(2, 110), t(1, 100)],
            "newest fee first within a nonce"
        );
        store
            .set_l1_transaction_status(&B256::repeat_byte(1), "replaced")
            .await
            .unwrap();
        assert_eq!(
            store.pending_l1_transactions().await.unwrap(),
            vec![t(2, 110)]
        );
        // The same transaction signed again (after a reorg dropped it) is pending again.
        store
            .set_l1_transaction_status(&B256::repeat_byte(2), "included")
            .await
            .unwrap();
        assert!(store.pending_l1_transactions().await.unwrap().is_empty());
        store.insert_l1_transaction(&t(2, 110)).await.unwrap();
        assert_eq!(
            store.pending_l1_transactions().await.unwrap(),
            vec![t(2, 110)]
        );
        assert_eq!(store.l1_transactions().await.unwrap().len(), 2);
    })
    .await;
}

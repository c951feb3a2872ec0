//! EVM receipts and logs in the store, on every backend.

use weft_protocol::{
    evm::{EvmReceipt, Log},
    execution::{FailureReason, Receipt, Status},
    primitives::{Address, B256, Bytes, U256},
    signature::SigningKey,
    testkit::evm::{TxType, sign_tx},
    transaction::Transaction,
};
use weft_storage::testkit::{TestDatabase, on_every_backend};

use super::tests::seal;
use super::{LogFilter, SealedBlock, Store, StoredTransaction};

fn log(address: u8, topics: &[u8], data: &[u8]) -> Log {
    Log::new_unchecked(
        Address::repeat_byte(address),
        topics.iter().map(|t| B256::repeat_byte(*t)).collect(),
        Bytes::copy_from_slice(data),
    )
}

fn evm_tx(key: &SigningKey, nonce: u64) -> Transaction {
    sign_tx(
        key,
        TxType::DynamicFee,
        nonce,
        Some(Address::repeat_byte(0xc0)),
        U256::from(5),
        Bytes::from_static(&[1, 2, 3]),
        100_000,
        20_000_000,
    )
    .transaction
}

/// Block `number`: an EVM transaction with two logs, a reverted one, a native transfer.
fn evm_block(number: u64, parent: B256) -> SealedBlock {
    let key = SigningKey::from_seed(format!("evm-store-{number}").as_bytes());
    let receipt = |status, evm| Receipt {
        status,
        fee_paid: 7,
        withdrawal: None,
        evm: Some(Box::new(evm)),
    };
    let ok = EvmReceipt {
        gas_used: 50_000,
        cumulative_gas_used: 50_000,
        effective_gas_price: 11_000_000,
        logs: vec![log(0xaa, &[1, 2], b"first"), log(0xbb, &[1], b"")],
        contract_address: Some(Address::repeat_byte(0xcc)),
        revert_data: Bytes::new(),
    };
    let reverted = EvmReceipt {
        gas_used: 30_000,
        cumulative_gas_used: 80_000,
        effective_gas_price: u128::MAX,
        logs: Vec::new(),
        contract_address: None,
        revert_data: Bytes::from_static(&[0xde, 0xad]),
    };
    let native = Transaction::Transfer(weft_protocol::transaction::Transfer {
        from: key.address(),
        to: Address::repeat_byte(3),
        token: 0,
        amount: 1,
        fee: 1,
        nonce: 2,
    });
    let signature = key.sign_digest(&B256::repeat_byte(1));
    let txs = [
        (evm_tx(&key, 0), None, receipt(Status::Success, ok)),
        (
            evm_tx(&key, 1),
            None,
            receipt(Status::Failed(FailureReason::Reverted), reverted),
        ),
        (
            native,
            Some(signature),
            Receipt {
                status: Status::Success,
                fee_paid: 1,
                withdrawal: None,
                evm: None,
            },
        ),
    ];
    let domain = weft_protocol::testkit::test_domain();
    let transactions = txs
        .into_iter()
        .enumerate()
        .map(|(i, (transaction, signature, receipt))| StoredTransaction {
            hash: transaction.hash(&domain),
            block_number: number,
            index: i as u32,
            transaction,
            signature,
            receipt,
        })
        .collect();
    seal(number, parent, transactions)
}

#[tokio::test]
async fn evm_receipts_and_logs_round_trip_and_logs_are_found_by_filter() {
    on_every_backend(async |db: &TestDatabase| {
        let store = Store::connect(db.url(), db.dir()).await.unwrap();
        let first = evm_block(1, B256::ZERO);
        let second = evm_block(2, first.hash);
        store.insert_block(&first).await.unwrap();
        store.insert_block(&second).await.unwrap();
        assert_eq!(
            store.block_transactions(2).await.unwrap(),
            second.transactions
        );
        for tx in &first.transactions {
            assert_eq!(
                store.transaction(&tx.hash).await.unwrap().as_ref(),
                Some(tx)
            );
        }
        let logs = store
            .transaction_logs(first.header.number, first.transactions[0].index)
            .await
            .unwrap();
        assert_eq!(
            logs.iter()
                .map(|l| (l.block_number, l.log_index, l.tx_index))
                .collect::<Vec<_>>(),
            vec![(1, 0, 0), (1, 1, 0)]
        );
        assert_eq!(logs[0].block_hash, first.hash);

        let all = LogFilter {
            from: 1,
            to: 2,
            ..LogFilter::default()
        };
        let found = store.logs(&all, 100).await.unwrap();
        assert_eq!(found.len(), 4);
        assert_eq!(
            store.logs(&all, 3).await.unwrap().len(),
            3,
            "the limit holds"
        );
        let by_address = LogFilter {
            addresses: vec![Address::repeat_byte(0xbb)],
            ..all.clone()
        };
        let found = store.logs(&by_address, 100).await.unwrap();
        assert_eq!(
            found
                .iter()
                .map(|l| (l.block_number, l.log_index))
                .collect::<Vec<_>>(),
            vec![(1, 1), (2, 1)]
        );
        let mut by_topic = LogFilter {
            from: 2,
            to: 2,
            ..LogFilter::default()
        };
        by_topic.topics[1] = vec![B256::repeat_byte(2), B256::repeat_byte(9)];
        let found = store.logs(&by_topic, 100).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].log, log(0xaa, &[1, 2], b"first"));
        assert_eq!(found[0].tx_hash, second.transactions[0].hash);
        by_topic.topics[0] = vec![B256::repeat_byte(7)];
        assert!(store.logs(&by_topic, 100).await.unwrap().is_empty());

        // The bloom written with each block is the bloom of the logs stored with it.
        for block in [&first, &second] {
            let logs = store.block_logs(block.header.number as i64).await.unwrap();
            let mut expected = alloy::primitives::Bloom::ZERO;
            for (_, log) in &logs {
                expected.accrue_log(log);
            }
            let stored = store.block_logs_bloom(block.header.number).await.unwrap();
            assert_eq!(stored, Some(expected));
            assert!(expected.contains_input(alloy::primitives::BloomInput::Raw(
                Address::repeat_byte(0xbb).as_slice()
            )));
        }
        // A block without logs stores none (its bloom is zero); so does a missing block.
        let empty = seal(3, second.hash, Vec::new());
        store.insert_block(&empty).await.unwrap();
        assert_eq!(store.block_logs_bloom(3).await.unwrap(), None);
        assert_eq!(store.block_logs_bloom(4).await.unwrap(), None);

        assert_eq!(
            store.evm_gas(1, 2).await.unwrap(),
            vec![
                (1, 50_000, 11_000_000),
                (1, 30_000, u128::MAX),
                (2, 50_000, 11_000_000),
                (2, 30_000, u128::MAX)
            ]
        );
    })
    .await;
}

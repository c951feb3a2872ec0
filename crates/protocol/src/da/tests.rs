use super::*;
use crate::transaction::VerifiedTransaction;
use crate::{
    execution::{BlockExecutor, SequentialExecutor},
    state::State,
    testkit::{BlockGen, Workload, env, genesis},
};
use proptest::prelude::*;

/// Executes `n` generated blocks on `state`, returning them as DA blocks.
fn run_blocks(state: &mut State, seed: u64, n: u64, w: &Workload) -> Vec<DaBlock> {
    let mut blocks_gen = BlockGen::new(state, seed);
    (1..=n)
        .map(|number| {
            let txs = blocks_gen.block(w);
            let env = env(number);
            SequentialExecutor.execute_block(state, &env, &txs).unwrap();
            DaBlock {
                number,
                timestamp: env.timestamp,
                fee_recipient: env.fee_recipient,
                transactions: txs.into_iter().map(|t| t.transaction).collect(),
            }
        })
        .collect()
}

#[test]
fn a_batch_round_trips_and_re_executes_to_the_same_root() {
    let before = genesis(500, 1_000_000);
    let mut after = before.clone();
    let w = Workload {
        odd_p: 0.3,
        new_receiver_p: 0.1,
        bad_nonce_p: 0.05,
        hot_sender_p: 0.3,
        hot_senders: 3,
        ..Workload::transfers(300)
    };
    let blocks = run_blocks(&mut after, 11, 4, &w);
    let (payload, accounts_after) = encode_batch(
        &blocks,
        before.account_count(),
        before.queue_position(),
        |a| after.index_of(a),
    );
    assert_eq!(accounts_after, after.account_count());
    let decoded = decode_batch(&payload, |i| before.account(i).map(|a| a.address)).unwrap();
    assert_eq!(decoded.blocks, blocks);
    let kinds: std::collections::HashSet<&str> = blocks
        .iter()
        .flat_map(|b| &b.transactions)
        .map(|t| t.kind())
        .collect();
    for kind in [
        "channelOpen",
        "channelDeposit",
        "channelClose",
        "channelRegister",
        "channelRefute",
        "channelConclude",
    ] {
        assert!(kinds.contains(kind), "the batch has a {kind}");
    }
    assert!(!after.channels().is_empty(), "channels were opened");
    assert_eq!(decoded.accounts_before, before.account_count());

    // Re-executed on a chain with another dispute window, the same blocks (they register
    // channels) give another state: the window is part of what a verifier must share.
    let mut other_chain = before.clone();
    let mut rebuilt = before;
    for b in &decoded.blocks {
        let txs: Vec<_> = b
            .transactions
            .iter()
            .map(|t| t.clone().assume_verified(&crate::testkit::test_domain()))
            .collect();
        let env = crate::execution::BlockEnv {
            number: b.number,
            timestamp: b.timestamp,
            fee_recipient: b.fee_recipient,
            domain: crate::testkit::test_domain(),
            dispute_window: crate::channel::DEFAULT_DISPUTE_WINDOW,
            gas_limit: crate::evm::DEFAULT_BLOCK_GAS_LIMIT,
            base_fee: crate::evm::DEFAULT_MIN_BASE_FEE,
        };
        SequentialExecutor
            .execute_block(&mut rebuilt, &env, &txs)
            .unwrap();
        let env = crate::execution::BlockEnv {
            dispute_window: crate::channel::DEFAULT_DISPUTE_WINDOW + 1,
            gas_limit: crate::evm::DEFAULT_BLOCK_GAS_LIMIT,
            base_fee: crate::evm::DEFAULT_MIN_BASE_FEE,
            ..env
        };
        SequentialExecutor
            .execute_block(&mut other_chain, &env, &txs)
            .unwrap();
    }
    assert_eq!(rebuilt.state_root(), after.state_root());
    assert_ne!(other_chain.state_root(), after.state_root());
}

#[test]
fn amounts_pack_round_numbers_small_and_keep_every_value() {
    for amount in [
        0,
        1,
        10,
        1_000_000_000_000_000_000,
        123_456_789,
        u128::MAX,
        u128::MAX - 1,
        10u128.pow(38),
    ] {
        let mut buf = Vec::new();
        put_amount(&mut buf, amount);
        let mut r: &[u8] = &buf;
        assert_eq!(get_amount(&mut r).unwrap(), amount);
        assert!(r.is_empty());
    }
    let mut one_eth = Vec::new();
    put_amount(&mut one_eth, 1_000_000_000_000_000_000);
    assert_eq!(one_eth.len(), 1);
}

/// What the DA payload carries of `blocks`: EVM transactions without their signatures.
fn unsigned(blocks: &[DaBlock]) -> Vec<DaBlock> {
    blocks
        .iter()
        .map(|b| DaBlock {
            transactions: b
                .transactions
                .iter()
                .map(Transaction::without_signature)
                .collect(),
            ..b.clone()
        })
        .collect()
}

/// Generated blocks of every EVM workload on a fresh world, executed, as DA blocks with the
/// headers the builder sealed; the world before them.
fn evm_blocks(
    seed: u64,
) -> (
    crate::testkit::evm::EvmWorld,
    crate::testkit::evm::EvmWorld,
    Vec<DaBlock>,
    Vec<B256>,
) {
    use crate::testkit::evm::{EvmWorkload, EvmWorld, rng};
    let before = EvmWorld::new(40, 2);
    let mut world = before.clone();
    let mut rng = rng(seed);
    let mut parent = B256::ZERO;
    let (mut blocks, mut hashes) = (Vec::new(), Vec::new());
    for workload in [
        EvmWorkload::Mixed,
        EvmWorkload::EthTransfers,
        EvmWorkload::Erc20Random,
        EvmWorkload::Swaps(2),
        EvmWorkload::NativeMix,
        EvmWorkload::Mixed,
    ] {
        let txs = world.block(workload, 30, &mut rng);
        let out = world.execute_unchecked(&txs);
        let env = EvmWorld::env(world.number);
        let leaves: Vec<B256> = txs.iter().map(VerifiedTransaction::leaf).collect();
        let header = crate::block::BlockHeader::seal(
            env.number,
            env.timestamp,
            env.fee_recipient,
            parent,
            &leaves,
            &out,
        );
        parent = header.hash();
        world.state.push_block_hash(env.number, parent);
        hashes.push(parent);
        blocks.push(DaBlock {
            number: env.number,
            timestamp: env.timestamp,
            fee_recipient: env.fee_recipient,
            transactions: txs.into_iter().map(|t| t.transaction).collect(),
        });
    }
    (before, world, blocks, hashes)
}

#[test]
fn contract_batches_round_trip_without_signatures_and_rebuild_every_block_hash() {
    use crate::testkit::evm::EvmWorld;
    let (before, after, blocks, hashes) = evm_blocks(5);
    let evm = blocks
        .iter()
        .flat_map(|b| &b.transactions)
        .filter(|t| matches!(t, Transaction::Evm(_)))
        .count();
    assert!(evm > 100, "{evm} EVM transactions");
    let (payload, _) = encode_batch(
        &blocks,
        before.state.account_count(),
        before.state.queue_position(),
        |a| after.state.index_of(a),
    );
    let decoded = decode_batch(&payload, |i| before.state.account(i).map(|a| a.address)).unwrap();
    assert_eq!(decoded.blocks, unsigned(&blocks));
    for t in decoded.blocks.iter().flat_map(|b| &b.transactions) {
        if let Transaction::Evm(e) = t {
            assert!(!e.is_signed());
        }
    }

    // Re-executed from the payload alone, every block seals to the sequencer's hash, and
    // BLOCKHASH (read by the mixed workload's contracts) sees the same hashes.
    let mut state = before.state;
    let mut parent = B256::ZERO;
    for (b, expected) in decoded.blocks.iter().zip(&hashes) {
        let txs: Vec<_> = b
            .transactions
            .iter()
            .map(|t| t.clone().assume_verified(&crate::testkit::test_domain()))
            .collect();
        let env = EvmWorld::env(b.number);
        let out = SequentialExecutor
            .execute_block(&mut state, &env, &txs)
            .unwrap();
        let leaves: Vec<B256> = b.transactions.iter().map(|t| t.leaf(&env.domain)).collect();
        let header = crate::block::BlockHeader::seal(
            b.number,
            b.timestamp,
            b.fee_recipient,
            parent,
            &leaves,
            &out,
        );
        parent = header.hash();
        assert_eq!(parent, *expected, "block {}", b.number);
        state.push_block_hash(b.number, parent);
    }
    assert_eq!(state.state_root(), after.state.state_root());

    // The payload is a fraction of the signed transactions it replaces.
    let signed: usize = blocks
        .iter()
        .flat_map(|b| &b.transactions)
        .map(|t| match t {
            Transaction::Evm(e) => e.encoded().len(),
            _ => 0,
        })
        .sum();
    assert!(payload.len() * 3 < signed, "{} vs {signed}", payload.len());
}

#[test]
fn every_truncation_of_an_evm_batch_is_an_error_and_no_corruption_panics() {
    let (before, after, blocks, _) = evm_blocks(9);
    let (payload, _) = encode_batch(&blocks[..2], before.state.account_count(), 0, |a| {
        after.state.index_of(a)
    });
    let raw = zstd::bulk::decompress(&payload, MAX_DECOMPRESSED).unwrap();
    let address_of = |i| before.state.account(i).map(|a| a.address);
    decode_batch(&payload, address_of).unwrap();
    for cut in (0..raw.len()).step_by(7) {
        let truncated = zstd::bulk::compress(&raw[..cut], 1).unwrap();
        assert!(
            decode_batch(&truncated, address_of).is_err(),
            "cut at {cut}"
        );
    }
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3);
    for _ in 0..300 {
        let mut bad = raw.clone();
        let at = rand::Rng::random_range(&mut rng, 0..bad.len());
        bad[at] ^= 1 << rand::Rng::random_range(&mut rng, 0..8);
        let _ = decode_batch(&zstd::bulk::compress(&bad, 1).unwrap(), address_of);
    }
}

#[test]
fn an_evm_leaf_does_not_depend_on_the_signature_but_binds_the_sender() {
    use crate::testkit::evm::{TxType, sign_tx};
    let (alice, bob) = (
        crate::signature::SigningKey::from_seed(b"alice"),
        crate::signature::SigningKey::from_seed(b"bob"),
    );
    let call = |key| {
        let t = sign_tx(
            key,
            TxType::DynamicFee,
            3,
            Some(Address::repeat_byte(7)),
            alloy_primitives::U256::from(9),
            Default::default(),
            21_000,
            100,
        );
        match t.transaction {
            Transaction::Evm(e) => *e,
            _ => unreachable!(),
        }
    };
    let (a, b) = (call(&alice), call(&bob));
    let stripped = a.without_signature();
    assert_eq!(stripped.leaf(), a.leaf());
    assert_eq!(a.signing_hash(), b.signing_hash());
    assert_ne!(a.leaf(), b.leaf(), "the sender is part of the leaf");
    let mut preimage = a.sender().to_vec();
    preimage.extend_from_slice(a.signing_hash().as_slice());
    assert_eq!(a.leaf(), crate::primitives::keccak256(preimage));
    assert_ne!(a.leaf(), a.hash(), "the Ethereum hash stays the identity");
    // Without a signature, the leaf stands in for the unknown Ethereum hash.
    assert_eq!(stripped.hash(), a.leaf());
    let domain = crate::testkit::test_domain();
    let native = Transaction::Transfer(Transfer {
        from: alice.address(),
        to: bob.address(),
        token: 0,
        amount: 1,
        fee: 0,
        nonce: 0,
    });
    assert_eq!(native.leaf(&domain), native.hash(&domain));
}

/// A signed EVM transaction of any type and shape: creations, calls to indexed accounts
/// and to others, empty, ABI-shaped and raw input, access lists, values past 2^128.
fn arb_evm() -> impl Strategy<Value = crate::evm::EvmTransaction> {
    use alloy_consensus::{TxEip1559, TxEip2930, TxLegacy};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_primitives::{TxKind, U256};
    let address = prop_oneof![
        (1..4u64).prop_map(crate::testkit::test_address),
        any::<[u8; 20]>().prop_map(Address::from),
    ];
    let word = prop_oneof![
        address.clone().prop_map(|a| a.into_word().0),
        (0..10_000u64).prop_map(|v| U256::from(v).to_be_bytes::<32>()),
        (1..99u128, 0..30u32).prop_map(|(m, e)| U256::from(m * 10u128.pow(e)).to_be_bytes()),
        any::<[u8; 32]>(),
    ];
    let input = prop_oneof![
        Just(Vec::new()),
        (
            prop_oneof![Just([0xa9, 0x05, 0x9c, 0xbb]), any::<[u8; 4]>()],
            proptest::collection::vec(word, 0..5)
        )
            .prop_map(|(selector, words)| {
                let mut v = selector.to_vec();
                words.iter().for_each(|w| v.extend_from_slice(w));
                v
            }),
        proptest::collection::vec(any::<u8>(), 1..100),
    ];
    let value = prop_oneof![
        Just(U256::ZERO),
        (1..1000u64).prop_map(U256::from),
        any::<u128>().prop_map(U256::from),
        any::<[u8; 32]>().prop_map(U256::from_be_bytes),
    ];
    let access_list = proptest::collection::vec(
        (
            any::<[u8; 20]>(),
            proptest::collection::vec(any::<[u8; 32]>(), 0..3),
        ),
        0..3,
    )
    .prop_map(|items| {
        alloy_eips::eip2930::AccessList(
            items
                .into_iter()
                .map(|(a, keys)| alloy_eips::eip2930::AccessListItem {
                    address: a.into(),
                    storage_keys: keys.into_iter().map(B256::from).collect(),
                })
                .collect(),
        )
    });
    let fees = prop_oneof![Just((10u128, 1u128)), (any::<u128>(), any::<u128>())];
    (
        0..3u8,
        0..3u8,
        0..4u64,
        proptest::option::of(address),
        value,
        input,
        access_list,
        prop_oneof![Just(21_000u64), any::<u64>()],
        fees,
        prop_oneof![Just(31_337u64), 1..u64::from(u32::MAX)],
    )
        .prop_map(
            |(ty, key, nonce, to, value, input, access_list, gas_limit, fees, chain_id)| {
                let key = crate::signature::SigningKey::from_seed(&[key]);
                let to = to.map_or(TxKind::Create, TxKind::Call);
                let input = input.into();
                let seal = |e: alloy_consensus::TxEnvelope| e.encoded_2718();
                use crate::testkit::evm::seal as sign;
                let raw = match ty {
                    0 => seal(sign(
                        TxLegacy {
                            chain_id: Some(chain_id),
                            nonce,
                            gas_price: fees.0,
                            gas_limit,
                            to,
                            value,
                            input,
                        },
                        &key,
                    )),
                    1 => seal(sign(
                        TxEip2930 {
                            chain_id,
                            nonce,
                            gas_price: fees.0,
                            gas_limit,
                            to,
                            value,
                            access_list,
                            input,
                        },
                        &key,
                    )),
                    _ => seal(sign(
                        TxEip1559 {
                            chain_id,
                            nonce,
                            gas_limit,
                            max_fee_per_gas: fees.0,
                            max_priority_fee_per_gas: fees.1,
                            to,
                            value,
                            access_list,
                            input,
                        },
                        &key,
                    )),
                };
                crate::evm::EvmTransaction::decode(&raw).expect("a valid transaction")
            },
        )
}

proptest! {
    #[test]
    fn arbitrary_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_batch(&bytes, |_| None);
        let compressed = zstd::bulk::compress(&bytes, 1).unwrap();
        let _ = decode_batch(&compressed, |i| Some(Address::repeat_byte(i as u8)));
    }

    #[test]
    fn varints_round_trip(v in any::<u128>()) {
        let mut buf = Vec::new();
        put_varint(&mut buf, v);
        let mut r: &[u8] = &buf;
        prop_assert_eq!(get_varint(&mut r).unwrap(), v);
    }

    #[test]
    fn evm_transactions_of_every_shape_round_trip_among_native_ones(
        txs in proptest::collection::vec(arb_evm(), 1..16),
        split in 0..16usize,
    ) {
        let known: Vec<Address> = (0..10).map(crate::testkit::test_address).collect();
        let mut transactions: Vec<Transaction> =
            txs.into_iter().map(|t| Transaction::Evm(Box::new(t))).collect();
        transactions.insert(
            split.min(transactions.len()),
            Transaction::Transfer(Transfer {
                from: known[1],
                to: known[2],
                token: 0,
                amount: 5,
                fee: 1,
                nonce: 0,
            }),
        );
        let second = transactions.split_off(transactions.len() / 2);
        let blocks: Vec<DaBlock> = [transactions, second]
            .into_iter()
            .enumerate()
            .map(|(i, transactions)| DaBlock {
                number: 7 + i as u64,
                timestamp: 100,
                fee_recipient: known[0],
                transactions,
            })
            .collect();
        let index_of = |a: &Address| known.iter().position(|k| k == a).map(|i| i as u32);
        let (payload, _) = encode_batch(&blocks, 10, 0, index_of);
        let decoded = decode_batch(&payload, |i| known.get(i as usize).copied()).unwrap();
        prop_assert_eq!(&decoded.blocks, &unsigned(&blocks));
        for (d, t) in decoded.blocks.iter().zip(&blocks).flat_map(|(d, b)| d.transactions.iter().zip(&b.transactions)) {
            let domain = crate::testkit::test_domain();
            prop_assert_eq!(d.leaf(&domain), t.leaf(&domain));
        }
        // Re-encoding the decoded batch gives the same payload: nothing was lost.
        let (again, _) = encode_batch(&decoded.blocks, 10, 0, index_of);
        prop_assert_eq!(again, payload);
    }
}

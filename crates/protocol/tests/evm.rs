//! EVM transactions in the protocol core: outcomes of the sequential executor (the
//! specification) on the test contracts.

use weft_protocol::{
    evm::EvmReceipt,
    execution::{BlockExecutor, FailureReason, SequentialExecutor, Status},
    primitives::{Address, B256, U256},
    state::StorageProof,
    testkit::{
        env,
        evm::{Arg, EvmWorld, MAX_FEE, TxType, calldata, init_code, sign_tx},
    },
};

fn evm(r: &weft_protocol::execution::Receipt) -> &EvmReceipt {
    r.evm.as_deref().expect("an EVM receipt")
}

#[test]
fn token_transfer_moves_balances_logs_and_pays_fees_once_at_the_end() {
    let mut world = EvmWorld::new(8, 1);
    let (a, b) = (world.keys[1].address(), world.keys[2].address());
    let token = world.tokens[0];
    let before_a = world.token_balance(token, a);
    let eth_before = world.state.account_by_address(&a).unwrap().eth();
    let data = calldata(
        "transfer(address,uint256)",
        &[Arg::A(b), Arg::U(U256::from(250))],
    );
    let tx = world.tx(1, Some(token), U256::ZERO, data, 100_000);
    let fee_recipient = env(1).fee_recipient;
    let fr_before = world
        .state
        .account_by_address(&fee_recipient)
        .map_or(0, |a| a.eth());
    let out = world.execute(&[tx]);
    let r = &out.receipts[0];
    assert_eq!(r.status, Status::Success);
    let e = evm(r);
    assert!(
        e.gas_used > 21_000 && e.gas_used < 100_000,
        "{}",
        e.gas_used
    );
    assert_eq!(e.cumulative_gas_used, e.gas_used);
    assert_eq!(out.gas_used, e.gas_used);
    assert_eq!(e.logs.len(), 1, "a Transfer event");
    assert_eq!(e.logs[0].address, token);
    assert_eq!(world.token_balance(token, a), before_a - U256::from(250));
    let price = weft_protocol::evm::DEFAULT_MIN_BASE_FEE as u128 + 1_000_000;
    assert_eq!(e.effective_gas_price, price);
    assert_eq!(r.fee_paid, u128::from(e.gas_used) * price);
    let eth_after = world.state.account_by_address(&a).unwrap().eth();
    assert_eq!(eth_before - eth_after, r.fee_paid);
    let fr_after = world
        .state
        .account_by_address(&fee_recipient)
        .unwrap()
        .eth();
    assert_eq!(fr_after - fr_before, r.fee_paid);
}

#[test]
fn refusals_change_nothing_and_failures_consume_the_nonce() {
    let mut world = EvmWorld::new(8, 1);
    let counter = world.counter;
    let key = world.keys[3].clone();
    let sender = key.address();
    let root = world.state.state_root();
    // A nonce gap and a fee cap below the base fee: refused, nothing changes (but the fee
    // recipient's leaf, which the block touches anyway).
    let gap = sign_tx(
        &key,
        TxType::Legacy,
        5,
        Some(counter),
        U256::ZERO,
        calldata("increment()", &[]),
        100_000,
        MAX_FEE,
    );
    let cheap = sign_tx(
        &key,
        TxType::DynamicFee,
        0,
        Some(counter),
        U256::ZERO,
        calldata("increment()", &[]),
        100_000,
        1,
    );
    let low_gas = sign_tx(
        &key,
        TxType::AccessList,
        0,
        Some(counter),
        U256::ZERO,
        calldata("increment()", &[]),
        20_000,
        MAX_FEE,
    );
    let out = world.execute_unchecked(&[gap, cheap, low_gas]);
    let reasons: Vec<Status> = out.receipts.iter().map(|r| r.status).collect();
    assert_eq!(
        reasons,
        vec![
            Status::Failed(FailureReason::BadNonce),
            Status::Failed(FailureReason::FeeCapTooLow),
            Status::Failed(FailureReason::IntrinsicGasTooLow),
        ]
    );
    assert!(
        out.receipts
            .iter()
            .all(|r| r.fee_paid == 0 && evm(r).gas_used == 0)
    );
    assert_eq!(world.state.account_by_address(&sender).unwrap().nonce, 0);
    let _ = root;

    // A revert and an out-of-gas: the nonce is consumed and gas paid.
    let revert = sign_tx(
        &key,
        TxType::DynamicFee,
        0,
        Some(counter),
        U256::ZERO,
        calldata("fail()", &[]),
        100_000,
        MAX_FEE,
    );
    let oog = sign_tx(
        &key,
        TxType::DynamicFee,
        1,
        Some(counter),
        U256::ZERO,
        calldata("spin()", &[]),
        60_000,
        MAX_FEE,
    );
    let out = world.execute_unchecked(&[revert, oog]);
    assert_eq!(
        out.receipts[0].status,
        Status::Failed(FailureReason::Reverted)
    );
    // `Failed(uint256)` with the counter's value (zero).
    assert_eq!(evm(&out.receipts[0]).revert_data.len(), 4 + 32);
    assert_eq!(
        out.receipts[1].status,
        Status::Failed(FailureReason::OutOfGas)
    );
    assert_eq!(evm(&out.receipts[1]).gas_used, 60_000);
    assert_eq!(world.state.account_by_address(&sender).unwrap().nonce, 2);
    assert_eq!(world.state.storage_at(&counter, &U256::ZERO), U256::ZERO);
}

#[test]
fn creations_are_callable_in_the_same_block_and_self_destruct_follows_eip_6780() {
    let mut world = EvmWorld::new(8, 1);
    let deployer = world.keys[4].address();
    let counter = deployer.create(world.nonces[4]);
    let deploy = world.tx(4, None, U256::ZERO, init_code("Counter"), 300_000);
    let call = world.tx(
        4,
        Some(counter),
        U256::ZERO,
        calldata("increment()", &[]),
        100_000,
    );
    let via_creator = world.tx(
        5,
        Some(world.creator),
        U256::ZERO,
        calldata("create2(bytes32)", &[Arg::B(B256::repeat_byte(1))]),
        400_000,
    );
    let beneficiary = Address::repeat_byte(0xbe);
    let ephemeral = world.tx(
        6,
        Some(world.destroyer),
        U256::from(7),
        calldata("ephemeral(address)", &[Arg::A(beneficiary)]),
        300_000,
    );
    let destroy = world.tx(
        6,
        Some(world.destroyer),
        U256::ZERO,
        calldata("destroy(address)", &[Arg::A(beneficiary)]),
        100_000,
    );
    let out = world.execute(&[deploy, call, via_creator, ephemeral, destroy]);
    assert_eq!(evm(&out.receipts[0]).contract_address, Some(counter));
    assert_eq!(world.state.storage_at(&counter, &U256::ZERO), U256::from(1));
    let index = world.state.index_of(&counter).unwrap();
    assert!(world.state.code_hash(index).is_some());
    // The ephemeral contract left no code; its value went to the beneficiary.
    let ephemeral_address = world.destroyer.create(1);
    assert!(
        world
            .state
            .index_of(&ephemeral_address)
            .and_then(|i| world.state.code_hash(i))
            .is_none()
    );
    assert_eq!(
        world.state.account_by_address(&beneficiary).unwrap().eth(),
        7
    );
    // The destroyer, created in an earlier block, keeps its code (EIP-6780).
    let destroyer = world.state.index_of(&world.destroyer).unwrap();
    assert!(world.state.code_hash(destroyer).is_some());
}

#[test]
fn coinbase_balance_inside_the_block_excludes_the_blocks_evm_fees() {
    let mut world = EvmWorld::new(8, 1);
    let fee_recipient = env(1).fee_recipient;
    // Earlier blocks paid fees: the recipient has a balance.
    let before = world
        .state
        .account_by_address(&fee_recipient)
        .unwrap()
        .eth();
    let pay = world.token_transfer_tx(1);
    let read = world.tx(
        2,
        Some(world.coinbase_reader),
        U256::ZERO,
        calldata("read()", &[]),
        100_000,
    );
    world.execute(&[pay, read]);
    assert_eq!(
        world.state.storage_at(&world.coinbase_reader, &U256::ZERO),
        U256::from(before)
    );
}

#[test]
fn storage_and_account_proofs_verify_under_the_state_root() {
    let mut world = EvmWorld::new(8, 1);
    let tx = world.token_transfer_tx(1);
    world.execute(&[tx]);
    let root = world.state.state_root();
    let token = world.tokens[0];
    let index = world.state.index_of(&token).unwrap();
    let proof = world.state.account_proof(index).unwrap();
    assert!(proof.code_hash.is_some());
    assert!(proof.verify(&root));
    let accounts_root = proof.accounts_root().unwrap();
    let slot = weft_protocol::testkit::evm::mapping_slot(world.keys[1].address(), 0);
    let sp: StorageProof = world.state.storage_proof(&token, &slot).unwrap();
    assert!(sp.verify(&accounts_root));
    let mut forged = sp;
    forged.value += U256::from(1);
    assert!(!forged.verify(&accounts_root));
    // An EOA's proof still verifies without a code hash.
    let eoa = world.state.index_of(&world.keys[1].address()).unwrap();
    let p = world.state.account_proof(eoa).unwrap();
    assert!(p.code_hash.is_none() && p.verify(&root));
}

#[test]
fn a_transaction_over_the_gas_the_block_has_left_is_refused() {
    let mut world = EvmWorld::new(8, 1);
    let spin = world.tx(
        1,
        Some(world.counter),
        U256::ZERO,
        calldata("spin()", &[]),
        20_000_000,
    );
    let big = world.tx(
        2,
        Some(world.counter),
        U256::ZERO,
        calldata("increment()", &[]),
        15_000_000,
    );
    let small = world.tx(
        3,
        Some(world.counter),
        U256::ZERO,
        calldata("increment()", &[]),
        9_000_000,
    );
    let mut e = EvmWorld::env(world.number + 1);
    e.gas_limit = 30_000_000;
    let out = SequentialExecutor
        .execute_block(&mut world.state, &e, &[spin, big, small])
        .unwrap();
    assert_eq!(
        out.receipts[0].status,
        Status::Failed(FailureReason::OutOfGas)
    );
    assert_eq!(
        out.receipts[1].status,
        Status::Failed(FailureReason::BlockGasExceeded)
    );
    assert_eq!(evm(&out.receipts[1]).gas_used, 0);
    assert!(out.receipts[2].is_success());
    assert_eq!(out.gas_used, 20_000_000 + evm(&out.receipts[2]).gas_used);
}

#[test]
fn eoas_and_contracts_withdraw_to_l1_through_the_predeploy() {
    use weft_protocol::{evm::WITHDRAWALS, execution::Withdrawal, merkle};
    let mut world = EvmWorld::new(8, 1);
    let l1 = Address::repeat_byte(0x11);
    let sender = world.keys[1].address();
    let eth_before = world.state.account_by_address(&sender).unwrap().eth();
    let direct = world.tx(
        1,
        Some(WITHDRAWALS),
        U256::from(5_000),
        calldata("withdraw(address)", &[Arg::A(l1)]),
        100_000,
    );
    let nothing = world.tx(
        2,
        Some(WITHDRAWALS),
        U256::ZERO,
        calldata("withdraw(address)", &[Arg::A(l1)]),
        100_000,
    );
    let deposit = world.tx(
        3,
        Some(world.vault),
        U256::from(901),
        calldata("deposit()", &[]),
        100_000,
    );
    let (a, b) = (Address::repeat_byte(0xa1), Address::repeat_byte(0xb2));
    let split = world.tx(
        3,
        Some(world.vault),
        U256::ZERO,
        calldata("split(address,address)", &[Arg::A(a), Arg::A(b)]),
        150_000,
    );
    let txs = [direct, nothing, deposit, split];
    let out = world.execute_unchecked(&txs);
    assert!(out.receipts[0].is_success());
    assert_eq!(
        out.receipts[1].status,
        Status::Failed(FailureReason::Reverted)
    );
    assert!(
        out.receipts[2].is_success() && out.receipts[3].is_success(),
        "{:?}",
        out.receipts[3]
    );
    // The value is burnt: the sender paid it (and the fee), nobody holds it.
    let eth_after = world.state.account_by_address(&sender).unwrap().eth();
    assert_eq!(eth_before - eth_after, 5_000 + out.receipts[0].fee_paid);
    assert!(
        world
            .state
            .account_by_address(&WITHDRAWALS)
            .is_none_or(|acc| acc.eth() == 0)
    );
    // One leaf for the EOA, two for the vault's split, with distinct identifiers.
    let w = |recipient, amount| Withdrawal {
        recipient,
        token: 0,
        amount,
    };
    assert_eq!(
        out.receipts[0].withdrawals(&txs[0].leaf()),
        vec![(txs[0].leaf(), w(l1, 5_000))]
    );
    let split_ws = out.receipts[3].withdrawals(&txs[3].leaf());
    assert_eq!(split_ws.len(), 2);
    assert_eq!((split_ws[0].1, split_ws[1].1), (w(a, 450), w(b, 451)));
    assert_eq!(split_ws[0].0, txs[3].leaf());
    assert_ne!(split_ws[1].0, txs[3].leaf());
    let leaves: Vec<B256> = [&out.receipts[0], &out.receipts[3]]
        .iter()
        .zip([&txs[0], &txs[3]])
        .flat_map(|(r, tx)| {
            r.withdrawals(&tx.leaf())
                .into_iter()
                .map(|(id, w)| w.leaf(&id))
        })
        .collect();
    assert_eq!(out.withdrawal_leaves, leaves);
    assert_eq!(out.withdrawals_root, merkle::root_of(&leaves));
}

/// `BLOCKHASH` re-executes in a batch as it ran in the sequencer: `apply_batch` (the prover's
/// and a rebuild's re-execution) seals each block's header as the builder does and records
/// its hash before the next block runs.
#[test]
fn blockhash_re_executes_in_a_batch_as_the_builder_ran_it() {
    use weft_protocol::{
        batch::{BatchCommitment, Carrier, apply_batch},
        block::BlockHeader,
        da::{DaBlock, da_hash, encode_batch},
        merkle,
        signature::SigningKey,
        state::{Balance, GenesisAccount, State},
    };
    let key = SigningKey::from_seed(b"blockhash");
    let genesis = State::genesis(
        &[GenesisAccount {
            address: key.address(),
            balances: vec![Balance {
                token: 0,
                amount: 10u128.pow(20),
            }],
        }],
        1,
    )
    .unwrap();
    // Init code: SSTORE(0, BLOCKHASH(NUMBER - 1)); STOP. The created contract keeps the
    // hash of the block before its own in slot 0.
    let init = vec![0x60, 0x01, 0x43, 0x03, 0x40, 0x60, 0x00, 0x55, 0x00];
    let mut sequencer = genesis.clone();
    let (mut parent, mut blocks, mut leaves, mut hashes) = (B256::ZERO, vec![], vec![], vec![]);
    for number in 1..=3u64 {
        let tx = sign_tx(
            &key,
            TxType::DynamicFee,
            number - 1,
            None,
            U256::ZERO,
            init.clone().into(),
            100_000,
            MAX_FEE,
        );
        let e = env(number);
        let out = SequentialExecutor
            .execute_block(&mut sequencer, &e, std::slice::from_ref(&tx))
            .unwrap();
        assert_eq!(out.receipts[0].status, Status::Success);
        // As the builder seals a block.
        let header = BlockHeader::seal(
            number,
            e.timestamp,
            e.fee_recipient,
            parent,
            &[tx.leaf()],
            &out,
        );
        parent = header.hash();
        sequencer.push_block_hash(number, parent);
        hashes.push(parent);
        leaves.extend(out.withdrawal_leaves);
        blocks.push(DaBlock {
            number,
            timestamp: e.timestamp,
            fee_recipient: e.fee_recipient,
            transactions: vec![tx.transaction.clone()],
        });
    }
    // Blocks 2 and 3 read real hashes (block 1 reads the genesis', unknown: zero).
    for (nonce, expected) in [(0, B256::ZERO), (1, hashes[0]), (2, hashes[1])] {
        let contract = key.address().create(nonce);
        let stored = sequencer.storage_at(&contract, &U256::ZERO);
        assert_eq!(B256::from(stored), expected, "contract of nonce {nonce}");
    }

    let (payload, _) = encode_batch(&blocks, genesis.account_count(), 0, |a| genesis.index_of(a));
    let commitment = BatchCommitment {
        index: 1,
        from_block: 1,
        to_block: 3,
        prev_state_root: genesis.state_root(),
        new_state_root: sequencer.state_root(),
        withdrawals_root: merkle::root_of(&leaves),
        queue_position: 0,
        queue_hash: B256::ZERO,
        da_hash: da_hash(&payload),
    };
    let chain = weft_protocol::execution::ChainParams {
        domain: env(1).domain,
        dispute_window: env(1).dispute_window,
    };
    // Carried in blobs, the same payload commits to its blobs' versioned hashes instead:
    // the calldata commitment is refused for it, the blob one re-executes alike.
    let in_blobs = BatchCommitment {
        da_hash: Carrier::Blobs.da_hash(&payload),
        ..commitment
    };
    for (c, carrier, ok) in [
        (&commitment, Carrier::Blobs, false),
        (&in_blobs, Carrier::Calldata, false),
        (&in_blobs, Carrier::Blobs, true),
    ] {
        let mut state = genesis.clone();
        let applied = apply_batch(
            &mut state,
            &chain,
            c,
            &payload,
            carrier,
            &mut SequentialExecutor,
        );
        assert_eq!(applied.is_ok(), ok, "{carrier:?}: {applied:?}");
    }
    let mut replayed = genesis;
    apply_batch(
        &mut replayed,
        &chain,
        &commitment,
        &payload,
        Carrier::Calldata,
        &mut SequentialExecutor,
    )
    .expect("the batch re-executes to its commitment");
    assert_eq!(replayed.state_root(), sequencer.state_root());
    // And it carries the hashes on, for the next batch's BLOCKHASH.
    assert_eq!(replayed.block_hash(3), Some(hashes[2]));
}

/// A deposit to a contract's address credits its ETH without running its code: the ERC-20
/// has no `receive`, so an ETH transfer to it reverts, but a deposit from L1 lands.
#[test]
fn a_deposit_to_a_contract_credits_eth_without_a_call() {
    use weft_protocol::transaction::{Deposit, Transaction};
    let mut world = EvmWorld::new(4, 1);
    let token = world.tokens[0];
    let eth = |w: &EvmWorld| w.state.account_by_address(&token).map_or(0, |a| a.eth());
    let before = eth(&world);
    let sent = world.tx(1, Some(token), U256::from(5), Default::default(), 100_000);
    let out = world.execute_unchecked(&[sent]);
    assert_eq!(
        out.receipts[0].status,
        Status::Failed(FailureReason::Reverted)
    );
    assert_eq!(eth(&world), before);

    let deposit = Transaction::Deposit(Deposit {
        queue_index: world.state.queue_position(),
        to: token,
        token: 0,
        amount: 7,
    })
    .assume_verified(&env(1).domain);
    let out = world.execute(&[deposit]);
    assert_eq!(out.receipts[0].status, Status::Success);
    assert_eq!(eth(&world), before + 7);
    // Still the contract, its code untouched.
    assert!(
        world
            .state
            .code_hash(world.state.index_of(&token).unwrap())
            .is_some()
    );
}

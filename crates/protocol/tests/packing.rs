//! A block packed past its gas limit, with what did not fit left out
//! ([`execution::left_out`]), is the block of the transactions kept: re-executing them alone
//! gives the same receipts, state root, withdrawals and account indexes, on every workload,
//! whichever executor ran the packed block.

use std::sync::LazyLock;

use proptest::prelude::*;
use weft_protocol::{
    execution::{
        self, BlockEnv, BlockExecutor, BlockOutput, FailureReason, ParallelExecutor,
        SequentialExecutor, Status,
    },
    state::State,
    testkit::evm::{EvmWorkload, EvmWorld, rng},
    transaction::VerifiedTransaction,
};

/// 64 accounts (blocks of more transactions repeat senders), 8 pools, every contract.
static WORLD: LazyLock<EvmWorld> = LazyLock::new(|| EvmWorld::new(64, 8));

fn workloads() -> impl Strategy<Value = EvmWorkload> {
    prop_oneof![
        Just(EvmWorkload::EthTransfers),
        Just(EvmWorkload::Erc20Random),
        Just(EvmWorkload::Erc20HotSender),
        Just(EvmWorkload::Swaps(4)),
        Just(EvmWorkload::Chain),
        Just(EvmWorkload::NativeMix),
        Just(EvmWorkload::Mixed),
        Just(EvmWorkload::Mixed),
    ]
}

/// The environment of the block after the world's, with `gas_limit`.
fn env(gas_limit: u64) -> BlockEnv {
    BlockEnv {
        gas_limit,
        ..EvmWorld::env(WORLD.number + 1)
    }
}

/// The items of `items` whose positions are not in `left` (ascending).
fn kept<T: Clone>(items: &[T], left: &[usize]) -> Vec<T> {
    items
        .iter()
        .enumerate()
        .filter(|(i, _)| left.binary_search(i).is_err())
        .map(|(_, t)| t.clone())
        .collect()
}

/// Executes `txs` on a copy of the world with `gas_limit`: the positions left out
/// ([`execution::left_out`]), the block's output and the state after it.
fn pack(
    executor: &mut dyn BlockExecutor,
    txs: &[VerifiedTransaction],
    gas_limit: u64,
) -> (Vec<usize>, BlockOutput, State) {
    let mut state = WORLD.state.clone();
    let before = state.account_count();
    let out = executor
        .execute_block(&mut state, &env(gas_limit), txs)
        .unwrap();
    let left = execution::left_out(&state, before, txs, &out.receipts);
    (left, out, state)
}

/// The block without the positions in `left`, executed alone on a copy of the world.
fn without(txs: &[VerifiedTransaction], left: &[usize], gas_limit: u64) -> (BlockOutput, State) {
    let mut state = WORLD.state.clone();
    let out = SequentialExecutor
        .execute_block(&mut state, &env(gas_limit), &kept(txs, left))
        .unwrap();
    (out, state)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn leaving_out_what_did_not_fit_equals_executing_the_rest(
        workload in workloads(),
        n in 1usize..240,
        seed in any::<u64>(),
        gas_limit in prop_oneof![Just(300_000u64), Just(2_000_000), Just(8_000_000)],
        threads in prop_oneof![Just(0usize), Just(1), Just(2), Just(4)],
    ) {
        let mut world = WORLD.clone();
        let txs = world.block(workload, n, &mut rng(seed));
        let mut executor: Box<dyn BlockExecutor> = match threads {
            0 => Box::new(SequentialExecutor),
            t => Box::new(ParallelExecutor::new(t).always_parallel()),
        };
        let (left, packed, packed_state) = pack(executor.as_mut(), &txs, gas_limit);
        for &i in &left {
            prop_assert!(
                matches!(
                    packed.receipts[i].status,
                    Status::Failed(FailureReason::BlockGasExceeded | FailureReason::BadNonce)
                ),
                "{:?}",
                packed.receipts[i]
            );
            prop_assert_eq!(packed.receipts[i].fee_paid, 0);
        }
        let (alone, alone_state) = without(&txs, &left, gas_limit);
        prop_assert_eq!(&alone.receipts, &kept(&packed.receipts, &left));
        prop_assert_eq!(alone.state_root, packed.state_root);
        prop_assert_eq!(alone.withdrawals_root, packed.withdrawals_root);
        prop_assert_eq!(&alone.withdrawal_leaves, &packed.withdrawal_leaves);
        prop_assert_eq!(alone.gas_used, packed.gas_used);
        prop_assert_eq!(alone.queue_position, packed.queue_position);
        prop_assert_eq!(alone_state.account_count(), packed_state.account_count());
        prop_assert_eq!(alone_state.state_root(), packed_state.state_root());
    }
}

/// Over-packed ERC-20 transfers, several per sender: the block keeps what fits, leaves
/// out the rest with each skipped sender's later nonces, and the left-out transactions,
/// executed first in the next block, all succeed.
#[test]
fn what_is_left_out_succeeds_in_the_next_block() {
    let mut world = WORLD.clone();
    let txs = world.block(EvmWorkload::Erc20Random, 200, &mut rng(7));
    let gas_limit = 2_000_000;
    let (left, packed, mut state) = pack(&mut SequentialExecutor, &txs, gas_limit);
    assert!(left.len() > 100, "{} left out", left.len());
    let used: u64 = packed.gas_used;
    assert!(
        used <= gas_limit && used > gas_limit - 80_000,
        "the block is full: {used}"
    );
    // Every sender with a transaction left out has all its later ones left out too.
    for &i in &left {
        let sender = txs[i].transaction.sender();
        for (j, tx) in txs.iter().enumerate().skip(i + 1) {
            if tx.transaction.sender() == sender {
                assert!(left.binary_search(&j).is_ok(), "{j} follows {i}");
            }
        }
    }
    let next: Vec<_> = left.iter().map(|&i| txs[i].clone()).collect();
    // The world's block gas limit holds them all.
    let out = SequentialExecutor
        .execute_block(&mut state, &EvmWorld::env(WORLD.number + 2), &next)
        .unwrap();
    for (i, r) in out.receipts.iter().enumerate() {
        assert_eq!(r.status, Status::Success, "left-out transaction {i}");
    }
}

/// A refusal that names an address new to the state stays in the block as failed: the
/// block indexed that address, and leaving the refusal out would renumber what follows.
#[test]
fn a_refusal_naming_a_new_address_stays_in_the_block() {
    use weft_protocol::{
        primitives::{Address, B256, U256},
        testkit::evm::calldata,
        transaction::{Transaction, Transfer},
    };
    let mut world = WORLD.clone();
    let gas_limit = 100_000;
    let increment = |world: &mut EvmWorld, from: usize| {
        let counter = world.counter;
        world.tx(
            from,
            Some(counter),
            U256::ZERO,
            calldata("increment()", &[]),
            90_000,
        )
    };
    let first = increment(&mut world, 1);
    // Does not fit after the first: refused, left out.
    let second = increment(&mut world, 2);
    let native = |world: &mut EvmWorld, to: Address| {
        let from = world.keys[2].address();
        let nonce = world.nonces[2];
        world.nonces[2] += 1;
        VerifiedTransaction {
            hash: B256::from(U256::from(nonce) + U256::from(1u64 << 40)),
            transaction: Transaction::Transfer(Transfer {
                from,
                to,
                token: 0,
                amount: 1,
                fee: 0,
                nonce,
            }),
        }
    };
    // The same sender's next nonces: to an address the state has never seen (stays), to
    // a known one (left out).
    let to_new = native(&mut world, Address::repeat_byte(0x77));
    let known = world.keys[3].address();
    let to_known = native(&mut world, known);
    let txs = [first, second, to_new, to_known];
    let (left, packed, packed_state) = pack(&mut SequentialExecutor, &txs, gas_limit);
    assert!(packed.receipts[0].is_success());
    assert_eq!(
        packed.receipts[1].status,
        Status::Failed(FailureReason::BlockGasExceeded)
    );
    for r in &packed.receipts[2..] {
        assert_eq!(r.status, Status::Failed(FailureReason::BadNonce));
    }
    assert_eq!(left, [1, 3]);
    let (alone, alone_state) = without(&txs, &left, gas_limit);
    assert_eq!(alone.state_root, packed.state_root);
    assert_eq!(alone_state.account_count(), packed_state.account_count());
}

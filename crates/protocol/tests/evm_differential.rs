//! Weft's sequential executor against plain revm over its in-memory database, on the same
//! blocks: balances, nonces, code, storage, logs and gas agree. Fees differ by the
//! documented rule: Weft credits every fee of a block (base fee and tip) to the fee
//! recipient after the block, mainnet revm credits the tip per transaction and burns the
//! base fee; the fee recipient's balances are compared by that rule.

use std::sync::LazyLock;

use proptest::prelude::*;
use revm::context_interface::result::ExecutionResult;
use weft_protocol::{
    execution::{FailureReason, Receipt, Status},
    primitives::{Address, U256},
    state::{EMPTY_CODE_HASH, State},
    testkit::evm::{
        EvmWorkload, EvmWorld,
        reference::{Db, run_block, world_db},
        rng,
    },
    transaction::Transaction,
};

static WORLD: LazyLock<EvmWorld> = LazyLock::new(|| EvmWorld::new(24, 4));

fn compare_receipt(ours: &Receipt, theirs: &Option<ExecutionResult>) -> Result<(), TestCaseError> {
    let evm = ours.evm.as_deref().expect("an EVM receipt");
    match theirs {
        None => {
            prop_assert!(
                matches!(ours.status, Status::Failed(r) if !matches!(r, FailureReason::Reverted | FailureReason::OutOfGas | FailureReason::Halted)),
                "refused by revm, {:?} here",
                ours.status
            );
            prop_assert_eq!(evm.gas_used, 0);
        }
        Some(result) => {
            let expected = match result {
                ExecutionResult::Success { .. } => Status::Success,
                ExecutionResult::Revert { .. } => Status::Failed(FailureReason::Reverted),
                ExecutionResult::Halt { reason, .. } => Status::Failed(match reason {
                    revm::context_interface::result::HaltReason::OutOfGas(_) => {
                        FailureReason::OutOfGas
                    }
                    _ => FailureReason::Halted,
                }),
            };
            prop_assert_eq!(ours.status, expected);
            prop_assert_eq!(evm.gas_used, result.tx_gas_used());
            prop_assert_eq!(&evm.logs[..], result.logs());
        }
    }
    Ok(())
}

/// Compares every account the reference knows but the fee recipient, and the storage of
/// every contract but `reads_coinbase` (whose value was stored by setup blocks, under the
/// fee rule).
fn compare_state(
    state: &State,
    db: &Db,
    fee_recipient: Address,
    reads_coinbase: Address,
) -> Result<(), TestCaseError> {
    for (address, account) in &db.cache.accounts {
        if *address == fee_recipient {
            continue;
        }
        let info = &account.info;
        let index = state.index_of(address);
        let ours = index.and_then(|i| state.account(i));
        prop_assert_eq!(
            ours.map_or(0, |a| a.eth()),
            u128::try_from(info.balance).unwrap(),
            "balance of {}",
            address
        );
        prop_assert_eq!(
            ours.map_or(0, |a| a.nonce),
            info.nonce,
            "nonce of {}",
            address
        );
        let code_hash = index
            .and_then(|i| state.code_hash(i))
            .unwrap_or(EMPTY_CODE_HASH);
        let theirs = if info.code_hash.is_zero() {
            EMPTY_CODE_HASH
        } else {
            info.code_hash
        };
        prop_assert_eq!(code_hash, theirs, "code of {}", address);
        if *address == reads_coinbase {
            continue;
        }
        for (slot, value) in &account.storage {
            prop_assert_eq!(
                state.storage_at(address, slot),
                *value,
                "slot {} of {}",
                slot,
                address
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn sequential_equals_plain_revm(
        workload in prop_oneof![
            Just(EvmWorkload::EthTransfers),
            Just(EvmWorkload::Erc20Random),
            Just(EvmWorkload::Erc20Mints),
            Just(EvmWorkload::Swaps(4)),
            Just(EvmWorkload::Chain),
            Just(EvmWorkload::Mixed),
        ],
        sizes in prop::collection::vec(1usize..60, 1..3),
        seed in any::<u64>(),
    ) {
        let mut world = WORLD.clone();
        let mut db = world_db(&world);
        compare_state(&world.state, &db, EvmWorld::env(1).fee_recipient, world.coinbase_reader)?;
        let mut rng = rng(seed);
        for n in sizes {
            // Native kinds have no revm counterpart: only EVM transactions here. Nor do
            // reads of BALANCE(COINBASE), which differ by the fee rule (the value, and so
            // the gas of storing it), and calls to the withdrawal predeploy (directly or
            // through the vault), which plain revm does not have; `evm.rs` tests them.
            let skip = [world.coinbase_reader, world.vault, weft_protocol::evm::WITHDRAWALS];
            let txs: Vec<_> = world
                .block(workload, n, &mut rng)
                .into_iter()
                .filter(|tx| {
                    matches!(&tx.transaction, Transaction::Evm(t) if t.to().is_none_or(|to| !skip.contains(&to)))
                })
                .collect();
            let env = EvmWorld::env(world.number + 1);
            let fee_recipient_before = world.state.account_by_address(&env.fee_recipient).map_or(0, |a| a.eth());
            let theirs_fr_before = db.cache.accounts.get(&env.fee_recipient).map_or(U256::ZERO, |a| a.info.balance);
            let out = world.execute_unchecked(&txs);
            let theirs = run_block(&mut db, &env, &txs);
            for (i, (ours, theirs)) in out.receipts.iter().zip(&theirs).enumerate() {
                let Transaction::Evm(t) = &txs[i].transaction else { unreachable!() };
                compare_receipt(ours, theirs).map_err(|e| {
                    TestCaseError::fail(format!("tx {i} to {:?} input {:.10}: {e}", t.to(), t.input()))
                })?;
            }
            compare_state(&world.state, &db, env.fee_recipient, world.coinbase_reader)?;
            // Fees: Weft credits gasUsed × price; revm the tip part only (the base fee burns).
            let burned: u128 = out.receipts.iter().map(|r| {
                u128::from(r.evm.as_deref().map_or(0, |e| e.gas_used)) * u128::from(env.base_fee)
            }).sum();
            let ours_gain = world.state.account_by_address(&env.fee_recipient).map_or(0, |a| a.eth()) - fee_recipient_before;
            let theirs_gain = db.cache.accounts.get(&env.fee_recipient).map_or(U256::ZERO, |a| a.info.balance) - theirs_fr_before;
            prop_assert_eq!(U256::from(ours_gain), theirs_gain + U256::from(burned));
        }
    }
}

#[test]
fn the_reference_replays_the_world_setup() {
    let db = world_db(&WORLD);
    compare_state(
        &WORLD.state,
        &db,
        EvmWorld::env(1).fee_recipient,
        WORLD.coinbase_reader,
    )
    .unwrap();
    let token = WORLD.tokens[0];
    assert!(
        db.cache
            .accounts
            .get(&token)
            .is_some_and(|a| !a.info.is_empty_code_hash())
    );
}

//! The defined outcome of every success and failure path of block execution.
//!
//! Each case runs through [`run`]: the sequential reference and the parallel engine forced
//! onto its DAG path must agree exactly (receipts, roots, every account); the case then pins
//! down the receipts and every balance, nonce, supply and root the block may change, and for
//! failures that nothing else changed.

use std::sync::{LazyLock, Mutex, MutexGuard};

use weft_protocol::{
    channel::DEFAULT_DISPUTE_WINDOW,
    error::BlockError,
    execution::{
        BlockEnv, BlockExecutor, BlockOutput, FailureReason, ParallelExecutor, Receipt, Schedule,
        SequentialExecutor, Status, Withdrawal,
    },
    merkle::{self, MerkleTree},
    primitives::{Address, Amount, B256, ETH, Nonce, TokenId, keccak256},
    state::{Account, Balance, GenesisAccount, REGISTRY_DEPTH, State},
    testkit::{test_address, test_domain},
    transaction::{
        Deposit, ForcedWithdraw, RevealSecret, Transaction, Transfer, VerifiedTransaction, Withdraw,
    },
};

const ALICE: Address = Address::repeat_byte(0xa1);
const BOB: Address = Address::repeat_byte(0xb0);
const CAROL: Address = Address::repeat_byte(0xc0);
const FEE: Address = Address::repeat_byte(0xfe);
/// An L1 withdrawal recipient (never an L2 account).
const L1: Address = Address::repeat_byte(0x11);
const T1: TokenId = 1;

/// Indexes in [`base`].
const A: usize = 0;
const B: usize = 1;
const F: usize = 2;
/// The index of the first address a block introduces into [`base`].
const NEW: usize = 3;

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

fn env(number: u64) -> BlockEnv {
    BlockEnv {
        number,
        timestamp: 1_700_000_000 + number,
        fee_recipient: FEE,
        domain: test_domain(),
        dispute_window: DEFAULT_DISPUTE_WINDOW,
        gas_limit: weft_protocol::evm::DEFAULT_BLOCK_GAS_LIMIT,
        base_fee: weft_protocol::evm::DEFAULT_MIN_BASE_FEE,
    }
}

fn alloc(address: Address, balances: &[(TokenId, Amount)]) -> GenesisAccount {
    GenesisAccount {
        address,
        balances: balances
            .iter()
            .map(|&(token, amount)| Balance { token, amount })
            .collect(),
    }
}

fn genesis(allocs: &[GenesisAccount], tokens: u32) -> State {
    State::genesis(allocs, tokens).expect("valid genesis")
}

/// Alice (index 0): 1000 ETH and 500 of token 1. Bob (1): 100 ETH. The fee recipient (2):
/// nothing. Two known tokens, so the next new token id is 2.
fn base() -> State {
    genesis(
        &[
            alloc(ALICE, &[(ETH, 1_000), (T1, 500)]),
            alloc(BOB, &[(ETH, 100)]),
            alloc(FEE, &[]),
        ],
        2,
    )
}

fn verified(tx: Transaction) -> VerifiedTransaction {
    tx.assume_verified(&test_domain())
}

fn transfer(
    from: Address,
    to: Address,
    token: TokenId,
    amount: Amount,
    fee: Amount,
    nonce: Nonce,
) -> VerifiedTransaction {
    verified(Transaction::Transfer(Transfer {
        from,
        to,
        token,
        amount,
        fee,
        nonce,
    }))
}

fn withdraw(
    from: Address,
    l1_recipient: Address,
    token: TokenId,
    amount: Amount,
    fee: Amount,
    nonce: Nonce,
) -> VerifiedTransaction {
    verified(Transaction::Withdraw(Withdraw {
        from,
        l1_recipient,
        token,
        amount,
        fee,
        nonce,
    }))
}

fn deposit(queue_index: u64, to: Address, token: TokenId, amount: Amount) -> VerifiedTransaction {
    verified(Transaction::Deposit(Deposit {
        queue_index,
        to,
        token,
        amount,
    }))
}

fn forced(queue_index: u64, account: Address, token: TokenId) -> VerifiedTransaction {
    verified(Transaction::ForcedWithdraw(ForcedWithdraw {
        queue_index,
        account,
        token,
    }))
}

fn reveal(from: Address, secret: B256, fee: Amount, nonce: Nonce) -> VerifiedTransaction {
    verified(Transaction::RevealSecret(RevealSecret {
        from,
        secret,
        fee,
        nonce,
    }))
}

fn ok(fee_paid: Amount) -> Receipt {
    Receipt {
        status: Status::Success,
        fee_paid,
        withdrawal: None,
        evm: None,
    }
}

fn failed(reason: FailureReason, fee_paid: Amount) -> Receipt {
    Receipt {
        status: Status::Failed(reason),
        fee_paid,
        withdrawal: None,
        evm: None,
    }
}

fn withdrew(fee_paid: Amount, w: Withdrawal) -> Receipt {
    Receipt {
        withdrawal: Some(w),
        ..ok(fee_paid)
    }
}

// ---------------------------------------------------------------------------------------
// Running a block both ways, and comparing states
// ---------------------------------------------------------------------------------------

/// One always-parallel engine shared by every test, as a node reuses one across blocks
/// (its per-block scratch must be left clean, including after an invalid block).
static PARALLEL: LazyLock<Mutex<ParallelExecutor>> =
    LazyLock::new(|| Mutex::new(ParallelExecutor::new(2).always_parallel()));

fn parallel() -> MutexGuard<'static, ParallelExecutor> {
    PARALLEL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Executes `txs` on clones of `state` with the sequential reference and with the parallel
/// engine forced onto its DAG path, asserts identical outputs and states, and returns the
/// reference's.
fn run(state: &State, env: &BlockEnv, txs: &[VerifiedTransaction]) -> (BlockOutput, State) {
    let mut seq = state.clone();
    let out = SequentialExecutor
        .execute_block(&mut seq, env, txs)
        .expect("sequential: valid block");
    let mut par = state.clone();
    let par_out = parallel()
        .execute_block(&mut par, env, txs)
        .expect("parallel: valid block");
    assert_eq!(par_out, out, "parallel output differs from the reference");
    assert_eq!(
        par.state_root(),
        seq.state_root(),
        "parallel state root differs"
    );
    assert_eq!(accounts(&par), accounts(&seq), "parallel accounts differ");
    assert_eq!(out.state_root, seq.state_root());
    assert_eq!(out.queue_position, seq.queue_position());
    assert_eq!(out.receipts.len(), txs.len());
    (out, seq)
}

/// Executes an invalid block both ways and returns the (identical) error.
fn run_err(state: &State, env: &BlockEnv, txs: &[VerifiedTransaction]) -> BlockError {
    let seq = SequentialExecutor
        .execute_block(&mut state.clone(), env, txs)
        .expect_err("sequential: invalid block");
    let par = parallel()
        .execute_block(&mut state.clone(), env, txs)
        .expect_err("parallel: invalid block");
    assert_eq!(par, seq);
    seq
}

/// Every account, by index.
fn accounts(s: &State) -> Vec<Account> {
    (0..s.account_count())
        .map(|i| s.account(i).unwrap().clone())
        .collect()
}

fn balance(s: &State, address: Address, token: TokenId) -> Amount {
    s.account_by_address(&address)
        .map_or(0, |a| a.balance(token))
}

/// Asserts that `after` holds exactly the accounts of `before` as changed by `edit`: same
/// count (no account registered), every other account untouched.
fn assert_accounts(before: &State, after: &State, edit: impl FnOnce(&mut [Account])) {
    let mut expected = accounts(before);
    edit(&mut expected);
    assert_eq!(accounts(after), expected);
}

/// Asserts that supplies, known tokens, queue position, secrets and channels are unchanged.
fn assert_globals_unchanged(before: &State, after: &State) {
    assert_eq!(after.token_count(), before.token_count());
    assert_eq!(after.tokens_hash(), before.tokens_hash());
    assert_eq!(after.queue_position(), before.queue_position());
    assert_eq!(after.secrets_root(), before.secrets_root());
    assert_eq!(after.channels_root(), before.channels_root());
}

/// [`assert_accounts`] and [`assert_globals_unchanged`].
fn assert_only_accounts_changed(before: &State, after: &State, edit: impl FnOnce(&mut [Account])) {
    assert_accounts(before, after, edit);
    assert_globals_unchanged(before, after);
}

fn no_withdrawals(out: &BlockOutput) {
    assert!(out.withdrawal_leaves.is_empty());
    assert_eq!(out.withdrawals_root, merkle::root_of(&[]));
}

// ---------------------------------------------------------------------------------------
// Transfers
// ---------------------------------------------------------------------------------------

#[test]
fn a_transfer_moves_the_amount_pays_the_fee_to_the_fee_recipient_and_bumps_the_nonce() {
    let before = base();
    let (out, after) = run(&before, &env(1), &[transfer(ALICE, BOB, ETH, 300, 7, 0)]);
    assert_eq!(out.receipts, vec![ok(7)]);
    no_withdrawals(&out);
    assert_only_accounts_changed(&before, &after, |a| {
        a[A].nonce = 1;
        a[A].set_balance(ETH, 693);
        a[B].set_balance(ETH, 400);
        a[F].set_balance(ETH, 7);
    });
}

#[test]
fn a_transfer_of_another_token_pays_its_fee_in_that_token() {
    let before = base();
    let (out, after) = run(&before, &env(1), &[transfer(ALICE, BOB, T1, 50, 2, 0)]);
    assert_eq!(out.receipts, vec![ok(2)]);
    assert_only_accounts_changed(&before, &after, |a| {
        a[A].nonce = 1;
        a[A].set_balance(T1, 448);
        a[B].set_balance(T1, 50);
        a[F].set_balance(T1, 2);
    });
    assert_eq!(balance(&after, ALICE, ETH), 1_000);
}

#[test]
fn spending_the_whole_balance_on_amount_and_fee_succeeds_and_leaves_no_balance() {
    let before = base();
    let (out, after) = run(&before, &env(1), &[transfer(BOB, ALICE, ETH, 97, 3, 0)]);
    assert_eq!(out.receipts, vec![ok(3)]);
    assert_only_accounts_changed(&before, &after, |a| {
        a[B].nonce = 1;
        a[B].set_balance(ETH, 0);
        a[A].set_balance(ETH, 1_097);
        a[F].set_balance(ETH, 3);
    });
    assert_eq!(after.account(B as u32).unwrap().balances().count(), 0);
}

#[test]
fn new_addresses_get_dense_indexes_in_block_order_with_a_new_fee_recipient_first() {
    // No fee recipient in genesis: it is new in this block.
    let before = genesis(
        &[alloc(ALICE, &[(ETH, 1_000)]), alloc(BOB, &[(ETH, 100)])],
        1,
    );
    let (x, y, z) = (test_address(1), test_address(2), test_address(3));
    let txs = [
        transfer(ALICE, x, ETH, 10, 1, 0),
        // A new sender with nothing: its nonce is consumed, both addresses get indexes.
        transfer(CAROL, y, ETH, 5, 0, 0),
        // `x` is already indexed by transaction 0.
        transfer(ALICE, x, ETH, 10, 1, 1),
        // A failed transaction still registers its new receiver.
        transfer(BOB, z, ETH, 1, 0, 7),
    ];
    let (out, after) = run(&before, &env(1), &txs);
    assert_eq!(
        out.receipts,
        vec![
            ok(1),
            failed(FailureReason::InsufficientBalance, 0),
            ok(1),
            failed(FailureReason::BadNonce, 0),
        ]
    );
    let indexes: Vec<_> = [ALICE, BOB, FEE, x, CAROL, y, z]
        .iter()
        .map(|a| after.index_of(a))
        .collect();
    assert_eq!(indexes, (0..7).map(Some).collect::<Vec<_>>());
    assert_eq!(after.account_count(), 7);

    let mut expected = accounts(&before);
    expected[0].nonce = 2;
    expected[0].set_balance(ETH, 978);
    let mut fee = Account::new(FEE);
    fee.set_balance(ETH, 2);
    let mut x_acc = Account::new(x);
    x_acc.set_balance(ETH, 20);
    let mut carol = Account::new(CAROL);
    carol.nonce = 1;
    expected.extend([fee, x_acc, carol, Account::new(y), Account::new(z)]);
    assert_eq!(accounts(&after), expected);
    assert_globals_unchanged(&before, &after);
}

#[test]
fn a_nonce_gap_fails_with_bad_nonce_and_changes_nothing() {
    let before = base();
    let (out, after) = run(&before, &env(1), &[transfer(ALICE, BOB, ETH, 300, 7, 1)]);
    assert_eq!(out.receipts, vec![failed(FailureReason::BadNonce, 0)]);
    assert_eq!(out.state_root, before.state_root());
    assert_only_accounts_changed(&before, &after, |_| {});
}

#[test]
fn a_nonce_replayed_in_a_later_block_fails_with_bad_nonce_and_changes_nothing() {
    let tx = transfer(ALICE, BOB, ETH, 300, 7, 0);
    let (_, before) = run(&base(), &env(1), std::slice::from_ref(&tx));
    assert_eq!(before.account_by_address(&ALICE).unwrap().nonce, 1);
    let (out, after) = run(&before, &env(2), &[tx]);
    assert_eq!(out.receipts, vec![failed(FailureReason::BadNonce, 0)]);
    assert_eq!(out.state_root, before.state_root());
    assert_only_accounts_changed(&before, &after, |_| {});
}

#[test]
fn a_nonce_replayed_in_the_same_block_applies_once_and_then_fails_with_bad_nonce() {
    let before = base();
    let tx = transfer(ALICE, BOB, ETH, 300, 7, 0);
    let (out, after) = run(&before, &env(1), &[tx.clone(), tx]);
    assert_eq!(
        out.receipts,
        vec![ok(7), failed(FailureReason::BadNonce, 0)]
    );
    assert_only_accounts_changed(&before, &after, |a| {
        a[A].nonce = 1;
        a[A].set_balance(ETH, 693);
        a[B].set_balance(ETH, 400);
        a[F].set_balance(ETH, 7);
    });
}

#[test]
fn an_unknown_token_consumes_the_nonce_and_charges_no_fee() {
    let before = base();
    let (out, after) = run(&before, &env(1), &[transfer(ALICE, BOB, 2, 1, 1, 0)]);
    assert_eq!(out.receipts, vec![failed(FailureReason::UnknownToken, 0)]);
    assert_only_accounts_changed(&before, &after, |a| a[A].nonce = 1);
}

#[test]
fn a_fee_above_the_balance_consumes_the_nonce_and_charges_no_fee() {
    let before = base();
    let txs = [
        transfer(BOB, ALICE, ETH, 1, 101, 0),
        // Bob holds none of token 1.
        transfer(BOB, ALICE, T1, 1, 1, 1),
    ];
    let (out, after) = run(&before, &env(1), &txs);
    assert_eq!(
        out.receipts,
        vec![
            failed(FailureReason::InsufficientFee, 0),
            failed(FailureReason::InsufficientFee, 0),
        ]
    );
    assert_only_accounts_changed(&before, &after, |a| a[B].nonce = 2);
}

/// The outcome of Alice's transaction that fails after paying `fee` ETH.
fn assert_failed_with_fee(before: &State, after: &State, fee: Amount) {
    assert_only_accounts_changed(before, after, |a| {
        a[A].nonce = 1;
        a[A].set_balance(ETH, 1_000 - fee);
        a[F].set_balance(ETH, fee);
    });
}

#[test]
fn a_zero_amount_transfer_fails_consumes_the_nonce_and_charges_the_fee() {
    let before = base();
    let (out, after) = run(&before, &env(1), &[transfer(ALICE, BOB, ETH, 0, 3, 0)]);
    assert_eq!(out.receipts, vec![failed(FailureReason::ZeroAmount, 3)]);
    assert_failed_with_fee(&before, &after, 3);
}

#[test]
fn a_self_transfer_fails_consumes_the_nonce_and_charges_the_fee() {
    let before = base();
    let (out, after) = run(&before, &env(1), &[transfer(ALICE, ALICE, ETH, 5, 3, 0)]);
    assert_eq!(out.receipts, vec![failed(FailureReason::SelfTransfer, 3)]);
    assert_failed_with_fee(&before, &after, 3);
}

#[test]
fn a_zero_amount_self_transfer_fails_as_zero_amount_and_charges_the_fee() {
    let before = base();
    let (out, after) = run(&before, &env(1), &[transfer(ALICE, ALICE, ETH, 0, 3, 0)]);
    assert_eq!(out.receipts, vec![failed(FailureReason::ZeroAmount, 3)]);
    assert_failed_with_fee(&before, &after, 3);
}

#[test]
fn an_amount_plus_fee_overflow_fails_consumes_the_nonce_and_charges_the_fee() {
    let before = base();
    let (out, after) = run(
        &before,
        &env(1),
        &[transfer(ALICE, BOB, ETH, u128::MAX, 1, 0)],
    );
    assert_eq!(out.receipts, vec![failed(FailureReason::AmountOverflow, 1)]);
    assert_failed_with_fee(&before, &after, 1);
}

#[test]
fn an_overdraft_consumes_the_nonce_and_charges_the_fee_but_moves_nothing() {
    // 998 <= 1000, but the balance after the fee (997) is below it.
    let before = base();
    let (out, after) = run(&before, &env(1), &[transfer(ALICE, BOB, ETH, 998, 3, 0)]);
    assert_eq!(
        out.receipts,
        vec![failed(FailureReason::InsufficientBalance, 3)]
    );
    assert_failed_with_fee(&before, &after, 3);
}

// ---------------------------------------------------------------------------------------
// Withdrawals
// ---------------------------------------------------------------------------------------

#[test]
fn a_withdrawal_burns_amount_and_fee_and_emits_its_leaf() {
    let before = base();
    let tx = withdraw(ALICE, L1, ETH, 100, 2, 0);
    let (out, after) = run(&before, &env(1), std::slice::from_ref(&tx));
    let w = Withdrawal {
        recipient: L1,
        token: ETH,
        amount: 100,
    };
    assert_eq!(out.receipts, vec![withdrew(2, w)]);
    assert_eq!(out.withdrawal_leaves, vec![w.leaf(&tx.hash)]);
    assert_eq!(
        out.withdrawals_root,
        merkle::root_of(&out.withdrawal_leaves)
    );
    // The L1 recipient is not an L2 account; the supply counts cumulative deposits, so a
    // burn leaves it (checked by `assert_globals_unchanged`).
    assert_eq!(after.index_of(&L1), None);
    assert_only_accounts_changed(&before, &after, |a| {
        a[A].nonce = 1;
        a[A].set_balance(ETH, 898);
        a[F].set_balance(ETH, 2);
    });
}

#[test]
fn withdrawal_leaves_follow_block_order_and_skip_failed_transactions() {
    let before = base();
    let txs = [
        withdraw(ALICE, L1, T1, 50, 1, 0),
        withdraw(BOB, L1, ETH, 0, 1, 0),
        forced(0, BOB, ETH),
        withdraw(ALICE, CAROL, ETH, 10, 0, 1),
    ];
    let (out, _) = run(&before, &env(1), &txs);
    let ws = [
        Withdrawal {
            recipient: L1,
            token: T1,
            amount: 50,
        },
        Withdrawal {
            recipient: BOB,
            token: ETH,
            amount: 99,
        },
        Withdrawal {
            recipient: CAROL,
            token: ETH,
            amount: 10,
        },
    ];
    assert_eq!(
        out.receipts,
        vec![
            withdrew(1, ws[0]),
            failed(FailureReason::ZeroAmount, 1),
            withdrew(0, ws[1]),
            withdrew(0, ws[2]),
        ]
    );
    let leaves = vec![
        ws[0].leaf(&txs[0].hash),
        ws[1].leaf(&txs[2].hash),
        ws[2].leaf(&txs[3].hash),
    ];
    assert_eq!(out.withdrawal_leaves, leaves);
    assert_eq!(out.withdrawals_root, merkle::root_of(&leaves));
}

#[test]
fn a_zero_amount_withdrawal_fails_charges_the_fee_and_emits_nothing() {
    let before = base();
    let (out, after) = run(&before, &env(1), &[withdraw(ALICE, L1, ETH, 0, 3, 0)]);
    assert_eq!(out.receipts, vec![failed(FailureReason::ZeroAmount, 3)]);
    no_withdrawals(&out);
    assert_failed_with_fee(&before, &after, 3);
}

#[test]
fn an_overdrawing_withdrawal_fails_charges_the_fee_and_emits_nothing() {
    let before = base();
    let (out, after) = run(&before, &env(1), &[withdraw(ALICE, L1, ETH, 998, 3, 0)]);
    assert_eq!(
        out.receipts,
        vec![failed(FailureReason::InsufficientBalance, 3)]
    );
    no_withdrawals(&out);
    assert_failed_with_fee(&before, &after, 3);
}

// ---------------------------------------------------------------------------------------
// Deposits and the L1 queue
// ---------------------------------------------------------------------------------------

#[test]
fn a_deposit_credits_the_receiver_raises_the_supply_and_consumes_its_queue_entry() {
    let before = base();
    let (out, after) = run(&before, &env(1), &[deposit(0, BOB, ETH, 50)]);
    assert_eq!(out.receipts, vec![ok(0)]);
    assert_accounts(&before, &after, |a| a[B].set_balance(ETH, 150));
    assert_eq!(after.supply(ETH), Some(1_150));
    assert_eq!(after.supply(T1), Some(500));
    assert_eq!(after.token_count(), 2);
    assert_eq!(out.queue_position, 1);
    assert_eq!(after.queue_position(), 1);
}

#[test]
fn a_deposit_of_the_next_token_id_registers_it_and_a_later_block_can_transfer_it() {
    let before = base();
    let (out, s1) = run(&before, &env(1), &[deposit(0, CAROL, 2, 7)]);
    assert_eq!(out.receipts, vec![ok(0)]);
    assert_eq!(s1.token_count(), 3);
    assert_eq!(s1.supply(2), Some(7));
    assert_eq!(s1.index_of(&CAROL), Some(NEW as u32));
    assert_eq!(balance(&s1, CAROL, 2), 7);

    let (out, s2) = run(&s1, &env(2), &[transfer(CAROL, BOB, 2, 3, 1, 0)]);
    assert_eq!(out.receipts, vec![ok(1)]);
    assert_only_accounts_changed(&s1, &s2, |a| {
        a[NEW].nonce = 1;
        a[NEW].set_balance(2, 3);
        a[B].set_balance(2, 3);
        a[F].set_balance(2, 1);
    });
}

#[test]
fn a_token_registered_in_a_block_is_known_to_every_transaction_of_that_block() {
    // Token ids are registered before execution: a transfer of token 2 placed before its
    // first deposit fails on the fee (nobody holds it yet), not as `unknown_token`.
    let before = base();
    let txs = [
        transfer(BOB, ALICE, 2, 1, 1, 0),
        deposit(0, BOB, 2, 10),
        transfer(BOB, ALICE, 2, 4, 1, 1),
    ];
    let (out, after) = run(&before, &env(1), &txs);
    assert_eq!(
        out.receipts,
        vec![failed(FailureReason::InsufficientFee, 0), ok(0), ok(1)]
    );
    assert_accounts(&before, &after, |a| {
        a[B].nonce = 2;
        a[B].set_balance(2, 5);
        a[A].set_balance(2, 4);
        a[F].set_balance(2, 1);
    });
    assert_eq!(after.supply(2), Some(10));
}

#[test]
fn a_deposit_skipping_the_next_token_id_is_a_token_order_block_error() {
    let s = base();
    assert_eq!(
        run_err(&s, &env(1), &[deposit(0, BOB, 3, 1)]),
        BlockError::TokenOrder {
            expected: 2,
            got: 3
        }
    );
    assert_eq!(
        run_err(&s, &env(1), &[deposit(0, BOB, 2, 1), deposit(1, BOB, 4, 1)]),
        BlockError::TokenOrder {
            expected: 3,
            got: 4
        }
    );
}

#[test]
fn system_transactions_out_of_queue_order_are_a_queue_order_block_error() {
    let s = base();
    assert_eq!(
        run_err(&s, &env(1), &[deposit(1, BOB, ETH, 1)]),
        BlockError::QueueOrder {
            expected: 0,
            got: 1
        }
    );
    assert_eq!(
        run_err(&s, &env(1), &[deposit(0, BOB, ETH, 1), forced(0, BOB, ETH)]),
        BlockError::QueueOrder {
            expected: 1,
            got: 0
        }
    );
    assert_eq!(
        run_err(&s, &env(1), &[forced(0, BOB, ETH), deposit(2, BOB, ETH, 1)]),
        BlockError::QueueOrder {
            expected: 1,
            got: 2
        }
    );
    // Entries consumed by an earlier block cannot come again.
    let (_, s1) = run(&s, &env(1), &[deposit(0, BOB, ETH, 1)]);
    assert_eq!(
        run_err(&s1, &env(2), &[deposit(0, BOB, ETH, 1)]),
        BlockError::QueueOrder {
            expected: 1,
            got: 0
        }
    );
}

#[test]
fn the_queue_position_advances_by_the_number_of_system_transactions() {
    let txs = [
        deposit(0, BOB, ETH, 5),
        transfer(ALICE, BOB, ETH, 1, 0, 0),
        // Fails, and still consumes its entry.
        forced(1, CAROL, ETH),
        deposit(2, CAROL, T1, 9),
    ];
    let (out, s1) = run(&base(), &env(1), &txs);
    assert_eq!(
        out.receipts,
        vec![
            ok(0),
            ok(0),
            failed(FailureReason::NothingToWithdraw, 0),
            ok(0)
        ]
    );
    assert_eq!((out.queue_position, s1.queue_position()), (3, 3));

    let (out, s2) = run(&s1, &env(2), &[transfer(ALICE, BOB, ETH, 1, 0, 1)]);
    assert_eq!((out.queue_position, s2.queue_position()), (3, 3));

    let (out, s3) = run(&s2, &env(3), &[forced(3, ALICE, T1)]);
    assert_eq!((out.queue_position, s3.queue_position()), (4, 4));
}

#[test]
fn a_deposit_that_would_overflow_the_supply_fails_and_credits_nothing() {
    let before = genesis(
        &[
            alloc(ALICE, &[(ETH, u128::MAX - 10)]),
            alloc(BOB, &[]),
            alloc(FEE, &[]),
        ],
        1,
    );
    let (out, s1) = run(&before, &env(1), &[deposit(0, BOB, ETH, 11)]);
    assert_eq!(out.receipts, vec![failed(FailureReason::SupplyOverflow, 0)]);
    assert_accounts(&before, &s1, |_| {});
    assert_eq!(s1.supply(ETH), Some(u128::MAX - 10));
    assert_eq!(s1.queue_position(), 1);

    // Exactly up to the limit is fine.
    let (out, s2) = run(&s1, &env(2), &[deposit(1, BOB, ETH, 10)]);
    assert_eq!(out.receipts, vec![ok(0)]);
    assert_eq!(balance(&s2, BOB, ETH), 10);
    assert_eq!(s2.supply(ETH), Some(u128::MAX));
}

// ---------------------------------------------------------------------------------------
// Forced withdrawals
// ---------------------------------------------------------------------------------------

#[test]
fn a_forced_withdrawal_withdraws_the_whole_balance_to_the_accounts_own_address() {
    let before = base();
    let tx = forced(0, ALICE, T1);
    let (out, after) = run(&before, &env(1), std::slice::from_ref(&tx));
    let w = Withdrawal {
        recipient: ALICE,
        token: T1,
        amount: 500,
    };
    assert_eq!(out.receipts, vec![withdrew(0, w)]);
    assert_eq!(out.withdrawal_leaves, vec![w.leaf(&tx.hash)]);
    assert_eq!(
        out.withdrawals_root,
        merkle::root_of(&out.withdrawal_leaves)
    );
    // No nonce, no fee; other tokens stay.
    assert_accounts(&before, &after, |a| a[A].set_balance(T1, 0));
    assert_eq!(after.queue_position(), 1);
    assert_eq!(after.tokens_hash(), before.tokens_hash());
}

#[test]
fn a_forced_withdrawal_of_a_zero_balance_fails_and_consumes_its_queue_entry() {
    let before = base();
    let (out, after) = run(&before, &env(1), &[forced(0, BOB, T1)]);
    assert_eq!(
        out.receipts,
        vec![failed(FailureReason::NothingToWithdraw, 0)]
    );
    no_withdrawals(&out);
    assert_accounts(&before, &after, |_| {});
    assert_eq!(after.queue_position(), 1);
}

#[test]
fn a_forced_withdrawal_of_an_unknown_token_fails_and_consumes_its_queue_entry() {
    let before = base();
    let (out, after) = run(&before, &env(1), &[forced(0, ALICE, 2)]);
    assert_eq!(out.receipts, vec![failed(FailureReason::UnknownToken, 0)]);
    no_withdrawals(&out);
    assert_accounts(&before, &after, |_| {});
    assert_eq!(after.queue_position(), 1);
}

// ---------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------

const SECRET: B256 = B256::repeat_byte(0x5e);

/// The secrets root holding exactly `reveals` of `(hashlock, block)`, in order.
fn secrets_root(reveals: &[(B256, u64)]) -> B256 {
    let mut tree = MerkleTree::new(REGISTRY_DEPTH);
    let leaves: Vec<(usize, B256)> = reveals
        .iter()
        .enumerate()
        .map(|(i, (h, block))| (i, keccak256([h.as_slice(), &block.to_be_bytes()].concat())))
        .collect();
    tree.update(&leaves);
    tree.root()
}

#[test]
fn a_revealed_secret_is_recorded_with_its_block_number_and_changes_the_secrets_root() {
    let before = base();
    let hashlock = keccak256(SECRET);
    let (out, after) = run(&before, &env(5), &[reveal(ALICE, SECRET, 1, 0)]);
    assert_eq!(out.receipts, vec![ok(1)]);
    assert_eq!(after.secret_revealed_at(&hashlock), Some(5));
    assert_ne!(after.secrets_root(), before.secrets_root());
    assert_eq!(after.secrets_root(), secrets_root(&[(hashlock, 5)]));
    assert_accounts(&before, &after, |a| {
        a[A].nonce = 1;
        a[A].set_balance(ETH, 999);
        a[F].set_balance(ETH, 1);
    });
}

#[test]
fn revealing_a_secret_again_in_the_same_block_fails_and_charges_the_fee() {
    let before = base();
    let hashlock = keccak256(SECRET);
    let txs = [reveal(ALICE, SECRET, 1, 0), reveal(BOB, SECRET, 2, 0)];
    let (out, after) = run(&before, &env(5), &txs);
    assert_eq!(
        out.receipts,
        vec![ok(1), failed(FailureReason::SecretAlreadyRevealed, 2)]
    );
    assert_eq!(after.secret_revealed_at(&hashlock), Some(5));
    assert_eq!(after.secrets_root(), secrets_root(&[(hashlock, 5)]));
    assert_accounts(&before, &after, |a| {
        a[A].nonce = 1;
        a[A].set_balance(ETH, 999);
        a[B].nonce = 1;
        a[B].set_balance(ETH, 98);
        a[F].set_balance(ETH, 3);
    });
}

#[test]
fn revealing_a_secret_again_in_a_later_block_fails_and_charges_the_fee() {
    let hashlock = keccak256(SECRET);
    let (_, before) = run(&base(), &env(5), &[reveal(ALICE, SECRET, 1, 0)]);
    let (out, after) = run(&before, &env(6), &[reveal(BOB, SECRET, 2, 0)]);
    assert_eq!(
        out.receipts,
        vec![failed(FailureReason::SecretAlreadyRevealed, 2)]
    );
    assert_eq!(after.secret_revealed_at(&hashlock), Some(5));
    assert_only_accounts_changed(&before, &after, |a| {
        a[B].nonce = 1;
        a[B].set_balance(ETH, 98);
        a[F].set_balance(ETH, 3);
    });
}

#[test]
fn a_reveal_that_cannot_pay_its_fee_does_not_record_the_secret() {
    let before = base();
    let hashlock = keccak256(SECRET);
    let txs = [reveal(BOB, SECRET, 101, 0), reveal(ALICE, SECRET, 1, 0)];
    let (out, after) = run(&before, &env(5), &txs);
    assert_eq!(
        out.receipts,
        vec![failed(FailureReason::InsufficientFee, 0), ok(1)]
    );
    assert_eq!(after.secrets_root(), secrets_root(&[(hashlock, 5)]));
    assert_accounts(&before, &after, |a| {
        a[B].nonce = 1;
        a[A].nonce = 1;
        a[A].set_balance(ETH, 999);
        a[F].set_balance(ETH, 1);
    });
}

// ---------------------------------------------------------------------------------------
// Contention: ordered and commutative accounts
// ---------------------------------------------------------------------------------------

#[test]
fn a_fee_recipient_that_also_sends_spends_exactly_the_fees_earned_before_it_in_the_block() {
    let before = base();
    let txs = [
        // Nothing earned yet.
        transfer(FEE, CAROL, ETH, 1, 0, 0),
        transfer(ALICE, BOB, ETH, 10, 5, 0),
        transfer(FEE, CAROL, ETH, 4, 0, 1),
        transfer(BOB, ALICE, ETH, 1, 2, 0),
        // Its own fee comes straight back: the whole balance is payable as amount and fee.
        transfer(FEE, CAROL, ETH, 3, 3, 2),
    ];
    let (out, after) = run(&before, &env(1), &txs);
    assert_eq!(
        out.receipts,
        vec![
            failed(FailureReason::InsufficientBalance, 0),
            ok(5),
            ok(0),
            ok(2),
            ok(3),
        ]
    );
    let mut expected = accounts(&before);
    expected[A].nonce = 1;
    expected[A].set_balance(ETH, 986);
    expected[B].nonce = 1;
    expected[B].set_balance(ETH, 107);
    expected[F].nonce = 3;
    expected[F].set_balance(ETH, 0);
    let mut carol = Account::new(CAROL);
    carol.set_balance(ETH, 7);
    expected.push(carol);
    assert_eq!(accounts(&after), expected);
    assert_globals_unchanged(&before, &after);
}

#[test]
fn a_forced_withdrawal_of_the_fee_recipient_takes_exactly_the_fees_earned_before_it() {
    let before = base();
    let txs = [
        transfer(ALICE, BOB, ETH, 10, 5, 0),
        forced(0, FEE, ETH),
        transfer(BOB, ALICE, ETH, 1, 2, 0),
    ];
    let (out, after) = run(&before, &env(1), &txs);
    let w = Withdrawal {
        recipient: FEE,
        token: ETH,
        amount: 5,
    };
    assert_eq!(out.receipts, vec![ok(5), withdrew(0, w), ok(2)]);
    assert_eq!(out.withdrawal_leaves, vec![w.leaf(&txs[1].hash)]);
    assert_accounts(&before, &after, |a| {
        a[A].nonce = 1;
        a[A].set_balance(ETH, 986);
        a[B].nonce = 1;
        a[B].set_balance(ETH, 107);
        a[F].set_balance(ETH, 2);
    });
}

/// `n` senders `test_address(0..n)` with 1000 ETH each, then `extra`.
fn many_senders(n: u64, extra: &[GenesisAccount]) -> State {
    let mut allocs: Vec<GenesisAccount> = (0..n)
        .map(|i| alloc(test_address(i), &[(ETH, 1_000)]))
        .collect();
    allocs.extend_from_slice(extra);
    genesis(&allocs, 1)
}

#[test]
fn a_hot_receiver_credited_by_hundreds_of_senders_gets_exactly_the_successful_amounts() {
    const SENDERS: u64 = 240;
    let hot = Address::repeat_byte(0x77);
    let mut before = many_senders(SENDERS, &[alloc(hot, &[(ETH, 5)]), alloc(FEE, &[])]);
    let amount_of = |i: u64| -> Amount {
        if i % 10 == 9 {
            5_000 // an overdraft: fee charged, nothing credited
        } else {
            Amount::from(i % 7 + 1)
        }
    };
    let txs: Vec<_> = (0..SENDERS)
        .map(|i| transfer(test_address(i), hot, ETH, amount_of(i), 1, 0))
        .collect();
    let (out, after) = run(&before, &env(1), &txs);

    let expected_receipts: Vec<_> = (0..SENDERS)
        .map(|i| {
            if i % 10 == 9 {
                failed(FailureReason::InsufficientBalance, 1)
            } else {
                ok(1)
            }
        })
        .collect();
    assert_eq!(out.receipts, expected_receipts);
    let credited: Amount = (0..SENDERS).filter(|i| i % 10 != 9).map(amount_of).sum();
    assert_only_accounts_changed(&before, &after, |a| {
        for i in 0..SENDERS {
            let moved = if i % 10 == 9 { 0 } else { amount_of(i) };
            a[i as usize].nonce = 1;
            a[i as usize].set_balance(ETH, 1_000 - 1 - moved);
        }
        a[SENDERS as usize].set_balance(ETH, 5 + credited);
        a[SENDERS as usize + 1].set_balance(ETH, Amount::from(SENDERS));
    });

    // The adaptive engine (which runs a state this small in order) agrees too.
    let (adaptive, report) = ParallelExecutor::new(2)
        .execute_block_detailed(&mut before, &env(1), &txs)
        .unwrap();
    assert_eq!(report.schedule, Schedule::InOrder);
    assert_eq!(adaptive, out);
}

#[test]
fn a_hot_receiver_that_also_sends_spends_exactly_the_credits_received_before_it() {
    const SENDERS: u64 = 200;
    let hot = Address::repeat_byte(0x77);
    let before = many_senders(SENDERS, &[alloc(hot, &[]), alloc(FEE, &[])]);
    let credit = |i: u64| transfer(test_address(i), hot, ETH, 1, 0, 0);
    let mut txs: Vec<_> = (0..100).map(credit).collect();
    txs.push(transfer(hot, CAROL, ETH, 100, 0, 0));
    txs.push(transfer(hot, CAROL, ETH, 1, 0, 1));
    txs.extend((100..SENDERS).map(credit));
    let (out, after) = run(&before, &env(1), &txs);

    let mut expected_receipts = vec![ok(0); txs.len()];
    expected_receipts[101] = failed(FailureReason::InsufficientBalance, 0);
    assert_eq!(out.receipts, expected_receipts);
    let hot_idx = SENDERS as usize;
    let mut expected = accounts(&before);
    for acc in &mut expected[..hot_idx] {
        acc.nonce = 1;
        acc.set_balance(ETH, 999);
    }
    expected[hot_idx].nonce = 2;
    expected[hot_idx].set_balance(ETH, 100);
    let mut carol = Account::new(CAROL);
    carol.set_balance(ETH, 100);
    expected.push(carol);
    assert_eq!(accounts(&after), expected);
}

// ---------------------------------------------------------------------------------------
// State root and JSON forms
// ---------------------------------------------------------------------------------------

#[test]
fn a_block_that_only_registers_addresses_has_the_root_of_a_genesis_listing_them_empty() {
    // Genesis fixes nonces and the queue position at 0, so only a block that changes
    // neither compares: here a bad-nonce transfer to a new address under a new fee
    // recipient, which registers both (fee recipient first) and changes nothing else.
    let allocs = vec![alloc(ALICE, &[(ETH, 1_000)]), alloc(BOB, &[(ETH, 100)])];
    let before = genesis(&allocs, 2);
    let x = test_address(9);
    let (out, after) = run(&before, &env(1), &[transfer(ALICE, x, ETH, 1, 1, 3)]);
    assert_eq!(out.receipts, vec![failed(FailureReason::BadNonce, 0)]);

    let mut listed = allocs;
    listed.push(alloc(FEE, &[]));
    listed.push(alloc(x, &[]));
    assert_eq!(after.state_root(), genesis(&listed, 2).state_root());
    assert_ne!(after.state_root(), before.state_root());
}

#[test]
fn receipts_serialize_to_their_documented_json() {
    let txs = [
        transfer(ALICE, BOB, ETH, 300, 7, 0),
        transfer(ALICE, BOB, ETH, 1, 1, 5),
        withdraw(ALICE, L1, T1, 100, 2, 1),
    ];
    let (out, _) = run(&base(), &env(1), &txs);
    let json: Vec<String> = out
        .receipts
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    assert_eq!(
        json,
        [
            r#"{"status":"success","feePaid":"7","withdrawal":null}"#,
            r#"{"status":"failed","reason":"bad_nonce","feePaid":"0","withdrawal":null}"#,
            r#"{"status":"success","feePaid":"2","withdrawal":{"recipient":"0x1111111111111111111111111111111111111111","token":1,"amount":"100"}}"#,
        ]
    );
    for (r, j) in out.receipts.iter().zip(&json) {
        assert_eq!(&serde_json::from_str::<Receipt>(j).unwrap(), r);
    }
}

#[test]
fn every_failure_reason_serializes_to_its_code() {
    // Fails to compile when a reason is added: list it in `FailureReason::ALL` too.
    fn listed(reason: FailureReason) {
        use FailureReason::*;
        match reason {
            BadNonce
            | UnknownToken
            | InsufficientFee
            | ZeroAmount
            | SelfTransfer
            | AmountOverflow
            | InsufficientBalance
            | SupplyOverflow
            | NothingToWithdraw
            | SecretAlreadyRevealed
            | UnsupportedKind
            | UnknownChannel
            | SelfChannel
            | ChannelExists
            | NotParticipant
            | ChannelNotOpen
            | ChannelNotDisputed
            | ChannelClosed
            | InvalidCoSignature
            | NotFinal
            | TotalMismatch
            | TooManyLocks
            | StaleVersion
            | DisputeExpired
            | DisputePending
            | InsufficientFunds
            | IntrinsicGasTooLow
            | FeeCapTooLow
            | BlockGasExceeded
            | SenderNotEoa
            | InvalidEvmTransaction
            | Reverted
            | OutOfGas
            | Halted => {}
        }
    }
    let mut codes: Vec<&str> = FailureReason::ALL.iter().map(|r| r.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), FailureReason::ALL.len(), "codes are distinct");
    for reason in FailureReason::ALL {
        listed(reason);
        assert_eq!(
            serde_json::to_value(reason).unwrap(),
            serde_json::Value::from(reason.code())
        );
        let receipt = serde_json::to_value(failed(reason, 0)).unwrap();
        assert_eq!(receipt["reason"], reason.code());
    }
}

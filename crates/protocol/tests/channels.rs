//! The defined outcome of every success and failure path of the channel kinds.
//!
//! Each block runs through [`run`]: the sequential reference and the parallel engine forced
//! onto its DAG path must agree exactly (receipts, roots, accounts, channel records), and the
//! channels root must be the tree over the documented leaves of the records in open order.
//! Each case then pins down receipts, balances, nonces and records.

use std::sync::{LazyLock, Mutex, MutexGuard};

use weft_protocol::{
    channel::{
        ChannelRecord, ChannelState, ChannelStatus, DEFAULT_DISPUTE_WINDOW, Lock, LockDirection,
        MAX_LOCKS, channel_id,
    },
    eip712::{Domain, Eip712},
    execution::{
        BlockEnv, BlockExecutor, BlockOutput, FailureReason, ParallelExecutor, Receipt,
        SequentialExecutor, Status,
    },
    merkle::MerkleTree,
    primitives::{
        AccountIndex, Address, Amount, B256, Bytes, ETH, Nonce, TokenId, U256, b256, keccak256,
    },
    signature::{Signature, SigningKey},
    state::{Account, Balance, GenesisAccount, REGISTRY_DEPTH, State},
    testkit::test_domain,
    transaction::{
        ChannelConclude, ChannelDeposit, ChannelOpen, ChannelSettle, RevealSecret, Transaction,
        Transfer, VerifiedTransaction,
    },
};

const T1: TokenId = 1;
const CAROL: Address = Address::repeat_byte(0xc0);
const FEE: Address = Address::repeat_byte(0xfe);

/// Indexes in [`base`].
const W: usize = 0;
const H: usize = 1;
const C: usize = 2;
const F: usize = 3;

fn wallet_key() -> SigningKey {
    SigningKey::from_seed(b"channel test wallet")
}

fn hub_key() -> SigningKey {
    SigningKey::from_seed(b"channel test hub")
}

fn mallory_key() -> SigningKey {
    SigningKey::from_seed(b"channel test mallory")
}

fn wallet() -> Address {
    wallet_key().address()
}

fn hub() -> Address {
    hub_key().address()
}

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

/// The wallet (index 0): 1000 ETH, 500 of token 1. The hub (1): 1000 ETH, 500 of token 1.
/// Carol (2), a third party: 100 ETH. The fee recipient (3): nothing. Two tokens.
fn base() -> State {
    State::genesis(
        &[
            alloc(wallet(), &[(ETH, 1_000), (T1, 500)]),
            alloc(hub(), &[(ETH, 1_000), (T1, 500)]),
            alloc(CAROL, &[(ETH, 100)]),
            alloc(FEE, &[]),
        ],
        2,
    )
    .unwrap()
}

fn verified(tx: Transaction) -> VerifiedTransaction {
    tx.assume_verified(&test_domain())
}

fn open(
    from: Address,
    hub: Address,
    token: TokenId,
    amount: Amount,
    fee: Amount,
    nonce: Nonce,
) -> VerifiedTransaction {
    verified(Transaction::ChannelOpen(ChannelOpen {
        from,
        hub,
        token,
        amount,
        fee,
        nonce,
    }))
}

/// A deposit carrying a state of `total_after` (all on the wallet's side) co-signed by the
/// wallet and the hub.
fn deposit(
    from: Address,
    channel_id: B256,
    amount: Amount,
    total_after: Amount,
    fee: Amount,
    nonce: Nonce,
) -> VerifiedTransaction {
    let after = state(channel_id, 2, total_after, 0, vec![], false);
    deposit_with(
        from,
        channel_id,
        amount,
        &after,
        &wallet_key(),
        &hub_key(),
        fee,
        nonce,
    )
}

/// A deposit carrying `after` signed by `wallet_signer` and `hub_signer`.
#[allow(clippy::too_many_arguments)]
fn deposit_with(
    from: Address,
    channel_id: B256,
    amount: Amount,
    after: &ChannelState,
    wallet_signer: &SigningKey,
    hub_signer: &SigningKey,
    fee: Amount,
    nonce: Nonce,
) -> VerifiedTransaction {
    verified(Transaction::ChannelDeposit(ChannelDeposit {
        from,
        channel_id,
        amount,
        state: after.clone(),
        wallet_signature: co_sign(wallet_signer, after),
        hub_signature: co_sign(hub_signer, after),
        fee,
        nonce,
    }))
}

fn conclude(from: Address, channel_id: B256, fee: Amount, nonce: Nonce) -> VerifiedTransaction {
    verified(Transaction::ChannelConclude(ChannelConclude {
        from,
        channel_id,
        fee,
        nonce,
    }))
}

fn reveal(from: Address, secret: B256, nonce: Nonce) -> VerifiedTransaction {
    verified(Transaction::RevealSecret(RevealSecret {
        from,
        secret,
        fee: 0,
        nonce,
    }))
}

/// `key`'s co-signature of `state` under `domain`.
fn co_sign_in(domain: &Domain, key: &SigningKey, state: &ChannelState) -> Bytes {
    Bytes::copy_from_slice(&key.sign_digest(&state.signing_hash(domain)).to_bytes())
}

fn co_sign(key: &SigningKey, state: &ChannelState) -> Bytes {
    co_sign_in(&test_domain(), key, state)
}

/// A settle body from `from`, co-signed by the wallet and the hub.
fn body(from: Address, state: &ChannelState, fee: Amount, nonce: Nonce) -> ChannelSettle {
    ChannelSettle {
        from,
        state: state.clone(),
        wallet_signature: co_sign(&wallet_key(), state),
        hub_signature: co_sign(&hub_key(), state),
        fee,
        nonce,
    }
}

fn close(from: Address, state: &ChannelState, fee: Amount, nonce: Nonce) -> VerifiedTransaction {
    verified(Transaction::ChannelClose(body(from, state, fee, nonce)))
}

fn register(from: Address, state: &ChannelState, fee: Amount, nonce: Nonce) -> VerifiedTransaction {
    verified(Transaction::ChannelRegister(body(from, state, fee, nonce)))
}

fn refute(from: Address, state: &ChannelState, fee: Amount, nonce: Nonce) -> VerifiedTransaction {
    verified(Transaction::ChannelRefute(body(from, state, fee, nonce)))
}

/// A state of channel `id`.
fn state(
    id: B256,
    version: u64,
    wallet: Amount,
    hub: Amount,
    locks: Vec<Lock>,
    is_final: bool,
) -> ChannelState {
    ChannelState {
        channel_id: id,
        version,
        balance_wallet: wallet,
        balance_hub: hub,
        locks,
        is_final,
    }
}

/// The secret named `name` (what a reveal carries).
fn secret(name: &[u8]) -> B256 {
    keccak256(name)
}

/// A lock on the secret named `name`: its hashlock is `keccak256(secret(name))`.
fn lock(amount: Amount, name: &[u8], expiry: u64, direction: LockDirection) -> Lock {
    Lock {
        amount,
        hashlock: keccak256(secret(name)),
        expiry,
        direction,
    }
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

// ---------------------------------------------------------------------------------------
// Running blocks both ways
// ---------------------------------------------------------------------------------------

static PARALLEL: LazyLock<Mutex<ParallelExecutor>> =
    LazyLock::new(|| Mutex::new(ParallelExecutor::new(2).always_parallel()));

fn parallel() -> MutexGuard<'static, ParallelExecutor> {
    PARALLEL.lock().unwrap_or_else(|e| e.into_inner())
}

fn accounts(s: &State) -> Vec<Account> {
    (0..s.account_count())
        .map(|i| s.account(i).unwrap().clone())
        .collect()
}

/// Executes block `number` on clones of `state` with the reference and the DAG engine,
/// asserts identical outputs and states and the channels root's definition, and returns
/// the reference's.
fn run(state: &State, number: u64, txs: &[VerifiedTransaction]) -> (BlockOutput, State) {
    let mut seq = state.clone();
    let out = SequentialExecutor
        .execute_block(&mut seq, &env(number), txs)
        .expect("valid block");
    let mut par = state.clone();
    let par_out = parallel()
        .execute_block(&mut par, &env(number), txs)
        .expect("valid block");
    assert_eq!(par_out, out, "parallel output differs");
    assert_eq!(accounts(&par), accounts(&seq), "parallel accounts differ");
    assert_eq!(par.channels(), seq.channels(), "parallel channels differ");
    assert_eq!(par.state_root(), seq.state_root());
    let mut tree = MerkleTree::new(REGISTRY_DEPTH);
    let leaves: Vec<(usize, B256)> = seq
        .channels()
        .iter()
        .enumerate()
        .map(|(i, c)| (i, keccak256(c.leaf_preimage())))
        .collect();
    tree.update(&leaves);
    assert_eq!(seq.channels_root(), tree.root(), "channels root");
    (out, seq)
}

/// Runs one block and asserts its receipts.
fn step(state: &State, number: u64, txs: &[VerifiedTransaction], receipts: &[Receipt]) -> State {
    let (out, after) = run(state, number, txs);
    assert_eq!(out.receipts, receipts);
    after
}

fn balance(s: &State, address: Address, token: TokenId) -> Amount {
    s.account_by_address(&address)
        .map_or(0, |a| a.balance(token))
}

fn nonce(s: &State, address: Address) -> Nonce {
    s.account_by_address(&address).map_or(0, |a| a.nonce)
}

fn record(s: &State, id: B256) -> ChannelRecord {
    s.channel(&id).expect("the channel exists").clone()
}

/// Asserts that only the nonces and ETH balances listed changed (by the given deltas), and
/// that the channels are as before.
fn assert_failed_with(before: &State, after: &State, changes: &[(usize, u64, i128)]) {
    let mut expected = accounts(before);
    for &(i, nonces, eth) in changes {
        expected[i].nonce += nonces;
        let b = expected[i].balance(ETH) as i128 + eth;
        expected[i].set_balance(ETH, b as Amount);
    }
    assert_eq!(accounts(after), expected);
    assert_eq!(after.channels(), before.channels());
    assert_eq!(after.channels_root(), before.channels_root());
}

/// The channel the wallet opens with nonce 0.
fn id0() -> B256 {
    channel_id(&wallet(), &hub(), 0)
}

/// After block 1: the wallet opened an ETH channel with 300 (fee 1, nonce 0) and the hub
/// deposited 200 (fee 1, nonce 0). Total 500: wallet side 300, hub side 200.
fn opened() -> State {
    step(
        &base(),
        1,
        &[
            open(wallet(), hub(), ETH, 300, 1, 0),
            deposit(hub(), id0(), 200, 500, 1, 0),
        ],
        &[ok(1), ok(1)],
    )
}

/// [`opened`], then the hub registers version 5 in block `number` (nonce 1): the hub 150,
/// `locks`, and the wallet the rest of the 500.
fn disputed(number: u64, locks: Vec<Lock>) -> (State, ChannelState) {
    let locked: Amount = locks.iter().map(|l| l.amount).sum();
    let s = state(id0(), 5, 350 - locked, 150, locks, false);
    let after = step(&opened(), number, &[register(hub(), &s, 0, 1)], &[ok(0)]);
    (after, s)
}

// ---------------------------------------------------------------------------------------
// Open
// ---------------------------------------------------------------------------------------

#[test]
fn an_open_takes_the_amount_and_fee_from_the_wallet_and_records_an_open_channel() {
    let before = base();
    let (out, after) = run(&before, 1, &[open(wallet(), hub(), ETH, 300, 2, 0)]);
    assert_eq!(out.receipts, vec![ok(2)]);
    assert_eq!(
        record(&after, id0()),
        ChannelRecord {
            id: id0(),
            wallet: W as AccountIndex,
            hub: H as AccountIndex,
            token: ETH,
            total: 300,
            wallet_side: 300,
            hub_side: 0,
            status: ChannelStatus::Open,
        }
    );
    assert_eq!(after.channels().len(), 1);
    let mut expected = accounts(&before);
    expected[W].nonce = 1;
    expected[W].set_balance(ETH, 698);
    expected[F].set_balance(ETH, 2);
    assert_eq!(accounts(&after), expected);
    assert_ne!(after.channels_root(), before.channels_root());
    assert_eq!(after.tokens_hash(), before.tokens_hash());
}

#[test]
fn an_open_of_a_token_pays_its_fee_in_that_token() {
    let id = id0();
    let after = step(
        &base(),
        1,
        &[open(wallet(), hub(), T1, 100, 3, 0)],
        &[ok(3)],
    );
    assert_eq!(record(&after, id).token, T1);
    assert_eq!(balance(&after, wallet(), T1), 397);
    assert_eq!(balance(&after, wallet(), ETH), 1_000);
    assert_eq!(balance(&after, FEE, T1), 3);
}

#[test]
fn an_open_with_a_new_hub_gives_the_hub_an_index_after_the_wallet_in_field_order() {
    let newcomer = Address::repeat_byte(0x77);
    let fresh = Address::repeat_byte(0x78);
    let before = base();
    let (out, after) = run(
        &before,
        1,
        &[
            open(fresh, newcomer, ETH, 1, 0, 0),
            open(wallet(), newcomer, ETH, 10, 0, 0),
        ],
    );
    assert_eq!(
        out.receipts,
        vec![failed(FailureReason::InsufficientBalance, 0), ok(0)]
    );
    // Opener, then hub, in block order: the failed open still indexed both.
    assert_eq!(after.index_of(&fresh), Some(4));
    assert_eq!(after.index_of(&newcomer), Some(5));
    let c = record(&after, channel_id(&wallet(), &newcomer, 0));
    assert_eq!((c.wallet, c.hub), (0, 5));
    assert_eq!(after.account(5).unwrap(), &Account::new(newcomer));
}

#[test]
fn channels_enter_the_table_in_open_order_within_and_across_blocks() {
    let a = step(
        &base(),
        1,
        &[
            open(wallet(), hub(), ETH, 10, 0, 0),
            open(hub(), wallet(), T1, 20, 0, 0),
            open(wallet(), hub(), T1, 30, 0, 1),
        ],
        &[ok(0), ok(0), ok(0)],
    );
    let b = step(&a, 2, &[open(CAROL, hub(), ETH, 40, 0, 0)], &[ok(0)]);
    let ids: Vec<B256> = b.channels().iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        vec![
            channel_id(&wallet(), &hub(), 0),
            channel_id(&hub(), &wallet(), 0),
            channel_id(&wallet(), &hub(), 1),
            channel_id(&CAROL, &hub(), 0),
        ]
    );
    let totals: Vec<Amount> = b.channels().iter().map(|c| c.total).collect();
    assert_eq!(totals, vec![10, 20, 30, 40]);
    // The hub's own channel (opened by the hub with the wallet as its hub).
    let c = &b.channels()[1];
    assert_eq!((c.wallet, c.hub), (H as AccountIndex, W as AccountIndex));
}

#[test]
fn open_failures_consume_the_nonce_and_charge_the_fee_once_the_token_is_known() {
    let before = base();
    let cases: Vec<(VerifiedTransaction, Receipt, i128)> = vec![
        (
            open(wallet(), hub(), 2, 10, 1, 0),
            failed(FailureReason::UnknownToken, 0),
            0,
        ),
        (
            open(wallet(), hub(), ETH, 10, 1_001, 0),
            failed(FailureReason::InsufficientFee, 0),
            0,
        ),
        (
            open(wallet(), wallet(), ETH, 10, 1, 0),
            failed(FailureReason::SelfChannel, 1),
            -1,
        ),
        (
            open(wallet(), hub(), ETH, 0, 1, 0),
            failed(FailureReason::ZeroAmount, 1),
            -1,
        ),
        (
            open(wallet(), hub(), ETH, u128::MAX, 1, 0),
            failed(FailureReason::AmountOverflow, 1),
            -1,
        ),
        (
            open(wallet(), hub(), ETH, 1_000, 1, 0),
            failed(FailureReason::InsufficientBalance, 1),
            -1,
        ),
    ];
    for (tx, receipt, eth) in cases {
        let (out, after) = run(&before, 1, &[tx]);
        assert_eq!(out.receipts, vec![receipt]);
        assert_failed_with(&before, &after, &[(W, 1, eth), (F, 0, -eth)]);
    }
    // A wrong nonce changes nothing at all.
    let (out, after) = run(&before, 1, &[open(wallet(), hub(), ETH, 10, 1, 3)]);
    assert_eq!(out.receipts, vec![failed(FailureReason::BadNonce, 0)]);
    assert_failed_with(&before, &after, &[]);
}

// ---------------------------------------------------------------------------------------
// Deposit
// ---------------------------------------------------------------------------------------

#[test]
fn a_deposit_adds_to_the_senders_side_and_the_total() {
    let before = opened();
    assert_eq!(
        (
            record(&before, id0()).wallet_side,
            record(&before, id0()).hub_side
        ),
        (300, 200)
    );
    let after = step(
        &before,
        2,
        &[
            deposit(wallet(), id0(), 50, 550, 2, 1),
            deposit(hub(), id0(), 7, 557, 0, 1),
        ],
        &[ok(2), ok(0)],
    );
    let c = record(&after, id0());
    assert_eq!((c.total, c.wallet_side, c.hub_side), (557, 350, 207));
    assert_eq!(balance(&after, wallet(), ETH), 1_000 - 301 - 52);
    assert_eq!(balance(&after, hub(), ETH), 1_000 - 201 - 7);
    assert_eq!(balance(&after, FEE, ETH), 4);
}

#[test]
fn a_deposit_finds_a_channel_opened_earlier_in_the_block_but_not_one_opened_later() {
    let (out, after) = run(
        &base(),
        1,
        &[
            deposit(hub(), id0(), 5, 305, 1, 0),
            open(wallet(), hub(), ETH, 300, 0, 0),
            deposit(hub(), id0(), 5, 305, 1, 1),
        ],
    );
    assert_eq!(
        out.receipts,
        vec![failed(FailureReason::UnknownChannel, 0), ok(0), ok(1)]
    );
    assert_eq!(record(&after, id0()).total, 305);
    assert_eq!(nonce(&after, hub()), 2);
}

#[test]
fn a_deposit_into_a_channel_whose_open_failed_earlier_in_the_block_finds_no_channel() {
    let (out, after) = run(
        &base(),
        1,
        &[
            open(wallet(), hub(), ETH, 5_000, 1, 0),
            deposit(hub(), id0(), 5, 305, 1, 0),
        ],
    );
    assert_eq!(
        out.receipts,
        vec![
            failed(FailureReason::InsufficientBalance, 1),
            failed(FailureReason::UnknownChannel, 0)
        ]
    );
    assert!(after.channels().is_empty());
    assert_eq!(nonce(&after, hub()), 1);
}

#[test]
fn deposit_failures_consume_the_nonce_and_charge_the_fee_once_the_channel_is_known() {
    let before = opened();
    let cases: Vec<(VerifiedTransaction, Receipt, usize, i128)> = vec![
        (
            deposit(wallet(), B256::repeat_byte(9), 10, 510, 1, 1),
            failed(FailureReason::UnknownChannel, 0),
            W,
            0,
        ),
        (
            deposit(CAROL, id0(), 10, 510, 1, 0),
            failed(FailureReason::NotParticipant, 1),
            C,
            -1,
        ),
        (
            deposit(wallet(), id0(), 10, 510, 1_000, 1),
            failed(FailureReason::InsufficientFee, 0),
            W,
            0,
        ),
        (
            deposit(wallet(), id0(), 0, 500, 1, 1),
            failed(FailureReason::ZeroAmount, 1),
            W,
            -1,
        ),
        (
            deposit(wallet(), id0(), u128::MAX, 500, 1, 1),
            failed(FailureReason::AmountOverflow, 1),
            W,
            -1,
        ),
        (
            deposit(wallet(), id0(), 699, 1_199, 1, 1),
            failed(FailureReason::InsufficientBalance, 1),
            W,
            -1,
        ),
    ];
    for (tx, receipt, sender, eth) in cases {
        let (out, after) = run(&before, 2, &[tx]);
        assert_eq!(out.receipts, vec![receipt]);
        assert_failed_with(&before, &after, &[(sender, 1, eth), (F, 0, -eth)]);
    }
}

/// Audit issue 18, item 2: a deposit the other participant did not co-sign (or whose
/// co-signed state does not split the grown total, or is another channel's) fails, so the
/// channel never holds a total that no co-signed state matches: a cooperative close and a
/// dispute of its latest state still settle.
#[test]
fn a_deposit_without_the_co_signed_state_after_it_fails_and_the_channel_still_settles() {
    let before = opened();
    let grown = state(id0(), 3, 301, 200, vec![], false);
    let other = state(B256::repeat_byte(9), 3, 301, 200, vec![], false);
    let unchanged = state(id0(), 3, 300, 200, vec![], false);
    let (w, h) = (wallet_key(), hub_key());
    let cases = [
        (
            deposit_with(wallet(), id0(), 1, &grown, &w, &w, 1, 1),
            FailureReason::InvalidCoSignature,
        ),
        (
            deposit_with(hub(), id0(), 1, &grown, &h, &h, 1, 1),
            FailureReason::InvalidCoSignature,
        ),
        (
            deposit_with(wallet(), id0(), 1, &other, &w, &h, 1, 1),
            FailureReason::InvalidCoSignature,
        ),
        (
            deposit_with(wallet(), id0(), 1, &unchanged, &w, &h, 1, 1),
            FailureReason::TotalMismatch,
        ),
    ];
    for (tx, reason) in cases {
        let (out, after) = run(&before, 2, std::slice::from_ref(&tx));
        assert_eq!(out.receipts, vec![failed(reason, 1)], "{tx:?}");
        let sender = if tx.transaction.signer_fields().unwrap().0 == wallet() {
            W
        } else {
            H
        };
        assert_failed_with(&before, &after, &[(sender, 1, -1), (F, 0, 1)]);
    }
    let (_, stray) = run(
        &before,
        2,
        &[deposit_with(wallet(), id0(), 1, &grown, &w, &w, 1, 1)],
    );
    assert_eq!(record(&stray, id0()).total, 500);

    // The latest co-signed state still closes the channel...
    let done = state(id0(), 4, 350, 150, vec![], true);
    let (out, closed) = run(&stray, 3, &[close(hub(), &done, 0, 1)]);
    assert_eq!(out.receipts, vec![ok(0)]);
    assert_eq!(record(&closed, id0()).status, ChannelStatus::Closed);
    assert_eq!(
        balance(&closed, wallet(), ETH),
        balance(&stray, wallet(), ETH) + 350
    );

    // ...or is registered and concluded after the window.
    let latest = state(id0(), 4, 350, 150, vec![], false);
    let registered = step(&stray, 3, &[register(wallet(), &latest, 0, 2)], &[ok(0)]);
    let end = 3 + DEFAULT_DISPUTE_WINDOW + 1;
    let (out, concluded) = run(&registered, end, &[conclude(CAROL, id0(), 0, 0)]);
    assert_eq!(out.receipts, vec![ok(0)]);
    assert_eq!(
        balance(&concluded, hub(), ETH),
        balance(&registered, hub(), ETH) + 150
    );
}

/// With the co-signed state after it, a deposit grows the channel, and that state (not the
/// one before) is what settles it.
#[test]
fn a_co_signed_deposit_grows_the_channel_and_its_state_settles_it() {
    let before = opened();
    let grown = state(id0(), 3, 301, 200, vec![], false);
    let (w, h) = (wallet_key(), hub_key());
    let after = step(
        &before,
        2,
        &[deposit_with(wallet(), id0(), 1, &grown, &w, &h, 1, 1)],
        &[ok(1)],
    );
    let c = record(&after, id0());
    assert_eq!((c.total, c.wallet_side, c.hub_side), (501, 301, 200));
    let old = state(id0(), 2, 300, 200, vec![], false);
    let (out, _) = run(&after, 3, &[register(hub(), &old, 0, 1)]);
    assert_eq!(out.receipts, vec![failed(FailureReason::TotalMismatch, 0)]);
    let (out, _) = run(&after, 3, &[register(hub(), &grown, 0, 1)]);
    assert_eq!(out.receipts, vec![ok(0)]);
}

#[test]
fn a_deposit_into_a_disputed_or_closed_channel_fails_with_channel_not_open() {
    let (disputed, _) = disputed(2, vec![]);
    let (out, after) = run(&disputed, 3, &[deposit(wallet(), id0(), 10, 510, 1, 1)]);
    assert_eq!(out.receipts, vec![failed(FailureReason::ChannelNotOpen, 1)]);
    assert_failed_with(&disputed, &after, &[(W, 1, -1), (F, 0, 1)]);

    let done = state(id0(), 9, 400, 100, vec![], true);
    let closed = step(&opened(), 2, &[close(wallet(), &done, 0, 1)], &[ok(0)]);
    let (out, _) = run(&closed, 3, &[deposit(hub(), id0(), 10, 510, 0, 1)]);
    assert_eq!(out.receipts, vec![failed(FailureReason::ChannelNotOpen, 0)]);
}

// ---------------------------------------------------------------------------------------
// Cooperative close
// ---------------------------------------------------------------------------------------

#[test]
fn a_cooperative_close_pays_both_balances_and_closes_the_channel() {
    let before = opened();
    let done = state(id0(), 9, 420, 80, vec![], true);
    let (out, after) = run(&before, 2, &[close(hub(), &done, 3, 1)]);
    assert_eq!(out.receipts, vec![ok(3)]);
    let c = record(&after, id0());
    assert_eq!(c.status, ChannelStatus::Closed);
    assert_eq!((c.total, c.wallet_side, c.hub_side), (0, 300, 200));
    let mut expected = accounts(&before);
    expected[W].set_balance(ETH, 699 + 420);
    expected[H].nonce = 2;
    expected[H].set_balance(ETH, 799 - 3 + 80);
    expected[F].set_balance(ETH, 2 + 3);
    assert_eq!(accounts(&after), expected);
}

#[test]
fn a_close_of_a_channel_of_a_token_pays_out_and_charges_the_fee_in_that_token() {
    let id = id0();
    let a = step(
        &base(),
        1,
        &[open(wallet(), hub(), T1, 100, 0, 0)],
        &[ok(0)],
    );
    let done = state(id, 1, 60, 40, vec![], true);
    let b = step(&a, 2, &[close(wallet(), &done, 2, 1)], &[ok(2)]);
    assert_eq!(balance(&b, wallet(), T1), 400 - 2 + 60);
    assert_eq!(balance(&b, hub(), T1), 540);
    assert_eq!(balance(&b, FEE, T1), 2);
    assert_eq!(balance(&b, wallet(), ETH), 1_000);
}

#[test]
fn a_cooperative_close_also_ends_a_dispute() {
    let (before, _) = disputed(2, vec![lock(100, b"s", 10, LockDirection::WalletToHub)]);
    let done = state(id0(), 3, 100, 400, vec![], true);
    let after = step(&before, 3, &[close(wallet(), &done, 0, 1)], &[ok(0)]);
    assert_eq!(record(&after, id0()).status, ChannelStatus::Closed);
    assert_eq!(balance(&after, wallet(), ETH), 699 + 100);
    assert_eq!(balance(&after, hub(), ETH), 799 + 400);
}

/// The co-signature failures shared by every settle kind, for a state `good` that would
/// otherwise succeed when presented by the wallet with nonce `n` in block `number`.
fn co_signature_failures(
    before: &State,
    number: u64,
    good: &ChannelState,
    n: Nonce,
    kind: fn(ChannelSettle) -> Transaction,
) {
    let signed = |wallet_signature: Bytes, hub_signature: Bytes| {
        verified(kind(ChannelSettle {
            wallet_signature,
            hub_signature,
            ..body(wallet(), good, 1, n)
        }))
    };
    let w = co_sign(&wallet_key(), good);
    let h = co_sign(&hub_key(), good);
    let m = co_sign(&mallory_key(), good);
    let other_domain = Domain::new(1, test_domain().verifying_contract());
    let high_s = {
        let sig = Signature::from_bytes(&w).unwrap();
        // secp256k1 order n; (r, n - s, !v) is the malleated twin.
        let order = U256::from_be_bytes(
            b256!("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141").0,
        );
        let s = U256::from_be_bytes(sig.s.0);
        let twin = Signature {
            r: sig.r,
            s: B256::from(order - s),
            y_parity: !sig.y_parity,
        };
        assert!(twin.is_high_s());
        Bytes::copy_from_slice(&twin.to_bytes())
    };
    let cases = [
        (
            "wallet signature by another key",
            signed(m.clone(), h.clone()),
        ),
        ("hub signature by another key", signed(w.clone(), m)),
        ("signatures swapped", signed(h.clone(), w.clone())),
        ("both by the wallet", signed(w.clone(), w.clone())),
        ("empty signature", signed(Bytes::new(), h.clone())),
        (
            "64 bytes",
            signed(Bytes::copy_from_slice(&w[..64]), h.clone()),
        ),
        ("high s", signed(high_s, h.clone())),
        (
            "another domain",
            signed(
                co_sign_in(&other_domain, &wallet_key(), good),
                co_sign_in(&other_domain, &hub_key(), good),
            ),
        ),
    ];
    for (what, tx) in cases {
        let (out, after) = run(before, number, &[tx]);
        assert_eq!(
            out.receipts,
            vec![failed(FailureReason::InvalidCoSignature, 1)],
            "{what}"
        );
        assert_failed_with(before, &after, &[(W, 1, -1), (F, 0, 1)]);
    }
    // And the good one goes through.
    let (out, _) = run(before, number, &[signed(w, h)]);
    assert_eq!(out.receipts, vec![ok(1)]);
}

#[test]
fn a_close_needs_both_valid_co_signatures() {
    let good = state(id0(), 9, 420, 80, vec![], true);
    co_signature_failures(&opened(), 2, &good, 1, Transaction::ChannelClose);
}

#[test]
fn close_failures_consume_the_nonce_and_charge_the_fee() {
    let before = opened();
    let locked = state(
        id0(),
        9,
        400,
        50,
        vec![lock(50, b"s", 9, LockDirection::HubToWallet)],
        true,
    );
    let cases = [
        (
            close(CAROL, &state(id0(), 9, 420, 80, vec![], true), 1, 0),
            FailureReason::NotParticipant,
            C,
        ),
        (
            close(wallet(), &state(id0(), 9, 420, 80, vec![], false), 1, 1),
            FailureReason::NotFinal,
            W,
        ),
        (close(wallet(), &locked, 1, 1), FailureReason::NotFinal, W),
        (
            close(wallet(), &state(id0(), 9, 420, 81, vec![], true), 1, 1),
            FailureReason::TotalMismatch,
            W,
        ),
        (
            close(wallet(), &state(id0(), 9, u128::MAX, 1, vec![], true), 1, 1),
            FailureReason::TotalMismatch,
            W,
        ),
    ];
    for (tx, reason, sender) in cases {
        let (out, after) = run(&before, 2, &[tx]);
        assert_eq!(out.receipts, vec![failed(reason, 1)], "{reason:?}");
        assert_failed_with(&before, &after, &[(sender, 1, -1), (F, 0, 1)]);
    }
    // A state of another channel names that channel: here one that does not exist.
    let other = state(B256::repeat_byte(3), 9, 420, 80, vec![], true);
    let (out, after) = run(&before, 2, &[close(wallet(), &other, 1, 1)]);
    assert_eq!(out.receipts, vec![failed(FailureReason::UnknownChannel, 0)]);
    assert_failed_with(&before, &after, &[(W, 1, 0)]);
}

#[test]
fn a_closed_channel_cannot_be_closed_again() {
    let done = state(id0(), 9, 420, 80, vec![], true);
    let after = step(
        &opened(),
        2,
        &[close(wallet(), &done, 0, 1), close(hub(), &done, 1, 1)],
        &[ok(0), failed(FailureReason::ChannelClosed, 1)],
    );
    assert_eq!(balance(&after, wallet(), ETH), 699 + 420);
    assert_eq!(balance(&after, hub(), ETH), 799 - 1 + 80);
}

// ---------------------------------------------------------------------------------------
// Register
// ---------------------------------------------------------------------------------------

#[test]
fn a_registration_disputes_the_channel_until_a_window_after_its_block() {
    let locks = vec![lock(100, b"s", 50, LockDirection::WalletToHub)];
    let (after, registered) = disputed(7, locks);
    let c = record(&after, id0());
    assert_eq!(
        c.status,
        ChannelStatus::Disputed {
            state: registered,
            deadline: 7 + DEFAULT_DISPUTE_WINDOW,
        }
    );
    assert_eq!(c.total, 500);
    // Nothing is paid yet.
    assert_eq!(balance(&after, wallet(), ETH), 699);
    assert_eq!(balance(&after, hub(), ETH), 799);
}

#[test]
fn a_registration_needs_both_valid_co_signatures() {
    let good = state(id0(), 3, 300, 200, vec![], false);
    co_signature_failures(&opened(), 2, &good, 1, Transaction::ChannelRegister);
}

#[test]
fn register_failures_consume_the_nonce_and_charge_the_fee() {
    let before = opened();
    let many: Vec<Lock> = (0..=MAX_LOCKS)
        .map(|i| lock(1, &[i as u8], 9, LockDirection::WalletToHub))
        .collect();
    let cases = [
        (
            register(CAROL, &state(id0(), 3, 300, 200, vec![], false), 1, 0),
            FailureReason::NotParticipant,
            C,
        ),
        (
            // The state from before the hub's deposit: its total is stale.
            register(wallet(), &state(id0(), 0, 300, 0, vec![], false), 1, 1),
            FailureReason::TotalMismatch,
            W,
        ),
        (
            register(wallet(), &state(id0(), 3, 500 - 65, 0, many, false), 1, 1),
            FailureReason::TooManyLocks,
            W,
        ),
    ];
    for (tx, reason, sender) in cases {
        let (out, after) = run(&before, 2, &[tx]);
        assert_eq!(out.receipts, vec![failed(reason, 1)], "{reason:?}");
        assert_failed_with(&before, &after, &[(sender, 1, -1), (F, 0, 1)]);
    }
    // Exactly MAX_LOCKS locks are fine.
    let most: Vec<Lock> = (0..MAX_LOCKS)
        .map(|i| lock(1, &[i as u8], 9, LockDirection::WalletToHub))
        .collect();
    let s = state(id0(), 3, 500 - MAX_LOCKS as Amount, 0, most, false);
    step(&before, 2, &[register(wallet(), &s, 1, 1)], &[ok(1)]);
}

#[test]
fn a_disputed_or_closed_channel_cannot_be_registered() {
    let (before, _) = disputed(2, vec![]);
    let newer = state(id0(), 6, 300, 200, vec![], false);
    step(
        &before,
        3,
        &[register(wallet(), &newer, 1, 1)],
        &[failed(FailureReason::ChannelNotOpen, 1)],
    );
    let done = state(id0(), 9, 420, 80, vec![], true);
    let closed = step(&opened(), 2, &[close(wallet(), &done, 0, 1)], &[ok(0)]);
    step(
        &closed,
        3,
        &[register(hub(), &newer, 0, 1)],
        &[failed(FailureReason::ChannelNotOpen, 0)],
    );
}

// ---------------------------------------------------------------------------------------
// Refute
// ---------------------------------------------------------------------------------------

#[test]
fn a_refutation_with_a_higher_version_replaces_the_state_and_keeps_the_deadline() {
    let (before, _) = disputed(2, vec![]);
    let newer = state(id0(), 6, 100, 400, vec![], false);
    let newest = state(
        id0(),
        8,
        100,
        300,
        vec![lock(100, b"x", 9, LockDirection::HubToWallet)],
        false,
    );
    // The wallet refutes, then the hub refutes again at the very deadline.
    let deadline = 2 + DEFAULT_DISPUTE_WINDOW;
    let a = step(&before, 3, &[refute(wallet(), &newer, 1, 1)], &[ok(1)]);
    let b = step(&a, deadline, &[refute(hub(), &newest, 0, 2)], &[ok(0)]);
    assert_eq!(
        record(&b, id0()).status,
        ChannelStatus::Disputed {
            state: newest,
            deadline,
        }
    );
}

#[test]
fn a_refutation_needs_both_valid_co_signatures() {
    let (before, _) = disputed(2, vec![]);
    let good = state(id0(), 6, 300, 200, vec![], false);
    co_signature_failures(&before, 3, &good, 1, Transaction::ChannelRefute);
}

#[test]
fn refute_failures_consume_the_nonce_and_charge_the_fee() {
    let (before, registered) = disputed(2, vec![]);
    let many: Vec<Lock> = (0..=MAX_LOCKS)
        .map(|i| lock(1, &[i as u8], 9, LockDirection::WalletToHub))
        .collect();
    let cases = [
        (
            refute(CAROL, &state(id0(), 6, 300, 200, vec![], false), 1, 0),
            FailureReason::NotParticipant,
            C,
        ),
        (
            refute(wallet(), &registered, 1, 1),
            FailureReason::StaleVersion,
            W,
        ),
        (
            refute(wallet(), &state(id0(), 4, 300, 200, vec![], false), 1, 1),
            FailureReason::StaleVersion,
            W,
        ),
        (
            refute(wallet(), &state(id0(), 6, 300, 201, vec![], false), 1, 1),
            FailureReason::TotalMismatch,
            W,
        ),
        (
            refute(wallet(), &state(id0(), 6, 500 - 65, 0, many, false), 1, 1),
            FailureReason::TooManyLocks,
            W,
        ),
    ];
    for (tx, reason, sender) in cases {
        let (out, after) = run(&before, 3, &[tx]);
        assert_eq!(out.receipts, vec![failed(reason, 1)], "{reason:?}");
        assert_failed_with(&before, &after, &[(sender, 1, -1), (F, 0, 1)]);
    }
}

#[test]
fn a_refutation_after_the_deadline_fails_and_the_registered_state_stands() {
    let (before, registered) = disputed(2, vec![]);
    let newer = state(id0(), 6, 100, 400, vec![], false);
    let after = step(
        &before,
        3 + DEFAULT_DISPUTE_WINDOW,
        &[refute(wallet(), &newer, 1, 1), conclude(CAROL, id0(), 0, 0)],
        &[failed(FailureReason::DisputeExpired, 1), ok(0)],
    );
    // The registered (older) state is what was paid.
    assert_eq!(registered.balance_wallet, 350);
    assert_eq!(balance(&after, wallet(), ETH), 699 - 1 + 350);
    assert_eq!(balance(&after, hub(), ETH), 799 + 150);
}

#[test]
fn an_open_or_closed_channel_cannot_be_refuted() {
    let newer = state(id0(), 6, 300, 200, vec![], false);
    step(
        &opened(),
        2,
        &[refute(wallet(), &newer, 1, 1)],
        &[failed(FailureReason::ChannelNotDisputed, 1)],
    );
    let done = state(id0(), 9, 420, 80, vec![], true);
    let closed = step(&opened(), 2, &[close(wallet(), &done, 0, 1)], &[ok(0)]);
    step(
        &closed,
        3,
        &[refute(hub(), &newer, 0, 1)],
        &[failed(FailureReason::ChannelNotDisputed, 0)],
    );
}

// ---------------------------------------------------------------------------------------
// Conclude
// ---------------------------------------------------------------------------------------

#[test]
fn a_conclusion_at_or_before_the_deadline_fails_with_dispute_pending() {
    let (before, _) = disputed(2, vec![]);
    for number in [3, 2 + DEFAULT_DISPUTE_WINDOW] {
        let (out, after) = run(&before, number, &[conclude(CAROL, id0(), 1, 0)]);
        assert_eq!(out.receipts, vec![failed(FailureReason::DisputePending, 1)]);
        assert_failed_with(&before, &after, &[(C, 1, -1), (F, 0, 1)]);
    }
    // In the registration's own block, too.
    let s = state(id0(), 5, 300, 200, vec![], false);
    step(
        &opened(),
        2,
        &[register(hub(), &s, 0, 1), conclude(wallet(), id0(), 0, 1)],
        &[ok(0), failed(FailureReason::DisputePending, 0)],
    );
}

#[test]
fn a_conclusion_after_the_deadline_pays_the_balances_and_resolves_each_lock_by_the_registry() {
    // Expiries: all at block 20. The registration is in block 2, so the conclusion can
    // come in block 3 + DEFAULT_DISPUTE_WINDOW; reveals happen in blocks 3, 21 and the last.
    let locks = vec![
        // Revealed in time: to the receiver.
        lock(10, b"a", 20, LockDirection::WalletToHub),
        lock(11, b"b", 20, LockDirection::HubToWallet),
        // Revealed after its expiry: back to the sender.
        lock(12, b"c", 20, LockDirection::WalletToHub),
        // Never revealed: back to the sender.
        lock(13, b"d", 20, LockDirection::HubToWallet),
        // Expiry past the conclusion, revealed earlier in the conclusion's block: receiver.
        lock(
            14,
            b"e",
            2 * DEFAULT_DISPUTE_WINDOW,
            LockDirection::WalletToHub,
        ),
        // Revealed later in the conclusion's block: too late for it, back to the sender.
        lock(
            15,
            b"f",
            2 * DEFAULT_DISPUTE_WINDOW,
            LockDirection::HubToWallet,
        ),
    ];
    let (before, registered) = disputed(2, locks);
    assert_eq!(registered.balance_wallet, 350 - 75);
    let a = step(
        &before,
        3,
        &[
            reveal(CAROL, secret(b"a"), 0),
            reveal(CAROL, secret(b"b"), 1),
        ],
        &[ok(0), ok(0)],
    );
    let b = step(&a, 21, &[reveal(CAROL, secret(b"c"), 2)], &[ok(0)]);
    assert_eq!(b.secret_revealed_at(&keccak256(secret(b"c"))), Some(21));
    let last = 3 + DEFAULT_DISPUTE_WINDOW;
    let after = step(
        &b,
        last,
        &[
            reveal(CAROL, secret(b"e"), 3),
            conclude(CAROL, id0(), 2, 4),
            reveal(CAROL, secret(b"f"), 5),
        ],
        &[ok(0), ok(2), ok(0)],
    );
    let c = record(&after, id0());
    assert_eq!(c.status, ChannelStatus::Closed);
    assert_eq!(c.total, 0);
    // The wallet: its balance, b (received), c (back); the hub: its balance, a and e
    // (received), d and f (back).
    let to_wallet = 275 + 11 + 12;
    let to_hub = 150 + 10 + 13 + 14 + 15;
    assert_eq!(to_wallet + to_hub, 500);
    assert_eq!(balance(&after, wallet(), ETH), 699 + to_wallet);
    assert_eq!(balance(&after, hub(), ETH), 799 + to_hub);
    assert_eq!(balance(&after, CAROL, ETH), 98);
    assert_eq!(balance(&after, FEE, ETH), 2 + 2);
}

#[test]
fn conclusions_reading_one_secret_see_exactly_the_reveals_before_them_in_the_block() {
    // Two channels whose registered states lock 100 from the hub to the wallet on the same
    // hashlock, and a reveal between their conclusions: the first returns the lock to the
    // hub, the second pays it to the wallet. (On the DAG: read, write, read of one key.)
    let dave_key = SigningKey::from_seed(b"channel test dave");
    let dave = dave_key.address();
    let id_w = channel_id(&wallet(), &hub(), 1);
    let id_d = channel_id(&dave, &hub(), 0);
    let funded = step(
        &base(),
        1,
        &[
            verified(Transaction::Transfer(Transfer {
                from: wallet(),
                to: dave,
                token: ETH,
                amount: 200,
                fee: 0,
                nonce: 0,
            })),
            open(dave, hub(), ETH, 100, 0, 0),
            open(wallet(), hub(), ETH, 100, 0, 1),
            deposit_with(
                hub(),
                id_d,
                100,
                &state(id_d, 2, 100, 100, vec![], false),
                &dave_key,
                &hub_key(),
                0,
                0,
            ),
            deposit(hub(), id_w, 100, 200, 0, 1),
        ],
        &vec![ok(0); 5][..],
    );
    let shared = Lock {
        amount: 100,
        hashlock: keccak256(secret(b"shared")),
        expiry: u64::MAX,
        direction: LockDirection::HubToWallet,
    };
    let s_w = state(id_w, 1, 100, 0, vec![shared.clone()], false);
    let s_d = state(id_d, 1, 100, 0, vec![shared], false);
    let reg_d = verified(Transaction::ChannelRegister(ChannelSettle {
        from: dave,
        state: s_d.clone(),
        wallet_signature: co_sign(&dave_key, &s_d),
        hub_signature: co_sign(&hub_key(), &s_d),
        fee: 0,
        nonce: 1,
    }));
    let registered = step(
        &funded,
        2,
        &[register(hub(), &s_w, 0, 2), reg_d],
        &[ok(0), ok(0)],
    );
    let after = step(
        &registered,
        3 + DEFAULT_DISPUTE_WINDOW,
        &[
            conclude(CAROL, id_w, 0, 0),
            reveal(CAROL, secret(b"shared"), 1),
            conclude(CAROL, id_d, 0, 2),
        ],
        &[ok(0), ok(0), ok(0)],
    );
    assert_eq!(balance(&after, wallet(), ETH), 1_000 - 200 - 100 + 100);
    assert_eq!(balance(&after, dave, ETH), 200 - 100 + 200);
    // The hub funded 100 of each; only the first lock came back.
    assert_eq!(balance(&after, hub(), ETH), 1_000 - 200 + 100);
}

#[test]
fn conclude_failures_consume_the_nonce_and_charge_the_fee_once_the_channel_is_known() {
    let before = opened();
    step(
        &before,
        2,
        &[conclude(CAROL, id0(), 1, 0)],
        &[failed(FailureReason::ChannelNotDisputed, 1)],
    );
    let (out, after) = run(&before, 2, &[conclude(CAROL, B256::repeat_byte(4), 1, 0)]);
    assert_eq!(out.receipts, vec![failed(FailureReason::UnknownChannel, 0)]);
    assert_failed_with(&before, &after, &[(C, 1, 0)]);
    // A third party without the channel's token cannot pay a fee in it.
    let a = step(
        &base(),
        1,
        &[open(wallet(), hub(), T1, 100, 0, 0)],
        &[ok(0)],
    );
    let s = state(id0(), 1, 100, 0, vec![], false);
    let b = step(&a, 2, &[register(wallet(), &s, 0, 1)], &[ok(0)]);
    let (out, _) = run(
        &b,
        3 + DEFAULT_DISPUTE_WINDOW,
        &[conclude(CAROL, id0(), 1, 0)],
    );
    assert_eq!(
        out.receipts,
        vec![failed(FailureReason::InsufficientFee, 0)]
    );
    // A concluded channel is closed.
    let c = step(
        &b,
        3 + DEFAULT_DISPUTE_WINDOW,
        &[conclude(CAROL, id0(), 0, 0)],
        &[ok(0)],
    );
    step(
        &c,
        4 + DEFAULT_DISPUTE_WINDOW,
        &[conclude(wallet(), id0(), 0, 2)],
        &[failed(FailureReason::ChannelNotDisputed, 0)],
    );
}

// ---------------------------------------------------------------------------------------
// A fee recipient and a participant in one
// ---------------------------------------------------------------------------------------

#[test]
fn payouts_to_a_participant_that_also_sends_in_the_block_are_ordered() {
    let before = opened();
    let done = state(id0(), 9, 420, 80, vec![], true);
    // The hub spends more than it holds before the payout, then exactly what it holds
    // after it.
    let after = step(
        &before,
        2,
        &[
            verified(Transaction::Transfer(Transfer {
                from: hub(),
                to: CAROL,
                token: ETH,
                amount: 800,
                fee: 0,
                nonce: 1,
            })),
            close(wallet(), &done, 0, 1),
            verified(Transaction::Transfer(Transfer {
                from: hub(),
                to: CAROL,
                token: ETH,
                amount: 879,
                fee: 0,
                nonce: 2,
            })),
        ],
        &[failed(FailureReason::InsufficientBalance, 0), ok(0), ok(0)],
    );
    assert_eq!(balance(&after, hub(), ETH), 0);
    assert_eq!(balance(&after, CAROL, ETH), 979);
}

#[test]
fn a_wrong_nonce_changes_nothing_for_every_channel_kind() {
    let (before, registered) = disputed(2, vec![]);
    let newer = state(id0(), 6, 300, 200, vec![], false);
    let done = state(id0(), 9, 300, 200, vec![], true);
    let txs = [
        open(wallet(), hub(), ETH, 10, 1, 7),
        deposit(wallet(), id0(), 10, 510, 1, 0),
        close(wallet(), &done, 1, 7),
        register(hub(), &registered, 1, 0),
        refute(wallet(), &newer, 1, 9),
        conclude(CAROL, id0(), 1, 1),
    ];
    for tx in txs {
        let kind = tx.transaction.kind();
        let (out, after) = run(&before, 3 + DEFAULT_DISPUTE_WINDOW, &[tx]);
        assert_eq!(
            out.receipts,
            vec![failed(FailureReason::BadNonce, 0)],
            "{kind}"
        );
        assert_failed_with(&before, &after, &[]);
    }
}

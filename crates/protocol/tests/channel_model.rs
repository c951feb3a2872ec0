//! A model-based property test of one channel's life.
//!
//! proptest generates a sequence of actions: open, deposits by either side, off-chain
//! updates (payments, locks added and settled, each a new co-signed version), registering
//! the latest or a stale state, refuting, revealing lock secrets before or after their
//! expiry, letting blocks pass (within and beyond the dispute window), concluding, and
//! closing cooperatively. Each on-rollup action is a block run by the sequential reference
//! and by the parallel engine on its DAG path; the test predicts every receipt from its own
//! model of the rules, compares the model with the state after every block, and checks
//! three invariants on the real state independently of the model:
//!
//! - funds are conserved: the L2 balances of everyone involved plus the channel's total
//!   never change;
//! - a stale version never wins: a conclusion pays the highest version presented (by a
//!   registration, or a refutation before the deadline);
//! - a lock pays its receiver exactly when its secret was revealed on the rollup at or
//!   before its expiry, and goes back to its sender otherwise.

use std::{
    collections::HashMap,
    sync::{LazyLock, Mutex},
};

use proptest::prelude::*;
use weft_protocol::{
    channel::{
        ChannelRecord, ChannelState, ChannelStatus, DEFAULT_DISPUTE_WINDOW, Lock, LockDirection,
        channel_id,
    },
    eip712::Eip712,
    execution::{
        BlockEnv, BlockExecutor, FailureReason, ParallelExecutor, Receipt, SequentialExecutor,
        Status,
    },
    primitives::{Address, Amount, B256, Bytes, ETH, keccak256},
    signature::SigningKey,
    state::{Balance, GenesisAccount, State},
    testkit::test_domain,
    transaction::{
        ChannelConclude, ChannelDeposit, ChannelOpen, ChannelSettle, RevealSecret, Transaction,
    },
};

const FEE: Amount = 1;
const FUNDS: Amount = 1_000;
const FEE_RECIPIENT: Address = Address::repeat_byte(0xfe);
/// The chain's dispute window in the model: a short one, not the default, so the runs also
/// check that both executors take the window from the block's environment.
const DISPUTE_WINDOW: u64 = 50;
const _: () = assert!(DISPUTE_WINDOW != DEFAULT_DISPUTE_WINDOW);

/// Who acts: the channel's wallet and hub, and a third party (reveals, conclusions).
const WALLET: usize = 0;
const HUB: usize = 1;
const THIRD: usize = 2;
const FEES: usize = 3;

static KEYS: LazyLock<[SigningKey; 3]> = LazyLock::new(|| {
    [
        SigningKey::from_seed(b"model wallet"),
        SigningKey::from_seed(b"model hub"),
        SigningKey::from_seed(b"model third party"),
    ]
});

fn address(who: usize) -> Address {
    if who == FEES {
        FEE_RECIPIENT
    } else {
        KEYS[who].address()
    }
}

static PARALLEL: LazyLock<Mutex<ParallelExecutor>> =
    LazyLock::new(|| Mutex::new(ParallelExecutor::new(2).always_parallel()));

/// Picks an element of a list, whatever its length.
#[derive(Debug, Clone, Copy)]
struct Pick(usize);

impl Pick {
    fn index(self, len: usize) -> usize {
        self.0 % len
    }
}

fn pick() -> impl Strategy<Value = Pick> {
    any::<usize>().prop_map(Pick)
}

#[derive(Debug, Clone)]
enum Action {
    Open {
        amount: Amount,
    },
    Deposit {
        by_hub: bool,
        amount: Amount,
        /// Carries a state only the depositor signed (a deposit the other side never
        /// agreed to).
        stray: bool,
    },
    /// Off-chain: move `percent` of one balance to the other side.
    Pay {
        to_hub: bool,
        percent: u8,
    },
    /// Off-chain: lock `percent` of one balance on a fresh secret.
    AddLock {
        to_hub: bool,
        percent: u8,
        expires_in: u64,
    },
    /// Off-chain: remove a lock, paid to its receiver or returned to its sender.
    SettleLock {
        which: Pick,
        paid: bool,
    },
    /// Register the latest state, or a stale one from the history.
    Register {
        stale: Option<Pick>,
        by_hub: bool,
    },
    /// Refute with the latest state, or an older one.
    Refute {
        older: Option<Pick>,
        by_hub: bool,
    },
    Reveal {
        which: Pick,
    },
    Advance {
        blocks: u64,
    },
    Conclude,
    Close {
        by_hub: bool,
    },
}

fn action() -> impl Strategy<Value = Action> {
    let percent = 0u8..=100;
    prop_oneof![
        3 => prop_oneof![1 => Just(0), 8 => 1..400u128, 1 => Just(2_000)]
            .prop_map(|amount| Action::Open { amount }),
        2 => (any::<bool>(), prop_oneof![1 => Just(0), 8 => 1..300u128, 1 => Just(5_000)], proptest::bool::weighted(0.2))
            .prop_map(|(by_hub, amount, stray)| Action::Deposit { by_hub, amount, stray }),
        3 => (any::<bool>(), percent.clone()).prop_map(|(to_hub, percent)| Action::Pay { to_hub, percent }),
        3 => (any::<bool>(), percent, prop_oneof![0..4u64, 4..40u64, Just(3 * DISPUTE_WINDOW)])
            .prop_map(|(to_hub, percent, expires_in)| Action::AddLock { to_hub, percent, expires_in }),
        2 => (pick(), any::<bool>()).prop_map(|(which, paid)| Action::SettleLock { which, paid }),
        3 => (proptest::option::weighted(0.4, pick()), any::<bool>())
            .prop_map(|(stale, by_hub)| Action::Register { stale, by_hub }),
        4 => (proptest::option::weighted(0.3, pick()), any::<bool>())
            .prop_map(|(older, by_hub)| Action::Refute { older, by_hub }),
        3 => pick().prop_map(|which| Action::Reveal { which }),
        3 => prop_oneof![
            3 => 1..5u64,
            1 => Just(DISPUTE_WINDOW - 1),
            1 => Just(DISPUTE_WINDOW),
            3 => DISPUTE_WINDOW + 1..DISPUTE_WINDOW + 3,
        ]
        .prop_map(|blocks| Action::Advance { blocks }),
        3 => Just(Action::Conclude),
        1 => any::<bool>().prop_map(|by_hub| Action::Close { by_hub }),
    ]
}

/// The model's view of the channel record.
#[derive(Debug, Clone, PartialEq)]
struct ModelChannel {
    id: B256,
    total: Amount,
    wallet_side: Amount,
    hub_side: Amount,
    status: ChannelStatus,
}

#[derive(Debug)]
struct Model {
    /// The number of the next block.
    number: u64,
    balances: [Amount; 4],
    nonces: [u64; 3],
    channel: Option<ModelChannel>,
    revealed: HashMap<B256, u64>,
    /// The latest co-signed state and every earlier one.
    latest: Option<ChannelState>,
    history: Vec<ChannelState>,
    /// Secrets of every lock ever added.
    secrets: Vec<B256>,
    next_secret: u64,
}

/// The rollup side of the test: the reference state (the parallel engine is compared with
/// it after every block).
struct Chain {
    state: State,
}

impl Chain {
    fn new() -> Self {
        let allocs: Vec<GenesisAccount> = [WALLET, HUB, THIRD, FEES]
            .iter()
            .map(|&who| GenesisAccount {
                address: address(who),
                balances: if who == FEES {
                    vec![]
                } else {
                    vec![Balance {
                        token: ETH,
                        amount: FUNDS,
                    }]
                },
            })
            .collect();
        Self {
            state: State::genesis(&allocs, 1).unwrap(),
        }
    }

    /// Runs one transaction as block `number` both ways and returns its receipt.
    fn run(&mut self, number: u64, tx: Transaction) -> Result<Receipt, TestCaseError> {
        let env = BlockEnv {
            number,
            timestamp: number,
            fee_recipient: FEE_RECIPIENT,
            domain: test_domain(),
            dispute_window: DISPUTE_WINDOW,
            gas_limit: weft_protocol::evm::DEFAULT_BLOCK_GAS_LIMIT,
            base_fee: weft_protocol::evm::DEFAULT_MIN_BASE_FEE,
        };
        let txs = [tx.assume_verified(&test_domain())];
        let mut par = self.state.clone();
        let out = SequentialExecutor
            .execute_block(&mut self.state, &env, &txs)
            .unwrap();
        let par_out = PARALLEL
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .execute_block(&mut par, &env, &txs)
            .unwrap();
        prop_assert_eq!(&par_out, &out);
        prop_assert_eq!(par.state_root(), self.state.state_root());
        prop_assert_eq!(par.channels(), self.state.channels());
        Ok(out.receipts[0].clone())
    }

    fn balance(&self, who: usize) -> Amount {
        self.state
            .account_by_address(&address(who))
            .map_or(0, |a| a.balance(ETH))
    }

    fn record(&self, id: &B256) -> Option<&ChannelRecord> {
        self.state.channel(id)
    }
}

fn co_sign(who: usize, state: &ChannelState) -> Bytes {
    Bytes::copy_from_slice(
        &KEYS[who]
            .sign_digest(&state.signing_hash(&test_domain()))
            .to_bytes(),
    )
}

fn settle(from: usize, state: &ChannelState, nonce: u64) -> ChannelSettle {
    ChannelSettle {
        from: address(from),
        state: state.clone(),
        wallet_signature: co_sign(WALLET, state),
        hub_signature: co_sign(HUB, state),
        fee: FEE,
        nonce,
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

fn success() -> Receipt {
    Receipt {
        status: Status::Success,
        fee_paid: FEE,
        withdrawal: None,
        evm: None,
    }
}

impl Model {
    fn new() -> Self {
        Self {
            number: 1,
            balances: [FUNDS, FUNDS, FUNDS, 0],
            nonces: [0; 3],
            channel: None,
            revealed: HashMap::new(),
            latest: None,
            history: Vec::new(),
            secrets: Vec::new(),
            next_secret: 0,
        }
    }

    /// Takes the next nonce of `who`.
    fn nonce(&mut self, who: usize) -> u64 {
        self.nonces[who] += 1;
        self.nonces[who] - 1
    }

    /// Charges the fee if `who` holds it; the failure receipt otherwise.
    fn charge(&mut self, who: usize) -> Result<(), Receipt> {
        if self.balances[who] < FEE {
            return Err(failed(FailureReason::InsufficientFee, 0));
        }
        self.balances[who] -= FEE;
        self.balances[FEES] += FEE;
        Ok(())
    }

    /// A new co-signed version from the latest one.
    fn sign_next(&mut self, edit: impl FnOnce(&mut ChannelState)) {
        let Some(latest) = &self.latest else { return };
        if self.channel.as_ref().map(|c| &c.status) == Some(&ChannelStatus::Closed) {
            return;
        }
        let mut next = latest.clone();
        next.version += 1;
        edit(&mut next);
        let previous = std::mem::replace(self.latest.as_mut().unwrap(), next);
        self.history.push(previous);
    }

    /// The revealed-by-expiry rule, from the model's registry.
    fn pays_receiver(&self, lock: &Lock) -> bool {
        self.revealed
            .get(&lock.hashlock)
            .is_some_and(|&b| b <= lock.expiry)
    }

    /// Predicts a channel kind's receipt with the channel found and the fee charged;
    /// `apply` makes the successful change.
    fn predict_settle(&mut self, from: usize, kind: &str, state: &ChannelState) -> Receipt {
        let number = self.number;
        if let Err(r) = self.charge(from) {
            return r;
        }
        let channel = self.channel.as_mut().expect("checked by the caller");
        let reason = match (kind, &channel.status) {
            ("close", ChannelStatus::Closed) => Some(FailureReason::ChannelClosed),
            ("register", s) if *s != ChannelStatus::Open => Some(FailureReason::ChannelNotOpen),
            ("refute", ChannelStatus::Disputed { deadline, .. }) if number > *deadline => {
                Some(FailureReason::DisputeExpired)
            }
            ("refute", ChannelStatus::Disputed { .. }) => None,
            ("refute", _) => Some(FailureReason::ChannelNotDisputed),
            _ => None,
        };
        let reason = reason.or_else(|| match (&channel.status, kind) {
            (ChannelStatus::Disputed { state: r, .. }, "refute") if state.version <= r.version => {
                Some(FailureReason::StaleVersion)
            }
            _ => (state.total() != Some(channel.total)).then_some(FailureReason::TotalMismatch),
        });
        if let Some(reason) = reason {
            return failed(reason, FEE);
        }
        match kind {
            "close" => {
                self.balances[WALLET] += state.balance_wallet;
                self.balances[HUB] += state.balance_hub;
                channel.total = 0;
                channel.status = ChannelStatus::Closed;
            }
            "register" => {
                channel.status = ChannelStatus::Disputed {
                    state: state.clone(),
                    deadline: number + DISPUTE_WINDOW,
                };
            }
            _ => {
                if let ChannelStatus::Disputed { state: r, .. } = &mut channel.status {
                    *r = state.clone();
                }
            }
        }
        success()
    }
}

/// The highest version presented to the channel while a presentation could still count
/// (a registration of an open channel, a refutation before the deadline), read from the
/// real state: what a conclusion must pay.
#[derive(Debug, Default)]
struct Presented {
    max_version: Option<u64>,
}

fn check_model(chain: &Chain, model: &Model) -> Result<(), TestCaseError> {
    for who in [WALLET, HUB, THIRD, FEES] {
        prop_assert_eq!(
            chain.balance(who),
            model.balances[who],
            "balance of {}",
            who
        );
    }
    for who in [WALLET, HUB, THIRD] {
        let nonce = chain
            .state
            .account_by_address(&address(who))
            .map_or(0, |a| a.nonce);
        prop_assert_eq!(nonce, model.nonces[who], "nonce of {}", who);
    }
    let held = match &model.channel {
        Some(m) => {
            let r = chain.record(&m.id).expect("the modelled channel exists");
            let got = ModelChannel {
                id: r.id,
                total: r.total,
                wallet_side: r.wallet_side,
                hub_side: r.hub_side,
                status: r.status.clone(),
            };
            prop_assert_eq!(&got, m);
            r.total
        }
        None => {
            prop_assert!(chain.state.channels().is_empty());
            0
        }
    };
    // Invariant: conservation of funds.
    let sum: Amount = [WALLET, HUB, THIRD, FEES]
        .iter()
        .map(|&w| chain.balance(w))
        .sum();
    prop_assert_eq!(sum + held, 3 * FUNDS);
    Ok(())
}

/// Runs `actions` against the chain and the model; returns each transaction's kind and
/// status.
fn run_actions(actions: Vec<Action>) -> Result<Vec<(&'static str, Status)>, TestCaseError> {
    let mut outcomes = Vec::new();
    let mut chain = Chain::new();
    let mut model = Model::new();
    let mut presented = Presented::default();
    for action in actions {
        let number = model.number;
        let id = model.channel.as_ref().map(|c| c.id);
        let tx = match action {
            Action::Advance { blocks } => {
                model.number += blocks;
                continue;
            }
            Action::Pay { to_hub, percent } => {
                model.sign_next(|s| {
                    let (from, to) = if to_hub {
                        (&mut s.balance_wallet, &mut s.balance_hub)
                    } else {
                        (&mut s.balance_hub, &mut s.balance_wallet)
                    };
                    let amount = *from * Amount::from(percent) / 100;
                    *from -= amount;
                    *to += amount;
                });
                continue;
            }
            Action::AddLock {
                to_hub,
                percent,
                expires_in,
            } => {
                if model.latest.as_ref().is_some_and(|s| s.locks.len() >= 8) {
                    continue;
                }
                let secret = keccak256(model.next_secret.to_be_bytes());
                model.next_secret += 1;
                let mut added = false;
                model.sign_next(|s| {
                    let (from, direction) = if to_hub {
                        (&mut s.balance_wallet, LockDirection::WalletToHub)
                    } else {
                        (&mut s.balance_hub, LockDirection::HubToWallet)
                    };
                    let amount = *from * Amount::from(percent) / 100;
                    *from -= amount;
                    s.locks.push(Lock {
                        amount,
                        hashlock: keccak256(secret),
                        expiry: number + expires_in,
                        direction,
                    });
                    added = true;
                });
                if added {
                    model.secrets.push(secret);
                }
                continue;
            }
            Action::SettleLock { which, paid } => {
                if model.latest.as_ref().is_none_or(|s| s.locks.is_empty()) {
                    continue;
                }
                model.sign_next(|s| {
                    let lock = s.locks.remove(which.index(s.locks.len()));
                    let to_hub = (lock.direction == LockDirection::WalletToHub) == paid;
                    if to_hub {
                        s.balance_hub += lock.amount;
                    } else {
                        s.balance_wallet += lock.amount;
                    }
                });
                continue;
            }
            Action::Open { amount } => {
                if model.channel.is_some() {
                    continue;
                }
                let nonce = model.nonce(WALLET);
                let tx = Transaction::ChannelOpen(ChannelOpen {
                    from: address(WALLET),
                    hub: address(HUB),
                    token: ETH,
                    amount,
                    fee: FEE,
                    nonce,
                });
                let expected = match model.charge(WALLET) {
                    Err(r) => r,
                    Ok(()) if amount == 0 => failed(FailureReason::ZeroAmount, FEE),
                    Ok(()) if amount > model.balances[WALLET] => {
                        failed(FailureReason::InsufficientBalance, FEE)
                    }
                    Ok(()) => {
                        model.balances[WALLET] -= amount;
                        let id = channel_id(&address(WALLET), &address(HUB), nonce);
                        model.channel = Some(ModelChannel {
                            id,
                            total: amount,
                            wallet_side: amount,
                            hub_side: 0,
                            status: ChannelStatus::Open,
                        });
                        model.latest = Some(ChannelState {
                            channel_id: id,
                            version: 0,
                            balance_wallet: amount,
                            balance_hub: 0,
                            locks: vec![],
                            is_final: false,
                        });
                        success()
                    }
                };
                (tx, expected)
            }
            Action::Deposit {
                by_hub,
                amount,
                stray,
            } => {
                let Some(id) = id else { continue };
                let who = if by_hub { HUB } else { WALLET };
                let nonce = model.nonce(who);
                // The state counting the deposit, as both (or, stray, the depositor alone)
                // signed it.
                let mut next = model.latest.clone().unwrap();
                next.version += 1;
                if by_hub {
                    next.balance_hub += amount;
                } else {
                    next.balance_wallet += amount;
                }
                let tx = Transaction::ChannelDeposit(ChannelDeposit {
                    from: address(who),
                    channel_id: id,
                    amount,
                    wallet_signature: co_sign(if stray { who } else { WALLET }, &next),
                    hub_signature: co_sign(if stray { who } else { HUB }, &next),
                    state: next,
                    fee: FEE,
                    nonce,
                });
                let open = model.channel.as_ref().unwrap().status == ChannelStatus::Open;
                let expected = match model.charge(who) {
                    Err(r) => r,
                    Ok(()) if !open => failed(FailureReason::ChannelNotOpen, FEE),
                    Ok(()) if amount == 0 => failed(FailureReason::ZeroAmount, FEE),
                    Ok(()) if stray => failed(FailureReason::InvalidCoSignature, FEE),
                    Ok(()) if amount > model.balances[who] => {
                        failed(FailureReason::InsufficientBalance, FEE)
                    }
                    Ok(()) => {
                        model.balances[who] -= amount;
                        let c = model.channel.as_mut().unwrap();
                        c.total += amount;
                        if by_hub {
                            c.hub_side += amount;
                        } else {
                            c.wallet_side += amount;
                        }
                        // Both sign the state that counts the deposit.
                        model.sign_next(|s| {
                            if by_hub {
                                s.balance_hub += amount;
                            } else {
                                s.balance_wallet += amount;
                            }
                        });
                        success()
                    }
                };
                (tx, expected)
            }
            Action::Register { stale, by_hub }
            | Action::Refute {
                older: stale,
                by_hub,
            } => {
                let refuting = matches!(action, Action::Refute { .. });
                let (Some(_), Some(latest)) = (id, model.latest.clone()) else {
                    continue;
                };
                let state = match stale {
                    Some(i) if !model.history.is_empty() => {
                        model.history[i.index(model.history.len())].clone()
                    }
                    _ => latest,
                };
                let who = if by_hub { HUB } else { WALLET };
                let nonce = model.nonce(who);
                let body = settle(who, &state, nonce);
                // What counts as presented, from the real record (not the model).
                let record = chain.record(&state.channel_id).unwrap();
                let counts = state.total() == Some(record.total)
                    && match (&record.status, refuting) {
                        (ChannelStatus::Open, false) => true,
                        (ChannelStatus::Disputed { deadline, .. }, true) => number <= *deadline,
                        _ => false,
                    };
                if counts {
                    presented.max_version = presented.max_version.max(Some(state.version));
                }
                let expected =
                    model.predict_settle(who, if refuting { "refute" } else { "register" }, &state);
                let tx = if refuting {
                    Transaction::ChannelRefute(body)
                } else {
                    Transaction::ChannelRegister(body)
                };
                (tx, expected)
            }
            Action::Close { by_hub } => {
                let (Some(_), Some(latest)) = (id, model.latest.clone()) else {
                    continue;
                };
                // The final state: every lock back to its sender.
                let mut state = latest;
                state.version += 1;
                state.is_final = true;
                for lock in std::mem::take(&mut state.locks) {
                    match lock.direction {
                        LockDirection::WalletToHub => state.balance_wallet += lock.amount,
                        LockDirection::HubToWallet => state.balance_hub += lock.amount,
                    }
                }
                let who = if by_hub { HUB } else { WALLET };
                let nonce = model.nonce(who);
                let tx = Transaction::ChannelClose(settle(who, &state, nonce));
                let expected = model.predict_settle(who, "close", &state);
                (tx, expected)
            }
            Action::Reveal { which } => {
                if model.secrets.is_empty() {
                    continue;
                }
                let secret = model.secrets[which.index(model.secrets.len())];
                let nonce = model.nonce(THIRD);
                let tx = Transaction::RevealSecret(RevealSecret {
                    from: address(THIRD),
                    secret,
                    fee: FEE,
                    nonce,
                });
                let hashlock = keccak256(secret);
                let expected = match model.charge(THIRD) {
                    Err(r) => r,
                    Ok(()) if model.revealed.contains_key(&hashlock) => {
                        failed(FailureReason::SecretAlreadyRevealed, FEE)
                    }
                    Ok(()) => {
                        model.revealed.insert(hashlock, number);
                        success()
                    }
                };
                (tx, expected)
            }
            Action::Conclude => {
                let Some(id) = id else { continue };
                let nonce = model.nonce(THIRD);
                let tx = Transaction::ChannelConclude(ChannelConclude {
                    from: address(THIRD),
                    channel_id: id,
                    fee: FEE,
                    nonce,
                });
                let status = model.channel.as_ref().unwrap().status.clone();
                let expected = match (model.charge(THIRD), status) {
                    (Err(r), _) => r,
                    (Ok(()), ChannelStatus::Disputed { deadline, .. }) if number <= deadline => {
                        failed(FailureReason::DisputePending, FEE)
                    }
                    (Ok(()), ChannelStatus::Disputed { state, .. }) => {
                        let (mut to_wallet, mut to_hub) = (state.balance_wallet, state.balance_hub);
                        for lock in &state.locks {
                            let paid = model.pays_receiver(lock);
                            if (lock.direction == LockDirection::WalletToHub) == paid {
                                to_hub += lock.amount;
                            } else {
                                to_wallet += lock.amount;
                            }
                        }
                        model.balances[WALLET] += to_wallet;
                        model.balances[HUB] += to_hub;
                        let c = model.channel.as_mut().unwrap();
                        c.total = 0;
                        c.status = ChannelStatus::Closed;
                        success()
                    }
                    (Ok(()), _) => failed(FailureReason::ChannelNotDisputed, FEE),
                };
                (tx, expected)
            }
        };
        let (tx, expected) = tx;
        let kind = tx.kind();
        // The real registered state and balances before, for the invariants of conclusion.
        let before = id.and_then(|id| chain.record(&id).cloned());
        let (wallet_before, hub_before) = (chain.balance(WALLET), chain.balance(HUB));
        let receipt = chain.run(number, tx)?;
        prop_assert_eq!(&receipt, &expected, "{} in block {}", kind, number);
        outcomes.push((kind, receipt.status));
        model.number += 1;

        if kind == "channelConclude" && receipt.is_success() {
            let Some(ChannelStatus::Disputed { state: paid, .. }) = before.map(|r| r.status) else {
                return Err(TestCaseError::fail(
                    "a conclusion of a channel not disputed",
                ));
            };
            // Invariant: the highest version presented in time is the one paid.
            prop_assert_eq!(Some(paid.version), presented.max_version, "stale state won");
            // Invariant: each lock to its receiver iff revealed by its expiry (real registry).
            let (mut to_wallet, mut to_hub) = (paid.balance_wallet, paid.balance_hub);
            for lock in &paid.locks {
                let revealed = chain
                    .state
                    .secret_revealed_at(&lock.hashlock)
                    .is_some_and(|b| b <= lock.expiry);
                if (lock.direction == LockDirection::WalletToHub) == revealed {
                    to_hub += lock.amount;
                } else {
                    to_wallet += lock.amount;
                }
            }
            prop_assert_eq!(chain.balance(WALLET), wallet_before + to_wallet);
            prop_assert_eq!(chain.balance(HUB), hub_before + to_hub);
        }
        check_model(&chain, &model)?;
    }
    Ok(outcomes)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn one_channel_follows_the_model_and_keeps_its_invariants(
        actions in proptest::collection::vec(action(), 1..64),
    ) {
        run_actions(actions)?;
    }
}

/// A scripted life through every stage, so the property above is known to cover them: a
/// stale registration refuted by the latest state, locks revealed before and after their
/// expiry, a conclusion too early, a refutation too late, a conclusion after the window.
#[test]
fn a_scripted_dispute_concludes_with_the_latest_state() {
    use Action::*;
    use FailureReason::*;
    let outcomes = run_actions(vec![
        Open { amount: 300 },
        Deposit {
            by_hub: true,
            amount: 200,
            stray: false,
        },
        // Version 2: 150 locked wallet to hub; version 3: 100 locked hub to wallet, both
        // expiring at block 8; version 4: the wallet pays 15.
        AddLock {
            to_hub: true,
            percent: 50,
            expires_in: 5,
        },
        AddLock {
            to_hub: false,
            percent: 50,
            expires_in: 5,
        },
        Pay {
            to_hub: true,
            percent: 10,
        },
        // Version 1 (after the deposit, before the locks): stale but balanced.
        Register {
            stale: Some(Pick(1)),
            by_hub: false,
        },
        Reveal { which: Pick(0) },
        Refute {
            older: None,
            by_hub: true,
        },
        Conclude,
        Advance { blocks: 10 },
        Reveal { which: Pick(1) },
        Advance {
            blocks: DISPUTE_WINDOW,
        },
        Refute {
            older: None,
            by_hub: false,
        },
        Conclude,
        Conclude,
        Close { by_hub: true },
    ])
    .unwrap();
    let ok = Status::Success;
    assert_eq!(
        outcomes,
        vec![
            ("channelOpen", ok),
            ("channelDeposit", ok),
            ("channelRegister", ok),
            ("revealSecret", ok),
            ("channelRefute", ok),
            ("channelConclude", Status::Failed(DisputePending)),
            ("revealSecret", ok),
            ("channelRefute", Status::Failed(DisputeExpired)),
            ("channelConclude", ok),
            ("channelConclude", Status::Failed(ChannelNotDisputed)),
            ("channelClose", Status::Failed(ChannelClosed)),
        ]
    );
}

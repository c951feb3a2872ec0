//! Generators of states and blocks for tests, property tests and benchmarks
//! (feature `testkit`). Not part of the protocol.

use rand::{Rng, SeedableRng, rngs::SmallRng};

use crate::{
    channel::{ChannelState, DEFAULT_DISPUTE_WINDOW, Lock, LockDirection, channel_id},
    eip712::{Domain, Eip712},
    execution::BlockEnv,
    primitives::{Address, Amount, B256, Bytes, Nonce, TokenId, keccak256},
    signature::SigningKey,
    state::{Balance, GenesisAccount, State},
    transaction::{
        ChannelConclude, ChannelDeposit, ChannelOpen, ChannelSettle, Deposit, ForcedWithdraw,
        RevealSecret, Transaction, Transfer, VerifiedTransaction, Withdraw,
    },
};

pub mod evm;

/// The domain tests sign and hash under.
pub fn test_domain() -> Domain {
    Domain::new(31337, Address::repeat_byte(0x42))
}

/// The `i`-th deterministic test address (no key behind it).
pub fn test_address(i: u64) -> Address {
    Address::from_word(keccak256(i.to_be_bytes()))
}

/// A genesis state of `n` accounts, each holding `balance` of ETH and of token 1 for
/// every fourth account.
pub fn genesis(n: usize, balance: Amount) -> State {
    let allocs: Vec<GenesisAccount> = (0..n as u64)
        .map(|i| {
            let mut balances = vec![Balance {
                token: 0,
                amount: balance,
            }];
            if i % 4 == 0 {
                balances.push(Balance {
                    token: 1,
                    amount: balance,
                });
            }
            GenesisAccount {
                address: test_address(i),
                balances,
            }
        })
        .collect();
    State::genesis(&allocs, 2).expect("valid genesis")
}

/// A block environment with a fee recipient outside the genesis set, under
/// [`test_domain`], with the default dispute window.
pub fn env(number: u64) -> BlockEnv {
    env_with_window(number, DEFAULT_DISPUTE_WINDOW)
}

/// [`env`] on a chain whose disputes last `dispute_window` blocks.
pub fn env_with_window(number: u64, dispute_window: u64) -> BlockEnv {
    BlockEnv {
        number,
        timestamp: 1_700_000_000 + number,
        fee_recipient: Address::repeat_byte(0xfe),
        domain: test_domain(),
        dispute_window,
        gas_limit: crate::evm::DEFAULT_BLOCK_GAS_LIMIT,
        base_fee: crate::evm::DEFAULT_MIN_BASE_FEE,
    }
}

/// The shape of a generated block.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Transactions in the block.
    pub txs: usize,
    /// Probability that the sender is drawn from the `hot_senders` first accounts.
    pub hot_sender_p: f64,
    /// Size of the hot sender set.
    pub hot_senders: usize,
    /// Probability that the receiver is account 0 (a hot receiver).
    pub hot_receiver_p: f64,
    /// Probability that the receiver is a brand-new address.
    pub new_receiver_p: f64,
    /// Probability of a wrong nonce (gap or replay).
    pub bad_nonce_p: f64,
    /// Probability that the amount exceeds the balance.
    pub overdraw_p: f64,
    /// Probability of an odd transaction (withdraw, deposit, forced withdrawal, reveal,
    /// zero amount, self-transfer, unknown token, or a step of a channel lifecycle: see
    /// [`BlockGen`]).
    pub odd_p: f64,
}

impl Workload {
    /// Independent random transfers, all valid.
    pub fn transfers(txs: usize) -> Self {
        Self {
            txs,
            hot_sender_p: 0.0,
            hot_senders: 1,
            hot_receiver_p: 0.0,
            new_receiver_p: 0.0,
            bad_nonce_p: 0.0,
            overdraw_p: 0.0,
            odd_p: 0.0,
        }
    }

    /// Every transfer to one receiver (account 0), senders random.
    pub fn hot_receiver(txs: usize) -> Self {
        Self {
            hot_receiver_p: 1.0,
            ..Self::transfers(txs)
        }
    }
}

/// Generates blocks against a state, tracking each account's next nonce so that most
/// transactions are valid.
///
/// Channel lifecycles come from a small cast with real keys ([`channel_hub`] and
/// [`channel_wallet`]s, funded by L1 deposits the generator emits): opens, deposits,
/// off-chain updates (versions, balance moves, locks added and settled), registrations of
/// the latest or a stale state, refutations, reveals of lock secrets (some after expiry),
/// cooperative closes and conclusions by third parties, each co-signed for real, plus the
/// usual failures (a non-participant, a forged co-signature, an unknown channel). The
/// generator's own model of each channel assumes its transactions succeed; when one does
/// not, later steps of that channel fail, which is just another outcome to compare.
#[derive(Debug)]
pub struct BlockGen {
    rng: SmallRng,
    domain: Domain,
    accounts: u64,
    nonces: Vec<u64>,
    next_new: u64,
    next_queue: u64,
    secrets: Vec<B256>,
    /// The number of the block being generated.
    number: u64,
    /// The chain's dispute window the generated lifecycles plan for.
    dispute_window: u64,
    tokens: u32,
    /// The hub, then the wallets.
    actors: Vec<Actor>,
    channels: Vec<GenChannel>,
}

/// Wallets in the generator's channel cast.
const CHANNEL_WALLETS: u64 = 5;

/// The hub of the generator's channels (a real key, so it can co-sign).
pub fn channel_hub() -> SigningKey {
    SigningKey::from_seed(b"weft testkit hub")
}

/// The `i`-th wallet of the generator's channels.
pub fn channel_wallet(i: u64) -> SigningKey {
    SigningKey::from_seed(format!("weft testkit wallet {i}").as_bytes())
}

#[derive(Debug)]
struct Actor {
    key: SigningKey,
    nonce: Nonce,
    /// Tokens `0..funded` were deposited to it.
    funded: u32,
}

/// The generator's (optimistic) model of a channel.
#[derive(Debug)]
struct GenChannel {
    wallet: usize,
    total: Amount,
    /// The latest co-signed state, and the ones before it (for stale registrations).
    latest: ChannelState,
    history: Vec<ChannelState>,
    /// Secrets of the locks ever added.
    secrets: Vec<B256>,
    /// Registered in block `.0` (its deadline is `.0 + dispute_window`).
    registered: Option<u64>,
    closed: bool,
}

impl BlockGen {
    /// A generator for `state` (its accounts must be the [`test_address`]es `0..n`).
    pub fn new(state: &State, seed: u64) -> Self {
        let accounts = u64::from(state.account_count());
        Self {
            rng: SmallRng::seed_from_u64(seed),
            domain: test_domain(),
            accounts,
            nonces: (0..accounts)
                .map(|i| {
                    state
                        .account_by_address(&test_address(i))
                        .map_or(0, |a| a.nonce)
                })
                .collect(),
            next_new: 1 << 40,
            next_queue: state.queue_position(),
            secrets: Vec::new(),
            number: 0,
            dispute_window: DEFAULT_DISPUTE_WINDOW,
            tokens: state.token_count().min(2),
            actors: std::iter::once(channel_hub())
                .chain((0..CHANNEL_WALLETS).map(channel_wallet))
                .map(|key| {
                    let account = state.account_by_address(&key.address());
                    Actor {
                        nonce: account.map_or(0, |a| a.nonce),
                        funded: if account.is_some_and(|a| a.balances().count() > 0) {
                            u32::MAX
                        } else {
                            0
                        },
                        key,
                    }
                })
                .collect(),
            channels: Vec::new(),
        }
    }

    fn pick_sender(&mut self, w: &Workload) -> u64 {
        if self.rng.random_bool(w.hot_sender_p) {
            self.rng
                .random_range(0..w.hot_senders.max(1) as u64)
                .min(self.accounts - 1)
        } else {
            self.rng.random_range(0..self.accounts)
        }
    }

    fn pick_receiver(&mut self, w: &Workload, sender: u64) -> Address {
        if self.rng.random_bool(w.hot_receiver_p) {
            return test_address(0);
        }
        if self.rng.random_bool(w.new_receiver_p) {
            self.next_new += 1;
            return test_address(self.next_new);
        }
        loop {
            let r = self.rng.random_range(0..self.accounts);
            if r != sender || self.accounts == 1 {
                return test_address(r);
            }
        }
    }

    fn next_nonce(&mut self, w: &Workload, sender: u64) -> u64 {
        let n = &mut self.nonces[sender as usize];
        if self.rng.random_bool(w.bad_nonce_p) {
            return if *n > 0 && self.rng.random_bool(0.5) {
                *n - 1
            } else {
                *n + 1
            };
        }
        *n += 1;
        *n - 1
    }

    /// The generator for a chain whose disputes last `blocks` blocks (default
    /// [`DEFAULT_DISPUTE_WINDOW`]); execute its blocks with the same window
    /// ([`env_with_window`]).
    pub fn with_dispute_window(mut self, blocks: u64) -> Self {
        self.dispute_window = blocks;
        self
    }

    /// The next block of `w.txs` transactions, for the block number after the previous
    /// one (1 first).
    pub fn block(&mut self, w: &Workload) -> Vec<VerifiedTransaction> {
        self.block_at(self.number + 1, w)
    }

    /// A block of `w.txs` transactions to be executed as block `number` (channel steps
    /// depend on it: lock expiries, whether a dispute has ended).
    pub fn block_at(&mut self, number: u64, w: &Workload) -> Vec<VerifiedTransaction> {
        self.number = number;
        (0..w.txs)
            .map(|_| self.tx(w).assume_verified(&self.domain))
            .collect()
    }

    fn tx(&mut self, w: &Workload) -> Transaction {
        let sender = self.pick_sender(w);
        let from = test_address(sender);
        if self.rng.random_bool(w.odd_p) {
            return self.odd_tx(w, sender);
        }
        let to = self.pick_receiver(w, sender);
        let nonce = self.next_nonce(w, sender);
        let amount = if self.rng.random_bool(w.overdraw_p) {
            u128::MAX / 4
        } else {
            self.rng.random_range(1..1_000)
        };
        let fee = self.rng.random_range(0..3);
        Transaction::Transfer(Transfer {
            from,
            to,
            token: 0,
            amount,
            fee,
            nonce,
        })
    }

    fn odd_tx(&mut self, w: &Workload, sender: u64) -> Transaction {
        let from = test_address(sender);
        let token: TokenId = self.rng.random_range(0..2);
        match self.rng.random_range(0..13) {
            9..=12 => self.channel_tx(w, sender),
            0 => Transaction::Withdraw(Withdraw {
                from,
                l1_recipient: Address::repeat_byte(0x11),
                token,
                amount: self.rng.random_range(0..500),
                fee: 1,
                nonce: self.next_nonce(w, sender),
            }),
            1 => {
                self.next_queue += 1;
                Transaction::Deposit(Deposit {
                    queue_index: self.next_queue - 1,
                    to: self.pick_receiver(w, sender),
                    token,
                    amount: self.rng.random_range(0..10_000),
                })
            }
            2 => {
                self.next_queue += 1;
                Transaction::ForcedWithdraw(ForcedWithdraw {
                    queue_index: self.next_queue - 1,
                    account: from,
                    token,
                })
            }
            3 => {
                // Reuse a secret now and then: the second reveal must fail.
                let secret = if !self.secrets.is_empty() && self.rng.random_bool(0.3) {
                    self.secrets[self.rng.random_range(0..self.secrets.len())]
                } else {
                    let s = B256::from(self.rng.random::<[u8; 32]>());
                    self.secrets.push(s);
                    s
                };
                Transaction::RevealSecret(RevealSecret {
                    from,
                    secret,
                    fee: 1,
                    nonce: self.next_nonce(w, sender),
                })
            }
            4 => Transaction::Transfer(Transfer {
                from,
                to: self.pick_receiver(w, sender),
                token,
                amount: 0,
                fee: 1,
                nonce: self.next_nonce(w, sender),
            }),
            5 => Transaction::Transfer(Transfer {
                from,
                to: from,
                token,
                amount: 5,
                fee: 1,
                nonce: self.next_nonce(w, sender),
            }),
            6 => Transaction::Transfer(Transfer {
                from,
                to: self.pick_receiver(w, sender),
                token: 7,
                amount: 5,
                fee: 0,
                nonce: self.next_nonce(w, sender),
            }),
            7 => Transaction::Transfer(Transfer {
                from,
                to: self.pick_receiver(w, sender),
                token,
                amount: u128::MAX,
                fee: 2,
                nonce: self.next_nonce(w, sender),
            }),
            _ => Transaction::ChannelConclude(ChannelConclude {
                from,
                channel_id: B256::repeat_byte(1),
                fee: 0,
                nonce: self.next_nonce(w, sender),
            }),
        }
    }

    /// The next nonce of actor `a`, with the workload's share of wrong ones.
    fn actor_nonce(&mut self, w: &Workload, a: usize) -> Nonce {
        let bad = self.rng.random_bool(w.bad_nonce_p);
        let n = &mut self.actors[a].nonce;
        if bad {
            return *n + 1;
        }
        *n += 1;
        *n - 1
    }

    fn co_sign(&self, state: &ChannelState, a: usize) -> Bytes {
        let digest = state.signing_hash(&self.domain);
        Bytes::copy_from_slice(&self.actors[a].key.sign_digest(&digest).to_bytes())
    }

    /// One step of some channel's life (see [`BlockGen`]); `sender` is a test account
    /// that may act as a third party.
    fn channel_tx(&mut self, w: &Workload, sender: u64) -> Transaction {
        // Fund the cast first: each actor gets every token from L1.
        let a = self.rng.random_range(0..self.actors.len());
        if self.actors[a].funded < self.tokens {
            let token = self.actors[a].funded;
            self.actors[a].funded += 1;
            self.next_queue += 1;
            return Transaction::Deposit(Deposit {
                queue_index: self.next_queue - 1,
                to: self.actors[a].key.address(),
                token,
                amount: 1_000_000_000,
            });
        }
        let live: Vec<usize> = (0..self.channels.len())
            .filter(|&c| !self.channels[c].closed)
            .collect();
        if live.is_empty() || self.rng.random_bool(0.3) {
            return self.open_channel(w);
        }
        // Disputes that have ended are concluded more often than chance would.
        let (number, dispute_window) = (self.number, self.dispute_window);
        let ended: Vec<usize> = live
            .iter()
            .copied()
            .filter(|&c| {
                self.channels[c]
                    .registered
                    .is_some_and(|b| number > b + dispute_window)
            })
            .collect();
        if !ended.is_empty() && self.rng.random_bool(0.3) {
            let c = ended[self.rng.random_range(0..ended.len())];
            self.channels[c].closed = true;
            return Transaction::ChannelConclude(ChannelConclude {
                from: test_address(sender),
                channel_id: self.channels[c].latest.channel_id,
                fee: 0,
                nonce: self.next_nonce(w, sender),
            });
        }
        let c = live[self.rng.random_range(0..live.len())];
        // Some off-chain progress first.
        for _ in 0..self.rng.random_range(0..3) {
            self.update_off_chain(c);
        }
        let ch = &self.channels[c];
        let id = ch.latest.channel_id;
        let disputed_until = ch.registered.map(|b| b + self.dispute_window);
        match self.rng.random_range(0..8) {
            0 => {
                let hub_side = self.rng.random_bool(0.4);
                let actor = if hub_side { 0 } else { ch.wallet };
                let amount = self.rng.random_range(0..300);
                let nonce = self.actor_nonce(w, actor);
                let ch = &mut self.channels[c];
                // The state after the deposit, co-signed (now and then by another wallet).
                let mut next = ch.latest.clone();
                next.version += 1;
                if hub_side {
                    next.balance_hub += amount;
                } else {
                    next.balance_wallet += amount;
                }
                if ch.registered.is_none() && amount > 0 {
                    ch.total += amount;
                    ch.history
                        .push(std::mem::replace(&mut ch.latest, next.clone()));
                }
                let wallet = ch.wallet;
                let signer = if self.rng.random_bool(0.05) {
                    1 + wallet % (self.actors.len() - 1)
                } else {
                    wallet
                };
                Transaction::ChannelDeposit(ChannelDeposit {
                    from: self.actors[actor].key.address(),
                    channel_id: id,
                    amount,
                    wallet_signature: self.co_sign(&next, signer),
                    hub_signature: self.co_sign(&next, 0),
                    state: next,
                    fee: self.rng.random_range(0..2),
                    nonce,
                })
            }
            1 | 2 => {
                // Register (sometimes a stale state), or refute with the latest.
                let stale = !ch.history.is_empty() && self.rng.random_bool(0.3);
                let state = if stale {
                    ch.history[self.rng.random_range(0..ch.history.len())].clone()
                } else {
                    ch.latest.clone()
                };
                let refute = ch.registered.is_some();
                if !refute {
                    self.channels[c].registered = Some(number);
                }
                let settle = self.settle(w, c, state, sender);
                if refute {
                    Transaction::ChannelRefute(settle)
                } else {
                    Transaction::ChannelRegister(settle)
                }
            }
            3 if disputed_until.is_none() || self.rng.random_bool(0.2) => {
                // Cooperative close: locks go back to their senders in a final state.
                let mut state = ch.latest.clone();
                state.version += 1;
                state.is_final = true;
                for lock in std::mem::take(&mut state.locks) {
                    match lock.direction {
                        LockDirection::WalletToHub => state.balance_wallet += lock.amount,
                        LockDirection::HubToWallet => state.balance_hub += lock.amount,
                    }
                }
                self.channels[c].closed = true;
                Transaction::ChannelClose(self.settle(w, c, state, sender))
            }
            3..=5 => {
                if disputed_until.is_some_and(|d| number > d) {
                    self.channels[c].closed = true;
                }
                Transaction::ChannelConclude(ChannelConclude {
                    from: test_address(sender),
                    channel_id: id,
                    fee: self.rng.random_range(0..2),
                    nonce: self.next_nonce(w, sender),
                })
            }
            _ => {
                // Reveal a secret of one of the channel's locks (now or never in time).
                if ch.secrets.is_empty() {
                    self.update_off_chain(c);
                }
                let ch = &self.channels[c];
                let secret = match ch.secrets.len() {
                    0 => B256::repeat_byte(0x5e),
                    n => ch.secrets[self.rng.random_range(0..n)],
                };
                let actor = self.rng.random_range(0..self.actors.len());
                Transaction::RevealSecret(RevealSecret {
                    from: self.actors[actor].key.address(),
                    secret,
                    fee: self.rng.random_range(0..2),
                    nonce: self.actor_nonce(w, actor),
                })
            }
        }
    }

    fn open_channel(&mut self, w: &Workload) -> Transaction {
        let wallet = self.rng.random_range(1..self.actors.len());
        let token = self.rng.random_range(0..self.tokens.max(1));
        let nonce = self.actor_nonce(w, wallet);
        let from = self.actors[wallet].key.address();
        // Now and then the hub opens with itself: a self channel.
        let hub = if self.rng.random_bool(0.05) {
            from
        } else {
            self.actors[0].key.address()
        };
        let amount = match self.rng.random_range(0..20) {
            0 => 0,
            1 => u128::MAX / 2,
            _ => self.rng.random_range(1..5_000),
        };
        let id = channel_id(&from, &hub, nonce);
        if hub != from && amount > 0 && amount < u128::MAX / 2 {
            self.channels.push(GenChannel {
                wallet,
                total: amount,
                latest: ChannelState {
                    channel_id: id,
                    version: 0,
                    balance_wallet: amount,
                    balance_hub: 0,
                    locks: Vec::new(),
                    is_final: false,
                },
                history: Vec::new(),
                secrets: Vec::new(),
                registered: None,
                closed: false,
            });
        }
        Transaction::ChannelOpen(ChannelOpen {
            from,
            hub,
            token,
            amount,
            fee: self.rng.random_range(0..3),
            nonce,
        })
    }

    /// A new co-signed version of channel `c`: a payment, a new lock, or a lock settled.
    fn update_off_chain(&mut self, c: usize) {
        let number = self.number;
        let pick = self.rng.random_range(0..3);
        let secret = B256::from(self.rng.random::<[u8; 32]>());
        let share = self.rng.random_range(0..=100u128);
        let expiry = match self.rng.random_range(0..3) {
            0 => number + self.rng.random_range(0..3),
            1 => number + 2 * self.dispute_window + 10,
            _ => number.saturating_sub(1),
        };
        let ch = &mut self.channels[c];
        let mut next = ch.latest.clone();
        next.version += 1;
        let to_hub = ch.latest.balance_wallet >= ch.latest.balance_hub;
        let (from_side, direction) = if to_hub {
            (&mut next.balance_wallet, LockDirection::WalletToHub)
        } else {
            (&mut next.balance_hub, LockDirection::HubToWallet)
        };
        let amount = *from_side * share / 100;
        match pick {
            0 => {
                *from_side -= amount;
                if to_hub {
                    next.balance_hub += amount;
                } else {
                    next.balance_wallet += amount;
                }
            }
            1 if next.locks.len() < 4 => {
                *from_side -= amount;
                next.locks.push(Lock {
                    amount,
                    hashlock: keccak256(secret),
                    expiry,
                    direction,
                });
                ch.secrets.push(secret);
            }
            _ => {
                // Settle the oldest lock off-chain: paid to its receiver.
                if !next.locks.is_empty() {
                    let lock = next.locks.remove(0);
                    match lock.direction {
                        LockDirection::WalletToHub => next.balance_hub += lock.amount,
                        LockDirection::HubToWallet => next.balance_wallet += lock.amount,
                    }
                }
            }
        }
        debug_assert_eq!(next.total(), Some(ch.total));
        ch.history.push(std::mem::replace(&mut ch.latest, next));
    }

    /// A settle body for `state` of channel `c`: sent by the wallet or the hub (now and
    /// then by a third party), co-signed by both (now and then forged).
    fn settle(
        &mut self,
        w: &Workload,
        c: usize,
        state: ChannelState,
        sender: u64,
    ) -> ChannelSettle {
        let wallet = self.channels[c].wallet;
        let mut wallet_signature = self.co_sign(&state, wallet);
        let hub_signature = self.co_sign(&state, 0);
        if self.rng.random_bool(0.05) {
            // Signed by another wallet.
            wallet_signature = self.co_sign(&state, 1 + wallet % (self.actors.len() - 1));
        }
        let fee = self.rng.random_range(0..2);
        let (from, nonce) = match self.rng.random_range(0..10) {
            0 => (test_address(sender), self.next_nonce(w, sender)),
            1..=4 => (self.actors[0].key.address(), self.actor_nonce(w, 0)),
            _ => (
                self.actors[wallet].key.address(),
                self.actor_nonce(w, wallet),
            ),
        };
        ChannelSettle {
            from,
            state,
            wallet_signature,
            hub_signature,
            fee,
            nonce,
        }
    }
}

/// `n` transfers from account `i` to account `n + i`: no two touch the same account (the
/// shape of pevm's raw-transfer benchmark). The state needs `2n` accounts.
pub fn independent_transfers(n: usize) -> Vec<VerifiedTransaction> {
    let domain = test_domain();
    (0..n as u64)
        .map(|i| {
            Transaction::Transfer(Transfer {
                from: test_address(i),
                to: test_address(n as u64 + i),
                token: 0,
                amount: 1,
                fee: 0,
                nonce: 0,
            })
            .assume_verified(&domain)
        })
        .collect()
}

/// Where benchmarks write their JSON rows: `$CARGO_TARGET_DIR/weft-bench`, else the
/// workspace's `target/weft-bench`. Created if missing.
pub fn bench_output_dir() -> std::path::PathBuf {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("weft-bench");
    std::fs::create_dir_all(&dir).expect("create the benchmark output directory");
    dir
}

//! Generators of states and blocks for tests, property tests and benchmarks
//! (feature `testkit`). Not part of the protocol.

use rand::{Rng, SeedableRng, rngs::SmallRng};

use crate::{
    eip712::Domain,
    execution::BlockEnv,
    primitives::{Address, Amount, B256, TokenId, keccak256},
    state::{Balance, GenesisAccount, State},
    transaction::{
        ChannelConclude, Deposit, ForcedWithdraw, RevealSecret, Transaction, Transfer,
        VerifiedTransaction, Withdraw,
    },
};

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

/// A block environment with a fee recipient outside the genesis set.
pub fn env(number: u64) -> BlockEnv {
    BlockEnv {
        number,
        timestamp: 1_700_000_000 + number,
        fee_recipient: Address::repeat_byte(0xfe),
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
    /// zero amount, self-transfer, unknown token, channel kind).
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
#[derive(Debug)]
pub struct BlockGen {
    rng: SmallRng,
    domain: Domain,
    accounts: u64,
    nonces: Vec<u64>,
    next_new: u64,
    next_queue: u64,
    secrets: Vec<B256>,
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

    /// The next block of `w.txs` transactions.
    pub fn block(&mut self, w: &Workload) -> Vec<VerifiedTransaction> {
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
        match self.rng.random_range(0..9) {
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
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("weft-bench");
    std::fs::create_dir_all(&dir).expect("create the benchmark output directory");
    dir
}

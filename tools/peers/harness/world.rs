//! Weft's EVM benchmark workloads (`crates/protocol/benches/evm.rs`, built by
//! `weft_protocol::testkit::evm`), rebuilt without Weft's crates so that a peer's executor
//! can run them: the same contracts (runtime code from `crates/protocol/contracts/out`), the
//! same world (accounts holding ETH and token 0, 64 pairs with liquidity, a counter) and the
//! same block shapes (senders, receivers, amounts, gas limits, fees).
//!
//! Differences from Weft's generator, none of which changes what a transaction does:
//! addresses are `keccak256(i)` rather than secp256k1 keys (nothing is signed: executors take
//! a sender), the random draws come from a splitmix64 rather than Weft's `SmallRng` (same
//! distributions, other values), and the contracts are placed with their storage written
//! directly (balances, allowances, reserves) instead of being deployed by transactions.
//!
//! Shared by `pevm.rs` and `grevm.rs` through `#[path]`; written against the names both
//! revm versions export (`revm::primitives`).

use std::path::Path;

use revm::primitives::{Address, Bytes, U256, hex, keccak256};

/// ETH each account holds (Weft's `FUNDING`).
pub const FUNDING: u128 = 1_000_000 * 10u128.pow(18);
/// Fee cap of every transaction (Weft's `MAX_FEE`, 1 gwei).
pub const MAX_FEE: u128 = 1_000_000_000;
/// Tip (Weft's `TIP`).
pub const TIP: u128 = 1_000_000;
/// Base fee of the block (Weft's `DEFAULT_MIN_BASE_FEE`, 0.01 gwei).
pub const BASE_FEE: u64 = 10_000_000;
/// Block gas limit (Weft's `WORLD_GAS_LIMIT`).
pub const GAS_LIMIT: u64 = 1 << 40;
/// Pairs deployed (the benchmark's `EvmWorld::new(accounts, 64)`).
pub const POOLS: usize = 64;
/// The chain id the transactions carry (the peers' executors default to 1).
pub const CHAIN_ID: u64 = 1;
/// Fee recipient of the block (Weft's `testkit::env`).
pub const FEE_RECIPIENT: Address = Address::repeat_byte(0xfe);

/// A contract to place in the world: runtime code and storage.
pub struct Contract {
    pub address: Address,
    pub code: Bytes,
    pub storage: Vec<(U256, U256)>,
}

/// A transaction, before conversion to a peer's `TxEnv` (EIP-1559, [`MAX_FEE`], [`TIP`]).
pub struct Tx {
    pub caller: Address,
    pub to: Address,
    pub value: U256,
    pub data: Bytes,
    pub gas_limit: u64,
    pub nonce: u64,
}

/// Weft's contract workloads that have a counterpart on a plain EVM (`native+erc20` mixes in
/// Weft's native transfers: left out).
#[derive(Clone, Copy, Debug)]
pub enum Workload {
    /// ETH transfers to random accounts, distinct senders.
    EthTransfer,
    /// ERC-20 transfers of token 0 to random accounts.
    Erc20Random,
    /// ERC-20 transfers, this percentage of them to account 0.
    Erc20Hot(u8),
    /// Swaps of token 0 through the router on the first `n` pairs.
    Swaps(usize),
    /// Every transaction increments one counter.
    Chain,
}

/// The workloads of Weft's benchmark, by their names there.
pub const WORKLOADS: [(&str, Workload); 7] = [
    ("eth-transfer", Workload::EthTransfer),
    ("erc20-random", Workload::Erc20Random),
    ("erc20-hot30", Workload::Erc20Hot(30)),
    ("swap-1", Workload::Swaps(1)),
    ("swap-4", Workload::Swaps(4)),
    ("swap-64", Workload::Swaps(64)),
    ("chain", Workload::Chain),
];

/// splitmix64: a seeded generator with no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// The world: funded accounts and the contracts.
pub struct World {
    pub accounts: Vec<Address>,
    pub contracts: Vec<Contract>,
    pub tokens: Vec<Address>,
    pub pairs: Vec<Address>,
    pub router: Address,
    pub counter: Address,
    nonces: Vec<u64>,
}

fn address_of(tag: &str, i: u64) -> Address {
    let mut buf = tag.as_bytes().to_vec();
    buf.extend_from_slice(&i.to_be_bytes());
    Address::from_slice(&keccak256(&buf)[12..])
}

fn word(a: Address) -> [u8; 32] {
    a.into_word().0
}

/// The slot of `mapping(address => ...)` entry `key` declared at `slot`.
pub fn mapping_slot(key: Address, slot: u64) -> U256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(&word(key));
    buf[32..].copy_from_slice(&U256::from(slot).to_be_bytes::<32>());
    U256::from_be_bytes(keccak256(buf).0)
}

/// Runtime code of a compiled test contract (`<dir>/<name>.json`, `deployedBytecode`).
fn runtime_code(dir: &Path, name: &str) -> Bytes {
    let path = dir.join(format!("{name}.json"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).expect("artifact is JSON");
    let code = json["deployedBytecode"]
        .as_str()
        .expect("artifact has deployedBytecode");
    hex::decode(code).expect("hex").into()
}

fn calldata(signature: &str, words: &[[u8; 32]]) -> Bytes {
    let mut out = keccak256(signature.as_bytes())[..4].to_vec();
    for w in words {
        out.extend_from_slice(w);
    }
    out.into()
}

fn uint(v: u64) -> [u8; 32] {
    U256::from(v).to_be_bytes::<32>()
}

impl World {
    /// `accounts` funded accounts holding 10^24 of token 0 (the router approved for all of
    /// it), [`POOLS`] pairs of token 0 against tokens 1..=64 with 10^30 of each side, a
    /// counter at 0. `artifacts`: Weft's `crates/protocol/contracts/out`.
    pub fn new(accounts: usize, artifacts: &Path) -> Self {
        let accounts: Vec<Address> = (0..accounts.max(2) as u64)
            .map(|i| address_of("account", i))
            .collect();
        let tokens: Vec<Address> = (0..=POOLS as u64).map(|i| address_of("token", i)).collect();
        let pairs: Vec<Address> = (0..POOLS as u64).map(|i| address_of("pair", i)).collect();
        let router = address_of("router", 0);
        let counter = address_of("counter", 0);
        let deployer = accounts[0];
        let (token_code, pair_code) = (
            runtime_code(artifacts, "Token"),
            runtime_code(artifacts, "Pair"),
        );
        let liquidity = U256::from(10u128.pow(30));
        let holding = U256::from(10u128.pow(24));
        let mut contracts = Vec::new();
        // OpenZeppelin ERC-20 v5: `_balances` slot 0, `_allowances` slot 1, `_totalSupply` 2.
        for (t, &token) in tokens.iter().enumerate() {
            let mut storage = Vec::new();
            let mut supply = U256::ZERO;
            if t == 0 {
                storage.reserve(2 * accounts.len() + POOLS + 1);
                for &h in &accounts {
                    storage.push((mapping_slot(h, 0), holding));
                    let inner = mapping_slot(h, 1);
                    let mut buf = [0u8; 64];
                    buf[..32].copy_from_slice(&word(router));
                    buf[32..].copy_from_slice(&inner.to_be_bytes::<32>());
                    storage.push((U256::from_be_bytes(keccak256(buf).0), U256::MAX));
                    supply += holding;
                }
                for &p in &pairs {
                    storage.push((mapping_slot(p, 0), liquidity));
                    supply += liquidity;
                }
            } else {
                storage.push((mapping_slot(pairs[t - 1], 0), liquidity));
                supply += liquidity;
            }
            storage.push((U256::from(2), supply));
            contracts.push(Contract {
                address: token,
                code: token_code.clone(),
                storage,
            });
        }
        // Pair: token0 slot 0, token1 slot 1, reserve0 | reserve1 << 112 slot 2,
        // totalSupply slot 3, balanceOf slot 4 (`factory` is immutable: in the code).
        for (i, &pair) in pairs.iter().enumerate() {
            let (a, b) = (tokens[0], tokens[i + 1]);
            let (t0, t1) = if a < b { (a, b) } else { (b, a) };
            let reserves = liquidity | (liquidity << 112);
            contracts.push(Contract {
                address: pair,
                code: pair_code.clone(),
                storage: vec![
                    (U256::ZERO, U256::from_be_bytes(word(t0))),
                    (U256::from(1), U256::from_be_bytes(word(t1))),
                    (U256::from(2), reserves),
                    (U256::from(3), liquidity),
                    (mapping_slot(deployer, 4), liquidity),
                ],
            });
        }
        contracts.push(Contract {
            address: router,
            code: runtime_code(artifacts, "Router"),
            storage: Vec::new(),
        });
        contracts.push(Contract {
            address: counter,
            code: runtime_code(artifacts, "Counter"),
            storage: Vec::new(),
        });
        Self {
            nonces: vec![0; accounts.len()],
            accounts,
            contracts,
            tokens,
            pairs,
            router,
            counter,
        }
    }

    /// Storage slots of the world (for the log).
    pub fn slots(&self) -> usize {
        self.contracts.iter().map(|c| c.storage.len()).sum()
    }

    /// A block of `n` transactions of `workload`, generated as Weft's `EvmWorld::block`:
    /// account `i` sends the `i`-th transaction while there are accounts (account 0 never;
    /// past the last account, random senders), each with its next nonce. Every block is
    /// built for the world as it is (Weft's bench clones its world for each workload).
    pub fn block(&mut self, workload: Workload, n: usize, rng: &mut Rng) -> Vec<Tx> {
        self.nonces.fill(0);
        let accounts = self.accounts.len();
        let mut sender = 0usize;
        (0..n)
            .map(|_| {
                sender += 1;
                let from = if sender < accounts {
                    sender
                } else {
                    rng.range(1, accounts as u64) as usize
                };
                self.generate(workload, from, rng)
            })
            .collect()
    }

    fn random_account(&self, rng: &mut Rng) -> Address {
        self.accounts[rng.range(0, self.accounts.len() as u64) as usize]
    }

    fn tx(&mut self, from: usize, to: Address, value: U256, data: Bytes, gas_limit: u64) -> Tx {
        let nonce = self.nonces[from];
        self.nonces[from] += 1;
        Tx {
            caller: self.accounts[from],
            to,
            value,
            data,
            gas_limit,
            nonce,
        }
    }

    fn token_transfer(&mut self, from: usize, to: Address, amount: u64) -> Tx {
        let data = calldata("transfer(address,uint256)", &[word(to), uint(amount)]);
        self.tx(from, self.tokens[0], U256::ZERO, data, 100_000)
    }

    fn generate(&mut self, workload: Workload, from: usize, rng: &mut Rng) -> Tx {
        match workload {
            Workload::EthTransfer => {
                let to = self.random_account(rng);
                let value = U256::from(rng.range(1, 1000));
                self.tx(from, to, value, Bytes::new(), 21_000)
            }
            Workload::Erc20Random => {
                let to = self.random_account(rng);
                let amount = rng.range(1, 1000);
                self.token_transfer(from, to, amount)
            }
            Workload::Erc20Hot(percent) => {
                let to = if rng.range(0, 100) < u64::from(percent) {
                    self.accounts[0]
                } else {
                    self.random_account(rng)
                };
                let amount = rng.range(1, 1000);
                self.token_transfer(from, to, amount)
            }
            Workload::Swaps(pools) => {
                let p = rng.range(0, pools.min(self.pairs.len()) as u64) as usize;
                let data = calldata(
                    "swapExactIn(address,address,uint256,address)",
                    &[
                        word(self.pairs[p]),
                        word(self.tokens[0]),
                        uint(1000),
                        word(self.accounts[from]),
                    ],
                );
                self.tx(from, self.router, U256::ZERO, data, 250_000)
            }
            Workload::Chain => {
                let data = calldata("increment()", &[]);
                self.tx(from, self.counter, U256::ZERO, data, 100_000)
            }
        }
    }
}

/// Command-line settings shared by the harnesses (environment variables, as in Weft's bench).
pub struct Settings {
    pub txs: usize,
    pub runs: usize,
    pub accounts: Vec<usize>,
    pub threads: Vec<usize>,
    pub workloads: Option<Vec<String>>,
    pub artifacts: std::path::PathBuf,
}

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect()
}

impl Settings {
    pub fn from_env() -> Self {
        let num = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Self {
            txs: num("PEERS_TXS", 10_000),
            runs: num("PEERS_RUNS", 5).max(1),
            accounts: env_list("PEERS_ACCOUNTS", "10000,1000000"),
            threads: env_list("PEERS_THREADS", "1,2"),
            workloads: std::env::var("PEERS_WORKLOADS")
                .ok()
                .filter(|w| !w.is_empty())
                .map(|w| w.split(',').map(str::to_string).collect()),
            artifacts: std::env::var("PEERS_ARTIFACTS")
                .expect("PEERS_ARTIFACTS: Weft's crates/protocol/contracts/out")
                .into(),
        }
    }

    pub fn wants(&self, workload: &str) -> bool {
        self.workloads
            .as_ref()
            .is_none_or(|w| w.iter().any(|x| x == workload))
    }
}

/// The median of `xs` (seconds).
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// One output row (a JSON object on one line; `run.sh` adds the peer's commit).
#[allow(clippy::too_many_arguments)]
pub fn row(
    peer: &str,
    workload: &str,
    accounts: usize,
    txs: usize,
    threads: usize,
    mode: &str,
    samples: &[f64],
    gas: u64,
    includes: &str,
) -> String {
    let m = median(samples.to_vec());
    serde_json::json!({
        "peer": peer,
        "workload": workload,
        "accounts": accounts,
        "txs": txs,
        "threads": threads,
        "mode": mode,
        "medianSeconds": m,
        "txPerSecond": txs as f64 / m,
        "gasPerBlock": gas,
        "runs": samples.len(),
        "samplesSeconds": samples,
        "includes": includes,
    })
    .to_string()
}

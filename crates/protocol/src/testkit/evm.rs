//! EVM fixtures: the test contracts (`crates/protocol/contracts`), signed Ethereum
//! transactions, a world with deployed contracts, and generated blocks for every contract
//! workload of the property tests and the benchmark.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::TxKind;
use rand::{Rng, SeedableRng, rngs::SmallRng};

use crate::{
    execution::{BlockEnv, BlockExecutor, BlockOutput, SequentialExecutor},
    primitives::{Address, B256, Bytes, U256, keccak256},
    signature::SigningKey,
    state::{Balance, GenesisAccount, State, slot_key},
    testkit::{env, test_domain},
    transaction::{Transaction, Transfer, VerifiedTransaction},
};

/// The chain id of [`test_domain`].
pub const CHAIN_ID: u64 = 31337;
/// The fee cap of generated transactions (1 gwei; the default base fee is 0.01 gwei).
pub const MAX_FEE: u128 = 1_000_000_000;
/// Their tip.
pub const TIP: u128 = 1_000_000;
/// The block gas limit of [`EvmWorld::env`]: large enough for the biggest generated
/// block, so that only tests that set a smaller one meet `block_gas_exceeded`.
pub const WORLD_GAS_LIMIT: u64 = 1 << 40;

/// ETH each generated account holds at genesis.
pub const FUNDING: u128 = 1_000_000 * 10u128.pow(18);

/// The creation code of a test contract (`contracts/out/<name>.json`).
pub fn init_code(name: &str) -> Bytes {
    let json = match name {
        "Token" => include_str!("../../contracts/out/Token.json"),
        "Factory" => include_str!("../../contracts/out/Factory.json"),
        "Pair" => include_str!("../../contracts/out/Pair.json"),
        "Router" => include_str!("../../contracts/out/Router.json"),
        "Counter" => include_str!("../../contracts/out/Counter.json"),
        "Creator" => include_str!("../../contracts/out/Creator.json"),
        "Destroyer" => include_str!("../../contracts/out/Destroyer.json"),
        "Ephemeral" => include_str!("../../contracts/out/Ephemeral.json"),
        "CoinbaseReader" => include_str!("../../contracts/out/CoinbaseReader.json"),
        "Vault" => include_str!("../../contracts/out/Vault.json"),
        other => panic!("no test contract {other}"),
    };
    let artifact: serde_json::Value = serde_json::from_str(json).expect("artifact is JSON");
    let hex = artifact["bytecode"]
        .as_str()
        .expect("artifact has bytecode");
    hex.parse().expect("bytecode is hex")
}

/// An ABI argument (static types only).
#[derive(Debug, Clone, Copy)]
pub enum Arg {
    /// `uint256`.
    U(U256),
    /// `address`.
    A(Address),
    /// `bytes32`.
    B(B256),
}

impl Arg {
    fn word(&self) -> [u8; 32] {
        match self {
            Self::U(v) => v.to_be_bytes(),
            Self::A(a) => a.into_word().0,
            Self::B(b) => b.0,
        }
    }
}

/// The 4-byte selector of a function signature like `"transfer(address,uint256)"`.
pub fn selector(signature: &str) -> [u8; 4] {
    keccak256(signature.as_bytes())[..4]
        .try_into()
        .expect("4 bytes")
}

/// Calldata: the selector, then the static arguments.
pub fn calldata(signature: &str, args: &[Arg]) -> Bytes {
    let mut out = selector(signature).to_vec();
    for a in args {
        out.extend_from_slice(&a.word());
    }
    out.into()
}

/// The creation code of the ERC-20 `Token` with its `constructor(name, symbol)` arguments
/// (short strings).
pub fn token_init_code(name: &str, symbol: &str) -> Bytes {
    let mut code = init_code("Token").to_vec();
    code.extend(two_strings(name, symbol));
    code.into()
}

/// The ABI encoding of `constructor(string,string)` arguments for short strings.
fn two_strings(a: &str, b: &str) -> Vec<u8> {
    assert!(a.len() <= 32 && b.len() <= 32);
    let mut out = Vec::new();
    out.extend_from_slice(&U256::from(64).to_be_bytes::<32>());
    out.extend_from_slice(&U256::from(128).to_be_bytes::<32>());
    for s in [a, b] {
        out.extend_from_slice(&U256::from(s.len()).to_be_bytes::<32>());
        let mut word = [0u8; 32];
        word[..s.len()].copy_from_slice(s.as_bytes());
        out.extend_from_slice(&word);
    }
    out
}

/// The envelope types generated transactions use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxType {
    /// Legacy with EIP-155.
    Legacy,
    /// EIP-2930.
    AccessList,
    /// EIP-1559.
    DynamicFee,
}

/// `tx` signed by `key` (libsecp256k1, low-s), as an envelope.
pub fn seal<T>(tx: T, key: &SigningKey) -> TxEnvelope
where
    T: SignableTransaction<alloy_primitives::Signature>,
    TxEnvelope: From<alloy_consensus::Signed<T>>,
{
    let s = key.sign_digest(&tx.signature_hash());
    let sig = alloy_primitives::Signature::new(s.r.into(), s.s.into(), s.y_parity);
    tx.into_signed(sig).into()
}

/// A signed call or creation (`to = None`) for [`CHAIN_ID`].
#[allow(clippy::too_many_arguments)]
pub fn sign_tx(
    key: &SigningKey,
    ty: TxType,
    nonce: u64,
    to: Option<Address>,
    value: U256,
    input: Bytes,
    gas_limit: u64,
    max_fee: u128,
) -> VerifiedTransaction {
    let kind = to.map_or(TxKind::Create, TxKind::Call);
    let envelope = match ty {
        TxType::Legacy => seal(
            TxLegacy {
                chain_id: Some(CHAIN_ID),
                nonce,
                gas_price: max_fee,
                gas_limit,
                to: kind,
                value,
                input,
            },
            key,
        ),
        TxType::AccessList => seal(
            TxEip2930 {
                chain_id: CHAIN_ID,
                nonce,
                gas_price: max_fee,
                gas_limit,
                to: kind,
                value,
                input,
                access_list: Default::default(),
            },
            key,
        ),
        TxType::DynamicFee => seal(
            TxEip1559 {
                chain_id: CHAIN_ID,
                nonce,
                gas_limit,
                max_fee_per_gas: max_fee,
                max_priority_fee_per_gas: TIP.min(max_fee),
                to: kind,
                value,
                input,
                access_list: Default::default(),
            },
            key,
        ),
    };
    VerifiedTransaction::evm(&envelope.encoded_2718(), CHAIN_ID).expect("a valid transaction")
}

/// The storage slot of `mapping(address => uint256)` entry `key` at slot `slot`.
pub fn mapping_slot(key: Address, slot: u64) -> U256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(&key.into_word().0);
    buf[32..].copy_from_slice(&U256::from(slot).to_be_bytes::<32>());
    U256::from_be_bytes(keccak256(buf).0)
}

/// OpenZeppelin ERC-20 v5 layout: `_balances` at slot 0, `_totalSupply` at slot 2.
const ERC20_BALANCES: u64 = 0;
const ERC20_ALLOWANCES: u64 = 1;
const ERC20_TOTAL_SUPPLY: u64 = 2;

/// A chain with funded accounts and the test contracts deployed.
#[derive(Debug, Clone)]
pub struct EvmWorld {
    /// The state.
    pub state: State,
    /// Funded accounts; `keys[0]` deployed the contracts.
    pub keys: Vec<SigningKey>,
    /// Their next nonces.
    pub nonces: Vec<u64>,
    /// `tokens[0]` is paired with each of `tokens[1..]`.
    pub tokens: Vec<Address>,
    /// `pairs[i]` trades `tokens[0]` against `tokens[i + 1]`.
    pub pairs: Vec<Address>,
    /// The `Router` every swap goes through (every account approved it for every token).
    pub router: Address,
    /// A `Counter`.
    pub counter: Address,
    /// A `Creator`.
    pub creator: Address,
    /// A `Destroyer`.
    pub destroyer: Address,
    /// A `CoinbaseReader`.
    pub coinbase_reader: Address,
    /// A `Vault` (withdraws to L1 for its users through the predeploy).
    pub vault: Address,
    /// The last block executed.
    pub number: u64,
    /// Calls that complete the last generated transaction (a counter deployed, then
    /// incremented; a vault deposit, then withdrawn): `(sender, callee, calldata)`.
    pending: Vec<(usize, Address, Bytes)>,
    /// Everything done to the state since genesis, in order: what a reference EVM
    /// replays to reach the same state (the differential test).
    pub history: Vec<Setup>,
}

/// A step of [`EvmWorld::history`].
#[derive(Debug, Clone)]
pub enum Setup {
    /// A block executed with [`EvmWorld::env`] of its number.
    Block(u64, Vec<VerifiedTransaction>),
    /// Storage written directly: `(contract, slot, value)`.
    Storage(Vec<(Address, U256, U256)>),
}

impl EvmWorld {
    /// `accounts` funded accounts, each holding `10^24` of every token, and `pools` pairs
    /// with liquidity. Token balances are written into storage directly (what minting to
    /// each would do, without a million setup transactions).
    pub fn new(accounts: usize, pools: usize) -> Self {
        use rayon::prelude::*;
        let keys: Vec<SigningKey> = (0..accounts.max(2) as u64)
            .into_par_iter()
            .map(|i| SigningKey::from_seed(&i.to_be_bytes()))
            .collect();
        let allocs: Vec<GenesisAccount> = keys
            .iter()
            .map(|k| GenesisAccount {
                address: k.address(),
                balances: vec![Balance {
                    token: 0,
                    amount: FUNDING,
                }],
            })
            .collect();
        let state = State::genesis(&allocs, 1).expect("valid genesis");
        let mut world = Self {
            nonces: vec![0; keys.len()],
            keys,
            state,
            tokens: Vec::new(),
            pairs: Vec::new(),
            router: Address::ZERO,
            counter: Address::ZERO,
            creator: Address::ZERO,
            destroyer: Address::ZERO,
            coinbase_reader: Address::ZERO,
            vault: Address::ZERO,
            number: 0,
            pending: Vec::new(),
            history: Vec::new(),
        };
        let deployer = world.keys[0].address();
        let mut deploys = Vec::new();
        for t in 0..=pools {
            deploys.push(token_init_code(&format!("Token{t}"), &format!("T{t}")));
        }
        for name in [
            "Factory",
            "Router",
            "Counter",
            "Creator",
            "Destroyer",
            "CoinbaseReader",
            "Vault",
        ] {
            deploys.push(init_code(name));
        }
        let mut block = Vec::new();
        let mut created = Vec::new();
        for code in deploys {
            created.push(deployer.create(world.nonces[0]));
            block.push(world.tx(0, None, U256::ZERO, code, 5_000_000));
        }
        world.execute(&block);
        world.tokens = created[..=pools].to_vec();
        let [
            factory,
            router,
            counter,
            creator,
            destroyer,
            coinbase_reader,
            vault,
        ] = created[pools + 1..].try_into().expect("seven contracts");
        world.vault = vault;
        (
            world.router,
            world.counter,
            world.creator,
            world.destroyer,
            world.coinbase_reader,
        ) = (router, counter, creator, destroyer, coinbase_reader);

        let mut block = Vec::new();
        for i in 1..=pools {
            let (a, b) = (world.tokens[0], world.tokens[i]);
            let (t0, t1) = if a < b { (a, b) } else { (b, a) };
            let mut salt = [0u8; 40];
            salt[..20].copy_from_slice(t0.as_slice());
            salt[20..].copy_from_slice(t1.as_slice());
            world
                .pairs
                .push(factory.create2(keccak256(salt), keccak256(init_code("Pair"))));
            let data = calldata("createPair(address,address)", &[Arg::A(a), Arg::A(b)]);
            block.push(world.tx(0, Some(factory), U256::ZERO, data, 3_000_000));
        }
        world.execute(&block);

        let liquidity = U256::from(10u128.pow(30));
        let holders: Vec<Address> = world.keys.iter().map(SigningKey::address).collect();
        for (t, &token) in world.tokens.clone().iter().enumerate() {
            // Accounts hold token 0 (what the workloads send and swap in); every pair
            // holds liquidity of both its tokens.
            let (token_holders, pool_holders): (&[Address], Vec<Address>) = match t {
                0 => (&holders, world.pairs.clone()),
                t => (&[], vec![world.pairs[t - 1]]),
            };
            world.seed_balances(
                token,
                token_holders,
                &pool_holders,
                U256::from(10u128.pow(24)),
                liquidity,
            );
        }
        let mut block = Vec::new();
        for &pair in &world.pairs.clone() {
            let data = calldata("mint(address)", &[Arg::A(deployer)]);
            block.push(world.tx(0, Some(pair), U256::ZERO, data, 500_000));
        }
        world.execute(&block);
        world
    }

    /// Writes ERC-20 balances straight into `token`'s storage: `amount` for each holder,
    /// `pool_amount` for each pool, and the total supply.
    fn seed_balances(
        &mut self,
        token: Address,
        holders: &[Address],
        pools: &[Address],
        amount: U256,
        pool_amount: U256,
    ) {
        let router = self.router;
        let mut slots: Vec<(U256, U256)> = holders
            .iter()
            .map(|h| (mapping_slot(*h, ERC20_BALANCES), amount))
            .chain(
                pools
                    .iter()
                    .map(|p| (mapping_slot(*p, ERC20_BALANCES), pool_amount)),
            )
            .chain(holders.iter().map(|h| {
                // `_allowances[holder][router] = max` (OpenZeppelin never decreases it).
                let inner = mapping_slot(*h, ERC20_ALLOWANCES);
                let mut buf = [0u8; 64];
                buf[..32].copy_from_slice(&router.into_word().0);
                buf[32..].copy_from_slice(&inner.to_be_bytes::<32>());
                (U256::from_be_bytes(keccak256(buf).0), U256::MAX)
            }))
            .collect();
        let supply = amount * U256::from(holders.len()) + pool_amount * U256::from(pools.len());
        slots.push((U256::from(ERC20_TOTAL_SUPPLY), supply));
        let writes = slots
            .iter()
            .map(|(slot, value)| (slot_key(&token, slot), *value))
            .collect();
        self.state.storage.commit(writes, None);
        self.history.push(Setup::Storage(
            slots
                .into_iter()
                .map(|(slot, v)| (token, slot, v))
                .collect(),
        ));
    }

    /// A signed EIP-1559 transaction from account `from` with its next nonce (which it
    /// then consumes).
    pub fn tx(
        &mut self,
        from: usize,
        to: Option<Address>,
        value: U256,
        input: Bytes,
        gas_limit: u64,
    ) -> VerifiedTransaction {
        let nonce = self.nonces[from];
        self.nonces[from] += 1;
        sign_tx(
            &self.keys[from],
            TxType::DynamicFee,
            nonce,
            to,
            value,
            input,
            gas_limit,
            MAX_FEE,
        )
    }

    /// Executes a block sequentially on the world's state; every transaction must succeed.
    pub fn execute(&mut self, txs: &[VerifiedTransaction]) -> BlockOutput {
        let out = self.execute_unchecked(txs);
        for (i, r) in out.receipts.iter().enumerate() {
            assert!(r.is_success(), "transaction {i} failed: {r:?}");
        }
        out
    }

    /// Executes a block sequentially on the world's state, whatever its outcomes.
    pub fn execute_unchecked(&mut self, txs: &[VerifiedTransaction]) -> BlockOutput {
        self.number += 1;
        self.history.push(Setup::Block(self.number, txs.to_vec()));
        SequentialExecutor
            .execute_block(&mut self.state, &Self::env(self.number), txs)
            .expect("a valid block")
    }

    /// The environment of block `number`: [`env`] with [`WORLD_GAS_LIMIT`].
    pub fn env(number: u64) -> BlockEnv {
        BlockEnv {
            gas_limit: WORLD_GAS_LIMIT,
            ..env(number)
        }
    }

    /// A transfer of 10 of token 0 from account `from` to account 0.
    pub fn token_transfer_tx(&mut self, from: usize) -> VerifiedTransaction {
        let to = self.keys[0].address();
        self.token_transfer(from, to, 10)
    }

    /// The ERC-20 balance of `holder`.
    pub fn token_balance(&self, token: Address, holder: Address) -> U256 {
        self.state
            .storage_at(&token, &mapping_slot(holder, ERC20_BALANCES))
    }
}

/// The contract workloads of the property tests and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvmWorkload {
    /// ETH transfers between distinct accounts.
    EthTransfers,
    /// ERC-20 transfers between random accounts.
    Erc20Random,
    /// ERC-20 transfers, `percent` of them to one hot account.
    Erc20HotReceiver(u8),
    /// ERC-20 transfers all from one sender.
    Erc20HotSender,
    /// Mints to random accounts (every one writes the total supply).
    Erc20Mints,
    /// Swaps on the first `pools` pairs (token 0 in, the pair's other token out).
    Swaps(usize),
    /// Every transaction increments one counter: a fully dependent chain.
    Chain,
    /// Native transfers and ERC-20 transfers, alternating.
    NativeMix,
    /// Everything at once: transfers, tokens, swaps, creations and calls to what they
    /// created, reverts, out-of-gas, self-destructs, `BALANCE(COINBASE)`, nonce gaps,
    /// native transfers.
    Mixed,
}

impl EvmWorld {
    /// A block of `n` transactions of `workload`. Senders are distinct where the workload
    /// allows (account `i` sends the `i`-th transaction while there are accounts).
    pub fn block(
        &mut self,
        workload: EvmWorkload,
        n: usize,
        rng: &mut SmallRng,
    ) -> Vec<VerifiedTransaction> {
        let accounts = self.keys.len();
        let mut sender = 0usize;
        let mut next_sender = |rng: &mut SmallRng| {
            sender += 1;
            if sender < accounts {
                sender
            } else {
                rng.random_range(1..accounts)
            }
        };
        (0..n)
            .map(|_| {
                let from = next_sender(rng);
                self.generate(workload, from, rng)
            })
            .collect()
    }

    fn random_account(&self, rng: &mut SmallRng) -> Address {
        self.keys[rng.random_range(0..self.keys.len())].address()
    }

    fn token_transfer(&mut self, from: usize, to: Address, amount: u64) -> VerifiedTransaction {
        let data = calldata(
            "transfer(address,uint256)",
            &[Arg::A(to), Arg::U(U256::from(amount))],
        );
        self.tx(from, Some(self.tokens[0]), U256::ZERO, data, 100_000)
    }

    fn generate(
        &mut self,
        workload: EvmWorkload,
        from: usize,
        rng: &mut SmallRng,
    ) -> VerifiedTransaction {
        match workload {
            EvmWorkload::EthTransfers => {
                let to = self.random_account(rng);
                self.tx(
                    from,
                    Some(to),
                    U256::from(rng.random_range(1..1000u64)),
                    Bytes::new(),
                    21_000,
                )
            }
            EvmWorkload::Erc20Random => {
                let to = self.random_account(rng);
                self.token_transfer(from, to, rng.random_range(1..1000))
            }
            EvmWorkload::Erc20HotReceiver(percent) => {
                let to = if rng.random_range(0..100) < percent {
                    self.keys[0].address()
                } else {
                    self.random_account(rng)
                };
                self.token_transfer(from, to, rng.random_range(1..1000))
            }
            EvmWorkload::Erc20HotSender => {
                let to = self.random_account(rng);
                self.token_transfer(0, to, rng.random_range(1..1000))
            }
            EvmWorkload::Erc20Mints => {
                let to = self.random_account(rng);
                let data = calldata(
                    "mint(address,uint256)",
                    &[Arg::A(to), Arg::U(U256::from(7))],
                );
                self.tx(from, Some(self.tokens[0]), U256::ZERO, data, 100_000)
            }
            EvmWorkload::Swaps(pools) => {
                self.swap(from, rng.random_range(0..pools.min(self.pairs.len())))
            }
            EvmWorkload::Chain => {
                let data = calldata("increment()", &[]);
                self.tx(from, Some(self.counter), U256::ZERO, data, 100_000)
            }
            EvmWorkload::NativeMix => {
                if rng.random() {
                    self.native_transfer(from, rng)
                } else {
                    self.generate(EvmWorkload::Erc20Random, from, rng)
                }
            }
            EvmWorkload::Mixed => self.mixed(from, rng),
        }
    }

    /// Swaps 1000 of token 0 for the other token of pair `p`, through the router.
    fn swap(&mut self, from: usize, p: usize) -> VerifiedTransaction {
        let data = calldata(
            "swapExactIn(address,address,uint256,address)",
            &[
                Arg::A(self.pairs[p]),
                Arg::A(self.tokens[0]),
                Arg::U(U256::from(1000)),
                Arg::A(self.keys[from].address()),
            ],
        );
        self.tx(from, Some(self.router), U256::ZERO, data, 250_000)
    }

    fn mixed(&mut self, from: usize, rng: &mut SmallRng) -> VerifiedTransaction {
        if let Some((sender, callee, data)) = self.pending.pop() {
            return self.tx(sender, Some(callee), U256::ZERO, data, 150_000);
        }
        let ty = [TxType::Legacy, TxType::AccessList, TxType::DynamicFee][rng.random_range(0..3)];
        match rng.random_range(0..16) {
            0 => self.generate(EvmWorkload::EthTransfers, from, rng),
            1 | 2 => self.generate(EvmWorkload::Erc20Random, from, rng),
            3 => self.generate(EvmWorkload::Erc20Mints, from, rng),
            4 => self.generate(EvmWorkload::Swaps(self.pairs.len()), from, rng),
            5 => self.generate(EvmWorkload::Chain, from, rng),
            6 => {
                // A creation, and (as the nonce after it) a call to the created counter.
                let data = if rng.random() {
                    calldata("create()", &[])
                } else {
                    calldata(
                        "create2(bytes32)",
                        &[Arg::B(B256::from(U256::from(rng.random_range(0..4u64))))],
                    )
                };
                self.tx(from, Some(self.creator), U256::ZERO, data, 400_000)
            }
            7 => {
                // Deploy a counter and call it in the same block (next nonce, same sender).
                let address = self.keys[from].address().create(self.nonces[from]);
                let deploy = self.tx(from, None, U256::ZERO, init_code("Counter"), 300_000);
                self.pending
                    .push((from, address, calldata("increment()", &[])));
                deploy
            }
            8 => {
                let data = calldata("fail()", &[]);
                self.tx(from, Some(self.counter), U256::ZERO, data, 100_000)
            }
            9 => {
                let data = calldata("spin()", &[]);
                self.tx(
                    from,
                    Some(self.counter),
                    U256::ZERO,
                    data,
                    rng.random_range(30_000..80_000),
                )
            }
            10 => {
                let beneficiary = self.random_account(rng);
                let data = if rng.random() {
                    calldata("ephemeral(address)", &[Arg::A(beneficiary)])
                } else {
                    calldata("destroy(address)", &[Arg::A(beneficiary)])
                };
                self.tx(
                    from,
                    Some(self.destroyer),
                    U256::from(rng.random_range(0..5u64)),
                    data,
                    200_000,
                )
            }
            11 => {
                let data = calldata("read()", &[]);
                self.tx(from, Some(self.coinbase_reader), U256::ZERO, data, 100_000)
            }
            13 => {
                // A withdrawal to L1 from an EOA, straight to the predeploy (now and then
                // with nothing to withdraw: reverted).
                let to = self.random_account(rng);
                let data = calldata("withdraw(address)", &[Arg::A(to)]);
                let value = U256::from(rng.random_range(0..3u64) * 1_000);
                self.tx(from, Some(crate::evm::WITHDRAWALS), value, data, 100_000)
            }
            14 => {
                // A deposit into the vault, then a withdrawal by the vault for its user,
                // split over two L1 recipients.
                let (a, b) = (self.random_account(rng), self.random_account(rng));
                self.pending.push((
                    from,
                    self.vault,
                    calldata("split(address,address)", &[Arg::A(a), Arg::A(b)]),
                ));
                let value = U256::from(rng.random_range(2..5000u64));
                self.tx(
                    from,
                    Some(self.vault),
                    value,
                    calldata("deposit()", &[]),
                    100_000,
                )
            }
            12 => {
                // A nonce gap: refused, the nonce is not consumed.
                let nonce = self.nonces[from] + rng.random_range(1..3);
                sign_tx(
                    &self.keys[from],
                    ty,
                    nonce,
                    Some(self.counter),
                    U256::ZERO,
                    calldata("increment()", &[]),
                    100_000,
                    MAX_FEE,
                )
            }
            _ => self.native_transfer(from, rng),
        }
    }

    /// A native transfer of ETH, sharing the account's nonce with its EVM transactions.
    fn native_transfer(&mut self, from: usize, rng: &mut SmallRng) -> VerifiedTransaction {
        let nonce = self.nonces[from];
        self.nonces[from] += 1;
        let to = self.random_account(rng);
        Transaction::Transfer(Transfer {
            from: self.keys[from].address(),
            to,
            token: 0,
            amount: rng.random_range(1..1000),
            fee: 1,
            nonce,
        })
        .sign(&self.keys[from], &test_domain())
        .verify(&test_domain())
        .expect("signed by its sender")
    }
}

/// A seeded generator for [`EvmWorld::block`].
pub fn rng(seed: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed)
}

pub mod reference;

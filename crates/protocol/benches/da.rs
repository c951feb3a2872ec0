//! DA benchmark: L1 bytes per transaction on realistic workloads, written to
//! `target/weft-bench/da.json` (`make bench`).
//!
//! Native transfers: 10,000 accounts; senders and receivers Zipf-distributed (s = 1.1);
//! amounts with one or two significant digits (`m · 10^e`, m in 1..=99, e in 14..=18); fees
//! `k · 10^12`. Batches of 10 blocks of 1,000 transfers, encoded with `weft_protocol::da`.
//! Compression ratio is the canonical signed encoding (what a rollup posting raw signed
//! transactions would carry) over the DA payload. L1 gas per transfer is the payload's
//! calldata cost under EIP-7623's floor price (10 gas per token, a token per zero byte and
//! four per non-zero byte: the price data-heavy transactions pay since Prague) plus the
//! measured fixed cost of `commitBatch`, spread over the batch.
//!
//! EVM traffic, on a world of 10,000 funded accounts with the committed ERC-20 (`Token`)
//! and AMM (`Pair`, `Router`) deployed, senders and receivers Zipf-distributed as above,
//! each transaction signed (EIP-1559) and executed before it is encoded:
//!
//! - EOA ETH transfers: value `m · 10^e` (e in 14..=18), gas limit 21,000;
//! - ERC-20 `transfer(to, amount)` of the hot token, amount `m · 10^e` (e in 15..=19);
//! - swaps `Router.swapExactIn(pair, tokenIn, amountIn, to = sender)` on one of two pairs.
//!
//! Fees as wallets set them over a flat base fee (the 0.01 gwei floor): a tip of 0, 0.001
//! or 0.01 gwei, fee cap twice the base fee plus the tip. Gas limits of calls: each sender
//! is one of two kinds of wallet, one that uses a fixed limit per call (65,000 for a token
//! transfer, 250,000 for a swap), one that estimates it (a uniform value in 52,000..70,000
//! and 150,000..250,000). Each kind is measured alone (10 blocks of 1,000) and in a mixed
//! batch with native transfers (40 % native, 20 % ETH, 25 % ERC-20, 15 % swaps), where the
//! marginal bytes of each kind are the payload's size less that of the same batch without
//! the kind, over its count.

use std::time::Instant;

use alloy_consensus::TxEip1559;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{TxKind, U256};
use rand::{Rng, SeedableRng, rngs::StdRng};
use weft_protocol::{
    codec::Encode,
    da::{DaBlock, decode_batch, encode_batch},
    primitives::{Address, Bytes},
    signature::SigningKey,
    state::State,
    testkit::{
        evm::{Arg, CHAIN_ID, EvmWorld, calldata, seal},
        test_domain,
    },
    transaction::{Transaction, Transfer, VerifiedTransaction},
};

const ACCOUNTS: usize = 10_000;
const BLOCKS: usize = 10;
const TXS_PER_BLOCK: usize = 1_000;
const ZIPF_S: f64 = 1.1;
/// Gas of `commitBatch` besides the payload's calldata (measured on anvil by the `weft-l1`
/// tests: storage writes, the queue-hash check, the event).
const COMMIT_FIXED_GAS: u64 = 100_000;
/// The base fee the generated fees are set over (the default floor, 0.01 gwei).
const BASE_FEE: u128 = 10_000_000;

struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = (1..=n)
            .map(|k| {
                acc += 1.0 / (k as f64).powf(s);
                acc
            })
            .collect();
        for c in &mut cdf {
            *c /= acc;
        }
        Self { cdf }
    }

    fn sample(&self, rng: &mut StdRng) -> usize {
        let u: f64 = rng.random();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

fn main() {
    let native = native_bench();
    let evm = evm_bench();
    let dir = weft_protocol::testkit::bench_output_dir();
    let json = format!("{{{native},{evm}}}\n");
    std::fs::write(dir.join("da.json"), json).expect("write da.json");
    println!("wrote {}", dir.join("da.json").display());
}

/// The native-transfer batch; returns its JSON fields.
fn native_bench() -> String {
    let mut rng = StdRng::seed_from_u64(42);
    let addresses: Vec<Address> = (0..ACCOUNTS as u64)
        .map(weft_protocol::testkit::test_address)
        .collect();
    let zipf = Zipf::new(ACCOUNTS, ZIPF_S);
    let mut nonces = vec![0u64; ACCOUNTS];
    let key = SigningKey::from_seed(b"da-bench");
    let domain = test_domain();
    let mut signed_bytes = 0usize;
    let blocks: Vec<DaBlock> = (0..BLOCKS)
        .map(|b| {
            let transactions = (0..TXS_PER_BLOCK)
                .map(|_| {
                    let from = zipf.sample(&mut rng);
                    let mut to = zipf.sample(&mut rng);
                    if to == from {
                        to = (to + 1) % ACCOUNTS;
                    }
                    let amount =
                        rng.random_range(1..=99u128) * 10u128.pow(rng.random_range(14..=18));
                    let fee = rng.random_range(1..=9u128) * 10u128.pow(12);
                    nonces[from] += 1;
                    let tx = Transaction::Transfer(Transfer {
                        from: addresses[from],
                        to: addresses[to],
                        token: 0,
                        amount,
                        fee,
                        nonce: nonces[from] - 1 + 1_000,
                    });
                    // The signature's size is what matters, not who signed.
                    signed_bytes += tx.clone().sign(&key, &domain).to_bytes().len();
                    tx
                })
                .collect();
            DaBlock {
                number: b as u64 + 1,
                timestamp: 1_700_000_000 + b as u64,
                fee_recipient: Address::repeat_byte(0xfe),
                transactions,
            }
        })
        .collect();
    let transfers = BLOCKS * TXS_PER_BLOCK;
    let index: alloy_primitives::map::AddressMap<u32> = addresses
        .iter()
        .enumerate()
        .map(|(i, a)| (*a, i as u32))
        .collect();
    // The fee recipient is account 10,000: it exists before the batch too.
    let started = Instant::now();
    let (payload, _) = encode_batch(&blocks, ACCOUNTS as u32 + 1, 0, |a| {
        index
            .get(a)
            .copied()
            .or((*a == Address::repeat_byte(0xfe)).then_some(ACCOUNTS as u32))
    });
    let encode_time = started.elapsed();
    let started = Instant::now();
    let decoded = decode_batch(&payload, |i| {
        if i as usize == ACCOUNTS {
            Some(Address::repeat_byte(0xfe))
        } else {
            addresses.get(i as usize).copied()
        }
    })
    .expect("decodes");
    let decode_time = started.elapsed();
    assert_eq!(decoded.blocks, blocks, "DA round trip");

    let bytes_per_transfer = payload.len() as f64 / transfers as f64;
    let ratio = signed_bytes as f64 / payload.len() as f64;
    let gas_per_transfer = (calldata_gas(&payload) + COMMIT_FIXED_GAS) as f64 / transfers as f64;
    println!(
        "DA benchmark: {BLOCKS} blocks x {TXS_PER_BLOCK} transfers, {ACCOUNTS} Zipf({ZIPF_S}) accounts"
    );
    println!("  payload                  {:>10} bytes", payload.len());
    println!("  bytes per transfer       {bytes_per_transfer:>10.2}   (zkSync Lite: ~20)");
    println!(
        "  signed txs / payload     {ratio:>10.1}x  ({signed_bytes} bytes of signed transactions)"
    );
    println!(
        "  L1 gas per transfer      {gas_per_transfer:>10.1}   (calldata at the EIP-7623 floor + commitBatch fixed cost)"
    );
    println!(
        "  L1 gas per batch         {:>10}",
        calldata_gas(&payload) + COMMIT_FIXED_GAS
    );
    println!(
        "  encode {:.1} ms, decode {:.1} ms",
        encode_time.as_secs_f64() * 1e3,
        decode_time.as_secs_f64() * 1e3
    );
    let levels = level_sweep("native batch", &payload, transfers);
    format!(
        "\"levels_native\":{levels},\"bytes_per_transfer\":{bytes_per_transfer:.3},\"compression_ratio\":{ratio:.2},\"l1_gas_per_transfer\":{gas_per_transfer:.1},\"l1_gas_per_batch\":{},\"transfers_per_batch\":{transfers},\"payload_bytes\":{}",
        calldata_gas(&payload) + COMMIT_FIXED_GAS,
        payload.len()
    )
}

/// zstd levels against each other on one payload's uncompressed bytes: bytes per
/// transaction and compression time (median of 3), the cost the batcher pays for
/// `da::COMPRESSION_LEVEL`; printed, and returned as a JSON array.
fn level_sweep(name: &str, payload: &[u8], txs: usize) -> String {
    let raw = zstd::bulk::decompress(payload, weft_protocol::da::MAX_DECOMPRESSED)
        .expect("a payload decompresses");
    println!(
        "  zstd level sweep on the {name} ({} bytes uncompressed; Weft uses {}):",
        raw.len(),
        weft_protocol::da::COMPRESSION_LEVEL
    );
    let mut rows = Vec::new();
    for level in [3, 9, 12, 15, 17, 19] {
        let mut times: Vec<f64> = (0..3)
            .map(|_| {
                let started = Instant::now();
                let out = zstd::bulk::compress(&raw, level).expect("compresses");
                std::hint::black_box(out.len());
                started.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let size = zstd::bulk::compress(&raw, level).expect("compresses").len();
        let per_tx = size as f64 / txs as f64;
        let us_per_tx = times[1] * 1e6 / txs as f64;
        println!(
            "    level {level:>2}: {per_tx:>6.2} B / tx, {us_per_tx:>6.2} µs / tx to compress"
        );
        rows.push(format!(
            "{{\"level\":{level},\"bytes_per_tx\":{per_tx:.3},\"compress_us_per_tx\":{us_per_tx:.3}}}"
        ));
    }
    format!("[{}]", rows.join(","))
}

/// The payload's calldata gas at the EIP-7623 floor.
fn calldata_gas(payload: &[u8]) -> u64 {
    10 * payload
        .iter()
        .map(|&b| if b == 0 { 1 } else { 4 })
        .sum::<u64>()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Native,
    Eth,
    Erc20,
    Swap,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Native => "native_transfer",
            Self::Eth => "eth_transfer",
            Self::Erc20 => "erc20_transfer",
            Self::Swap => "swap",
        }
    }
}

/// Generated EVM and native traffic on an [`EvmWorld`].
struct Traffic {
    world: EvmWorld,
    zipf: Zipf,
    rng: StdRng,
    /// Whether account `i`'s wallet estimates gas limits (else it uses fixed ones).
    estimates: Vec<bool>,
}

impl Traffic {
    fn new() -> Self {
        let world = EvmWorld::new(ACCOUNTS, 2);
        let mut rng = StdRng::seed_from_u64(7);
        let estimates = (0..ACCOUNTS).map(|_| rng.random()).collect();
        Self {
            world,
            zipf: Zipf::new(ACCOUNTS, ZIPF_S),
            rng,
            estimates,
        }
    }

    /// A Zipf-distributed account other than the deployer.
    fn account(&mut self) -> usize {
        1 + self.zipf.sample(&mut self.rng) % (ACCOUNTS - 1)
    }

    fn round(&mut self, exponents: std::ops::RangeInclusive<u32>) -> u128 {
        self.rng.random_range(1..=99u128) * 10u128.pow(self.rng.random_range(exponents))
    }

    fn tx(&mut self, kind: Kind) -> VerifiedTransaction {
        let from = self.account();
        let mut to = self.account();
        if to == from {
            to = 1 + to % (ACCOUNTS - 1);
        }
        let to = self.world.keys[to].address();
        let nonce = self.world.nonces[from];
        self.world.nonces[from] += 1;
        let (callee, value, input, gas_limit) = match kind {
            Kind::Native => {
                let tx = Transaction::Transfer(Transfer {
                    from: self.world.keys[from].address(),
                    to,
                    token: 0,
                    amount: self.round(14..=18),
                    fee: self.rng.random_range(1..=9u128) * 10u128.pow(12),
                    nonce,
                });
                return tx.assume_verified(&test_domain());
            }
            Kind::Eth => (to, self.round(14..=18), Bytes::new(), 21_000),
            Kind::Erc20 => {
                let amount = U256::from(self.round(15..=19));
                let data = calldata("transfer(address,uint256)", &[Arg::A(to), Arg::U(amount)]);
                let gas = self.gas_limit(from, 65_000, 52_000..70_000);
                (self.world.tokens[0], 0, data, gas)
            }
            Kind::Swap => {
                let pair = self.world.pairs[self.rng.random_range(0..2)];
                let amount = U256::from(self.round(15..=18));
                let data = calldata(
                    "swapExactIn(address,address,uint256,address)",
                    &[
                        Arg::A(pair),
                        Arg::A(self.world.tokens[0]),
                        Arg::U(amount),
                        Arg::A(self.world.keys[from].address()),
                    ],
                );
                let gas = self.gas_limit(from, 250_000, 150_000..250_000);
                (self.world.router, 0, data, gas)
            }
        };
        let tip = [0, 1_000_000, 10_000_000][self.rng.random_range(0..3)];
        let envelope = seal(
            TxEip1559 {
                chain_id: CHAIN_ID,
                nonce,
                gas_limit,
                max_fee_per_gas: 2 * BASE_FEE + tip,
                max_priority_fee_per_gas: tip,
                to: TxKind::Call(callee),
                value: U256::from(value),
                access_list: Default::default(),
                input,
            },
            &self.world.keys[from],
        );
        VerifiedTransaction::evm(&envelope.encoded_2718(), CHAIN_ID).expect("valid")
    }

    fn gas_limit(&mut self, from: usize, fixed: u64, estimated: std::ops::Range<u64>) -> u64 {
        if self.estimates[from] {
            self.rng.random_range(estimated)
        } else {
            fixed
        }
    }

    /// `BLOCKS` blocks of `TXS_PER_BLOCK` transactions of kinds drawn by `pick`, executed;
    /// the blocks with each transaction's kind, and how many succeeded.
    fn blocks(&mut self, mut pick: impl FnMut(&mut StdRng) -> Kind) -> Vec<(DaBlock, Vec<Kind>)> {
        (0..BLOCKS)
            .map(|_| {
                let kinds: Vec<Kind> = (0..TXS_PER_BLOCK).map(|_| pick(&mut self.rng)).collect();
                let txs: Vec<VerifiedTransaction> = kinds.iter().map(|&k| self.tx(k)).collect();
                let out = self.world.execute_unchecked(&txs);
                let failed = out.receipts.iter().filter(|r| !r.is_success()).count();
                assert!(failed * 100 < txs.len(), "{failed} transactions failed");
                let env = EvmWorld::env(self.world.number);
                let block = DaBlock {
                    number: env.number,
                    timestamp: env.timestamp,
                    fee_recipient: env.fee_recipient,
                    transactions: txs.into_iter().map(|t| t.transaction).collect(),
                };
                (block, kinds)
            })
            .collect()
    }
}

/// Encodes `blocks` as a batch on `before`, checks the round trip; the payload.
fn encode(before: &State, after: &State, blocks: &[DaBlock]) -> Vec<u8> {
    let (payload, _) = encode_batch(
        blocks,
        before.account_count(),
        before.queue_position(),
        |a| after.index_of(a),
    );
    let decoded =
        decode_batch(&payload, |i| before.account(i).map(|a| a.address)).expect("decodes");
    for (d, b) in decoded.blocks.iter().zip(blocks) {
        let unsigned: Vec<Transaction> = b
            .transactions
            .iter()
            .map(Transaction::without_signature)
            .collect();
        assert_eq!(d.transactions, unsigned, "DA round trip");
    }
    payload
}

/// The EVM batches; returns their JSON fields.
fn evm_bench() -> String {
    let started = Instant::now();
    let mut traffic = Traffic::new();
    println!(
        "\nEVM traffic: {ACCOUNTS} accounts, ERC-20 and AMM deployed ({:.1} s to set up)",
        started.elapsed().as_secs_f64()
    );
    println!(
        "  {:<40} {:>10} {:>10} {:>8}",
        "batch", "payload B", "B / tx", "signed/DA"
    );
    let mut fields = Vec::new();
    for kind in [Kind::Eth, Kind::Erc20, Kind::Swap] {
        let before = traffic.world.state.clone();
        let blocks: Vec<DaBlock> = traffic
            .blocks(|_| kind)
            .into_iter()
            .map(|(b, _)| b)
            .collect();
        let payload = encode(&before, &traffic.world.state, &blocks);
        let signed: usize = blocks
            .iter()
            .flat_map(|b| &b.transactions)
            .map(|t| t.to_bytes().len())
            .sum();
        let per_tx = payload.len() as f64 / (BLOCKS * TXS_PER_BLOCK) as f64;
        println!(
            "  {:<40} {:>10} {per_tx:>10.2} {:>7.1}x",
            format!("{} only", kind.name()),
            payload.len(),
            signed as f64 / payload.len() as f64
        );
        fields.push(format!("\"bytes_per_{}\":{per_tx:.3}", kind.name()));
    }

    let before = traffic.world.state.clone();
    let mixed = traffic.blocks(|rng| match rng.random_range(0..100) {
        0..40 => Kind::Native,
        40..60 => Kind::Eth,
        60..85 => Kind::Erc20,
        _ => Kind::Swap,
    });
    let blocks: Vec<DaBlock> = mixed.iter().map(|(b, _)| b.clone()).collect();
    let payload = encode(&before, &traffic.world.state, &blocks);
    let total = BLOCKS * TXS_PER_BLOCK;
    let per_tx = payload.len() as f64 / total as f64;
    println!(
        "  {:<40} {:>10} {per_tx:>10.2}",
        "mixed (40/20/25/15 %)",
        payload.len()
    );
    fields.push(format!("\"bytes_per_tx_mixed\":{per_tx:.3}"));
    fields.push(format!(
        "\"levels_mixed\":{}",
        level_sweep("mixed batch", &payload, total)
    ));
    fields.push(format!(
        "\"l1_gas_per_tx_mixed\":{:.1}",
        (calldata_gas(&payload) + COMMIT_FIXED_GAS) as f64 / total as f64
    ));
    for kind in [Kind::Native, Kind::Eth, Kind::Erc20, Kind::Swap] {
        let (without, count): (Vec<DaBlock>, usize) =
            mixed
                .iter()
                .fold((Vec::new(), 0), |(mut blocks, count), (b, kinds)| {
                    let kept: Vec<Transaction> = b
                        .transactions
                        .iter()
                        .zip(kinds)
                        .filter(|(_, k)| **k != kind)
                        .map(|(t, _)| t.clone())
                        .collect();
                    let removed = b.transactions.len() - kept.len();
                    blocks.push(DaBlock {
                        transactions: kept,
                        ..b.clone()
                    });
                    (blocks, count + removed)
                });
        let (smaller, _) = encode_batch(&without, before.account_count(), 0, |a| {
            traffic.world.state.index_of(a)
        });
        let marginal = (payload.len() - smaller.len()) as f64 / count as f64;
        println!(
            "  {:<40} {:>10} {marginal:>10.2}",
            format!("  marginal {} in the mix", kind.name()),
            count
        );
        fields.push(format!(
            "\"marginal_bytes_per_{}_in_mix\":{marginal:.3}",
            kind.name()
        ));
    }
    fields.join(",")
}

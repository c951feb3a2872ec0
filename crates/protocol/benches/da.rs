//! DA benchmark: L1 bytes per transfer on a realistic workload, written to
//! `target/weft-bench/da.json` (`make bench`).
//!
//! Workload: 10,000 accounts; senders and receivers Zipf-distributed (s = 1.1); amounts
//! with one or two significant digits (`m · 10^e`, m in 1..=99, e in 14..=18); fees
//! `k · 10^12`. Batches of 10 blocks of 1,000 transfers, encoded with `weft_protocol::da`.
//! Compression ratio is the canonical signed encoding (what a rollup posting raw signed
//! transactions would carry) over the DA payload. L1 gas per transfer is the payload's
//! calldata cost under EIP-7623's floor price (10 gas per token, a token per zero byte and
//! four per non-zero byte: the price data-heavy transactions pay since Prague) plus the
//! measured fixed cost of `commitBatch`, spread over the batch.

use std::time::Instant;

use rand::{Rng, SeedableRng, rngs::StdRng};
use weft_protocol::{
    codec::Encode,
    da::{DaBlock, decode_batch, encode_batch},
    primitives::Address,
    signature::SigningKey,
    testkit::test_domain,
    transaction::{Transaction, Transfer},
};

const ACCOUNTS: usize = 10_000;
const BLOCKS: usize = 10;
const TXS_PER_BLOCK: usize = 1_000;
const ZIPF_S: f64 = 1.1;
/// Gas of `commitBatch` besides the payload's calldata (measured on anvil by the `weft-l1`
/// tests: storage writes, the queue-hash check, the event).
const COMMIT_FIXED_GAS: u64 = 100_000;

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
    let tokens: u64 = payload.iter().map(|&b| if b == 0 { 1 } else { 4 }).sum();
    let calldata_gas = 10 * tokens;
    let gas_per_transfer = (calldata_gas + COMMIT_FIXED_GAS) as f64 / transfers as f64;
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
        calldata_gas + COMMIT_FIXED_GAS
    );
    println!(
        "  encode {:.1} ms, decode {:.1} ms",
        encode_time.as_secs_f64() * 1e3,
        decode_time.as_secs_f64() * 1e3
    );

    let dir = weft_protocol::testkit::bench_output_dir();
    let json = format!(
        "{{\"bytes_per_transfer\":{bytes_per_transfer:.3},\"compression_ratio\":{ratio:.2},\"l1_gas_per_transfer\":{gas_per_transfer:.1},\"l1_gas_per_batch\":{},\"transfers_per_batch\":{transfers},\"payload_bytes\":{}}}\n",
        calldata_gas + COMMIT_FIXED_GAS,
        payload.len()
    );
    std::fs::write(dir.join("da.json"), json).expect("write da.json");
    println!("wrote {}", dir.join("da.json").display());
}

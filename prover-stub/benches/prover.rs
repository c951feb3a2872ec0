//! Prover re-execution rate: `cargo bench -p weft-prover-stub --bench prover`.
//!
//! One batch of 10 blocks × 1,000 signed transfers over 2,000 funded accounts, checked as
//! the prover checks a committed batch: every signature recovered (in parallel), the DA
//! payload decoded and compared with the witness, every block re-executed to the committed
//! roots. Prints tx/s (median of 5) and writes `target/weft-bench/prover.json`.

use std::time::{Duration, Instant};

use rayon::prelude::*;
use weft_protocol::{
    batch::BatchCommitment,
    block::{BlockHeader, transactions_root},
    da::{DaBlock, da_hash, encode_batch},
    eip712::Domain,
    execution::{BlockEnv, BlockExecutor, ParallelExecutor},
    genesis::{dev_allocations, dev_key},
    merkle,
    primitives::Address,
    state::State,
    transaction::{Transaction, Transfer},
};
use weft_prover_stub::verify::{Witness, WitnessBlock, WitnessTransaction, check_batch};

const ACCOUNTS: u32 = 2_000;
const BLOCKS: u64 = 10;
const TXS: u64 = 1_000;

fn main() {
    let domain = Domain::new(0x5745_4654, Address::repeat_byte(0x42));
    let genesis = State::genesis(&dev_allocations(ACCOUNTS, 1 << 100), 1).unwrap();
    let keys: Vec<_> = (0..ACCOUNTS).map(dev_key).collect();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut executor = ParallelExecutor::new(cores);

    // Build the batch as the sequencer would: signed transfers, executed, encoded.
    let mut state = genesis.clone();
    let mut nonces = vec![0u64; ACCOUNTS as usize];
    let mut witness_blocks = Vec::new();
    let mut da_blocks = Vec::new();
    let mut leaves = Vec::new();
    for number in 1..=BLOCKS {
        let signed: Vec<_> = (0..TXS)
            .map(|i| {
                let from = ((number * TXS + i) % u64::from(ACCOUNTS)) as usize;
                let to = (from + 1 + (i as usize * 7) % 100) % ACCOUNTS as usize;
                nonces[from] += 1;
                Transaction::Transfer(Transfer {
                    from: keys[from].address(),
                    to: keys[to].address(),
                    token: 0,
                    amount: 1_000,
                    fee: 1,
                    nonce: nonces[from] - 1,
                })
            })
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|t| {
                let key = keys
                    .iter()
                    .find(|k| Some(k.address()) == t.sender())
                    .unwrap();
                t.sign(key, &domain)
            })
            .collect();
        let env = BlockEnv {
            number,
            timestamp: number,
            fee_recipient: Address::repeat_byte(0xfe),
            domain,
            dispute_window: weft_protocol::channel::DEFAULT_DISPUTE_WINDOW,
            gas_limit: weft_protocol::evm::DEFAULT_BLOCK_GAS_LIMIT,
            base_fee: weft_protocol::evm::DEFAULT_MIN_BASE_FEE,
        };
        let verified: Vec<_> = signed.iter().map(|s| s.verify(&domain).unwrap()).collect();
        let out = executor.execute_block(&mut state, &env, &verified).unwrap();
        leaves.extend(out.withdrawal_leaves);
        let hashes: Vec<_> = verified.iter().map(|v| v.hash).collect();
        let header = BlockHeader {
            number,
            parent_hash: Default::default(),
            timestamp: number,
            fee_recipient: env.fee_recipient,
            tx_count: TXS,
            transactions_root: transactions_root(&hashes),
            state_root: out.state_root,
            withdrawals_root: out.withdrawals_root,
            queue_position: 0,
        };
        witness_blocks.push(WitnessBlock {
            hash: header.hash(),
            header,
            transactions: signed
                .iter()
                .zip(&hashes)
                .map(|(s, h)| WitnessTransaction {
                    hash: *h,
                    transaction: s.transaction.clone(),
                    signature: Some(s.signature),
                })
                .collect(),
        });
        da_blocks.push(DaBlock {
            number,
            timestamp: number,
            fee_recipient: env.fee_recipient,
            transactions: signed.into_iter().map(|s| s.transaction).collect(),
        });
    }
    let (payload, _) = encode_batch(&da_blocks, genesis.account_count(), 0, |a| {
        state.index_of(a)
    });
    let commitment = BatchCommitment {
        index: 1,
        from_block: 1,
        to_block: BLOCKS,
        prev_state_root: genesis.state_root(),
        new_state_root: state.state_root(),
        withdrawals_root: merkle::root_of(&leaves),
        queue_position: 0,
        queue_hash: Default::default(),
        da_hash: da_hash(&payload),
    };
    let witness = Witness {
        index: 1,
        commitment,
        blocks: witness_blocks,
    };
    let committed = weft_l1::CommitData {
        commitment,
        payload: payload.into(),
        carrier: weft_protocol::batch::Carrier::Calldata,
    };

    let total = (BLOCKS * TXS) as f64;
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let mut s = genesis.clone();
            let started = Instant::now();
            check_batch(
                &mut s,
                &weft_protocol::execution::ChainParams {
                    domain,
                    dispute_window: weft_protocol::channel::DEFAULT_DISPUTE_WINDOW,
                },
                &committed,
                &witness,
                &[],
                &mut executor,
            )
            .unwrap();
            started.elapsed()
        })
        .collect();
    times.sort();
    let tps = total / times[2].as_secs_f64();
    println!(
        "prover check of a {}-transfer batch ({BLOCKS} blocks), signatures included, {cores} cores:",
        total as u64
    );
    println!(
        "  median {:.1} ms  →  {tps:.0} tx/s",
        times[2].as_secs_f64() * 1e3
    );
    let dir = weft_protocol::testkit::bench_output_dir();
    std::fs::write(
        dir.join("prover.json"),
        format!(
            "{{\"prover_tps\":{tps:.0},\"batch_txs\":{}}}\n",
            total as u64
        ),
    )
    .unwrap();
    println!("wrote {}", dir.join("prover.json").display());
}

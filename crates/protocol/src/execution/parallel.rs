//! The parallel engine: a dependency DAG over declared access sets, run by a fixed pool.
//! See the module docs of [`crate::execution`] for the algorithm.
//!
//! Every phase runs on the pool. The DAG is built per *partition*: the worker that owns a
//! partition scans the block's access sets and handles only the keys of its accounts, so
//! the per-account bookkeeping (last accessor, ordered flag) is never shared.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use alloy_primitives::map::{B256Map, B256Set};

use crate::{
    channel::ChannelRecord,
    error::BlockError,
    execution::{
        BlockEnv, BlockExecutor, BlockOutput, Receipt,
        access::{Key, Mode, for_each_access, touched_positions},
        commit::{Delta, Effects, NewChannel, commit},
        mixed,
        optimistic::{self, OptimisticStats},
        prepare::{Op, Prepared, Slot, prepare},
        rules::{BlockFacts, Ctx, apply},
        sequential::run_in_order,
    },
    primitives::{AccountIndex, Amount, B256, TokenId},
    state::{Account, PARTITIONS, State, partition_of, position_of},
    transaction::VerifiedTransaction,
};

const NONE: u32 = u32::MAX;

/// Transactions a worker claims at a time. Small enough to balance, large enough that the
/// shared counter is not contended.
const CHUNK: usize = 64;

/// Blocks smaller than this run in order (the DAG costs more than it saves).
const MIN_PARALLEL_TXS: usize = 128;

/// States smaller than this run in order: their working set is cache-resident, so a
/// transaction costs tens of nanoseconds and the cross-core traffic of sharing accounts
/// outweighs a second core (measured with `make bench`: at 1k accounts the DAG ran at 0.71x
/// of sequential on 2 threads, in order at 0.86x). Prepare and commit still use the pool.
const MIN_PARALLEL_ACCOUNTS: usize = 16_384;

/// Run in parallel only if the longest chain of accesses to one key is at most
/// `txs / MIN_AVERAGE_WIDTH` (a few hot senders make the DAG a chain).
const MIN_AVERAGE_WIDTH: usize = 4;

/// Executes blocks on a fixed pool of worker threads; results are identical to
/// [`super::SequentialExecutor`].
#[derive(Debug)]
pub struct ParallelExecutor {
    pool: rayon::ThreadPool,
    /// Per partition, per position: bookkeeping of the block being built.
    scratch: Vec<PartitionScratch>,
    always_parallel: bool,
}

#[derive(Debug, Default)]
struct PartitionScratch {
    /// The last transaction with an ordered access to the account, or `NONE`.
    last: Vec<u32>,
    /// Ordered accesses so far (the chain length).
    count: Vec<u32>,
    /// `ORDERED | SEEN` bits of the account in this block.
    flags: Vec<u8>,
}

/// Some transaction of the block writes the account: credits to it are ordered.
const ORDERED: u8 = 1;
/// The account is already in the block's touched list.
const SEEN: u8 = 2;

/// How a block ran and where its time went, for the benchmark and metrics.
#[derive(Debug, Clone, Copy)]
pub struct ExecReport {
    /// The schedule chosen.
    pub schedule: Schedule,
    /// Index assignment and lowering.
    pub prepare: Duration,
    /// DAG construction and running the transactions.
    pub execute: Duration,
    /// Deferred credits, partition trees and roots.
    pub commit: Duration,
    /// Speculation and re-executions, for a block with EVM transactions run optimistically.
    pub optimistic: Option<OptimisticStats>,
}

/// Which way a block ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Dependency-ordered on the pool.
    Parallel,
    /// In order on the calling thread.
    InOrder,
    /// EVM transactions speculated on the pool and committed in order (`optimistic.rs`).
    Optimistic,
}

/// A block with EVM transactions runs optimistically only if at least one transaction in
/// this many is an EVM transaction that does more than move ETH to an account without code.
const MIN_SPECULATED_SHARE: usize = 8;

/// Per analysis worker, the transactions each transaction waits for (for the keys that
/// worker owns), so workers never write to the same memory.
type Deps = Vec<DepList>;

/// The dependencies of every transaction of a block, as one compressed list: those of
/// transaction `i` are `edges[starts[i]..starts[i + 1]]`. Access sets vary in size (a
/// conclusion reads a secret per lock), and most transactions have one or two edges.
#[derive(Debug)]
struct DepList {
    starts: Vec<u32>,
    edges: Vec<u32>,
}

impl DepList {
    fn of(&self, tx: usize) -> &[u32] {
        &self.edges[self.starts[tx] as usize..self.starts[tx + 1] as usize]
    }
}

/// The DAG and the touched positions of one block.
#[derive(Debug)]
struct Analysis {
    deps: Deps,
    touched: Vec<Vec<usize>>,
    longest_chain: u32,
}

impl ParallelExecutor {
    /// An executor with `threads` workers (at least one).
    pub fn new(threads: usize) -> Self {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("weft-exec-{i}"))
            .build()
            .expect("spawn executor threads");
        Self {
            pool,
            scratch: (0..PARTITIONS)
                .map(|_| PartitionScratch::default())
                .collect(),
            always_parallel: false,
        }
    }

    /// Never falls back to the in-order loop, whatever the block (for tests and
    /// benchmarks of the DAG path itself).
    pub fn always_parallel(mut self) -> Self {
        self.always_parallel = true;
        self
    }

    /// Number of worker threads.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Executes a block and reports the schedule it chose and its phase times.
    pub fn execute_block_detailed(
        &mut self,
        state: &mut State,
        env: &BlockEnv,
        txs: &[VerifiedTransaction],
    ) -> Result<(BlockOutput, ExecReport), BlockError> {
        let started = Instant::now();
        let prepared = prepare(state, env, txs, Some(&self.pool))?;
        let prepared_at = Instant::now();
        let facts = BlockFacts::of(env, &prepared);
        if prepared.has_evm() {
            return Ok(self.execute_mixed(state, env, txs, prepared, facts, started, prepared_at));
        }
        let ops = &prepared.ops;
        let small = ops.len() < MIN_PARALLEL_TXS
            || (state.account_count() as usize) < MIN_PARALLEL_ACCOUNTS
            || self.threads() == 1;

        let (effects, touched, schedule) = if small && !self.always_parallel {
            let touched = touched_positions(ops, facts.fee_recipient);
            (
                run_in_order(state, &prepared, &facts),
                touched,
                Schedule::InOrder,
            )
        } else {
            for (p, part) in state.partitions.iter().enumerate() {
                let s = &mut self.scratch[p];
                if s.last.len() < part.accounts.len() {
                    s.last.resize(part.accounts.len(), NONE);
                    s.count.resize(part.accounts.len(), 0);
                    s.flags.resize(part.accounts.len(), 0);
                }
            }
            let analysis = self.analyze(ops, facts.fee_recipient);
            let chained = analysis.longest_chain as usize * MIN_AVERAGE_WIDTH > ops.len();
            let (effects, schedule) = if chained && !self.always_parallel {
                (run_in_order(state, &prepared, &facts), Schedule::InOrder)
            } else {
                (
                    self.run_dag(state, &prepared, &facts, &analysis.deps),
                    Schedule::Parallel,
                )
            };
            for (p, positions) in analysis.touched.iter().enumerate() {
                for &pos in positions {
                    self.scratch[p].flags[pos] = 0;
                }
            }
            (effects, analysis.touched, schedule)
        };
        let executed_at = Instant::now();
        let output = commit(
            state,
            env.number,
            txs,
            prepared,
            touched,
            effects,
            Some(&self.pool),
        );
        let report = ExecReport {
            schedule,
            prepare: prepared_at - started,
            execute: executed_at - prepared_at,
            commit: executed_at.elapsed(),
            optimistic: None,
        };
        Ok((output, report))
    }

    /// A block with EVM transactions: the optimistic engine (`optimistic.rs`), or the
    /// in-order loop on one thread or when too few of its transactions are worth
    /// speculating ([`MIN_SPECULATED_SHARE`]; the report's schedule says which).
    #[allow(clippy::too_many_arguments)]
    fn execute_mixed(
        &mut self,
        state: &mut State,
        env: &BlockEnv,
        txs: &[VerifiedTransaction],
        prepared: Prepared,
        facts: BlockFacts,
        started: Instant,
        prepared_at: Instant,
    ) -> (BlockOutput, ExecReport) {
        // Speculation pays only for EVM transactions that cost more than their commit:
        // with fewer than one in `MIN_SPECULATED_SHARE` (ETH transfers, native kinds, which
        // the optimistic engine runs on its committer anyway), the in-order loop is faster
        // (measured on 2 threads: ETH transfers ran at 0.82–0.97× of it optimistically).
        let worth_speculating = || {
            let costly = prepared
                .ops
                .iter()
                .zip(txs)
                .filter(|(op, tx)| {
                    matches!(op, Op::Evm { .. }) && !mixed::plain_transfer(state, tx)
                })
                .count();
            costly * MIN_SPECULATED_SHARE >= prepared.ops.len()
        };
        let (overlay, effects, gas_used, stats, schedule) = if !self.always_parallel
            && (self.threads() == 1 || !worth_speculating())
        {
            let (overlay, effects, gas) = mixed::run_in_order(state, env, &prepared, facts, txs);
            (overlay, effects, gas, None, Schedule::InOrder)
        } else {
            let (overlay, effects, gas, stats) =
                optimistic::run(&self.pool, state, env, &prepared, facts, txs);
            (overlay, effects, gas, Some(stats), Schedule::Optimistic)
        };
        let executed_at = Instant::now();
        let mut touched = touched_positions(&prepared.ops, facts.fee_recipient);
        mixed::merge(state, overlay, &mut touched, Some(&self.pool));
        let mut output = commit(
            state,
            env.number,
            txs,
            prepared,
            touched,
            effects,
            Some(&self.pool),
        );
        output.gas_used = gas_used;
        let report = ExecReport {
            schedule,
            prepare: prepared_at - started,
            execute: executed_at - prepared_at,
            commit: executed_at.elapsed(),
            optimistic: stats,
        };
        (output, report)
    }

    /// Builds the DAG: each transaction depends, per key, on the previous transaction with
    /// an ordered access to that key. An account written by any transaction of the block is
    /// ordered; credits to any other account commute and create no edge. (No kind reads an
    /// account without writing it; a read of an account would be ordered like a write.)
    /// Keys other than accounts (token supply, secrets, channels) are rare and always
    /// ordered, with read/write semantics: a read depends on the last write before it, a
    /// write on the reads since the last write (or on that write if there were none), so
    /// conclusions reading one secret run concurrently and a reveal waits for them.
    ///
    /// Worker `w` owns the partitions `p ≡ w (mod threads)` and scans every access set
    /// twice: once to mark ordered accounts, once to chain them. Worker 0 also owns the
    /// other keys.
    fn analyze(&mut self, ops: &[Op], fee_recipient: AccountIndex) -> Analysis {
        let threads = self.threads().min(PARTITIONS);
        let mut groups: Vec<Vec<(usize, &mut PartitionScratch)>> =
            (0..threads).map(|_| Vec::new()).collect();
        for (p, s) in self.scratch.iter_mut().enumerate() {
            groups[p % threads].push((p, s));
        }
        let results: Mutex<Vec<GroupAnalysis>> = Mutex::new(Vec::new());
        self.pool.scope(|scope| {
            for (w, mut group) in groups.into_iter().enumerate() {
                let results = &results;
                scope.spawn(move |_| {
                    let out = analyze_group(ops, fee_recipient, &mut group, w == 0);
                    results.lock().expect("no worker panicked").push(out);
                });
            }
        });
        let mut touched = vec![Vec::new(); PARTITIONS];
        let mut longest_chain = 0;
        let mut deps = Vec::with_capacity(threads);
        for group in results.into_inner().expect("no worker panicked") {
            longest_chain = longest_chain.max(group.longest_chain);
            deps.push(group.deps);
            for (p, positions) in group.touched {
                touched[p] = positions;
            }
        }
        Analysis {
            deps,
            touched,
            longest_chain,
        }
    }

    fn run_dag(
        &self,
        state: &mut State,
        prepared: &Prepared,
        facts: &BlockFacts,
        deps: &Deps,
    ) -> Effects {
        let ops = &prepared.ops;
        let n = ops.len();
        let mut receipts: Vec<Receipt> = Vec::with_capacity(n);
        let mut opened: Vec<NewChannel> = vec![None; prepared.new_channels];
        let State {
            partitions,
            supply,
            secrets,
            channels,
            ..
        } = state;
        let flags: [&[u8]; PARTITIONS] = std::array::from_fn(|p| &self.scratch[p].flags[..]);
        let shared = Shared {
            parts: std::array::from_fn(|p| partitions[p].accounts.as_mut_ptr()),
            supply: supply.as_mut_ptr(),
            receipts: receipts.as_mut_ptr(),
            channels: channels.records.as_mut_ptr(),
            opened: opened.as_mut_ptr(),
            block: facts.number,
            flags,
            revealed: &secrets.revealed,
            pending: Mutex::new((B256Set::default(), Vec::new())),
            done: (0..n).map(|_| AtomicBool::new(false)).collect(),
            next: AtomicUsize::new(0),
        };
        let deltas: Vec<Vec<Vec<Delta>>> = self.pool.broadcast(|_| {
            let mut ctx = WorkerCtx {
                shared: &shared,
                deltas: vec![Vec::new(); PARTITIONS],
            };
            loop {
                let start = shared.next.fetch_add(CHUNK, Ordering::Relaxed);
                if start >= n {
                    break;
                }
                for (i, op) in ops.iter().enumerate().skip(start).take(CHUNK) {
                    for &d in deps.iter().flat_map(|group| group.of(i)) {
                        wait_for(&shared.done[d as usize]);
                    }
                    let receipt = apply(op, i as u32, facts, &mut ctx);
                    // SAFETY: `i` is claimed by exactly one worker (disjoint chunks of
                    // `0..n`) and `receipts` has capacity `n`.
                    unsafe { shared.receipts.add(i).write(receipt) };
                    shared.done[i].store(true, Ordering::Release);
                }
            }
            ctx.deltas
        });
        // SAFETY: the chunks cover `0..n`, so every slot was written above (a worker panic
        // propagates out of `broadcast` before this line).
        unsafe { receipts.set_len(n) };
        let reveals = shared.pending.into_inner().expect("no worker panicked").1;
        Effects {
            receipts,
            deltas,
            reveals,
            opened,
        }
    }
}

/// One worker's share of [`ParallelExecutor::analyze`].
struct GroupAnalysis {
    deps: DepList,
    /// Each owned partition's touched positions, without repeats.
    touched: Vec<(usize, Vec<usize>)>,
    longest_chain: u32,
}

/// The accesses so far to a key other than an account.
struct KeyChain {
    /// The last transaction that wrote it, or `NONE`.
    writer: u32,
    /// Transactions that read it since that write.
    readers: Vec<u32>,
    /// Transactions that touched it (the chain length of the fallback heuristic).
    count: u32,
}

impl KeyChain {
    const UNTOUCHED: Self = Self {
        writer: NONE,
        readers: Vec::new(),
        count: 0,
    };
}

fn analyze_group(
    ops: &[Op],
    fee_recipient: AccountIndex,
    group: &mut [(usize, &mut PartitionScratch)],
    owns_other_keys: bool,
) -> GroupAnalysis {
    let mut starts = Vec::with_capacity(ops.len() + 1);
    starts.push(0u32);
    let mut edges: Vec<u32> = Vec::with_capacity(ops.len() / group.len().max(1) + 1);
    let mut slot_of = [usize::MAX; PARTITIONS];
    for (slot, (p, _)) in group.iter().enumerate() {
        slot_of[*p] = slot;
    }
    for op in ops {
        for_each_access(op, fee_recipient, |key, mode| {
            if let (Key::Account(a), Mode::Write | Mode::Read) = (key, mode) {
                let slot = slot_of[partition_of(a)];
                if slot != usize::MAX {
                    group[slot].1.flags[position_of(a)] |= ORDERED;
                }
            }
        });
    }
    let per_part = 2 * ops.len() / PARTITIONS + 1;
    let mut touched: Vec<Vec<usize>> = group.iter().map(|_| Vec::with_capacity(per_part)).collect();
    let fee_slot = slot_of[partition_of(fee_recipient)];
    if fee_slot != usize::MAX {
        let pos = position_of(fee_recipient);
        group[fee_slot].1.flags[pos] |= SEEN;
        touched[fee_slot].push(pos);
    }
    let mut other: HashMap<Key, KeyChain> = HashMap::new();
    let mut longest = 0u32;
    for (i, op) in ops.iter().enumerate() {
        let i = i as u32;
        for_each_access(op, fee_recipient, |key, mode| {
            // A key can appear twice in one access set (a self-transfer, a sender who is
            // the fee recipient, a participant paid by its own close): never depend on
            // oneself.
            let mut depend = |on: u32| {
                if on != NONE && on != i {
                    edges.push(on);
                }
            };
            let count = match key {
                Key::Account(a) => {
                    let slot = slot_of[partition_of(a)];
                    if slot == usize::MAX {
                        return;
                    }
                    let pos = position_of(a);
                    let s = &mut *group[slot].1;
                    if s.flags[pos] & SEEN == 0 {
                        s.flags[pos] |= SEEN;
                        touched[slot].push(pos);
                    }
                    if mode == Mode::Credit && s.flags[pos] & ORDERED == 0 {
                        return; // commutative: a deferred delta, no edge
                    }
                    let last = &mut s.last[pos];
                    depend(*last);
                    let fresh = *last != i;
                    *last = i;
                    fresh.then_some(&mut s.count[pos])
                }
                key if owns_other_keys => {
                    let chain = other.entry(key).or_insert(KeyChain::UNTOUCHED);
                    let fresh = chain.writer != i && chain.readers.last() != Some(&i);
                    if mode == Mode::Read {
                        depend(chain.writer);
                        if chain.readers.last() != Some(&i) {
                            chain.readers.push(i);
                        }
                    } else {
                        if chain.readers.is_empty() {
                            depend(chain.writer);
                        }
                        for r in chain.readers.drain(..) {
                            depend(r);
                        }
                        chain.writer = i;
                    }
                    fresh.then_some(&mut chain.count)
                }
                _ => return,
            };
            if let Some(count) = count {
                *count += 1;
                longest = longest.max(*count);
            }
        });
        starts.push(edges.len() as u32);
    }
    // Leave the chain bookkeeping clean for the next block; `ordered` is still needed
    // while the block runs and is cleared after it.
    for (slot, (_, s)) in group.iter_mut().enumerate() {
        for &pos in &touched[slot] {
            s.last[pos] = NONE;
            s.count[pos] = 0;
        }
    }
    let touched = group.iter().map(|(p, _)| *p).zip(touched).collect();
    GroupAnalysis {
        deps: DepList { starts, edges },
        touched,
        longest_chain: longest,
    }
}

impl BlockExecutor for ParallelExecutor {
    fn execute_block(
        &mut self,
        state: &mut State,
        env: &BlockEnv,
        txs: &[VerifiedTransaction],
    ) -> Result<BlockOutput, BlockError> {
        self.execute_block_detailed(state, env, txs)
            .map(|(out, _)| out)
    }
}

fn wait_for(flag: &AtomicBool) {
    let mut spins = 0u32;
    while !flag.load(Ordering::Acquire) {
        if spins < 128 {
            std::hint::spin_loop();
            spins += 1;
        } else {
            std::thread::yield_now();
        }
    }
}

/// State shared by the workers of one block.
struct Shared<'a> {
    parts: [*mut Account; PARTITIONS],
    supply: *mut Amount,
    receipts: *mut Receipt,
    /// The state's channel table.
    channels: *mut ChannelRecord,
    /// The block's new-channel slots.
    opened: *mut NewChannel,
    block: u64,
    flags: [&'a [u8]; PARTITIONS],
    revealed: &'a B256Map<u64>,
    pending: Mutex<(B256Set, Vec<(u32, B256)>)>,
    done: Vec<AtomicBool>,
    next: AtomicUsize,
}

// SAFETY: the raw pointers are only dereferenced under the DAG discipline described in
// `WorkerCtx`: two transactions touch the same account, supply slot or channel only if one
// depends on the other, and the dependency's `done` flag (Release/Acquire) orders their
// accesses.
unsafe impl Sync for Shared<'_> {}

/// One worker's view of the state.
///
/// Soundness: a transaction only touches the keys of its access set. Ordered keys are
/// accessed only after every earlier transaction touching them is done (DAG edges), and
/// never by two running transactions at once; commutative accounts are never dereferenced
/// during execution (their credits go to `deltas`). The account vectors do not reallocate
/// during execution (`prepare` added the block's new accounts before), nor do the channel
/// table (new channels go to the block's slots, appended at commit) and the slots. A
/// channel slot is reached only through its channel id's key: every transaction naming a
/// channel declares a write on `Key::Channel(id)`, and `prepare` maps one id to one slot.
struct WorkerCtx<'s, 'a> {
    shared: &'s Shared<'a>,
    deltas: Vec<Vec<Delta>>,
}

impl Ctx for WorkerCtx<'_, '_> {
    fn account(&mut self, idx: AccountIndex) -> &mut Account {
        // SAFETY: see the type's docs; `idx` was assigned by `prepare`, so the position
        // exists in its partition.
        unsafe { &mut *self.shared.parts[partition_of(idx)].add(position_of(idx)) }
    }

    fn credit(&mut self, idx: AccountIndex, token: TokenId, amount: Amount) {
        if self.shared.flags[partition_of(idx)][position_of(idx)] & ORDERED != 0 {
            self.account(idx).credit(token, amount);
        } else {
            self.deltas[partition_of(idx)].push((idx, token, amount));
        }
    }

    fn supply(&mut self, token: TokenId) -> &mut Amount {
        // SAFETY: supply keys are written in DAG order; `token < token_count` is checked
        // by `prepare` for deposits.
        unsafe { &mut *self.shared.supply.add(token as usize) }
    }

    fn revealed_at(&self, hashlock: &B256) -> Option<u64> {
        if let Some(&block) = self.shared.revealed.get(hashlock) {
            return Some(block);
        }
        let pending = self.shared.pending.lock().expect("no worker panicked");
        pending.0.contains(hashlock).then_some(self.shared.block)
    }

    fn reveal(&mut self, hashlock: B256, tx: u32) {
        let mut pending = self.shared.pending.lock().expect("no worker panicked");
        pending.0.insert(hashlock);
        pending.1.push((tx, hashlock));
    }

    fn channel(&mut self, slot: Slot) -> Option<&mut ChannelRecord> {
        // SAFETY: see the type's docs; table positions come from the table's index and new
        // slots are below the slot count, both fixed by `prepare`.
        unsafe {
            match slot {
                Slot::Table(pos) => Some(&mut *self.shared.channels.add(pos as usize)),
                Slot::New(s) => (*self.shared.opened.add(s as usize))
                    .as_mut()
                    .map(|(_, record)| record),
                Slot::Missing => None,
            }
        }
    }

    fn open_channel(&mut self, slot: u32, record: ChannelRecord, tx: u32) {
        // SAFETY: as in `channel`.
        let entry = unsafe { &mut *self.shared.opened.add(slot as usize) };
        debug_assert!(entry.is_none(), "a slot is opened once");
        *entry = Some((tx, record));
    }
}

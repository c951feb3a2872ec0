//! The parallel engine: a dependency DAG over declared access sets, run by a fixed pool.
//! See the module docs of [`crate::execution`] for the algorithm.

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
    error::BlockError,
    execution::{
        BlockEnv, BlockExecutor, BlockOutput, Receipt,
        access::{Key, Mode, for_each_access},
        commit::{Delta, Effects, commit},
        prepare::{Op, prepare},
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
const CHUNK: usize = 32;

/// Blocks smaller than this run in order (the DAG costs more than it saves).
const MIN_PARALLEL_TXS: usize = 128;

/// Run in parallel only if `txs / critical_path` (the DAG's average width) reaches this.
const MIN_AVERAGE_WIDTH: usize = 4;

/// Executes blocks on a fixed pool of worker threads; results are identical to
/// [`super::SequentialExecutor`].
#[derive(Debug)]
pub struct ParallelExecutor {
    pool: rayon::ThreadPool,
    /// Per account: the last transaction of this block with an ordered access, or `NONE`.
    last: Vec<u32>,
    /// Per account: whether some transaction of this block writes it.
    ordered: Vec<bool>,
    always_parallel: bool,
}

/// How a block ran and where its time went, for the benchmark and metrics.
#[derive(Debug, Clone, Copy)]
pub struct ExecReport {
    /// The schedule chosen.
    pub schedule: Schedule,
    /// Index assignment and lowering.
    pub prepare: Duration,
    /// Running the transactions (DAG construction included).
    pub execute: Duration,
    /// Deferred credits, partition trees and roots.
    pub commit: Duration,
}

/// Which way a block ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Dependency-ordered on the pool.
    Parallel,
    /// In order on the calling thread.
    InOrder,
}

/// Dependencies in compressed rows: those of tx `i` are `deps[end[i-1]..end[i]]`.
#[derive(Debug, Default)]
struct Dag {
    end: Vec<u32>,
    deps: Vec<u32>,
    critical_path: u32,
}

impl Dag {
    fn deps_of(&self, i: usize) -> &[u32] {
        let start = if i == 0 { 0 } else { self.end[i - 1] as usize };
        &self.deps[start..self.end[i] as usize]
    }
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
            last: Vec::new(),
            ordered: Vec::new(),
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
        let facts = BlockFacts {
            fee_recipient: prepared.fee_recipient,
            token_count: prepared.token_count,
        };
        let n = prepared.ops.len();
        let accounts = state.account_count() as usize;
        if self.last.len() < accounts {
            self.last.resize(accounts, NONE);
            self.ordered.resize(accounts, false);
        }

        let small = n < MIN_PARALLEL_TXS || self.threads() == 1;
        let (effects, schedule) = if small && !self.always_parallel {
            (
                run_in_order(state, &prepared.ops, &facts),
                Schedule::InOrder,
            )
        } else {
            self.mark_ordered(&prepared.ops, facts.fee_recipient);
            let dag = self.build_dag(&prepared.ops, facts.fee_recipient);
            if (dag.critical_path as usize) * MIN_AVERAGE_WIDTH > n && !self.always_parallel {
                (
                    run_in_order(state, &prepared.ops, &facts),
                    Schedule::InOrder,
                )
            } else {
                (
                    self.run_dag(state, &prepared.ops, &facts, &dag),
                    Schedule::Parallel,
                )
            }
        };
        self.reset_scratch(&prepared.ops, facts.fee_recipient);
        let executed_at = Instant::now();
        let output = commit(state, env.number, txs, prepared, effects, Some(&self.pool));
        let report = ExecReport {
            schedule,
            prepare: prepared_at - started,
            execute: executed_at - prepared_at,
            commit: executed_at.elapsed(),
        };
        Ok((output, report))
    }

    /// Pass 1: an account written by any transaction is ordered for the whole block.
    fn mark_ordered(&mut self, ops: &[Op], fee_recipient: AccountIndex) {
        for op in ops {
            for_each_access(op, fee_recipient, |key, mode| {
                if let (Key::Account(a), Mode::Write | Mode::Read) = (key, mode) {
                    self.ordered[a as usize] = true;
                }
            });
        }
    }

    /// Pass 2: each transaction depends on the previous writer of every ordered key it
    /// touches, and a write also on the readers since that writer.
    fn build_dag(&mut self, ops: &[Op], fee_recipient: AccountIndex) -> Dag {
        #[derive(Default)]
        struct KeyState {
            writer: Option<u32>,
            readers: Vec<u32>,
        }
        let mut other: HashMap<Key, KeyState> = HashMap::new();
        let mut dag = Dag {
            end: Vec::with_capacity(ops.len()),
            deps: Vec::with_capacity(2 * ops.len()),
            critical_path: 0,
        };
        let mut depth: Vec<u32> = Vec::with_capacity(ops.len());
        let (last, ordered) = (&mut self.last, &self.ordered);
        for (i, op) in ops.iter().enumerate() {
            let i = i as u32;
            let start = dag.deps.len();
            for_each_access(op, fee_recipient, |key, mode| match key {
                Key::Account(a) => {
                    let a = a as usize;
                    if mode == Mode::Credit && !ordered[a] {
                        return; // commutative: a deferred delta
                    }
                    // A key can appear twice in one access set (a self-transfer, a sender
                    // who is the fee recipient): never depend on oneself.
                    if last[a] != NONE && last[a] != i {
                        dag.deps.push(last[a]);
                    }
                    last[a] = i;
                }
                key => {
                    let st = other.entry(key).or_default();
                    dag.deps.extend(st.writer.filter(|&w| w != i));
                    if mode == Mode::Read {
                        st.readers.push(i);
                    } else {
                        dag.deps.extend(st.readers.drain(..).filter(|&r| r != i));
                        st.writer = Some(i);
                    }
                }
            });
            let mine = &mut dag.deps[start..];
            mine.sort_unstable();
            let mut w = 0;
            for r in 0..mine.len() {
                if w == 0 || mine[w - 1] != mine[r] {
                    mine[w] = mine[r];
                    w += 1;
                }
            }
            dag.deps.truncate(start + w);
            let d = 1 + dag.deps[start..]
                .iter()
                .map(|&p| depth[p as usize])
                .max()
                .unwrap_or(0);
            depth.push(d);
            dag.critical_path = dag.critical_path.max(d);
            dag.end.push(dag.deps.len() as u32);
        }
        dag
    }

    fn reset_scratch(&mut self, ops: &[Op], fee_recipient: AccountIndex) {
        for op in ops {
            for_each_access(op, fee_recipient, |key, _| {
                if let Key::Account(a) = key {
                    self.last[a as usize] = NONE;
                    self.ordered[a as usize] = false;
                }
            });
        }
    }

    fn run_dag(&self, state: &mut State, ops: &[Op], facts: &BlockFacts, dag: &Dag) -> Effects {
        let n = ops.len();
        let mut receipts: Vec<Receipt> = Vec::with_capacity(n);
        let State {
            partitions,
            supply,
            secrets,
            ..
        } = state;
        let shared = Shared {
            parts: std::array::from_fn(|p| partitions[p].accounts.as_mut_ptr()),
            supply: supply.as_mut_ptr(),
            receipts: receipts.as_mut_ptr(),
            ordered: &self.ordered,
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
                    for &d in dag.deps_of(i) {
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
        }
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
    ordered: &'a [bool],
    revealed: &'a B256Map<u64>,
    pending: Mutex<(B256Set, Vec<(u32, B256)>)>,
    done: Vec<AtomicBool>,
    next: AtomicUsize,
}

// SAFETY: the raw pointers are only dereferenced under the DAG discipline described in
// `WorkerCtx`: two transactions touch the same account or supply slot only if one depends
// on the other, and the dependency's `done` flag (Release/Acquire) orders their accesses.
unsafe impl Sync for Shared<'_> {}

/// One worker's view of the state.
///
/// Soundness: a transaction only touches the keys of its access set. Ordered keys are
/// accessed only after every earlier transaction touching them is done (DAG edges), and
/// never by two running transactions at once; commutative accounts are never dereferenced
/// during execution (their credits go to `deltas`). The account vectors do not reallocate
/// during execution (`prepare` added the block's new accounts before).
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
        if self.shared.ordered[idx as usize] {
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

    fn is_revealed(&self, hashlock: &B256) -> bool {
        self.shared.revealed.contains_key(hashlock)
            || self
                .shared
                .pending
                .lock()
                .expect("no worker panicked")
                .0
                .contains(hashlock)
    }

    fn reveal(&mut self, hashlock: B256, tx: u32) {
        let mut pending = self.shared.pending.lock().expect("no worker panicked");
        pending.0.insert(hashlock);
        pending.1.push((tx, hashlock));
    }
}

//! The optimistic engine for blocks with EVM transactions.
//!
//! An EVM transaction's accesses are known only by running it, so these blocks cannot be
//! scheduled from declared access sets. The engine runs them optimistically and commits
//! in block order:
//!
//! 1. **Speculate.** Workers claim transactions in block order and run each EVM
//!    transaction against the state as it was before the block, recording every read it
//!    makes of changeable state: each account (existence, nonce, ETH balance, code hash)
//!    and each storage slot. Code by hash and block hashes cannot change within a block.
//! 2. **Commit in order.** Whichever worker holds the commit lock takes the finished
//!    transactions in block order. A native kind runs directly against the block's writes so
//!    far (it costs less than validating it). An EVM transaction's speculative run is
//!    *valid* if every value it read is still what the block's writes so far show; revm is a
//!    deterministic function of the values its database returns, so a valid run is exactly
//!    the run the sequential executor makes at this point, and its writes are applied as
//!    they are. Otherwise it is re-executed in place, against the block's writes so far.
//! 3. **Fees** of EVM transactions are summed and credited once, after the block (as in the
//!    sequential executor), so the fee recipient creates no conflicts.
//!
//! Validation compares values, not versions: a transaction whose read was overwritten
//! with the same value stays valid. The result is byte-identical to
//! [`crate::execution::SequentialExecutor`] by construction; the property tests check it at
//! several thread counts.
//!
//! **Adaptive.** When most speculative runs fail validation (one hot slot), or pass it
//! only because they ran after the commit of the transaction just before them (a chain:
//! each reads what the previous one wrote, so the runs follow one another across threads
//! instead of running beside each other), speculating only costs: after [`WINDOW`]
//! speculative runs of which more than half were re-executed or serialized, workers stop
//! speculating and the committer runs the rest in order (measured: a block of counter
//! increments ran at 0.81–0.94× the in-order loop before serialized runs were counted). The
//! block report counts speculative runs, re-executions, serialized runs and whether it
//! stopped.

use std::sync::{
    Mutex,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use crate::evm::db::Overlay;

use crate::{
    evm::{
        db::{Published, Read, SpecDb},
        exec::{self, Run},
    },
    execution::{
        BlockEnv,
        commit::Effects,
        mixed::{InOrder, evm_tx},
        prepare::{Op, Prepared},
        rules::BlockFacts,
    },
    state::State,
    transaction::VerifiedTransaction,
};

/// How far past the next transaction to commit a worker may claim: speculation further
/// ahead reads values that the commits in between are likely to change (measured: with no
/// bound, ETH transfers between random accounts of 10k re-executed 11%, the speculation
/// frontier running a thousand transactions ahead of cheap commits).
const LOOKAHEAD: usize = 16;

/// Waits a little: spins first, then yields, then sleeps, so that more workers than cores
/// (8 threads on 2 cores) do not starve the committer they wait for. The caller resets
/// `spins` when it gets work.
fn backoff(spins: &mut u32) {
    *spins = spins.saturating_add(1);
    match *spins {
        0..=64 => std::hint::spin_loop(),
        65..=128 => std::thread::yield_now(),
        _ => std::thread::sleep(std::time::Duration::from_micros(20)),
    }
}

/// Speculative runs over which the re-execution rate is judged.
const WINDOW: u32 = 64;

/// A speculative run and what it read.
struct Speculation {
    run: Run,
    reads: Vec<Read>,
    /// It read what the transaction just before it wrote (see [`SpecDb`]).
    follows_previous: bool,
}

/// How an optimistic block went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OptimisticStats {
    /// EVM transactions run speculatively.
    pub speculated: u32,
    /// Speculative runs that failed validation and were re-executed in order.
    pub reexecuted: u32,
    /// EVM transactions run only in order (after speculation stopped, or not yet
    /// speculated when their turn came).
    pub in_order: u32,
    /// Valid speculative runs that read what the transaction just before them wrote: they
    /// could only start after its commit, so they ran one after another, not beside it.
    pub serialized: u32,
    /// Whether speculation was stopped for the rest of the block.
    pub stopped: bool,
}

/// Worker 0's state: the in-order commit of the block.
struct Committer<'a> {
    in_order: InOrder<'a>,
    next: usize,
    stats: OptimisticStats,
    window: (u32, u32),
}

impl Committer<'_> {
    /// Commits transaction `i`, with its speculative run if there is one.
    fn commit(
        &mut self,
        i: usize,
        op: &Op,
        tx: &VerifiedTransaction,
        speculation: Option<Speculation>,
        speculate: &AtomicBool,
    ) {
        let Op::Evm { .. } = op else {
            self.in_order.native(op, i as u32);
            return;
        };
        let tx = evm_tx(tx);
        if !self.in_order.admit(tx) {
            return;
        }
        match speculation {
            Some(s)
                if s.reads
                    .iter()
                    .all(|read| self.in_order.view().still_holds(read)) =>
            {
                self.stats.serialized += u32::from(s.follows_previous);
                self.note(s.follows_previous, speculate);
                self.in_order.commit(tx, s.run);
            }
            Some(_) => {
                self.stats.reexecuted += 1;
                self.note(true, speculate);
                let run = self.in_order.run(tx);
                self.in_order.commit(tx, run);
            }
            None => {
                self.stats.in_order += 1;
                let run = self.in_order.run(tx);
                self.in_order.commit(tx, run);
            }
        }
    }

    /// Counts a speculative run in the window, `wasted` if it was re-executed or only
    /// serialized.
    fn note(&mut self, wasted: bool, speculate: &AtomicBool) {
        self.window.0 += 1;
        self.window.1 += u32::from(wasted);
        if self.window.0 == WINDOW {
            if self.window.1 * 2 > WINDOW {
                speculate.store(false, Ordering::Relaxed);
                self.stats.stopped = true;
                // Nobody reads what is published any more.
                self.in_order.published = None;
            }
            self.window = (0, 0);
        }
    }
}

/// Runs a block with EVM transactions on `pool`; the same result as
/// [`super::mixed::run_in_order`].
///
/// Worker 0 is the committer (revm's EVM is not `Send`, so the committing EVM stays on one
/// thread): it commits whatever is ready and speculates otherwise. The other workers only
/// speculate.
pub(crate) fn run(
    pool: &rayon::ThreadPool,
    state: &State,
    env: &BlockEnv,
    prepared: &Prepared,
    facts: BlockFacts,
    txs: &[VerifiedTransaction],
) -> (Overlay, Effects, u64, OptimisticStats) {
    let ops = &prepared.ops;
    let n = ops.len();
    let slots: Vec<Mutex<Option<Speculation>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let ready: Vec<AtomicBool> = (0..n).map(|_| AtomicBool::new(false)).collect();
    let next = AtomicUsize::new(0);
    // Transactions committed so far (worker 0 publishes it after each run of commits).
    let committed = AtomicUsize::new(0);
    let speculate = AtomicBool::new(true);
    let speculated = AtomicUsize::new(0);
    let result: Mutex<Option<(Overlay, Effects, u64, OptimisticStats)>> = Mutex::new(None);
    let published = Published::for_block(n);
    pool.broadcast(|ctx| {
        let mut evm = exec::new_evm(SpecDb::new(state, &published), env);
        let mut speculate_one = |i: usize| {
            if matches!(ops[i], Op::Evm { .. }) && speculate.load(Ordering::Relaxed) {
                let db = &mut evm.ctx.journaled_state.database;
                (db.position, db.follows_previous) = (i as u32, false);
                let run = exec::run(&mut evm, evm_tx(&txs[i]));
                let db = &mut evm.ctx.journaled_state.database;
                let speculation = Speculation {
                    run,
                    reads: std::mem::take(&mut db.reads),
                    follows_previous: db.follows_previous,
                };
                *slots[i].lock().expect("no worker panicked") = Some(speculation);
                speculated.fetch_add(1, Ordering::Relaxed);
            }
            ready[i].store(true, Ordering::Release);
        };
        if ctx.index() != 0 {
            let mut spins = 0u32;
            // Once speculation stops, worker 0 runs the rest alone: a spinning worker
            // would only take cycles from it (two vCPUs are often one core's threads).
            while speculate.load(Ordering::Relaxed) {
                let claimed = next.load(Ordering::Relaxed);
                if claimed >= n {
                    return;
                }
                // Speculating far ahead of the commits reads values that later
                // commits will change: wait for the committer instead.
                if claimed >= committed.load(Ordering::Acquire) + LOOKAHEAD {
                    backoff(&mut spins);
                    continue;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                spins = 0;
                speculate_one(i);
            }
            return;
        }
        let mut in_order = InOrder::new(state, env, facts, prepared);
        in_order.published = Some(&published);
        let mut c = Committer {
            in_order,
            next: 0,
            stats: OptimisticStats::default(),
            window: (0, 0),
        };
        let mut spins = 0u32;
        while c.next < n {
            while c.next < n && ready[c.next].load(Ordering::Acquire) {
                let i = c.next;
                let speculation = slots[i].lock().expect("no worker panicked").take();
                c.commit(i, &ops[i], &txs[i], speculation, &speculate);
                c.next += 1;
            }
            committed.store(c.next, Ordering::Release);
            if c.next == n {
                break;
            }
            // Everything claimed (the rest is being speculated), or far enough ahead:
            // wait for the next transaction to commit. (Claiming past `n` would push
            // `next` up and hold the other workers in their lookahead wait.)
            let claimed = next.load(Ordering::Relaxed);
            if claimed >= n || claimed >= c.next + LOOKAHEAD {
                backoff(&mut spins);
                continue;
            }
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i < n {
                spins = 0;
                if i == c.next {
                    // Its turn already: run it in order rather than speculate.
                    ready[i].store(true, Ordering::Release);
                } else {
                    speculate_one(i);
                }
            }
        }
        c.stats.speculated = speculated.load(Ordering::Relaxed) as u32;
        let stats = c.stats;
        let (overlay, effects, gas) = c.in_order.finish();
        *result.lock().expect("no worker panicked") = Some((overlay, effects, gas, stats));
    });
    result
        .into_inner()
        .expect("no worker panicked")
        .expect("worker 0 committed the block")
}

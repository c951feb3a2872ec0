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
//! **Adaptive.** When most speculative runs fail validation (a dependent chain, one hot
//! slot), speculating only costs: after [`WINDOW`] speculative runs of which more than half were
//! re-executed, workers stop speculating and the committer runs the rest in order. The
//! block report counts speculative runs, re-executions and whether it stopped.

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

/// Speculative runs over which the re-execution rate is judged.
const WINDOW: u32 = 64;

/// A speculative run and what it read.
struct Speculation {
    run: Run,
    reads: Vec<Read>,
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
                self.note(false, speculate);
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

    fn note(&mut self, reexecuted: bool, speculate: &AtomicBool) {
        self.window.0 += 1;
        self.window.1 += u32::from(reexecuted);
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
    let speculate = AtomicBool::new(true);
    let speculated = AtomicUsize::new(0);
    let result: Mutex<Option<(Overlay, Effects, u64, OptimisticStats)>> = Mutex::new(None);
    let published = Published::default();
    pool.broadcast(|ctx| {
        let mut evm = exec::new_evm(SpecDb::new(state, &published), env);
        let mut speculate_one = |i: usize| {
            if matches!(ops[i], Op::Evm { .. }) && speculate.load(Ordering::Relaxed) {
                let run = exec::run(&mut evm, evm_tx(&txs[i]));
                let reads = std::mem::take(&mut evm.ctx.journaled_state.database.reads);
                *slots[i].lock().expect("no worker panicked") = Some(Speculation { run, reads });
                speculated.fetch_add(1, Ordering::Relaxed);
            }
            ready[i].store(true, Ordering::Release);
        };
        if ctx.index() != 0 {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                speculate_one(i);
            }
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
            if c.next == n {
                break;
            }
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i < n {
                if i == c.next {
                    // Its turn already: run it in order rather than speculate.
                    ready[i].store(true, Ordering::Release);
                } else {
                    speculate_one(i);
                }
            } else if spins < 128 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
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

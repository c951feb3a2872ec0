#!/usr/bin/env python3
"""Rows (JSON lines, run.sh's format) from a peer's own criterion `gigagas` benchmark.

    criterion.py PEER COMMIT CORES SOURCE_COPY CRITERION_DIR ALLOCATOR

The median of each benchmark (criterion's `estimates.json`, `median.point_estimate`) is the
figure. Transactions per block: grevm names them in its group names ("... (47620 txs)");
pevm's are worked out as its benchmark does (ceil(GIGA_GAS / gas per transaction), the
constants read from its sources); left null when they cannot be.
"""

import json
import math
import pathlib
import re
import sys

INCLUDES = {
    "pevm": {
        "own-sequential": "pevm's own gigagas benchmark, `Sequential`: execute_revm_sequential on "
        "its 1-gigagas block of independent transactions (each account or pool of its own; only "
        "the block's accounts in its InMemoryStorage), cloning the transaction vector in the timed "
        "loop; receipts and state changes, no merge, no state root; its build (fat LTO, one "
        "codegen unit, target-cpu=native, jemalloc)",
        "own-parallel": "pevm's own gigagas benchmark, `Parallel`: Pevm::execute_revm_parallel with "
        "available_parallelism() workers (the cores taskset gives it) on the same block; receipts "
        "and state changes, no merge, no state root; its build (fat LTO, one codegen unit, "
        "target-cpu=native, jemalloc)",
    },
    "grevm": {
        "own-sequential": "grevm's own gigagas benchmark, `Origin Sequential`: plain revm 40 over "
        "revm's State (bundle updates) on its InMemoryDB, commit per transaction, transitions "
        "merged into a bundle; its 1-gigagas block of independent transactions (nonce checks off, "
        "SHANGHAI); no state root; its bench profile (no LTO), jemalloc",
        "own-parallel": "grevm's own gigagas benchmark, `Grevm Parallel`: ParallelState and "
        "Scheduler built, parallel_execute with available_parallelism() workers (the cores taskset "
        "gives it) plus its finality and commit threads, in-order commit into its ParallelState; "
        "no state root; its bench profile (no LTO), jemalloc",
    },
}


def const(path, name):
    m = re.search(rf"const {name}: u64 = ([0-9_]+);", path.read_text())
    return int(m.group(1).replace("_", "")) if m else None


def pevm_txs(copy, group):
    crate = pathlib.Path(copy) / "crates" / "pevm"
    try:
        giga = const(crate / "benches" / "gigagas.rs", "GIGA_GAS")
        if "Raw Transfers" in group:
            per = const(crate / "tests" / "common" / "mod.rs", "RAW_TRANSFER_GAS_LIMIT")
        elif "ERC20" in group:
            per = const(crate / "tests" / "erc20" / "mod.rs", "ESTIMATED_GAS_USED")
        elif "Uniswap" in group:
            per = const(crate / "tests" / "uniswap" / "mod.rs", "ESTIMATED_GAS_USED")
        else:
            return None
        return math.ceil(giga / per) if giga and per else None
    except OSError:
        return None


def main():
    peer, commit, cores, copy, crit, alloc = sys.argv[1:7]
    for bench in sorted(pathlib.Path(crit).glob("**/new/benchmark.json")):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        seconds = est["median"]["point_estimate"] / 1e9
        group, function = meta["group_id"], meta["function_id"] or ""
        m = re.search(r"\((\d+) txs\)", group)
        txs = int(m.group(1)) if m else (pevm_txs(copy, group) if peer == "pevm" else None)
        mode = "own-sequential" if "Sequential" in function else "own-parallel"
        print(
            json.dumps(
                {
                    "peer": peer,
                    "commit": commit,
                    "workload": f"gigagas: {group}",
                    "accounts": None,
                    "txs": txs,
                    "threads": int(cores),
                    "mode": mode,
                    "medianSeconds": seconds,
                    "txPerSecond": txs / seconds if txs else None,
                    "gasPerBlock": None,
                    "runs": None,
                    "includes": INCLUDES[peer][mode].replace("jemalloc", f"{alloc} allocator")
                    + f"; run under taskset on {cores} core(s); criterion median of 10 samples",
                }
            )
        )


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Collects the peers' rows (tools/peers/run.sh) into one JSON file and prints the tables.

    report.py ROWS.jsonl BUILDS.jsonl OUT.json [WEFT_EVM.json]

ROWS: one JSON object a line from the harnesses (peer, commit, workload, accounts, txs,
threads, mode, medianSeconds, txPerSecond, gasPerBlock, runs, samplesSeconds, includes).
BUILDS: one object a line per peer: this invocation's build (buildSeconds, fresh), the record
of its last build from scratch (freshBuild), or why it was skipped.
WEFT_EVM: Weft's own `target/weft-bench/evm.json` (cargo bench --bench evm), when present:
its figures are printed beside the peers' for the same workloads. They come from another
run, possibly at another time: on a shared machine compare with care.
"""

import datetime
import json
import os
import pathlib
import sys


def load_lines(path):
    p = pathlib.Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def main():
    rows_path, builds_path, out_path = sys.argv[1:4]
    weft_path = pathlib.Path(sys.argv[4]) if len(sys.argv) > 4 else None
    rows = load_lines(rows_path)
    builds = load_lines(builds_path)
    out = {
        "rows": rows,
        "builds": builds,
        "machine": {
            "cpus": os.cpu_count(),
            "loadAverageAfter": open("/proc/loadavg").read().split()[:3]
            if os.path.exists("/proc/loadavg")
            else None,
        },
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    pathlib.Path(out_path).write_text(json.dumps(out, indent=1) + "\n")

    for b in builds:
        if b.get("ownBench"):
            print(f"{b['peer']} {b['commit'][:12]}: its own gigagas benchmark built in {b['buildSeconds']} s")
        elif "skipped" in b:
            print(f"{b['peer']} {b['commit'][:12]}: skipped ({b['skipped']})")
        elif b.get("freshBuild"):
            print(
                f"{b['peer']} {b['commit'][:12]}: release build from scratch took {b['buildSeconds']} s "
                f"({b['rustc']}; load average then {b['loadAverage']})"
            )
        else:
            kind = "from scratch" if b["fresh"] else "incremental"
            print(f"{b['peer']} {b['commit'][:12]}: this build {b['buildSeconds']} s ({kind})")
    if not rows:
        print("no rows")
        return
    print()
    head = f"{'peer':<6} {'workload':<13} {'accounts':>8} {'txs':>6} {'mode':<10} {'thr':>3} {'ms/block':>9} {'tx/s':>9} {'Mgas/s':>7} {'vs seq':>6}"
    print(head)
    print("-" * len(head))
    # A parallel row's speedup: over the sequential row of the same peer and block (for the
    # peers' own benchmarks, run on the same cores).
    def seq_key(r):
        own = r["mode"].startswith("own-")
        return (r["peer"], r["workload"], r["accounts"], own, r["threads"] if own else None)

    seq = {seq_key(r): r["medianSeconds"] for r in rows if r["mode"].endswith("sequential")}
    dash = lambda v, fmt: "-" if v is None else format(v, fmt)
    for r in rows:
        s = seq.get(seq_key(r))
        speedup = f"{s / r['medianSeconds']:.2f}x" if s and r["mode"].endswith("parallel") else "-"
        gas = r["gasPerBlock"] / r["medianSeconds"] / 1e6 if r["gasPerBlock"] else None
        print(
            f"{r['peer']:<6} {r['workload']:<13} {dash(r['accounts'], '>8')} {dash(r['txs'], '>6')} "
            f"{r['mode']:<10} {r['threads']:>3} {1e3 * r['medianSeconds']:>9.2f} "
            f"{dash(r['txPerSecond'], '>9.0f')} {dash(gas, '>7.0f')} {speedup:>6}"
        )
    print()
    print("What each figure includes (the median of `runs` blocks, seconds per block):")
    seen = set()
    for r in rows:
        key = (r["peer"], r["mode"])
        if key not in seen:
            seen.add(key)
            print(f"- {r['peer']} {r['mode']} ({r['commit'][:12]}): {r['includes']}")

    if weft_path and weft_path.exists():
        weft = json.loads(weft_path.read_text()).get("rows", [])
        when = datetime.datetime.fromtimestamp(weft_path.stat().st_mtime).isoformat(timespec="minutes")
        by = {}
        for w in weft:
            by[(w["workload"], w["accounts"], w["executor"], w["threads"])] = w
        rows = [r for r in rows if not r["mode"].startswith("own-")]
        threads = sorted({r["threads"] for r in rows if r["mode"] == "parallel"})
        peers = sorted({r["peer"] for r in rows})
        cols = ["Weft revm", "Weft in-order 1", "Weft optimistic 2"]
        for p in peers:
            cols += [f"{p} seq"] + [f"{p} par {t}" for t in threads]
        print()
        print(f"tx/s, execution only, beside Weft's {weft_path} (written {when}, another run;")
        print("its block size is not recorded there, 10,000 unless WEFT_BENCH_EVM_TXS said otherwise):")
        print(f"{'workload':<13} {'accounts':>8} " + " ".join(f"{c:>17}" for c in cols))
        peer_rows = {(r["peer"], r["workload"], r["accounts"], r["mode"], r["threads"]): r for r in rows}
        for wl, acc in dict.fromkeys((r["workload"], r["accounts"]) for r in rows):
            vals = []
            for ex, t in [("revm", 1), ("in-order", 1), ("optimistic", 2)]:
                w = by.get((wl, acc, ex, t))
                vals.append(f"{w['execTps']:.0f}" if w else "-")
            for p in peers:
                r = peer_rows.get((p, wl, acc, "sequential", 1))
                vals.append(f"{r['txPerSecond']:.0f}" if r else "-")
                for t in threads:
                    r = peer_rows.get((p, wl, acc, "parallel", t))
                    vals.append(f"{r['txPerSecond']:.0f}" if r else "-")
            print(f"{wl:<13} {acc:>8} " + " ".join(f"{v:>17}" for v in vals))
    print()
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()

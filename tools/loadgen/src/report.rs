//! The report: the table on stdout and the JSON rows.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::{Args, anvil::AnvilResult, phases::SequencerResult};

#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) sequencer: SequencerResult,
    pub(crate) anvil: Option<AnvilResult>,
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Report {
    pub(crate) fn table(&self, args: &Args) -> String {
        let s = &self.sequencer;
        let (t, l) = (&s.throughput, &s.latency);
        let tps = t.executed_tps();
        let ceiling = s.sig.tps();
        let node = if s.started_node {
            format!("started node, block time {} ms, SQLite", args.block_time_ms)
        } else {
            format!("node at {}", args.url.as_deref().unwrap_or("?"))
        };
        let mut out = format!(
            "\nWeft end to end: {node}; {} clients, {} tx/request; {} transfers over {} accounts\n",
            args.clients, args.batch, t.txs, args.accounts
        );
        let mut row = |name: &str, value: String, note: String| {
            let _ = writeln!(out, "  {name:<28} {value:>14}   {note}");
        };
        row(
            "executed/s (tps)",
            format!("{tps:.0}"),
            format!(
                "{} executed in {:.2} s, first submit to last seen executed",
                t.executed,
                t.elapsed.as_secs_f64()
            ),
        );
        row(
            "submitted/s",
            format!("{:.0}", t.submitted_tps()),
            format!("last reply after {:.2} s", t.submit_elapsed.as_secs_f64()),
        );
        row(
            "saturated latency p50/p99",
            format!(
                "{:.0}/{:.0} ms",
                t.percentile_ms(50.0),
                t.percentile_ms(99.0)
            ),
            format!("{} blocks, up to {} tx/block", t.blocks, t.max_block_txs),
        );
        row(
            "signature ceiling",
            format!("{ceiling:.0}"),
            format!(
                "{:.0}/s on one thread x {} cores",
                s.sig.per_thread, s.sig.cores
            ),
        );
        row(
            "ratio to ceiling",
            format!("{:.2}", tps / ceiling),
            "target >= 0.75".into(),
        );
        row(
            &format!("latency p50 @ {:.0}%", args.latency_load * 100.0),
            format!("{:.0} ms", l.percentile_ms(50.0)),
            format!(
                "target <= {} ms (2 blocks); paced at {:.0} tx/s, {} tx/request, achieved {:.0}",
                2 * args.block_time_ms,
                s.latency_target_tps,
                args.latency_batch,
                l.submitted_tps()
            ),
        );
        row(
            &format!("latency p99 @ {:.0}%", args.latency_load * 100.0),
            format!("{:.0} ms", l.percentile_ms(99.0)),
            format!(
                "target <= 250 ms; max {:.0} ms over {} transfers, schedule lag max {:.0} ms",
                l.percentile_ms(100.0),
                l.latencies_ms.len(),
                s.max_lag.as_secs_f64() * 1e3
            ),
        );
        match &self.anvil {
            Some(a) => {
                row(
                    "anvil mined/s",
                    format!("{:.0}", a.tps()),
                    format!(
                        "{} EIP-1559 transfers, {} senders/clients, eth_sendRawTransaction x{}, \
                         block time {} s, gas limit {}; accepted/s {:.0}",
                        a.txs,
                        a.senders,
                        args.anvil_batch,
                        args.anvil_block_time_s,
                        args.anvil_gas_limit,
                        a.accepted_tps()
                    ),
                );
                row(
                    "ratio to anvil",
                    format!("{:.1}x", tps / a.tps()),
                    "target >= 10x".into(),
                );
            }
            None => row("anvil mined/s", "n/a".into(), "anvil not run".into()),
        }
        let codes = |m: &BTreeMap<String, u64>| {
            if m.is_empty() {
                "none".to_string()
            } else {
                format!("{m:?}")
            }
        };
        row("rejections", codes(&s.rejections), String::new());
        row("resubmitted (capacity)", codes(&s.retries), String::new());
        for (name, phase) in [("throughput", t), ("latency", l)] {
            if let Some(usage) = &phase.node {
                let _ = writeln!(out, "  {name} phase: {}", usage.describe());
            }
        }
        out
    }

    pub(crate) fn json(&self, args: &Args) -> Value {
        let s = &self.sequencer;
        let (t, l) = (&s.throughput, &s.latency);
        let tps = t.executed_tps();
        let ceiling = s.sig.tps();
        let anvil_tps = self.anvil.as_ref().map(AnvilResult::tps);
        json!({
            "tps": tps,
            "sig_ceiling_tps": ceiling,
            "ratio_to_ceiling": tps / ceiling,
            "p50_ms": l.percentile_ms(50.0),
            "p99_ms": l.percentile_ms(99.0),
            "anvil_tps": anvil_tps,
            "ratio_to_anvil": anvil_tps.map(|a| tps / a),
            "anvil_accepted_tps": self.anvil.as_ref().map(AnvilResult::accepted_tps),
            "anvil_txs": self.anvil.as_ref().map(|a| a.txs),
            "anvil_block_time_s": args.anvil_block_time_s,
            "anvil_gas_limit": args.anvil_gas_limit,
            "anvil_batch": args.anvil_batch,
            "submitted_tps": t.submitted_tps(),
            "saturated_p50_ms": t.percentile_ms(50.0),
            "saturated_p99_ms": t.percentile_ms(99.0),
            "latency_load": args.latency_load,
            "latency_target_tps": s.latency_target_tps,
            "latency_achieved_tps": l.submitted_tps(),
            "latency_txs": l.txs,
            "latency_batch": args.latency_batch,
            "max_ms": l.percentile_ms(100.0),
            "sig_single_thread_per_s": s.sig.per_thread,
            "cores": s.sig.cores,
            "n": t.txs,
            "accounts": args.accounts,
            "clients": args.clients,
            "batch": args.batch,
            "block_time_ms": s.started_node.then_some(args.block_time_ms),
            "blocks": t.blocks,
            "max_block_txs": t.max_block_txs,
            "executor_ms_per_block": t.node.as_ref().map(|u| u.executor_ms_per_block),
            "store_ms_per_block": t.node.as_ref().map(|u| u.store_ms_per_block),
            "builder_busy": t.node.as_ref().map(|u| u.builder_busy),
            "node_cores": t.node.as_ref().map(|u| u.node_cores.iter().fold(0.0, |s, c| s + c.1)),
            "loadgen_cores": t.node.as_ref().map(|u| u.loadgen_cores),
            "box_cores": t.node.as_ref().and_then(|u| u.box_cores),
            "rejections": s.rejections,
            "retries": s.retries,
        })
    }
}

pub(crate) fn results_path(args: &Args) -> PathBuf {
    if let Some(out) = &args.out {
        return out.clone();
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("weft-bench")
        .join("e2e.json")
}

pub(crate) fn write_json(path: &Path, value: &Value) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 1.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }
}

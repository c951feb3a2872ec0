//! Where the time goes: node metrics, per-thread CPU, and the signature ceiling.

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write as _,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, ensure};
use weft_api::Client;
use weft_protocol::{eip712::Domain, transaction::SignedTransaction};

use crate::{CLOCK_TICKS, SIG_ROUNDS};

/// The node's unlabelled metrics (sums, counts, counters, gauges).
pub(crate) async fn scrape_metrics(api: &Client) -> Result<HashMap<String, f64>> {
    let text = api.metrics().await.context("GET /metrics")?;
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.contains('{'))
        .filter_map(|l| {
            let (name, value) = l.split_once(' ')?;
            Some((name.to_string(), value.trim().parse().ok()?))
        })
        .collect())
}

/// CPU seconds of a process's threads, summed by thread name without its trailing number
/// (`weft-sig-0` and `weft-sig-1` are `weft-sig`). Empty where `/proc` is not readable.
pub(crate) fn thread_cpu(pid: u32) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let dir = task.path();
        let (Ok(comm), Ok(stat)) = (
            std::fs::read_to_string(dir.join("comm")),
            std::fs::read_to_string(dir.join("stat")),
        ) else {
            continue;
        };
        let Some(seconds) = stat_cpu_seconds(&stat) else {
            continue;
        };
        let name = comm
            .trim()
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .trim_end_matches('-')
            .to_string();
        *out.entry(name).or_default() += seconds;
    }
    out
}

/// CPU seconds of a whole process, its exited threads included (which [`thread_cpu`], reading
/// the live ones, misses); `None` where `/proc` is not readable.
pub(crate) fn process_cpu(pid: u32) -> Option<f64> {
    stat_cpu_seconds(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// User plus system CPU seconds of a `/proc` `stat` line.
fn stat_cpu_seconds(stat: &str) -> Option<f64> {
    // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields
        .get(11..13)?
        .iter()
        .map(|v| v.parse::<f64>().ok())
        .sum::<Option<f64>>()?;
    Some(ticks / CLOCK_TICKS)
}

/// CPU seconds the whole box spent busy (all processes, all cores) since boot.
pub(crate) fn box_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<f64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let busy: f64 = ticks.iter().take(8).sum::<f64>() - ticks.get(3)? - ticks.get(4)?;
    Some(busy / CLOCK_TICKS)
}

/// What the node spent during a phase.
#[derive(Debug)]
pub(crate) struct NodeUsage {
    pub(crate) blocks: f64,
    pub(crate) executor_ms_per_block: f64,
    pub(crate) store_ms_per_block: f64,
    /// Share of the phase the builder spent executing and storing.
    pub(crate) builder_busy: f64,
    /// Cores used by the node, by thread group, largest first.
    pub(crate) node_cores: Vec<(String, f64)>,
    /// Cores used by this load generator.
    pub(crate) loadgen_cores: f64,
    /// Cores busy on the whole box (every process), if readable.
    pub(crate) box_cores: Option<f64>,
}

impl NodeUsage {
    pub(crate) fn between(
        before: &HashMap<String, f64>,
        after: &HashMap<String, f64>,
        node_cpu: Option<(BTreeMap<String, f64>, BTreeMap<String, f64>)>,
        self_cpu: (BTreeMap<String, f64>, BTreeMap<String, f64>),
        box_busy: Option<f64>,
        elapsed: Duration,
    ) -> Self {
        let delta = |k: &str| after.get(k).unwrap_or(&0.0) - before.get(k).unwrap_or(&0.0);
        let blocks = delta("weft_executor_seconds_count");
        let exec = delta("weft_executor_seconds_sum");
        let store = delta("weft_store_seconds_sum");
        let secs = elapsed.as_secs_f64();
        let per_block = |s: f64| if blocks > 0.0 { s * 1e3 / blocks } else { 0.0 };
        let cores = |(b, a): (BTreeMap<String, f64>, BTreeMap<String, f64>)| {
            let mut v: Vec<(String, f64)> = a
                .iter()
                .map(|(k, x)| (k.clone(), (x - b.get(k).unwrap_or(&0.0)) / secs))
                .filter(|(_, c)| *c >= 0.005)
                .collect();
            v.sort_by(|x, y| y.1.total_cmp(&x.1));
            v
        };
        Self {
            blocks,
            executor_ms_per_block: per_block(exec),
            store_ms_per_block: per_block(store),
            builder_busy: (exec + store) / secs,
            node_cores: node_cpu.map(cores).unwrap_or_default(),
            loadgen_cores: cores(self_cpu).iter().fold(0.0, |sum, c| sum + c.1),
            box_cores: box_busy.map(|b| b / secs),
        }
    }

    pub(crate) fn describe(&self) -> String {
        let mut s = format!(
            "{:.0} blocks, executor {:.1} ms/block, store {:.1} ms/block, builder busy {:.0}%",
            self.blocks,
            self.executor_ms_per_block,
            self.store_ms_per_block,
            self.builder_busy * 100.0
        );
        let node_total = self.node_cores.iter().fold(0.0, |sum, c| sum + c.1);
        if !self.node_cores.is_empty() {
            let groups: Vec<String> = self
                .node_cores
                .iter()
                .map(|(n, c)| format!("{n} {c:.2}"))
                .collect();
            let _ = write!(
                s,
                "\n    node CPU {node_total:.2} cores: {}",
                groups.join(", ")
            );
        }
        let _ = write!(s, "\n    loadgen CPU {:.2} cores", self.loadgen_cores);
        if let Some(busy) = self.box_cores.filter(|_| node_total > 0.0) {
            // Tick granularity can make the difference slightly negative.
            let others = (busy - node_total - self.loadgen_cores).max(0.0);
            let _ = write!(
                s,
                "; box busy {busy:.2} cores, of which other processes {others:.2}"
            );
        }
        s
    }
}

// ---------------------------------------------------------------------------------------
// Signature ceiling
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
pub(crate) struct SigCeiling {
    pub(crate) per_thread: f64,
    pub(crate) cores: usize,
}

impl SigCeiling {
    pub(crate) fn tps(&self) -> f64 {
        self.per_thread * self.cores as f64
    }
}

/// Recovers every sample's signer on this thread (what admission does per transaction),
/// [`SIG_ROUNDS`] times; the median round's rate counts.
pub(crate) fn measure_sig_ceiling(
    samples: &[SignedTransaction],
    domain: &Domain,
) -> Result<SigCeiling> {
    ensure!(!samples.is_empty(), "no signature samples");
    let warmup = samples.len().min(100);
    for s in &samples[..warmup] {
        std::hint::black_box(s.verify(domain)).map_err(|e| anyhow!("sample: {e}"))?;
    }
    let mut rates = Vec::with_capacity(SIG_ROUNDS);
    for _ in 0..SIG_ROUNDS {
        let started = Instant::now();
        for s in samples {
            std::hint::black_box(s.verify(domain)).map_err(|e| anyhow!("sample: {e}"))?;
        }
        rates.push(samples.len() as f64 / started.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    let per_thread = rates[rates.len() / 2];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    eprintln!(
        "signature recovery: {per_thread:.0}/s on one thread (median of {SIG_ROUNDS} rounds, \
         {:.0}..{:.0}), {cores} cores",
        rates[0],
        rates[rates.len() - 1]
    );
    Ok(SigCeiling { per_thread, cores })
}

//! The high-availability topology on several "hosts": Linux network namespaces on one box,
//! joined by veth pairs to a bridge, made and removed by the test (root only; skipped with
//! the reason printed otherwise, or when `ip netns`, PostgreSQL 15 or `nats-server` is
//! missing).
//!
//! - `<prefix>pg`: its own PostgreSQL 15 (initdb in a temporary directory, trust auth,
//!   listening on the namespace's address; `fsync=off`: the test never crashes it);
//! - `<prefix>nats`: `nats-server -js` with a temporary store;
//! - `<prefix>a`, `<prefix>b`: two `weft-sequencer` nodes with the lease (TTL 1.5 s) on that
//!   PostgreSQL, taking the JetStream ingress;
//! - `<prefix>adm`: two admission nodes publishing to the stream;
//! - the root namespace: the load generator (signed transfers from 1,000 dev accounts in
//!   batches of 25, about 850 tx/s, to both admission nodes round-robin, each accepted hash
//!   recorded) and the checks, over the bridge.
//!
//! Under load the leader is `SIGKILL`ed 10 times at random moments (the killed node is
//! restarted and waits as a standby); each takeover is timed from the kill to the first
//! block written after the lease changed hands (read from PostgreSQL every 10 ms, so at most
//! a block time late). After the kills, the leader is cut off from PostgreSQL alone (a
//! blackhole route to the database's address inside its namespace; NATS and its API stay
//! reachable): its head must stop moving, the standby takes over, and once the route is
//! back the deposed leader must find its lease lost and exit, having written no block past
//! the takeover.
//!
//! What a dead leader had pulled from the stream comes back only after JetStream's 30 s ack
//! wait, and a sender's later transactions wait in the new leader's mempool behind them, at
//! most `max_nonce_ahead` (64) past its next nonce. The leader sends one further ahead back
//! to the stream (`nonce_too_high` is retried for 90 s, not acknowledged), and a leader
//! whose lease lapsed pulls nothing and hands back what it holds: before both, 1,000
//! senders (about one transaction per second each, the default here) lost 239 of 85,275
//! accepted transactions. The partition comes last: it holds back every sender for up to
//! 30 s.
//!
//! At the end, after the load stops and the stream is drained (messages a killed leader had
//! pulled come back after JetStream's 30 s ack wait): every accepted transaction executed
//! exactly once and nothing else executed, no block number twice and the chain linked by
//! parent hashes, and the head state root equal to a full replay (a follower started on a
//! copy of the database without its snapshots, which re-executes every block from genesis
//! and checks each root). The figures are printed and written to
//! `target/weft-bench/multihost.json`.
//!
//! Bound asserted per takeover: TTL + 2 s (the target) + 1.5 s of slack for this 2-core
//! box, where nine processes and the load generator share the cores.
//!
//! `cargo test -p weft-tests --test multihost -- --nocapture`

#[path = "multihost/load.rs"]
mod load;
#[path = "multihost/net.rs"]
mod net;
#[path = "multihost/partition.rs"]
mod partition;

use std::{
    ffi::OsString,
    net::SocketAddr,
    path::Path,
    time::{Duration, Instant},
};

use serde_json::json;
use sqlx::{PgPool, postgres::PgPoolOptions};
use weft_protocol::primitives::B256;

use net::{Host, Net, NsProcess, wait_tcp};
use partition::cut_off_leader;

const TTL_MS: u64 = 1_500;
const KILLS: usize = 10;
/// The partition happens after this many kills.
const PARTITION_AFTER: usize = KILLS;
/// Senders of the load (dev accounts `0..n`), unless `WEFT_MULTIHOST_ACCOUNTS` says
/// otherwise. At about 850 tx/s each sends about one a second, so a sender held back by a
/// takeover (see the module's doc) goes past the leader's `max_nonce_ahead` (64): the
/// ingress must retry, not drop.
const DEFAULT_ACCOUNTS: u32 = 1_000;
const ACCOUNTS_ENV: &str = "WEFT_MULTIHOST_ACCOUNTS";
const CHAIN_ID: &str = "4242";
const API_PORT: u16 = 8547;
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The target of the issue (lease TTL + 2 s) and the bound asserted (slack documented above).
const TARGET_MS: u64 = TTL_MS + 2_000;
const BOUND_MS: u64 = TARGET_MS + 1_500;
const NAMES: [&str; 2] = ["seq-a", "seq-b"];
/// How long the stream may take to drain once the load stops (JetStream's ack wait is 30 s).
const DRAIN_LIMIT: Duration = Duration::from_secs(75);
/// Set to keep the temporary directory (logs, databases) after the test.
const KEEP_ENV: &str = "WEFT_MULTIHOST_KEEP";

/// Processes first: dropped (killed) before the namespaces are removed, the directory last.
struct Cluster {
    seqs: Vec<NsProcess>,
    hosts: Vec<Host>,
    services: Vec<NsProcess>,
    /// Held for its drop: removes the namespaces and the bridge.
    _net: Net,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn tails(&self) -> String {
        self.seqs
            .iter()
            .chain(&self.services)
            .map(NsProcess::tail)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The lease's epoch and holder and the highest stored block, in one statement.
async fn lease(pool: &PgPool) -> (i64, String, i64) {
    sqlx::query_as(
        "SELECT epoch, holder, COALESCE((SELECT max(number) FROM blocks), 0) \
         FROM leader_lease WHERE id = 1",
    )
    .fetch_one(pool)
    .await
    .expect("read the lease")
}

fn index_of(holder: &str) -> usize {
    NAMES
        .iter()
        .position(|n| *n == holder)
        .unwrap_or_else(|| panic!("unknown holder {holder:?}"))
}

/// `GET /health` of a node: (head, headHash), or `None` if it does not answer.
async fn health(http: &reqwest::Client, addr: SocketAddr) -> Option<(u64, String)> {
    let v: serde_json::Value = http
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    Some((v["head"].as_u64()?, v["headHash"].as_str()?.to_owned()))
}

fn args(items: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    items.iter().map(|s| s.as_ref().to_owned()).collect()
}

/// A small xorshift generator: the kill moments (the seed is printed).
struct Rng(u64);

impl Rng {
    fn between(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low)
    }
}

struct Takeover {
    kill: usize,
    killed: &'static str,
    lease_ms: u64,
    first_block_ms: u64,
    epoch: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_across_namespaces_loses_no_acknowledged_transaction() {
    if let Some(why) = net::unavailable() {
        eprintln!("multihost test skipped: {why}");
        return;
    }
    for needed in [format!("{PG_BIN}/postgres"), format!("{PG_BIN}/initdb")] {
        if !Path::new(&needed).is_file() {
            eprintln!("multihost test skipped: {needed} is missing (PostgreSQL 15)");
            return;
        }
    }
    if std::process::Command::new("nats-server")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("multihost test skipped: nats-server is not installed");
        return;
    }
    let bin = weft_tests::binaries().sequencer.clone();
    let started = Instant::now();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("multihost: seed {seed}");
    let mut rng = Rng(seed);
    let accounts: u32 = std::env::var(ACCOUNTS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ACCOUNTS);

    let dir = tempfile::tempdir().unwrap();
    if std::env::var_os(KEEP_ENV).is_some() {
        println!("multihost: logs kept in {}", dir.path().display());
    }
    let mut net = Net::new().expect("make the bridge");
    let pg_host = net.host("pg", 2).unwrap();
    let nats_host = net.host("nats", 3).unwrap();
    let hosts = vec![net.host("a", 4).unwrap(), net.host("b", 5).unwrap()];
    let adm_host = net.host("adm", 6).unwrap();
    let mut c = Cluster {
        seqs: Vec::new(),
        hosts,
        services: Vec::new(),
        _net: net,
        dir,
    };
    let root = c.dir.path().to_path_buf();

    // PostgreSQL, run as `postgres` (it refuses root), its files in the temporary directory.
    let pgdata = root.join("pg");
    std::fs::create_dir(&pgdata).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let chown = std::process::Command::new("chown")
        .args(["postgres:postgres"])
        .arg(&pgdata)
        .status()
        .unwrap();
    assert!(chown.success());
    let as_postgres = ["--reuid=postgres", "--regid=postgres", "--init-groups"];
    let initdb = std::process::Command::new("setpriv")
        .args(as_postgres)
        .arg(format!("{PG_BIN}/initdb"))
        .arg("-D")
        .arg(&pgdata)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        .output()
        .unwrap();
    assert!(
        initdb.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&initdb.stderr)
    );
    // initdb's trust covers local connections only; the nodes come over the bridge.
    let mut hba = std::fs::OpenOptions::new()
        .append(true)
        .open(pgdata.join("pg_hba.conf"))
        .unwrap();
    std::io::Write::write_all(&mut hba, b"host all all 0.0.0.0/0 trust\n").unwrap();
    drop(hba);
    let pg_ip = pg_host.ip.to_string();
    let mut pg = NsProcess::new(
        "postgres",
        &pg_host,
        args(&[
            &"setpriv",
            &as_postgres[0],
            &as_postgres[1],
            &as_postgres[2],
            &format!("{PG_BIN}/postgres"),
            &"-D",
            &pgdata,
            &"-h",
            &pg_ip,
            &"-p",
            &"5432",
            &"-k",
            &pgdata,
            &"-c",
            &"fsync=off",
            &"-c",
            &"max_connections=200",
        ]),
        &root,
    );
    pg.spawn();
    c.services.push(pg);
    let mut nats = NsProcess::new(
        "nats",
        &nats_host,
        args(&[
            &"nats-server",
            &"-js",
            &"-a",
            &nats_host.ip.to_string(),
            &"-p",
            &"4222",
            &"-sd",
            &root.join("nats"),
        ]),
        &root,
    );
    nats.spawn();
    c.services.push(nats);
    wait_tcp(pg_host.addr(5432), Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", c.tails()));
    wait_tcp(nats_host.addr(4222), Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", c.tails()));
    let server_url = format!("postgres://postgres@{pg_ip}:5432");
    let admin = connect(&format!("{server_url}/postgres")).await;
    sqlx::query("CREATE DATABASE weft")
        .execute(&admin)
        .await
        .unwrap();
    let db_url = format!("{server_url}/weft");
    let nats_url = format!("nats://{}:4222", nats_host.ip);

    // The two sequencer nodes: a first (it takes the lease), then b (a standby).
    for (i, name) in NAMES.iter().enumerate() {
        let listen = c.hosts[i].addr(API_PORT).to_string();
        let data = root.join(name);
        let argv = args(&[
            &bin,
            &"--database-url",
            &db_url,
            &"--lease-ttl-ms",
            &TTL_MS.to_string(),
            &"--node-name",
            name,
            &"--data-dir",
            &data,
            &"--nats-url",
            &nats_url,
            &"--listen",
            &listen,
            &"--chain-id",
            &CHAIN_ID,
            &"--dev-accounts",
            &accounts.to_string(),
            &"--rate-per-second",
            &"0",
        ]);
        let mut node = NsProcess::new(name, &c.hosts[i], argv, &root);
        node.spawn();
        let needle = if i == 0 {
            "sequencer listening"
        } else {
            "standby: another node holds the leader lease"
        };
        node.wait_log(0, needle, Duration::from_secs(60)).await;
        c.seqs.push(node);
    }
    let pool = connect(&db_url).await;
    assert_eq!(lease(&pool).await.1, "seq-a", "a leads first");

    // Two admission nodes, each on its own port of one host.
    let mut admission = Vec::new();
    for i in 0..2u16 {
        let listen = adm_host.addr(8600 + i);
        let argv = args(&[
            &bin,
            &"admission",
            &"--nats-url",
            &nats_url,
            &"--listen",
            &listen.to_string(),
            &"--chain-id",
            &CHAIN_ID,
            &"--dev-accounts",
            &accounts.to_string(),
            &"--data-dir",
            &root.join(format!("adm{i}")),
            &"--rate-per-second",
            &"0",
        ]);
        let mut node = NsProcess::new(&format!("admission-{i}"), &adm_host, argv, &root);
        node.spawn();
        node.wait_log(0, "admission node listening", Duration::from_secs(30))
            .await;
        c.services.push(node);
        admission.push(format!("http://{listen}"));
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(800))
        .build()
        .unwrap();
    let domain = weft_api::Client::new(&format!("http://{}", c.hosts[0].addr(API_PORT)))
        .domain()
        .await
        .unwrap();
    let settings = load::Settings {
        accounts,
        tasks: 4,
        batch: 25,
        pause: Duration::from_millis(60),
    };
    let load = load::Load::start(&settings, domain, &admission);
    println!(
        "multihost: cluster up in {:.1} s; load started",
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut takeovers = Vec::new();
    let mut partition = None;
    for kill in 1..=KILLS {
        tokio::time::sleep(Duration::from_millis(rng.between(1_000, 4_000))).await;
        let (epoch, holder, _) = lease(&pool).await;
        let l = index_of(&holder);
        assert!(c.seqs[1 - l].running(), "the standby runs\n{}", c.tails());
        let t0 = Instant::now();
        c.seqs[l].kill();
        let (lease_ms, first_block_ms, new_epoch, new_holder) =
            await_takeover(&pool, epoch, t0, &c).await;
        assert_eq!(new_holder, NAMES[1 - l], "the standby took over");
        println!(
            "multihost: kill {kill} of {}: lease taken after {lease_ms} ms, first block after \
             {first_block_ms} ms (epoch {new_epoch})",
            NAMES[l]
        );
        takeovers.push(Takeover {
            kill,
            killed: NAMES[l],
            lease_ms,
            first_block_ms,
            epoch: new_epoch,
        });
        restart_standby(&mut c.seqs[l]).await;

        if kill == PARTITION_AFTER {
            partition = Some(cut_off_leader(&mut c, &pool, &http, &pg_ip).await);
        }
    }

    // Stop the load; wait for what the killed leaders held to come back (30 s ack wait).
    let counters = load.stop().await;
    let acked: Vec<B256> = counters.acked.lock().clone();
    let acked_bytes: Vec<Vec<u8>> = acked.iter().map(|h| h.to_vec()).collect();
    let unique: std::collections::HashSet<&B256> = acked.iter().collect();
    assert_eq!(unique.len(), acked.len(), "each hash accepted once");
    let drain = Instant::now();
    let mut executed: i64 = 0;
    // Two ack waits: a message redelivered after the first can be held back once more.
    let mut reported = 0;
    while drain.elapsed() < DRAIN_LIMIT {
        executed = sqlx::query_scalar("SELECT count(*) FROM transactions WHERE hash = ANY($1)")
            .bind(&acked_bytes)
            .fetch_one(&pool)
            .await
            .unwrap();
        if executed as usize == acked.len() {
            break;
        }
        if drain.elapsed().as_secs() >= reported + 5 {
            reported = drain.elapsed().as_secs();
            println!(
                "multihost: draining, {reported} s: {} accepted transactions not executed yet",
                acked.len() - executed as usize
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let drained_ms = drain.elapsed().as_millis() as u64;
    let lost = acked.len() - executed as usize;
    // What the leaders refused from the stream (acknowledged and dropped), by code.
    let refusals = refusals(&c.seqs);
    let signed_total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM transactions WHERE sender IS NOT NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
    let failed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM transactions WHERE status <> 'success'")
            .fetch_one(&pool)
            .await
            .unwrap();
    // Each sender's nonces 0..n, each once.
    let nonce_gaps: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT sender FROM transactions WHERE sender IS NOT NULL \
         GROUP BY sender HAVING count(*) <> max(nonce) + 1 \
         OR count(DISTINCT nonce) <> count(*)) s",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let duplicate_numbers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT number FROM blocks GROUP BY number HAVING count(*) > 1) d",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let (blocks, max_number): (i64, i64) =
        sqlx::query_as("SELECT count(*), COALESCE(max(number), 0) FROM blocks")
            .fetch_one(&pool)
            .await
            .unwrap();
    let broken_links: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM blocks b JOIN blocks p ON p.number = b.number - 1 \
         WHERE b.parent_hash <> p.hash",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let (head_number, head_hash, head_root): (i64, Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT number, hash, state_root FROM blocks ORDER BY number DESC LIMIT 1")
            .fetch_one(&pool)
            .await
            .unwrap();

    // The replay: stop the nodes, copy the database without its snapshots, and let a
    // follower rebuild the state from genesis through every block (each root checked).
    for node in &mut c.seqs {
        node.kill();
    }
    pool.close().await;
    let replay_start = Instant::now();
    let mut tries = 0;
    while let Err(e) = sqlx::query("CREATE DATABASE replay TEMPLATE weft")
        .execute(&admin)
        .await
    {
        tries += 1;
        assert!(tries < 50, "copy the database: {e}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let replay_db = connect(&format!("{server_url}/replay")).await;
    sqlx::query("DELETE FROM snapshots")
        .execute(&replay_db)
        .await
        .unwrap();
    replay_db.close().await;
    let follower_addr = c.hosts[0].addr(8560);
    let argv = args(&[
        &bin,
        &"follower",
        &"--database-url",
        &format!("{server_url}/replay"),
        &"--data-dir",
        &root.join("replay"),
        &"--listen",
        &follower_addr.to_string(),
        &"--chain-id",
        &CHAIN_ID,
        &"--dev-accounts",
        &accounts.to_string(),
    ]);
    let mut follower = NsProcess::new("follower", &c.hosts[0], argv, &root);
    follower.spawn();
    follower
        .wait_log(0, "follower listening", Duration::from_secs(120))
        .await;
    let replay_ms = replay_start.elapsed().as_millis() as u64;
    let follower_client = weft_api::Client::new(&format!("http://{follower_addr}"));
    let replayed = follower_client
        .block(head_number as u64)
        .await
        .unwrap()
        .expect("the follower has the head block");
    c.services.push(follower);
    let root_matches = replayed.header.state_root.as_slice() == head_root.as_slice()
        && replayed.hash.as_slice() == head_hash.as_slice();

    // The figures.
    let worst = takeovers
        .iter()
        .map(|t| t.first_block_ms)
        .max()
        .unwrap_or(0);
    println!(
        "\nmultihost figures (lease TTL {TTL_MS} ms, target ≤ {TARGET_MS} ms, bound {BOUND_MS} ms)"
    );
    println!("| kill | killed | lease taken (ms) | first block (ms) | epoch |");
    println!("|---|---|---|---|---|");
    for t in &takeovers {
        println!(
            "| {} | {} | {} | {} | {} |",
            t.kill, t.killed, t.lease_ms, t.first_block_ms, t.epoch
        );
    }
    let p = partition.as_ref().expect("the partition ran");
    println!("{}", p.describe());
    println!("| figure | value |\n|---|---|");
    println!("| transactions accepted by admission | {} |", acked.len());
    println!("| accepted then lost | {lost} |");
    println!("| signed transactions executed | {signed_total} |");
    println!("| failed receipts | {failed} |");
    println!("| senders with a nonce gap or repeat | {nonce_gaps} |");
    println!("| blocks | {blocks} (head {max_number}) |");
    println!("| block numbers written twice | {duplicate_numbers} |");
    println!("| blocks not linked to their parent | {broken_links} |");
    println!(
        "| head state root equal to a full replay | {root_matches} ({head_number} blocks in {replay_ms} ms) |"
    );
    println!("| drain after the load stopped | {drained_ms} ms |");
    println!(
        "| refused submissions / failed requests (retried) | {} / {} |",
        counters.rejected.load(std::sync::atomic::Ordering::Relaxed),
        counters
            .failed_requests
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    println!("| stream messages the leaders refused, by code | {refusals:?} |");
    println!("| worst takeover | {worst} ms |");
    println!("| test time | {:.1} s |", started.elapsed().as_secs_f64());
    let figures = json!({
        "lease_ttl_ms": TTL_MS,
        "target_takeover_ms": TARGET_MS,
        "asserted_takeover_bound_ms": BOUND_MS,
        "seed": seed,
        "senders": accounts,
        "takeovers": takeovers.iter().map(|t| json!({
            "kill": t.kill, "killed": t.killed, "lease_taken_ms": t.lease_ms,
            "first_block_ms": t.first_block_ms, "epoch": t.epoch,
        })).collect::<Vec<_>>(),
        "worst_takeover_ms": worst,
        "partition": p.json(),
        "accepted": acked.len(),
        "accepted_then_lost": lost,
        "signed_executed": signed_total,
        "failed_receipts": failed,
        "senders_with_nonce_gaps": nonce_gaps,
        "blocks": blocks,
        "duplicate_block_numbers": duplicate_numbers,
        "broken_parent_links": broken_links,
        "state_root_equals_replay": root_matches,
        "replayed_blocks": head_number,
        "replay_ms": replay_ms,
        "drain_ms": drained_ms,
        "leader_refusals_by_code": refusals,
        "test_seconds": started.elapsed().as_secs_f64(),
    });
    let out = bin
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/weft-sequencer")
        .join("weft-bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("multihost.json"),
        serde_json::to_string_pretty(&figures).unwrap(),
    )
    .unwrap();

    if std::env::var_os(KEEP_ENV).is_some() {
        let kept = std::mem::replace(&mut c.dir, tempfile::tempdir().unwrap()).keep();
        println!("multihost: kept {}", kept.display());
    }

    // The checks.
    assert_eq!(takeovers.len(), KILLS);
    for t in &takeovers {
        assert!(
            t.first_block_ms <= BOUND_MS,
            "kill {}: takeover took {} ms (bound {BOUND_MS})",
            t.kill,
            t.first_block_ms
        );
    }
    p.check();
    assert!(
        acked.len() > 1_000,
        "the load ran: {} accepted",
        acked.len()
    );
    assert_eq!(lost, 0, "accepted transactions never executed");
    assert_eq!(
        signed_total as usize,
        acked.len(),
        "executed exactly the accepted transactions"
    );
    assert_eq!(failed, 0, "failed receipts");
    assert_eq!(nonce_gaps, 0, "every sender's nonces once each, no gap");
    assert_eq!(duplicate_numbers, 0);
    assert_eq!(blocks, max_number, "block numbers 1..=head, none missing");
    assert_eq!(broken_links, 0, "one chain");
    assert!(root_matches, "the head state root equals the replay's");
}

/// Counts the leaders' "ingress transaction refused" log lines by their `code`.
fn refusals(seqs: &[NsProcess]) -> std::collections::BTreeMap<String, u64> {
    let mut counts = std::collections::BTreeMap::new();
    for node in seqs {
        let text = std::fs::read_to_string(node.log_path()).unwrap_or_default();
        for line in text
            .lines()
            .filter(|l| l.contains("ingress transaction refused"))
        {
            let code = line
                .split_once("code=")
                .map(|(_, rest)| rest.split_whitespace().next().unwrap_or(""))
                .unwrap_or("?");
            *counts.entry(code.to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

async fn connect(url: &str) -> PgPool {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
        {
            Ok(pool) => return pool,
            // "the database system is starting up"
            Err(e) if Instant::now() < deadline => {
                eprintln!("multihost: connecting to {url}: {e}; again");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("connect to {url}: {e}"),
        }
    }
}

/// Waits, polling PostgreSQL every 10 ms, until the lease has a higher epoch than `epoch`
/// and a block is stored above the head seen at that moment (the new leader's first). Returns
/// the times since `t0` of both, the new epoch and holder.
async fn await_takeover(
    pool: &PgPool,
    epoch: i64,
    t0: Instant,
    c: &Cluster,
) -> (u64, u64, i64, String) {
    let mut taken: Option<(u64, i64, String, i64)> = None;
    loop {
        let (e, holder, head) = lease(pool).await;
        let ms = t0.elapsed().as_millis() as u64;
        match &taken {
            None if e > epoch => taken = Some((ms, e, holder.clone(), head)),
            Some((lease_ms, e, holder, base)) if head > *base => {
                return (*lease_ms, ms, *e, holder.clone());
            }
            _ => {}
        }
        assert!(
            ms < 30_000,
            "no takeover 30 s after the leader's end (epoch {e}, holder {holder})\n{}",
            c.tails()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Starts a killed node again and waits until it waits as a standby.
async fn restart_standby(node: &mut NsProcess) {
    let from = node.log_len();
    node.spawn();
    node.wait_log(
        from,
        "standby: another node holds the leader lease",
        Duration::from_secs(60),
    )
    .await;
}

//! Denial of service, end to end on loopback: the node as a child process under a small
//! open-file limit (`ulimit -n`), flooded with idle, slow and stalled connections, and the
//! rate limiter charged by work. Every wait is bounded; nothing asserts on speed.
//!
//! The limits under test are set through environment variables, so that a node without
//! them (which ignores unknown variables) runs the same scenario and fails it.

mod common;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use common::{Client, config, transfer};
use serde_json::{Value, json};
use weft_sequencer::config::GenesisConfig;

/// A `weft-sequencer` child process on an ephemeral port, killed on drop.
struct Node {
    child: std::process::Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Node {
    /// Starts the node under `ulimit -n nofile` with the given environment and TOML file.
    fn spawn(nofile: u32, env: &[(&str, &str)], toml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("weft.toml");
        std::fs::write(&file, toml).unwrap();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_weft-sequencer"))
            .arg("--config")
            .arg(&file)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--listen", "127.0.0.1:0", "--rate-per-second", "0"])
            .envs(env.iter().copied())
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The bound address is in the start-up log line (on stdout); the rest of the log is
        // drained so that the child never blocks on a full pipe.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                lines.lock().unwrap().push(line.clone());
                if line.contains("sequencer listening")
                    && let Some(addr) = line
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("addr="))
                {
                    let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!(
                    "the node did not start ({:?}): {:?}",
                    child.try_wait(),
                    log.lock().unwrap()
                )
            });
        Self {
            child,
            addr,
            _dir: dir,
        }
    }

    /// The child's resident set size in bytes.
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kb * 1024
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `request` on a fresh connection and reads until the server closes it or `wait`
/// passes; `None` when nothing came back.
fn exchange(addr: SocketAddr, request: &[u8], wait: Duration) -> Option<String> {
    let mut tcp = TcpStream::connect_timeout(&addr, wait).ok()?;
    tcp.set_read_timeout(Some(wait)).unwrap();
    tcp.write_all(request).ok()?;
    read_until_closed(&mut tcp, wait)
}

/// Reads until EOF, an error (a reset counts as closed) or `wait` passes.
fn read_until_closed(tcp: &mut TcpStream, wait: Duration) -> Option<String> {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        tcp.set_read_timeout(Some(left)).unwrap();
        match tcp.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(String::from_utf8_lossy(&got).into_owned());
            }
            Err(_) => return None,
        }
    }
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";

/// Item 7: more idle connections than the process may open files. Before the cap, accept
/// failed with EMFILE and `/health` went unanswered while the idle connections stayed.
#[test]
fn health_answers_while_idle_connections_exceed_the_open_file_limit() {
    let node = Node::spawn(256, &[], "");
    let idle: Vec<TcpStream> = (0..400)
        .filter_map(|_| TcpStream::connect_timeout(&node.addr, Duration::from_secs(1)).ok())
        .collect();
    assert!(idle.len() > 256, "the flood connected: {}", idle.len());
    let answer = exchange(node.addr, HEALTH, Duration::from_secs(5));
    let answer = answer.expect("/health answered");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(idle);
}

/// Item 7: a client that never finishes its request head is disconnected.
#[test]
fn slow_headers_are_cut_off() {
    let node = Node::spawn(1024, &[("WEFT_HEADER_TIMEOUT_MS", "500")], "");
    let answer = exchange(
        node.addr,
        b"GET /health HTTP/1.1\r\nhost: x\r\n",
        Duration::from_secs(5),
    );
    let answer = answer.expect("closed within the header timeout");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

/// Item 7: a kept-alive connection that sends no further request is closed.
#[test]
fn idle_keep_alive_connections_are_closed() {
    let node = Node::spawn(1024, &[("WEFT_HEADER_TIMEOUT_MS", "500")], "");
    let mut tcp = TcpStream::connect(node.addr).unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = tcp.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let rest = read_until_closed(&mut tcp, Duration::from_secs(5));
    assert!(
        rest.is_some(),
        "the idle connection is closed within the timeout"
    );
}

/// Item 7: a body that stops arriving is answered 408 and the connection closed.
#[test]
fn slow_bodies_are_answered_408() {
    let node = Node::spawn(1024, &[("WEFT_BODY_TIMEOUT_MS", "500")], "");
    let answer = exchange(
        node.addr,
        b"POST /v1/transactions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
          content-length: 1000\r\n\r\n{\"transaction\":",
        Duration::from_secs(5),
    );
    let answer = answer.expect("answered within the body timeout");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
}

/// Item 8: many connections each holding most of a large body. Before the budget each
/// body was buffered whole (RSS grew by their sum); now the bytes in flight are bounded by
/// the budget, and the budget is returned when the clients go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_bodies_do_not_pin_memory() {
    const CONNECTIONS: usize = 300;
    const LIMIT: usize = 1 << 20;
    const BUDGET: u64 = 8 << 20;
    // Bodies waiting for the budget wait until their body timeout: 8 s here, so that the
    // test sees the budget returned soon after its clients go.
    let node = Node::spawn(
        1024,
        &[
            ("WEFT_BODY_BUDGET_BYTES", &BUDGET.to_string()),
            ("WEFT_BODY_TIMEOUT_MS", "8000"),
        ],
        &format!("max_body_bytes = {LIMIT}\n"),
    );
    let addr = node.addr;
    let before = node.rss();
    let mut request = format!(
        "POST /v1/transactions/batch HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {LIMIT}\r\n\r\n{{\"transactions\":["
    )
    .into_bytes();
    request.resize(request.len() + LIMIT - 64 * 1024, b' ');
    let request = std::sync::Arc::new(request);
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let request = request.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let mut tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
                // The server stops reading once the budget is spent: the write then waits.
                let _ = tokio::time::timeout(Duration::from_secs(3), tcp.write_all(&request)).await;
                Some(tcp)
            })
        })
        .collect();
    let mut held = Vec::new();
    for c in clients {
        held.extend(c.await.unwrap());
    }
    assert!(held.len() > CONNECTIONS / 2, "{} connected", held.len());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let grown = node.rss().saturating_sub(before);
    let sent = (CONNECTIONS * LIMIT) as u64;
    eprintln!(
        "RSS {} MiB before, grew by {} MiB with {} connections holding up to {} MiB",
        before >> 20,
        grown >> 20,
        held.len(),
        sent >> 20
    );
    assert!(
        grown < BUDGET + (64 << 20),
        "RSS grew by {} MiB with {} MiB of bodies in flight",
        grown >> 20,
        sent >> 20
    );
    drop(held);
    // The budget is returned (at the latest when the stalled bodies time out): a body is
    // read again.
    let client = Client::new(addr);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, v) = client.post("/v1/transactions", &json!({})).await;
        if status == 400 {
            break;
        }
        assert!(Instant::now() < deadline, "{status} {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn start_limited(
    per_second: u64,
    burst: u32,
) -> (weft_sequencer::Running, Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), None);
    c.api.rate_per_second = per_second;
    c.api.rate_burst = burst;
    let running = weft_sequencer::start(c).await.unwrap();
    let client = Client::new(running.addr);
    (running, client, dir)
}

/// Item 9: a batch of N transactions costs N tokens, charged before any signature is
/// recovered. Before, it cost one.
#[tokio::test]
async fn a_batch_costs_one_token_per_transaction() {
    let (running, client, _dir) = start_limited(1, 100).await;
    let d = running.node.domain;
    let batch = |senders: std::ops::Range<u32>| {
        let txs: Vec<Value> = senders
            .flat_map(|from| (0..8).map(move |nonce| (from, nonce)))
            .map(|(from, nonce)| common::body(&transfer(&d, from, 19, 1, nonce)))
            .collect();
        json!({ "transactions": txs })
    };
    let (status, v) = client.post("/v1/transactions/batch", &batch(0..10)).await;
    assert_eq!(status, 200, "80 of 100 tokens: {v}");
    let (status, v) = client.post("/v1/transactions/batch", &batch(10..18)).await;
    assert_eq!(status, 429, "64 more with 20 left: {v}");
    assert_eq!(v["code"], "rate_limited");
    // Nothing of the refused batch was admitted (asked from another client address, whose
    // bucket is full).
    let other = Client {
        base: client.base.clone(),
        http: reqwest::Client::builder()
            .local_address(Some("127.0.0.2".parse().unwrap()))
            .build()
            .unwrap(),
    };
    for from in 10..18 {
        let address = GenesisConfig::dev_key(from).address();
        let (status, v) = other.get(&format!("/v1/accounts/{address}")).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["nextNonce"], 0, "{v}");
    }
    running.stop().await.unwrap();
}

/// Item 9: a client that spent its bucket still sees `/health` and `/metrics`.
#[tokio::test]
async fn health_and_metrics_do_not_share_the_clients_bucket() {
    let (running, client, _dir) = start_limited(1, 3).await;
    let mut refused = false;
    for _ in 0..10 {
        if client.get("/v1/chain").await.0 == 429 {
            refused = true;
            break;
        }
    }
    assert!(refused, "the bucket empties");
    for path in ["/health", "/metrics"] {
        let r = client
            .http
            .get(format!("{}{path}", client.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    running.stop().await.unwrap();
}

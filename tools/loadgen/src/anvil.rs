//! anvil: the same signed-transfer workload through `eth_sendRawTransaction`.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_consensus::{SignableTransaction, TxEip1559};
use anyhow::{Context, Result, bail, ensure};
use parking_lot::Mutex;
use rayon::prelude::*;
use serde_json::{Value, json};
use tokio::{process::Child, task::JoinSet};
use weft_protocol::{
    primitives::{Address, U256},
    signature::SigningKey,
};

use crate::{
    ANVIL_MAX_FEE, ANVIL_NPM_PATH, ANVIL_POLL_INTERVAL, ANVIL_PRIORITY_FEE, Args, STARTUP_TIMEOUT,
    TRANSFER_GAS, node::free_port,
};

#[derive(Debug)]
pub(crate) struct AnvilResult {
    pub(crate) txs: usize,
    pub(crate) senders: usize,
    /// First submission to all mined.
    pub(crate) elapsed: Duration,
    /// First submission to the last accepted.
    pub(crate) accept_elapsed: Duration,
}

impl AnvilResult {
    pub(crate) fn tps(&self) -> f64 {
        self.txs as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn accepted_tps(&self) -> f64 {
        self.txs as f64 / self.accept_elapsed.as_secs_f64()
    }
}

/// `WEFT_ANVIL`, else the npm-installed anvil of this repository or of the working
/// directory.
pub(crate) fn find_anvil() -> Result<Option<PathBuf>> {
    if let Some(path) = std::env::var_os("WEFT_ANVIL").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        ensure!(
            path.is_file(),
            "WEFT_ANVIL={} is not a file",
            path.display()
        );
        return Ok(Some(path));
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    Ok([repo, PathBuf::from(".")]
        .into_iter()
        .map(|root| root.join(ANVIL_NPM_PATH))
        .find(|p| p.is_file()))
}

/// A JSON-RPC client.
#[derive(Debug, Clone)]
pub(crate) struct Rpc {
    pub(crate) url: String,
    pub(crate) http: reqwest::Client,
}

impl Rpc {
    /// A client of `url` with `TCP_NODELAY`.
    pub(crate) fn new(url: &str) -> Result<Self> {
        Ok(Self {
            url: url.to_owned(),
            http: reqwest::Client::builder()
                .tcp_nodelay(true)
                .build()
                .context("HTTP client")?,
        })
    }

    pub(crate) async fn call(&self, method: &str, params: Value) -> Result<Value> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let reply: Value = self.send(&body).await.with_context(|| method.to_string())?;
        rpc_result(reply).with_context(|| method.to_string())
    }

    pub(crate) async fn send(&self, body: &Value) -> Result<Value> {
        let response = self.http.post(&self.url).json(body).send().await?;
        Ok(response.json().await?)
    }

    /// Sends a pre-serialized call or batch of calls; fails if any call failed.
    pub(crate) async fn send_raw(&self, body: Vec<u8>) -> Result<()> {
        let response = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await?;
        match response.json().await? {
            Value::Array(replies) => replies
                .into_iter()
                .try_for_each(|r| rpc_result(r).map(drop)),
            reply => rpc_result(reply).map(drop),
        }
    }

    /// `eth_getTransactionCount(sender, "latest")` of every sender, in one batch request.
    pub(crate) async fn mined_nonces(&self, senders: &[Address]) -> Result<Vec<u64>> {
        let calls: Vec<Value> = senders
            .iter()
            .enumerate()
            .map(|(i, a)| {
                json!({ "jsonrpc": "2.0", "id": i, "method": "eth_getTransactionCount",
                        "params": [a, "latest"] })
            })
            .collect();
        let replies = self.send(&Value::Array(calls)).await?;
        let replies = replies.as_array().context("batch reply is not an array")?;
        let mut nonces = vec![0; senders.len()];
        for reply in replies {
            let id = reply["id"].as_u64().context("reply without id")? as usize;
            let nonce = parse_quantity(&rpc_result(reply.clone())?)?;
            *nonces.get_mut(id).context("unknown reply id")? = nonce;
        }
        Ok(nonces)
    }
}

pub(crate) fn rpc_result(mut reply: Value) -> Result<Value> {
    if let Some(error) = reply.get("error") {
        bail!("JSON-RPC error: {error}");
    }
    match reply.get_mut("result") {
        Some(result) => Ok(result.take()),
        None => bail!("JSON-RPC reply without result: {reply}"),
    }
}

pub(crate) fn parse_quantity(v: &Value) -> Result<u64> {
    let s = v.as_str().context("quantity is not a string")?;
    u64::from_str_radix(s.trim_start_matches("0x"), 16).with_context(|| format!("quantity {s}"))
}

/// A started anvil.
pub(crate) struct Anvil {
    pub(crate) rpc: Rpc,
    child: Child,
}

/// Gives each of `senders` 10^24 wei (what Weft's dev accounts hold at genesis).
pub(crate) async fn fund(rpc: &Rpc, senders: &[Address]) -> Result<()> {
    let balance = format!("{:#x}", U256::from(10u128.pow(24)));
    for sender in senders {
        rpc.call("anvil_setBalance", json!([sender, balance]))
            .await?;
    }
    Ok(())
}

impl Anvil {
    pub(crate) async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// Starts anvil (interval mining, the block gas limit of `args`, `chain_id` if given) and
/// waits for it to answer; `None` if anvil is not installed.
pub(crate) async fn start_anvil(args: &Args, chain_id: Option<u64>) -> Result<Option<Anvil>> {
    let Some(bin) = find_anvil()? else {
        eprintln!("anvil: not found (set WEFT_ANVIL or run `make deps`); anvil_tps will be null");
        return Ok(None);
    };
    let port = free_port()?;
    let mut argv = vec![
        "--port".to_string(),
        port.to_string(),
        "--block-time".into(),
        args.anvil_block_time_s.to_string(),
        "--gas-limit".into(),
        args.anvil_gas_limit.to_string(),
        "--quiet".into(),
    ];
    if let Some(id) = chain_id {
        argv.extend(["--chain-id".into(), id.to_string()]);
    }
    eprintln!("anvil: {} {}", bin.display(), argv.join(" "));
    let mut child = tokio::process::Command::new(&bin)
        .args(argv)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {}", bin.display()))?;
    let rpc = Rpc::new(&format!("http://127.0.0.1:{port}"))?;
    wait_for_anvil(&rpc, &mut child).await?;
    Ok(Some(Anvil { rpc, child }))
}

/// Runs the same signed-transfer workload against anvil; `None` if anvil is not installed.
pub(crate) async fn run_anvil(args: &Args) -> Result<Option<AnvilResult>> {
    let Some(mut anvil) = start_anvil(args, None).await? else {
        return Ok(None);
    };
    let outcome = drive_anvil(args, &anvil.rpc, &mut anvil.child).await;
    anvil.stop().await;
    outcome.map(Some)
}

pub(crate) async fn drive_anvil(args: &Args, rpc: &Rpc, child: &mut Child) -> Result<AnvilResult> {
    let chain_id = wait_for_anvil(rpc, child).await?;
    let keys: Vec<SigningKey> = (0..args.anvil_senders)
        .map(|i| SigningKey::from_seed(format!("weft-loadgen-anvil-{i}").as_bytes()))
        .collect();
    let senders: Vec<Address> = keys.iter().map(SigningKey::address).collect();
    fund(rpc, &senders).await?;
    let n = args.anvil_txs();
    eprintln!(
        "anvil: signing {n} EIP-1559 transfers from {} senders...",
        keys.len()
    );
    let per_sender = {
        let keys = keys.clone();
        let batch = args.anvil_batch;
        tokio::task::spawn_blocking(move || anvil_workload(&keys, chain_id, n, batch))
            .await
            .context("signing task")?
    };
    let expected: Vec<u64> = (0..senders.len())
        .map(|s| (n / senders.len() + usize::from(s < n % senders.len())) as u64)
        .collect();

    let started = Instant::now();
    let accepted_at = Arc::new(Mutex::new(started));
    let mut clients = JoinSet::new();
    for bodies in per_sender {
        let (rpc, accepted_at) = (rpc.clone(), accepted_at.clone());
        clients.spawn(async move {
            for body in bodies {
                rpc.send_raw(body).await.context("eth_sendRawTransaction")?;
            }
            let mut at = accepted_at.lock();
            *at = (*at).max(Instant::now());
            Ok::<_, anyhow::Error>(())
        });
    }
    let deadline = started + Duration::from_secs(args.timeout_s);
    let (mut mined, mut last_print) = (0, Instant::now());
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("anvil exited ({status})");
        }
        while let Some(done) = clients.try_join_next() {
            done.context("anvil client task")??;
        }
        let nonces = rpc.mined_nonces(&senders).await?;
        if clients.is_empty() && nonces.iter().zip(&expected).all(|(n, e)| n >= e) {
            break;
        }
        let now_mined: u64 = nonces.iter().sum();
        if last_print.elapsed() >= Duration::from_secs(1) {
            eprintln!(
                "[     anvil {:>6.1}s] mined {now_mined:>8} ({:>7}/s)",
                started.elapsed().as_secs_f64(),
                now_mined - mined
            );
            (mined, last_print) = (now_mined, Instant::now());
        }
        ensure!(
            Instant::now() < deadline,
            "anvil: timed out after {} s with {now_mined} of {n} mined",
            args.timeout_s
        );
        tokio::time::sleep(ANVIL_POLL_INTERVAL).await;
    }
    let elapsed = started.elapsed();
    let accept_elapsed = accepted_at.lock().duration_since(started);
    Ok(AnvilResult {
        txs: n,
        senders: senders.len(),
        elapsed,
        accept_elapsed,
    })
}

/// Waits for anvil to answer; returns its chain id.
pub(crate) async fn wait_for_anvil(rpc: &Rpc, child: &mut Child) -> Result<u64> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("anvil exited at start ({status})");
        }
        if let Ok(id) = rpc.call("eth_chainId", json!([])).await {
            return parse_quantity(&id);
        }
        ensure!(Instant::now() < deadline, "anvil did not answer in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Signed `eth_sendRawTransaction` request bodies, per sender in nonce order: transfer `i`
/// is sender `i % S`'s nonce `i / S`, 1 wei to the next sender; `batch` calls per body
/// (a JSON-RPC batch array when more than one).
pub(crate) fn anvil_workload(
    keys: &[SigningKey],
    chain_id: u64,
    n: usize,
    batch: usize,
) -> Vec<Vec<Vec<u8>>> {
    let s = keys.len();
    let calls: Vec<Value> = (0..n)
        .into_par_iter()
        .map(|i| {
            let tx = TxEip1559 {
                chain_id,
                nonce: (i / s) as u64,
                gas_limit: TRANSFER_GAS,
                max_fee_per_gas: ANVIL_MAX_FEE,
                max_priority_fee_per_gas: ANVIL_PRIORITY_FEE,
                to: keys[(i + 1) % s].address().into(),
                value: U256::from(1),
                ..TxEip1559::default()
            };
            let sig = keys[i % s].sign_digest(&tx.signature_hash());
            let sig = alloy_primitives::Signature::new(
                U256::from_be_bytes(sig.r.0),
                U256::from_be_bytes(sig.s.0),
                sig.y_parity,
            );
            let mut raw = Vec::new();
            tx.into_signed(sig).eip2718_encode(&mut raw);
            json!({
                "jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction",
                "params": [format!("0x{}", alloy_primitives::hex::encode(&raw))],
            })
        })
        .collect();
    let mut per_sender: Vec<Vec<Value>> = vec![Vec::with_capacity(n / s + 1); s];
    for (i, call) in calls.into_iter().enumerate() {
        per_sender[i % s].push(call);
    }
    per_sender
        .into_iter()
        .map(|calls| {
            calls
                .chunks(batch)
                .map(|chunk| {
                    let body = match chunk {
                        [one] => serde_json::to_vec(one),
                        many => serde_json::to_vec(many),
                    };
                    body.expect("JSON serializes")
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use alloy_consensus::Signed;
    use weft_protocol::{primitives::B256, signature::Signature};

    use super::*;

    #[test]
    fn anvil_transfers_decode_and_recover_to_their_sender() {
        let keys: Vec<SigningKey> = (0..2u8).map(|i| SigningKey::from_seed(&[i])).collect();
        let per_sender = anvil_workload(&keys, 31_337, 4, 2);
        assert_eq!(per_sender.len(), 2);
        for (s, bodies) in per_sender.iter().enumerate() {
            assert_eq!(bodies.len(), 1, "two calls per body");
            let calls: Vec<Value> = serde_json::from_slice(&bodies[0]).unwrap();
            for (nonce, call) in calls.iter().enumerate() {
                let hex = call["params"][0].as_str().unwrap().trim_start_matches("0x");
                let raw = alloy_primitives::hex::decode(hex).unwrap();
                let signed = Signed::<TxEip1559>::eip2718_decode(&mut raw.as_slice()).unwrap();
                assert_eq!(signed.tx().nonce, nonce as u64);
                assert_eq!(signed.tx().chain_id, 31_337);
                assert_eq!(signed.tx().to.to(), Some(&keys[(s + 1) % 2].address()));
                let sig = signed.signature();
                let ours = Signature {
                    r: B256::from(sig.r().to_be_bytes::<32>()),
                    s: B256::from(sig.s().to_be_bytes::<32>()),
                    y_parity: sig.v(),
                };
                let sender = ours.recover(&signed.signature_hash()).unwrap();
                assert_eq!(sender, keys[s].address());
            }
        }
    }
}

//! Helpers shared by the sequencer's integration tests: node configurations on ephemeral
//! ports, signed transfers from the dev keys, and a small HTTP client. Fresh databases come
//! from `weft_storage::testkit`.
#![allow(dead_code, unreachable_pub)]

pub mod l1;
pub mod rpc;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weft_protocol::{
    eip712::Domain,
    primitives::{Address, B256},
    transaction::{SignedTransaction, Transaction, Transfer},
};
use weft_sequencer::config::{Config, GenesisConfig};

/// A test configuration: ephemeral port, the given data directory, fast blocks, 20 dev
/// accounts, no rate limit.
pub fn config(data_dir: &std::path::Path, database_url: Option<String>) -> Config {
    let mut c = Config {
        data_dir: data_dir.to_path_buf(),
        database_url,
        listen: "127.0.0.1:0".parse().unwrap(),
        executor_threads: 2,
        signature_threads: 2,
        ..Config::default()
    };
    c.block.block_time = Duration::from_millis(50);
    c.genesis.dev_accounts = 20;
    c.api.rate_per_second = 0;
    c
}

/// A signed transfer from dev account `from` to dev account `to`.
pub fn transfer(
    domain: &Domain,
    from: u32,
    to: u32,
    amount: u128,
    nonce: u64,
) -> SignedTransaction {
    let key = GenesisConfig::dev_key(from);
    Transaction::Transfer(Transfer {
        from: key.address(),
        to: GenesisConfig::dev_key(to).address(),
        token: 0,
        amount,
        fee: 1,
        nonce,
    })
    .sign(&key, domain)
}

/// The JSON body of a submission.
pub fn body(tx: &SignedTransaction) -> Value {
    serde_json::to_value(tx).unwrap()
}

/// A client of one node.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

impl Client {
    pub fn new(addr: std::net::SocketAddr) -> Self {
        Self {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn submit(&self, tx: &SignedTransaction) -> (u16, Value) {
        self.post("/v1/transactions", &body(tx)).await
    }

    /// Polls until the transaction is executed or failed (panics after `timeout`).
    pub async fn wait_executed(&self, hash: &B256, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (status, v) = self.get(&format!("/v1/transactions/{hash}")).await;
            if status == 200 && (v["status"] == "executed" || v["status"] == "failed") {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "transaction {hash} not executed in time: {v}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn balance(&self, address: &Address) -> u128 {
        let (_, v) = self.get(&format!("/v1/accounts/{address}")).await;
        v["balances"]
            .as_array()
            .and_then(|b| b.iter().find(|b| b["token"] == 0))
            .map_or(0, |b| b["amount"].as_str().unwrap().parse().unwrap())
    }
}

pub fn submission_with(tx: &SignedTransaction, extra: &Value) -> Value {
    let mut v = body(tx);
    for (k, val) in extra.as_object().unwrap() {
        v[k] = val.clone();
    }
    v
}

pub fn json_ok(v: &Value) -> bool {
    v.get("code").is_none() && v != &json!(null)
}

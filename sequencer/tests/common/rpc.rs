//! A JSON-RPC client of one node, and signed Ethereum transactions from the dev keys.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weft_protocol::{
    primitives::{Address, B256, Bytes, U256},
    testkit::evm::{TxType, sign_tx},
    transaction::Transaction,
};
use weft_sequencer::config::GenesisConfig;

/// The chain id the testkit signs Ethereum transactions for.
pub const CHAIN_ID: u64 = weft_protocol::testkit::evm::CHAIN_ID;

/// A JSON-RPC client.
#[derive(Clone)]
pub struct Rpc {
    pub url: String,
    pub http: reqwest::Client,
}

impl Rpc {
    pub fn new(addr: std::net::SocketAddr) -> Self {
        Self {
            url: format!("http://{addr}/rpc"),
            http: reqwest::Client::new(),
        }
    }

    /// POSTs a raw body; the HTTP status and the JSON answer (`Null` if none).
    pub async fn raw(&self, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let r = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Calls `method`: its result, or its error object.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, Value> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let (status, v) = self.raw(body.to_string()).await;
        assert_eq!(status, 200, "{method}: {v}");
        assert_eq!(v["id"], 1, "{v}");
        match v.get("error") {
            Some(e) => Err(e.clone()),
            None => Ok(v["result"].clone()),
        }
    }

    /// Calls `method`, which must succeed.
    pub async fn ok(&self, method: &str, params: Value) -> Value {
        self.call(method, params)
            .await
            .unwrap_or_else(|e| panic!("{method} failed: {e}"))
    }

    /// Sends a raw transaction, which must be accepted; its hash.
    pub async fn send(&self, raw: &Bytes) -> B256 {
        let hash = self.ok("eth_sendRawTransaction", json!([raw])).await;
        hash.as_str().unwrap().parse().unwrap()
    }

    /// The error message `eth_sendRawTransaction` answers `raw` with (panics if it is
    /// accepted).
    pub async fn refused(&self, raw: &Bytes) -> String {
        let err = self
            .call("eth_sendRawTransaction", json!([raw]))
            .await
            .expect_err("the transaction is refused");
        err["message"]
            .as_str()
            .expect("an error message")
            .to_owned()
    }

    /// Polls for the receipt of `hash` (panics after `timeout`).
    pub async fn receipt(&self, hash: &B256, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.ok("eth_getTransactionReceipt", json!([hash])).await;
            if !r.is_null() {
                return r;
            }
            assert!(Instant::now() < deadline, "no receipt for {hash}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The EIP-2718 bytes of an EIP-1559 transaction from dev key `from`.
pub fn signed(
    from: u32,
    nonce: u64,
    to: Option<Address>,
    value: U256,
    input: Bytes,
    gas: u64,
    max_fee: u128,
) -> Bytes {
    let key = GenesisConfig::dev_key(from);
    let verified = sign_tx(
        &key,
        TxType::DynamicFee,
        nonce,
        to,
        value,
        input,
        gas,
        max_fee,
    );
    let Transaction::Evm(t) = verified.transaction else {
        unreachable!("sign_tx signs Ethereum transactions")
    };
    t.encoded()
}

/// [`signed`] for another chain than the testkit's (a node deployed on L1 has its own).
#[allow(dead_code, clippy::too_many_arguments)]
pub fn signed_on(
    chain_id: u64,
    from: u32,
    nonce: u64,
    to: Option<Address>,
    value: U256,
    input: Bytes,
    gas_limit: u64,
    max_fee: u128,
) -> Bytes {
    use alloy::eips::eip2718::Encodable2718;
    use alloy_consensus::{TxEip1559, TxEnvelope};
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: weft_protocol::testkit::evm::TIP.min(max_fee),
        to: to.map_or(
            alloy::primitives::TxKind::Create,
            alloy::primitives::TxKind::Call,
        ),
        value,
        input,
        access_list: Default::default(),
    };
    let envelope: TxEnvelope = weft_protocol::testkit::evm::seal(tx, &GenesisConfig::dev_key(from));
    envelope.encoded_2718().into()
}

/// A quantity's value.
pub fn number(v: &Value) -> u128 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a quantity: {v}"));
    u128::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

//! A small client of the sequencer's REST API: what the hub and the wallet client read from
//! the rollup (the chain parameters, the head, accounts, channel records, a block's transactions) and
//! how they submit transactions and wait for them.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;
use weft_protocol::{
    channel::{ChannelRecord, ChannelState},
    eip712::Domain,
    execution::{Receipt, Status},
    primitives::{Address, Amount, B256, Nonce, TokenId},
    signature::SigningKey,
    transaction::{SignedTransaction, Transaction},
};

/// How often [`RollupClient::wait_executed`] polls.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// A failure to talk to the sequencer, or its refusal.
#[derive(Debug, thiserror::Error)]
pub enum RollupError {
    /// The request did not complete.
    #[error("sequencer unreachable: {0}")]
    Http(#[from] reqwest::Error),
    /// The sequencer refused the request (admission rejection and the like).
    #[error("sequencer refused: {code}: {message}")]
    Rejected {
        /// Its stable code.
        code: String,
        /// Its message.
        message: String,
    },
    /// The transaction was included but failed.
    #[error("transaction {hash} failed: {reason}")]
    Failed {
        /// Its hash.
        hash: B256,
        /// The failure reason's code.
        reason: String,
    },
    /// The transaction was not executed in time.
    #[error("transaction {0} not executed in time")]
    Timeout(B256),
    /// An answer of an unexpected shape.
    #[error("unexpected answer from the sequencer: {0}")]
    Unexpected(String),
}

/// The chain parameters a channel party needs (`GET /v1/chain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainInfo {
    /// The EIP-712 domain channel states are signed under.
    pub domain: Domain,
    /// Blocks after a registration during which it can be refuted; concluded after.
    pub dispute_window: u64,
}

/// A channel as the rollup records it, with the participants' addresses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollupChannel {
    /// The wallet's address.
    pub wallet_address: Address,
    /// The hub's address.
    pub hub_address: Address,
    /// The latest block when it was read.
    pub block_number: u64,
    /// The record.
    #[serde(flatten)]
    pub record: ChannelRecord,
}

/// An account as the sequencer shows it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollupAccount {
    /// Nonce in the latest state.
    pub nonce: Nonce,
    /// The nonce its next submission must carry (counting pending transactions).
    pub next_nonce: Nonce,
    /// Non-zero balances.
    pub balances: Vec<weft_protocol::state::Balance>,
}

impl RollupAccount {
    /// The balance of `token`.
    pub fn balance(&self, token: TokenId) -> Amount {
        self.balances
            .iter()
            .find(|b| b.token == token)
            .map_or(0, |b| b.amount)
    }
}

/// A transaction included in a block, with whether it succeeded.
#[derive(Debug, Clone, Deserialize)]
pub struct IncludedTransaction {
    /// Its hash.
    pub hash: B256,
    /// The transaction.
    pub transaction: Transaction,
    /// Its receipt.
    pub receipt: Receipt,
}

impl IncludedTransaction {
    /// Whether it succeeded.
    pub fn succeeded(&self) -> bool {
        self.receipt.status == Status::Success
    }
}

/// A client of one sequencer; cheap to clone.
#[derive(Debug, Clone)]
pub struct RollupClient {
    base: String,
    http: reqwest::Client,
}

impl RollupClient {
    /// A client of the sequencer at `base` (`http://host:port`).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("a plain HTTP client builds"),
        }
    }

    async fn get_json(&self, path: &str) -> Result<Option<Value>, RollupError> {
        let r = self.http.get(format!("{}{path}", self.base)).send().await?;
        let status = r.status();
        let body: Value = r.json().await?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(rejected(&body));
        }
        Ok(Some(body))
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<T>, RollupError> {
        self.get_json(path)
            .await?
            .map(|v| serde_json::from_value(v).map_err(|e| RollupError::Unexpected(e.to_string())))
            .transpose()
    }

    /// The EIP-712 domain of the deployment.
    pub async fn domain(&self) -> Result<Domain, RollupError> {
        self.get("/v1/domain")
            .await?
            .ok_or_else(|| RollupError::Unexpected("no domain".into()))
    }

    /// The chain parameters: the domain and the dispute window.
    pub async fn chain(&self) -> Result<ChainInfo, RollupError> {
        self.get("/v1/chain")
            .await?
            .ok_or_else(|| RollupError::Unexpected("no chain parameters".into()))
    }

    /// The number of the latest stored block (0 before the first).
    pub async fn head(&self) -> Result<u64, RollupError> {
        Ok(self
            .get_json("/v1/blocks/latest")
            .await?
            .and_then(|v| v["number"].as_u64())
            .unwrap_or(0))
    }

    /// The channel's record, if it exists.
    pub async fn channel(&self, id: &B256) -> Result<Option<RollupChannel>, RollupError> {
        self.get(&format!("/v1/channels/{id}")).await
    }

    /// An account (an unknown address is an empty account).
    pub async fn account(&self, address: &Address) -> Result<RollupAccount, RollupError> {
        self.get(&format!("/v1/accounts/{address}"))
            .await?
            .ok_or_else(|| RollupError::Unexpected("no account".into()))
    }

    /// The transactions of block `number`, or `None` if it does not exist yet.
    pub async fn block_transactions(
        &self,
        number: u64,
    ) -> Result<Option<Vec<IncludedTransaction>>, RollupError> {
        let Some(mut v) = self
            .get_json(&format!("/v1/blocks/{number}/transactions"))
            .await?
        else {
            return Ok(None);
        };
        serde_json::from_value(v["transactions"].take())
            .map(Some)
            .map_err(|e| RollupError::Unexpected(e.to_string()))
    }

    /// Submits a signed transaction; returns its hash once queued (or already known).
    pub async fn submit(&self, tx: &SignedTransaction) -> Result<B256, RollupError> {
        let r = self
            .http
            .post(format!("{}/v1/transactions", self.base))
            .json(tx)
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await?;
        if !status.is_success() {
            return Err(rejected(&body));
        }
        body["hash"]
            .as_str()
            .and_then(|h| h.parse().ok())
            .ok_or_else(|| RollupError::Unexpected(format!("submit reply {body}")))
    }

    /// Waits until the transaction is executed (`Ok`) or failed (`Err(Failed)`).
    pub async fn wait_executed(&self, hash: &B256, timeout: Duration) -> Result<u64, RollupError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = self.get_json(&format!("/v1/transactions/{hash}")).await? {
                match v["status"].as_str() {
                    Some("queued") | None => {}
                    Some("failed") => {
                        return Err(RollupError::Failed {
                            hash: *hash,
                            reason: v["reason"].as_str().unwrap_or("unknown").to_owned(),
                        });
                    }
                    Some(_) => return Ok(v["blockNumber"].as_u64().unwrap_or(0)),
                }
            }
            if Instant::now() >= deadline {
                return Err(RollupError::Timeout(*hash));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Signs `build(nonce)` with `key` at the account's next nonce and submits it.
    pub async fn sign_and_submit(
        &self,
        key: &SigningKey,
        domain: &Domain,
        build: impl FnOnce(Nonce) -> Transaction,
    ) -> Result<(B256, SignedTransaction), RollupError> {
        let nonce = self.account(&key.address()).await?.next_nonce;
        let signed = build(nonce).sign(key, domain);
        let hash = self.submit(&signed).await?;
        Ok((hash, signed))
    }
}

fn rejected(body: &Value) -> RollupError {
    RollupError::Rejected {
        code: body["code"].as_str().unwrap_or("unknown").to_owned(),
        message: body["message"].as_str().unwrap_or("").to_owned(),
    }
}

/// What a transaction does to a channel, as a watcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEvent {
    /// A state was registered: the dispute starts.
    Registered(ChannelState),
    /// A registered state was replaced by a newer one.
    Refuted(ChannelState),
    /// Paid out (cooperative close or conclusion).
    Closed,
    /// A deposit added to the channel.
    Deposit,
}

/// The channel a transaction concerns and what it does to it, with its sender.
pub fn channel_event(tx: &Transaction) -> Option<(B256, Address, ChannelEvent)> {
    Some(match tx {
        Transaction::ChannelRegister(s) => (
            s.state.channel_id,
            s.from,
            ChannelEvent::Registered(s.state.clone()),
        ),
        Transaction::ChannelRefute(s) => (
            s.state.channel_id,
            s.from,
            ChannelEvent::Refuted(s.state.clone()),
        ),
        Transaction::ChannelClose(s) => (s.state.channel_id, s.from, ChannelEvent::Closed),
        Transaction::ChannelConclude(c) => (c.channel_id, c.from, ChannelEvent::Closed),
        Transaction::ChannelDeposit(d) => (d.channel_id, d.from, ChannelEvent::Deposit),
        _ => return None,
    })
}

//! [`Client`]: the one typed client of the `/v1` API, over reqwest.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode, header::CONTENT_TYPE};
use serde::{Serialize, de::DeserializeOwned};
use weft_protocol::{
    eip712::Domain,
    primitives::{Address, B256, Nonce},
    signature::SigningKey,
    transaction::{SignedTransaction, Transaction},
};

use crate::{
    AccountView, BatchView, BlockTransactions, BlockView, ChainInfo, ChannelProofView, ChannelView,
    ClientError, ErrorBody, Health, IncludedTransaction, ProofView, SecretProofView, Submission,
    SubmitBatch, SubmitBatchReply, SubmitReply, TransactionStatus, TransactionView, TypesView,
    WithdrawalView, Witness,
};

/// The route of one submission.
pub const SUBMIT_PATH: &str = "/v1/transactions";

/// The route of a batch of submissions.
pub const SUBMIT_BATCH_PATH: &str = "/v1/transactions/batch";

/// How often [`Client::wait_executed`] polls.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The timeout of a request of a client built by [`Client::new`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of one sequencer's REST API; cheap to clone. Every answer is decoded into the
/// type the server encodes it from, and every error body into [`ClientError::Rejected`].
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

type Result<T, E = ClientError> = std::result::Result<T, E>;

impl Client {
    /// A client of the sequencer at `base` (`http://host:port`), with
    /// [`DEFAULT_REQUEST_TIMEOUT`].
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(DEFAULT_REQUEST_TIMEOUT)
            .build()
            .expect("a plain HTTP client builds");
        Self::with_http(base, http)
    }

    /// A client of the sequencer at `base` over a configured HTTP client (a load generator
    /// wants no timeout, `TCP_NODELAY` and a pool that never idles out).
    pub fn with_http(base: &str, http: reqwest::Client) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
        }
    }

    /// The base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request and decodes its answer; `Ok(None)` for a 404 when `missing_ok`.
    async fn request<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        missing_ok: bool,
    ) -> Result<Option<T>> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if status == StatusCode::NOT_FOUND && missing_ok {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(e) => e.into(),
                Err(_) => ClientError::Unexpected(format!(
                    "{status}: {}",
                    String::from_utf8_lossy(&bytes)
                )),
            });
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ClientError::Unexpected(format!("{path}: {e}")))
    }

    /// `GET`s a resource; `None` when it does not exist (404).
    async fn find<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>> {
        self.request(Method::GET, path, None, true).await
    }

    /// `GET`s a resource that always exists.
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.request(Method::GET, path, None, false)
            .await
            .map(|v| v.expect("found"))
    }

    /// `POST`s an encoded JSON body to `path` ([`SUBMIT_PATH`] or [`SUBMIT_BATCH_PATH`])
    /// and returns the status and body undecoded: for a load generator that decodes only
    /// what it counts, off the measured path.
    pub async fn send_encoded(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Vec<u8>), reqwest::Error> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        Ok((status, response.bytes().await?.to_vec()))
    }

    /// `POST`s a JSON body.
    async fn post<T: DeserializeOwned>(&self, path: &str, body: Vec<u8>) -> Result<T> {
        self.request(Method::POST, path, Some(body), false)
            .await
            .map(|v| v.expect("found"))
    }

    fn encode(body: &impl Serialize) -> Result<Vec<u8>> {
        serde_json::to_vec(body).map_err(|e| ClientError::Unexpected(e.to_string()))
    }

    /// `GET /v1/domain`: the EIP-712 domain of the deployment.
    pub async fn domain(&self) -> Result<Domain> {
        self.get("/v1/domain").await
    }

    /// `GET /v1/chain`: the domain and the dispute window.
    pub async fn chain(&self) -> Result<ChainInfo> {
        self.get("/v1/chain").await
    }

    /// `GET /v1/types`: the typed-data types of every kind.
    pub async fn types(&self) -> Result<TypesView> {
        self.get("/v1/types").await
    }

    /// `GET /health`, also while halted (HTTP 503 with the same body).
    pub async fn health(&self) -> Result<Health> {
        let response = self
            .http
            .get(format!("{}/health", self.base))
            .send()
            .await?;
        let bytes = response.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Unexpected(format!("health: {e}")))
    }

    /// `GET /metrics`: the Prometheus text.
    pub async fn metrics(&self) -> Result<String> {
        let response = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await?
            .error_for_status()?;
        Ok(response.text().await?)
    }

    /// The number of the latest stored block (0 before the first).
    pub async fn head(&self) -> Result<u64> {
        Ok(self
            .find::<BlockView>("/v1/blocks/latest")
            .await?
            .map_or(0, |b| b.header.number))
    }

    /// `GET /v1/blocks/{number}`, or `None` if it does not exist yet.
    pub async fn block(&self, number: u64) -> Result<Option<BlockView>> {
        self.find(&format!("/v1/blocks/{number}")).await
    }

    /// `GET /v1/blocks/{number}/transactions`: the transactions of block `number`, or
    /// `None` if it does not exist yet.
    pub async fn block_transactions(
        &self,
        number: u64,
    ) -> Result<Option<Vec<IncludedTransaction>>> {
        Ok(self
            .find::<BlockTransactions>(&format!("/v1/blocks/{number}/transactions"))
            .await?
            .map(|b| b.transactions))
    }

    /// `GET /v1/transactions/{hash}`, or `None` if the node does not know it.
    pub async fn transaction(&self, hash: &B256) -> Result<Option<TransactionView>> {
        self.find(&format!("/v1/transactions/{hash}")).await
    }

    /// `GET /v1/transactions/{hash}/withdrawal`: what `Rollup.withdraw` takes.
    pub async fn withdrawal(&self, hash: &B256) -> Result<WithdrawalView> {
        self.get(&format!("/v1/transactions/{hash}/withdrawal"))
            .await
    }

    /// `GET /v1/accounts/{address}` (an unknown address is an empty account).
    pub async fn account(&self, address: &Address) -> Result<AccountView> {
        self.get(&format!("/v1/accounts/{address}")).await
    }

    /// `GET /v1/accounts/{address}/proof`, or `None` if the account has no index yet.
    pub async fn account_proof(&self, address: &Address) -> Result<Option<ProofView>> {
        self.find(&format!("/v1/accounts/{address}/proof")).await
    }

    /// `GET /v1/channels/{id}`: the channel's record, if it exists.
    pub async fn channel(&self, id: &B256) -> Result<Option<ChannelView>> {
        self.find(&format!("/v1/channels/{id}")).await
    }

    /// `GET /v1/channels/{id}/proof`: the record and both participants' accounts with their
    /// proofs (for an exit of a frozen rollup), if the channel exists.
    pub async fn channel_proof(&self, id: &B256) -> Result<Option<ChannelProofView>> {
        self.find(&format!("/v1/channels/{id}/proof")).await
    }

    /// `GET /v1/secrets/{hashlock}/proof`, if its secret was revealed.
    pub async fn secret_proof(&self, hashlock: &B256) -> Result<Option<SecretProofView>> {
        self.find(&format!("/v1/secrets/{hashlock}/proof")).await
    }

    /// `GET /v1/batches/{index}`, or `None` if not sealed yet.
    pub async fn batch(&self, index: u64) -> Result<Option<BatchView>> {
        self.find(&format!("/v1/batches/{index}")).await
    }

    /// `GET /v1/batches/{index}/witness`, or `None` if not sealed yet.
    pub async fn witness(&self, index: u64) -> Result<Option<Witness>> {
        self.find(&format!("/v1/batches/{index}/witness")).await
    }

    /// `POST /v1/transactions`.
    pub async fn submit_submission(&self, submission: &Submission) -> Result<SubmitReply> {
        self.submit_encoded(Self::encode(submission)?).await
    }

    /// `POST /v1/transactions` of a body already encoded from a [`Submission`] (a load
    /// generator serializes its requests before it starts the clock).
    pub async fn submit_encoded(&self, body: Vec<u8>) -> Result<SubmitReply> {
        self.post(SUBMIT_PATH, body).await
    }

    /// Submits a signed transaction; returns its hash once queued (or already known).
    pub async fn submit(&self, tx: &SignedTransaction) -> Result<B256> {
        let reply = self
            .submit_submission(&Submission::from(tx.clone()))
            .await?;
        Ok(reply.hash)
    }

    /// `POST /v1/transactions/batch`: one result per submission, in order.
    pub async fn submit_batch(&self, batch: &SubmitBatch) -> Result<SubmitBatchReply> {
        self.submit_batch_encoded(Self::encode(batch)?).await
    }

    /// `POST /v1/transactions/batch` of a body already encoded from a [`SubmitBatch`].
    pub async fn submit_batch_encoded(&self, body: Vec<u8>) -> Result<SubmitBatchReply> {
        self.post(SUBMIT_BATCH_PATH, body).await
    }

    /// Waits until the transaction is executed (`Ok` with its block) or failed
    /// (`Err(Failed)`), polling every [`POLL_INTERVAL`].
    pub async fn wait_executed(&self, hash: &B256, timeout: Duration) -> Result<u64> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(view) = self.transaction(hash).await? {
                match view.status {
                    TransactionStatus::Queued => {}
                    TransactionStatus::Failed => {
                        return Err(ClientError::Failed {
                            hash: *hash,
                            reason: view.reason.unwrap_or_else(|| "unknown".into()),
                        });
                    }
                    _ => return Ok(view.block_number.unwrap_or(0)),
                }
            }
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout(*hash));
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
    ) -> Result<(B256, SignedTransaction)> {
        let nonce = self.account(&key.address()).await?.next_nonce;
        let signed = build(nonce).sign(key, domain);
        let hash = self.submit(&signed).await?;
        Ok((hash, signed))
    }
}

//! An admission node (`weft-sequencer admission`, DESIGN.md "Beyond one machine"): the
//! stateless front of a scaled-out deployment. It serves `POST /v1/transactions` and
//! `POST /v1/transactions/batch` as the sequencer does, and `eth_sendRawTransaction` (with
//! `eth_chainId` and `net_version`) at `POST /rpc`; runs the checks that need no state
//! (domain, kind, signature shape, low `s`, minimum fee, amounts; for Ethereum transactions
//! size, type, canonical encoding, chain id, gas and fee bounds) and signature recovery on
//! every core, publishes each accepted transaction to the leader's JetStream stream
//! ([`crate::ingress::publish`], `Nats-Msg-Id` = hash; an Ethereum transaction with its
//! recovered sender, [`crate::ingress::publish_evm`]) and answers once the stream has
//! stored it. The leader runs the state checks (nonce, balance) when it takes the
//! transaction; one refused there is logged by the leader, not reported to this client.
//! Run as many as needed behind a load balancer: they share nothing but the stream.
//!
//! Given the leader's database (`--database-url`, PostgreSQL), an admission node is also a
//! follower of it ([`crate::node::follow_blocks`]: the state rebuilt from the stored blocks
//! and kept current, each block re-executed and its root checked) and refuses what that
//! state already rules out before publishing it ([`crate::admission::check_account`]): a
//! nonce below the sender's, a balance short of what the transaction moves. That state is
//! a poll behind the leader's (100 ms), so a transaction that a credit in the last blocks
//! makes affordable may be refused: the client retries, as with a node's own txpool.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context as _;

use axum::{
    Router,
    extract::{DefaultBodyLimit, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use rayon::prelude::*;
use serde_json::json;
use tokio::sync::watch;
use weft_api::{SubmitBatchReply, SubmitReply, SubmitResult, TransactionStatus};
use weft_protocol::{
    eip712::Domain,
    primitives::{Amount, B256},
    transaction::SignedTransaction,
};
use weft_service::Server;

use crate::{
    admission::{
        Incoming, IncomingBatch, Rejection, check_account, check_evm_account, check_evm_shape,
        check_shape, geth_message, included, read_state,
    },
    api::{ApiError, ApiJson, ErrorBody, handlers::reply},
    config::Config,
    ingress::{IngressConfig, open_stream, publish, publish_evm},
    node::{Node, follow_blocks},
    rpc::{self, RpcError},
};

/// What every request shares.
struct Admission {
    chain_id: u64,
    js: async_nats::jetstream::Context,
    subject: String,
    domain: Domain,
    min_fee: Amount,
    max_batch: usize,
    pool: rayon::ThreadPool,
    /// The follower whose state the checks read, when given the leader's database.
    follower: Option<Arc<Node>>,
}

/// A running admission node.
#[derive(Debug)]
pub struct RunningAdmission {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: Server,
    follow: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl RunningAdmission {
    /// Stops accepting requests and waits for those in flight (and the follower).
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.send_replace(true);
        self.server.finished().await?;
        if let Some(follow) = self.follow {
            follow.await.context("follower task")??;
        }
        Ok(())
    }
}

/// Starts an admission node publishing to `ingress` (the configuration's listener, limits,
/// domain and minimum fee).
pub async fn start(config: &Config, ingress: &IngressConfig) -> anyhow::Result<RunningAdmission> {
    let (js, _) = open_stream(ingress).await?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.signature_threads)
        .thread_name(|i| format!("weft-admit-{i}"))
        .build()?;
    let (stop, stopped) = watch::channel(false);
    let (follower, follow) = match &config.database_url {
        Some(_) => {
            let node = Node::open_follower(config.clone())
                .await
                .context("follow the leader's database")?;
            let task = tokio::spawn(follow_blocks(node.clone(), stopped.clone()));
            tracing::info!(
                head = node.head().number,
                "admission node following the stored blocks"
            );
            (Some(node), Some(task))
        }
        None => (None, None),
    };
    let state = Arc::new(Admission {
        chain_id: config.domain().chain_id(),
        js,
        subject: ingress.subject(),
        domain: config.domain(),
        min_fee: config.min_fee,
        max_batch: config.api.max_batch,
        pool,
        follower,
    });
    let app = Router::new()
        .route(weft_api::SUBMIT_PATH, post(submit))
        .route(weft_api::SUBMIT_BATCH_PATH, post(submit_batch))
        .route(crate::rpc::PATH, post(rpc))
        .route(
            "/health",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .layer(DefaultBodyLimit::max(config.api.max_body_bytes))
        .with_state(state);
    let server = Server::start_with(config.listen, app, config.api.server, stopped).await?;
    let addr = server.addr();
    tracing::info!(%addr, stream = %ingress.stream, "admission node listening");
    Ok(RunningAdmission {
        addr,
        stop,
        server,
        follow,
    })
}

/// Checks and recovers `subs` on the pool: the signed transaction and its hash, or why not.
async fn check_all(
    state: &Arc<Admission>,
    subs: Vec<Incoming>,
) -> Vec<Result<(B256, SignedTransaction), Rejection>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let shared = state.clone();
    state.pool.spawn(move || {
        let checked = subs
            .into_par_iter()
            .map(|sub| {
                let signature = check_shape(&shared.domain, shared.min_fee, &sub)?;
                let signed = SignedTransaction {
                    transaction: sub.transaction,
                    signature,
                };
                let verified = signed
                    .verify(&shared.domain)
                    .map_err(|e| Rejection::new(e.code(), e.to_string()))?;
                Ok((verified.hash, signed))
            })
            .collect();
        let _ = tx.send(checked);
    });
    rx.await.expect("the pool answers")
}

/// The checks against the follower's state, when this node has one. `Some(reply)`: this
/// very transaction is included already, answered as the sequencer answers it and not
/// published again.
async fn check_state(
    state: &Admission,
    hash: B256,
    tx: &SignedTransaction,
) -> Result<Option<SubmitReply>, ApiError> {
    let Some(node) = &state.follower else {
        return Ok(None);
    };
    let checked = check_account(&read_state(node), &tx.transaction);
    let Err(rejection) = checked else {
        return Ok(None);
    };
    if rejection.code == "nonce_too_low"
        && let Some(accepted) = included(node, &hash, tx.signature).await
    {
        return reply(node, hash, accepted).await.map(Some);
    }
    Err(rejection.into())
}

/// Checks one transaction against the follower's state and publishes it.
async fn admit_one(
    state: &Admission,
    hash: B256,
    tx: &SignedTransaction,
) -> Result<SubmitReply, ApiError> {
    match check_state(state, hash, tx).await? {
        Some(reply) => Ok(reply),
        None => publish_one(state, hash, tx).await,
    }
}

/// Publishes one checked transaction; a failure is the node's (503), not the client's.
async fn publish_one(
    state: &Admission,
    hash: B256,
    tx: &SignedTransaction,
) -> Result<SubmitReply, ApiError> {
    publish(&state.js, &state.subject, &hash, tx)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "publishing to the ingress stream failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the transaction stream is unavailable; retry",
            )
        })?;
    Ok(SubmitReply {
        hash,
        status: TransactionStatus::Queued,
        block_number: None,
    })
}

async fn submit(
    State(state): State<Arc<Admission>>,
    ApiJson(sub): ApiJson<Incoming>,
) -> Result<ApiJson<SubmitReply>, ApiError> {
    let (hash, tx) = check_all(&state, vec![sub]).await.pop().expect("one")?;
    Ok(ApiJson(admit_one(&state, hash, &tx).await?))
}

async fn submit_batch(
    State(state): State<Arc<Admission>>,
    ApiJson(batch): ApiJson<IncomingBatch>,
) -> Result<ApiJson<SubmitBatchReply>, ApiError> {
    // The sequencer's own codes for the same refusals.
    let n = batch.transactions.len();
    if n == 0 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty_batch",
            "a batch holds at least one transaction",
        ));
    }
    if n > state.max_batch {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "batch_too_large",
            format!("batch has {n} transactions, at most {}", state.max_batch),
        ));
    }
    let checked = check_all(&state, batch.transactions).await;
    // Published concurrently: each waits for the stream's acknowledgement.
    let results = futures_util::future::join_all(checked.into_iter().map(|c| {
        let state = &state;
        async move {
            let outcome = match c {
                Ok((hash, tx)) => admit_one(state, hash, &tx).await,
                Err(r) => Err(ApiError::from(r)),
            };
            match outcome {
                Ok(reply) => SubmitResult::Accepted(reply),
                Err(e) => SubmitResult::Rejected {
                    error: ErrorBody {
                        code: e.code.to_string(),
                        message: e.message,
                    },
                },
            }
        }
    }))
    .await;
    Ok(ApiJson(SubmitBatchReply { results }))
}

/// `POST /rpc`: JSON-RPC (single requests and batches, the sequencer's framing and bounds)
/// with the methods a stateless node can answer.
async fn rpc(State(state): State<Arc<Admission>>, body: axum::body::Bytes) -> Response {
    let answer = rpc::answer_body_with(&body, |requests| {
        rpc::concurrently(requests, |request| rpc_one(&state, request))
    })
    .await;
    match answer {
        Some(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn rpc_one(state: &Arc<Admission>, value: serde_json::Value) -> Option<serde_json::Value> {
    let request = match rpc::parse_request(value) {
        Ok(r) => r,
        Err((id, e)) => return Some(rpc::response(&id, Err(e))),
    };
    let result = match rpc::Params::parse(request.params) {
        Ok(params) => match request.method.as_str() {
            "eth_sendRawTransaction" => send_raw(state, params).await,
            "eth_chainId" => Ok(json!(format!("{:#x}", state.chain_id))),
            "net_version" => Ok(json!(state.chain_id.to_string())),
            other => Err(RpcError::new(
                rpc::code::METHOD_NOT_FOUND,
                format!(
                    "the method {other} does not exist/is not available: an admission node \
                     takes eth_sendRawTransaction only; read from the sequencer"
                ),
            )),
        },
        Err(e) => Err(e),
    };
    (!request.notification).then(|| rpc::response(&request.id, result))
}

/// `eth_sendRawTransaction`: the stateless checks, the recovery on the pool, the publish;
/// the hash once the stream stored it. The leader runs the checks against the sender's
/// account (nonce, balance) when it takes it.
async fn send_raw(
    state: &Arc<Admission>,
    params: rpc::Params,
) -> Result<serde_json::Value, RpcError> {
    params.at_most(1)?;
    let raw: alloy::primitives::Bytes = params.get(0, "data")?;
    let refused = |r: Rejection| RpcError::new(rpc::code::SERVER, geth_message(&r));
    let parsed = check_evm_shape(state.chain_id, &raw).map_err(refused)?;
    let hash = parsed.hash();
    let (tx, rx) = tokio::sync::oneshot::channel();
    state.pool.spawn(move || {
        let _ = tx.send(parsed.recover());
    });
    let recovered = rx
        .await
        .expect("the pool answers")
        .map_err(|e| refused(Rejection::new(e.code(), e.to_string())))?;
    if let Some(node) = &state.follower {
        let checked = check_evm_account(&read_state(node), &recovered);
        if let Err(rejection) = checked {
            // This very transaction, included already: its hash, as the sequencer answers.
            let known = rejection.code == "nonce_too_low"
                && matches!(node.store.transaction(&hash).await, Ok(Some(_)));
            return if known {
                Ok(json!(hash))
            } else {
                Err(refused(rejection))
            };
        }
    }
    publish_evm(&state.js, &state.subject, &hash, &raw, &recovered.sender())
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "publishing to the ingress stream failed");
            RpcError::new(
                rpc::code::SERVER,
                "the transaction stream is unavailable; retry",
            )
        })?;
    Ok(json!(hash))
}

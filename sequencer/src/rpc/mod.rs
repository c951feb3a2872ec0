//! Ethereum JSON-RPC on the sequencer: `POST /rpc` (single requests and batches) and the
//! same URL upgraded to a WebSocket (requests plus `eth_subscribe`). See `docs/rpc.md`.
//!
//! Served by the node's own axum router rather than a second server: one listener, one set
//! of connection limits, body limit and rate limit for REST and JSON-RPC alike, and the
//! handlers read the node's state directly. Parameters and EVM results use alloy's RPC
//! types (`alloy::rpc::types`), the serde forms cast, viem and ethers expect; blocks and
//! Weft's native kinds, which alloy's types cannot carry, are written here.

pub mod eth;
mod format;
pub mod ws;

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::node::Node;

pub use ws::upgrade;

/// The path JSON-RPC is served at.
pub const PATH: &str = "/rpc";
/// Most requests in one batch.
pub const MAX_BATCH: usize = 100;
/// Most bytes of one response (a batch's answers together); answers past it are replaced
/// by a `response too large` error.
pub const MAX_RESPONSE_BYTES: usize = 8 << 20;

/// JSON-RPC error codes.
pub mod code {
    /// The body is not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// Not a JSON-RPC request (or an empty or oversized batch).
    pub const INVALID_REQUEST: i64 = -32600;
    /// No such method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Wrong parameters.
    pub const INVALID_PARAMS: i64 = -32602;
    /// The node failed (storage).
    pub const INTERNAL: i64 = -32603;
    /// Refused transaction, unavailable state, and other server-side refusals (geth's code).
    pub const SERVER: i64 = -32000;
    /// A limit of the request was exceeded (range, results, response size).
    pub const LIMIT: i64 = -32005;
    /// `eth_call` / `eth_estimateGas`: execution reverted; `data` holds the revert data.
    pub const REVERTED: i64 = 3;
}

/// A JSON-RPC error.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The code ([`code`]).
    pub code: i64,
    /// The message.
    pub message: String,
    /// Extra data (revert data).
    pub data: Option<Value>,
}

impl RpcError {
    /// An error without data.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// Wrong parameters.
    pub fn params(message: impl Into<String>) -> Self {
        Self::new(code::INVALID_PARAMS, message)
    }

    /// A storage failure: logged, answered without detail.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "JSON-RPC request failed");
        Self::new(code::INTERNAL, "internal error")
    }

    fn to_json(&self) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        error
    }
}

/// A method's positional parameters.
#[derive(Debug)]
pub(crate) struct Params(Vec<Value>);

impl Params {
    pub(crate) fn parse(params: Option<Value>) -> Result<Self, RpcError> {
        match params {
            None | Some(Value::Null) => Ok(Self(Vec::new())),
            Some(Value::Array(values)) => Ok(Self(values)),
            Some(_) => Err(RpcError::params("params must be an array")),
        }
    }

    /// Refuses more than `n` parameters.
    pub(crate) fn at_most(&self, n: usize) -> Result<(), RpcError> {
        if self.0.len() > n {
            return Err(RpcError::params(format!(
                "too many arguments, want at most {n}"
            )));
        }
        Ok(())
    }

    /// Parameter `i`, which must be there.
    pub(crate) fn get<T: DeserializeOwned>(&self, i: usize, name: &str) -> Result<T, RpcError> {
        match self.0.get(i) {
            None | Some(Value::Null) => Err(RpcError::params(format!(
                "missing value for required argument {i} ({name})"
            ))),
            Some(v) => T::deserialize(v)
                .map_err(|e| RpcError::params(format!("invalid argument {i} ({name}): {e}"))),
        }
    }

    /// Parameter `i`, if given.
    pub(crate) fn opt<T: DeserializeOwned>(
        &self,
        i: usize,
        name: &str,
    ) -> Result<Option<T>, RpcError> {
        match self.0.get(i) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.get(i, name).map(Some),
        }
    }
}

/// One parsed request: `None` id with `notification` set means no answer is due.
pub(crate) struct Request {
    pub(crate) id: Value,
    pub(crate) notification: bool,
    pub(crate) method: String,
    pub(crate) params: Option<Value>,
}

pub(crate) fn parse_request(value: Value) -> Result<Request, (Value, RpcError)> {
    let Value::Object(mut object) = value else {
        return Err((
            Value::Null,
            RpcError::new(code::INVALID_REQUEST, "invalid request: not an object"),
        ));
    };
    let notification = !object.contains_key("id");
    let id = object.remove("id").unwrap_or(Value::Null);
    if !matches!(id, Value::Null | Value::Number(_) | Value::String(_)) {
        return Err((
            Value::Null,
            RpcError::new(code::INVALID_REQUEST, "invalid request: bad id"),
        ));
    }
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err((
            id,
            RpcError::new(
                code::INVALID_REQUEST,
                "invalid request: jsonrpc must be \"2.0\"",
            ),
        ));
    }
    let Some(Value::String(method)) = object.remove("method") else {
        return Err((
            id,
            RpcError::new(code::INVALID_REQUEST, "invalid request: no method"),
        ));
    };
    Ok(Request {
        id,
        notification,
        method,
        params: object.remove("params"),
    })
}

pub(crate) fn response(id: &Value, result: Result<Value, RpcError>) -> Value {
    match result {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(e) => json!({ "jsonrpc": "2.0", "id": id, "error": e.to_json() }),
    }
}

/// Answers the requests of one body (one request, or a batch's), in order; `None` for a
/// notification. A batch's `eth_sendRawTransaction` requests are admitted together
/// ([`eth::send_raw_batch`]: one recovery job on the signature pool for all of them); the
/// other requests are answered one after the other.
async fn answer_all(
    node: &Arc<Node>,
    values: Vec<Value>,
    connection: Option<&ws::Connection>,
) -> Vec<Option<Value>> {
    let requests: Vec<_> = values
        .into_iter()
        .map(|value| {
            parse_request(value).map(|mut request| {
                let params = Params::parse(request.params.take());
                (request, params)
            })
        })
        .collect();
    let (sends, raws): (Vec<usize>, Vec<alloy::primitives::Bytes>) = requests
        .iter()
        .enumerate()
        .filter_map(|(i, request)| match request {
            Ok((request, Ok(params))) if request.method == "eth_sendRawTransaction" => {
                eth::raw_transaction(params).ok().map(|raw| (i, raw))
            }
            _ => None,
        })
        .unzip();
    let mut sent = if raws.len() > 1 {
        sends
            .into_iter()
            .zip(eth::send_raw_batch(node, &raws).await)
            .collect()
    } else {
        std::collections::HashMap::new()
    };
    let mut answers = Vec::with_capacity(requests.len());
    for (i, request) in requests.into_iter().enumerate() {
        let (request, params) = match request {
            Ok(r) => r,
            Err((id, e)) => {
                answers.push(Some(response(&id, Err(e))));
                continue;
            }
        };
        let result = match (sent.remove(&i), params) {
            (Some(result), _) => result,
            (None, Err(e)) => Err(e),
            (None, Ok(params)) => match connection {
                Some(c)
                    if request.method.starts_with("eth_subscribe")
                        || request.method == "eth_unsubscribe" =>
                {
                    c.handle(node, &request.method, params).await
                }
                _ => eth::call(node, &request.method, params).await,
            },
        };
        if let Err(e) = &result {
            node.metrics.rpc_error(e.code);
        }
        answers.push((!request.notification).then(|| response(&request.id, result)));
    }
    answers
}

/// Answers a body: one request or a batch, as the JSON bytes sent back (each answer is
/// serialized once); `None` when nothing is due (notifications only).
pub(crate) async fn answer_body(
    node: &Arc<Node>,
    body: &[u8],
    connection: Option<&ws::Connection>,
) -> Option<Vec<u8>> {
    answer_body_with(body, |requests| answer_all(node, requests, connection)).await
}

/// Answers `requests` concurrently with `answer` (`None` for a notification), the answers in
/// the requests' order: the `answer_all` of [`answer_body_with`] for a server without
/// batch-wide work. An admission node's batch of raw transactions thus recovers on all the
/// pool's threads and waits for the stream's acknowledgements together, not one by one.
pub(crate) async fn concurrently<F, Fut>(requests: Vec<Value>, answer: F) -> Vec<Option<Value>>
where
    F: FnMut(Value) -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    futures_util::future::join_all(requests.into_iter().map(answer)).await
}

/// [`answer_body`] with `answer_all` answering the request values of a body in order
/// (`None` for a notification): the JSON-RPC framing (parse errors, batches and their
/// bounds, the response-size bound) that the sequencer and admission nodes share.
pub(crate) async fn answer_body_with<F, Fut>(body: &[u8], answer_all: F) -> Option<Vec<u8>>
where
    F: FnOnce(Vec<Value>) -> Fut,
    Fut: std::future::Future<Output = Vec<Option<Value>>>,
{
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            let error = RpcError::new(code::PARSE_ERROR, format!("parse error: {e}"));
            return Some(bounded(&response(&Value::Null, Err(error)), &mut 0));
        }
    };
    let Value::Array(requests) = value else {
        let answer = answer_all(vec![value]).await.pop().flatten()?;
        return Some(bounded(&answer, &mut 0));
    };
    if requests.is_empty() || requests.len() > MAX_BATCH {
        let message = if requests.is_empty() {
            "empty batch".to_owned()
        } else {
            format!(
                "batch of {} requests exceeds the limit of {MAX_BATCH}",
                requests.len()
            )
        };
        let error = RpcError::new(code::INVALID_REQUEST, message);
        return Some(bounded(&response(&Value::Null, Err(error)), &mut 0));
    }
    let mut out = vec![b'['];
    let mut size = 0;
    for answer in answer_all(requests).await.into_iter().flatten() {
        if out.len() > 1 {
            out.push(b',');
        }
        out.extend(bounded(&answer, &mut size));
    }
    out.push(b']');
    (out.len() > 2).then_some(out)
}

/// `answer` serialized, or a `response too large` error in its place once `size` (the
/// answers so far) passes the limit.
fn bounded(answer: &Value, size: &mut usize) -> Vec<u8> {
    let bytes = serde_json::to_vec(answer).expect("JSON values serialize");
    *size += bytes.len();
    if *size <= MAX_RESPONSE_BYTES {
        return bytes;
    }
    let id = answer.get("id").cloned().unwrap_or(Value::Null);
    let error = RpcError::new(
        code::LIMIT,
        format!("response too large: the limit is {MAX_RESPONSE_BYTES} bytes"),
    );
    serde_json::to_vec(&response(&id, Err(error))).expect("JSON values serialize")
}

/// `POST /rpc`.
pub async fn http(State(node): State<Arc<Node>>, body: Bytes) -> Response {
    match answer_body(&node, &body, None).await {
        Some(answer) => ([(header::CONTENT_TYPE, "application/json")], answer).into_response(),
        None => axum::http::StatusCode::NO_CONTENT.into_response(),
    }
}

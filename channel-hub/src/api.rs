//! The hub's REST API and WebSocket endpoint (axum). JSON under `/v1`, errors as
//! `{code, message}` with the stable codes of [`HubError::code`].
//!
//! | route | what |
//! |---|---|
//! | `GET /v1/info` | the hub's address, domain, head and policies |
//! | `POST /v1/channels` | register a channel opened on the rollup (opening state, signed) |
//! | `GET /v1/channels/{id}` | the channel (signed request, its wallet only) |
//! | `POST /v1/channels/{id}/fund` | countersign the hub's funding offer; the hub deposits |
//! | `POST /v1/channels/{id}/topup` | a state with the wallet's coming deposit |
//! | `POST /v1/channels/{id}/pay` | pay the hub |
//! | `POST /v1/channels/{id}/route` | pay another wallet through the hub (hashlock) |
//! | `POST /v1/channels/{id}/countersign` | countersign the hub's offer |
//! | `POST /v1/channels/{id}/close` | cooperative close |
//! | `POST /v1/channels/{id}/sync` | the wallet's latest state, after the hub restarted |
//! | `POST /v1/admin/channels/{id}/pay` | the operator pays the channel's wallet (bearer token) |
//! | `GET /v1/ws` | the wallet's WebSocket (logged in by a one-time challenge) |
//! | `GET /v1/openapi.json` | this table as OpenAPI 3.1, built from the types ([`crate::openapi`]) |
//! | `GET /health`, `GET /metrics` | liveness; Prometheus metrics |

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{
        DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State, WebSocketUpgrade,
        rejection::JsonRejection, ws::rejection::WebSocketUpgradeRejection,
    },
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::de::DeserializeOwned;
use serde_json::json;
use weft_channel::{
    Ack, AdminPayRequest, ChannelView, CloseReply, CloseRequest, HEADER_SIGNATURE,
    HEADER_TIMESTAMP, HEADER_WALLET, HubInfo, HubRequest, Offer, RegisterReply, RouteReply,
    RouteRequest, SignedUpdate, SyncReply, SyncRequest, now_secs,
};
use weft_protocol::{
    primitives::{Address, B256},
    signature::Signature,
};

use crate::{error::HubError, hub::Hub};

type AppState = State<Arc<Hub>>;

/// The public router.
pub fn app(hub: Arc<Hub>) -> Router {
    let limit = hub.config.max_body_bytes;
    Router::new()
        .route("/v1/info", get(info))
        .route("/v1/types", get(types))
        .route("/v1/channels", post(register))
        .route("/v1/channels/{id}", get(channel))
        .route("/v1/channels/{id}/fund", post(fund))
        .route("/v1/channels/{id}/topup", post(top_up))
        .route("/v1/channels/{id}/pay", post(pay))
        .route("/v1/channels/{id}/route", post(route))
        .route("/v1/channels/{id}/countersign", post(countersign))
        .route("/v1/channels/{id}/close", post(close))
        .route("/v1/channels/{id}/sync", post(sync))
        .route("/v1/admin/channels/{id}/pay", post(admin_pay))
        .route("/v1/ws", get(ws))
        .route("/v1/openapi.json", get(openapi))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(hub)
}

pub use weft_channel::ErrorBody;

impl HubError {
    /// What a wallet is told: the stable code, a message (no internals), and the details
    /// some codes carry.
    pub fn body(&self) -> ErrorBody {
        let message = match self {
            HubError::Store(e) => {
                tracing::error!(error = %e, "storage error");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        debug_assert!(
            weft_channel::is_error_code(self.code()),
            "error code {} is not in weft_channel::ERROR_CODES",
            self.code()
        );
        ErrorBody {
            code: self.code().into(),
            message,
            expected: match self {
                HubError::UnexpectedState { expected } => Some((**expected).clone()),
                _ => None,
            },
            hub_version: match self {
                HubError::SyncRequired { hub } | HubError::StaleVersion { hub, .. } => Some(*hub),
                _ => None,
            },
        }
    }
}

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}

/// JSON body extractor whose rejections are [`HubError`]s.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = HubError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| Self(v))
            .map_err(|e: JsonRejection| HubError::InvalidRequest(e.body_text()))
    }
}

fn channel_id(s: &str) -> Result<B256, HubError> {
    s.parse()
        .map_err(|_| HubError::InvalidRequest("expected a 0x 32-byte channel id".into()))
}

/// A JSON body about one channel's state.
trait ChannelBody: DeserializeOwned {
    /// The channel of the body's state, which must be the route's; `None` where the hub
    /// checks it itself (a sync).
    fn state_channel(&self) -> Option<&B256>;
}

impl ChannelBody for SignedUpdate {
    fn state_channel(&self) -> Option<&B256> {
        Some(&self.state.channel_id)
    }
}

impl ChannelBody for RouteRequest {
    fn state_channel(&self) -> Option<&B256> {
        Some(&self.state.channel_id)
    }
}

impl ChannelBody for CloseRequest {
    fn state_channel(&self) -> Option<&B256> {
        Some(&self.state.channel_id)
    }
}

impl ChannelBody for SyncRequest {
    fn state_channel(&self) -> Option<&B256> {
        None
    }
}

/// The `{id}` of a `/v1/channels/{id}/..` route and its JSON body, whose state must belong
/// to that channel. Refuses, in this order: an unreadable body, a malformed id, a state of
/// another channel.
#[derive(Debug)]
struct ForChannel<T>(B256, T);

impl<S: Send + Sync, T: ChannelBody> FromRequest<S> for ForChannel<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let Path(id) = Path::<String>::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let ApiJson(body) = ApiJson::<T>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let id = channel_id(&id).map_err(IntoResponse::into_response)?;
        if body.state_channel().is_some_and(|c| c != &id) {
            return Err(
                HubError::InvalidRequest("the state belongs to another channel".into())
                    .into_response(),
            );
        }
        Ok(Self(id, body))
    }
}

async fn info(State(hub): AppState) -> Json<HubInfo> {
    Json(hub.info())
}

/// `GET /v1/types`: the EIP-712 domain and the typed data a wallet signs for the hub
/// (`channelState` updates, `hubRequest` reads, `hubLogin` WebSocket logins), as the
/// sequencer's `/v1/types` gives its kinds, for any EIP-712 signer.
async fn types(State(hub): AppState) -> Json<weft_api::TypesView> {
    let types: [(&str, &'static weft_protocol::eip712::StructType); 3] = [
        ("channelState", &weft_protocol::channel::CHANNEL_STATE_TYPE),
        ("hubRequest", &weft_channel::HUB_REQUEST_TYPE),
        ("hubLogin", &weft_channel::HUB_LOGIN_TYPE),
    ];
    Json(weft_api::TypesView {
        domain: hub.info().domain.to_json(),
        kinds: types
            .into_iter()
            .map(|(name, ty)| {
                let kind = weft_api::KindTypes {
                    primary_type: ty.name.into(),
                    types: ty.types_json(),
                    encode_type: ty.encode_type(),
                };
                (name.to_string(), kind)
            })
            .collect(),
    })
}

async fn register(
    State(hub): AppState,
    ApiJson(update): ApiJson<SignedUpdate>,
) -> Result<Json<RegisterReply>, HubError> {
    Ok(Json(hub.register(update).await?))
}

async fn channel(
    State(hub): AppState,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<ChannelView>, HubError> {
    let id = channel_id(&id)?;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| HubError::Unauthorized(format!("missing {name} header")))
    };
    let wallet = authenticate(
        &hub,
        "GET",
        &format!("/v1/channels/{id}"),
        header(HEADER_WALLET)?,
        header(HEADER_TIMESTAMP)?,
        header(HEADER_SIGNATURE)?,
    )?;
    Ok(Json(hub.view(&id, &wallet).await?))
}

/// Checks a signed read request; returns the wallet.
fn authenticate(
    hub: &Hub,
    method: &str,
    path: &str,
    wallet: &str,
    timestamp: &str,
    signature: &str,
) -> Result<Address, HubError> {
    let bad = |what: &str| HubError::Unauthorized(format!("malformed {what}"));
    let wallet: Address = wallet.parse().map_err(|_| bad("wallet"))?;
    let timestamp: u64 = timestamp.parse().map_err(|_| bad("timestamp"))?;
    let signature: Signature = signature.parse().map_err(|_| bad("signature"))?;
    HubRequest {
        wallet,
        method,
        path,
        timestamp,
    }
    .verify(&signature, &hub.domain, now_secs(), hub.config.auth_window)?;
    Ok(wallet)
}

async fn fund(
    State(hub): AppState,
    ForChannel(id, update): ForChannel<SignedUpdate>,
) -> Result<Json<Ack>, HubError> {
    Ok(Json(hub.fund(&id, update).await?))
}

async fn top_up(
    State(hub): AppState,
    ForChannel(id, update): ForChannel<SignedUpdate>,
) -> Result<Json<Ack>, HubError> {
    Ok(Json(hub.top_up(&id, update).await?))
}

async fn pay(
    State(hub): AppState,
    ForChannel(id, update): ForChannel<SignedUpdate>,
) -> Result<Json<Ack>, HubError> {
    Ok(Json(hub.pay(&id, update).await?))
}

async fn route(
    State(hub): AppState,
    ForChannel(id, req): ForChannel<RouteRequest>,
) -> Result<Json<RouteReply>, HubError> {
    Ok(Json(hub.route(&id, req).await?))
}

async fn countersign(
    State(hub): AppState,
    ForChannel(id, update): ForChannel<SignedUpdate>,
) -> Result<Json<Ack>, HubError> {
    Ok(Json(hub.countersign(&id, update).await?))
}

async fn close(
    State(hub): AppState,
    ForChannel(id, req): ForChannel<CloseRequest>,
) -> Result<Json<CloseReply>, HubError> {
    let update = SignedUpdate {
        state: req.state,
        wallet_signature: req.wallet_signature,
    };
    Ok(Json(hub.close(&id, update, req.submit).await?))
}

async fn sync(
    State(hub): AppState,
    ForChannel(id, req): ForChannel<SyncRequest>,
) -> Result<Json<SyncReply>, HubError> {
    Ok(Json(hub.sync(&id, req).await?))
}

/// Checks the operator's bearer token (`Authorization: Bearer <token>`).
fn authorize_admin(hub: &Hub, headers: &HeaderMap) -> Result<(), HubError> {
    let token = hub
        .config
        .admin_token
        .as_ref()
        .ok_or(HubError::AdminDisabled)?;
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| HubError::Unauthorized("missing bearer token".into()))?;
    if token.matches(presented) {
        Ok(())
    } else {
        Err(HubError::Unauthorized("wrong admin token".into()))
    }
}

/// `POST /v1/admin/channels/{id}/pay`: the hub pays `amount` to the channel's wallet. The
/// reply is the hub's signed offer, also sent on the wallet's WebSocket, where the wallet
/// countersigns it.
async fn admin_pay(
    State(hub): AppState,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<AdminPayRequest>,
) -> Result<Json<Offer>, HubError> {
    authorize_admin(&hub, &headers)?;
    let id = channel_id(&id)?;
    if req.amount == 0 {
        return Err(HubError::InvalidRequest("amount must be positive".into()));
    }
    Ok(Json(hub.pay_wallet(&id, req.amount).await?))
}

/// `GET /v1/ws`: the upgrade needs no credentials; the socket's first exchange is the
/// login over a one-time challenge ([`crate::ws`]).
/// A request that is not a WebSocket upgrade is refused as `invalid_request`.
async fn ws(
    State(hub): AppState,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, HubError> {
    let upgrade = upgrade.map_err(|e| HubError::InvalidRequest(e.body_text()))?;
    Ok(upgrade
        .read_buffer_size(weft_channel::SOCKET_BUFFER)
        .write_buffer_size(0)
        .max_message_size(weft_channel::MAX_SOCKET_MESSAGE)
        .max_frame_size(weft_channel::MAX_SOCKET_MESSAGE)
        .on_upgrade(move |socket| crate::ws::serve(hub, socket)))
}

async fn health(State(hub): AppState) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "address": hub.address,
        "head": hub.head(),
        "channels": hub.channel_ids().len(),
    }))
}

async fn metrics(State(hub): AppState) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        hub.metrics.render(),
    )
        .into_response()
}

/// `GET /v1/openapi.json`: the hub's OpenAPI document ([`crate::openapi`]).
async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::DOCUMENT.as_str(),
    )
        .into_response()
}

async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(
            json!({ "code": "method_not_allowed", "message": "method not allowed on this route" }),
        ),
    )
        .into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "code": "not_found", "message": "no such route" })),
    )
        .into_response()
}

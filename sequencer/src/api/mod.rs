//! The REST API (axum): JSON under `/v1`, errors as `{code, message}`.
//!
//! `app(node)` builds the router; handlers are tested in-process with `oneshot` and end to
//! end over a socket. The OpenAPI document, generated from the types ([`openapi`]), is
//! served at `/v1/openapi.json`.

pub mod error;
pub mod feed;
pub mod handlers;
pub mod limit;
pub mod openapi;

use std::sync::Arc;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    middleware,
    routing::{get, post},
};

pub use error::{ApiError, ApiJson, ErrorBody};
pub use limit::RateLimiter;

use crate::node::Node;

/// The public router.
pub fn app(node: Arc<Node>) -> Router {
    let api = &node.config.api;
    let limiter = Arc::new(RateLimiter::new(api.rate_per_second, api.rate_burst));
    let rate_limited = api.rate_per_second > 0;
    let router = Router::new()
        .route(weft_api::SUBMIT_PATH, post(handlers::submit))
        .route(weft_api::SUBMIT_BATCH_PATH, post(handlers::submit_batch))
        .route("/v1/transactions/{hash}", get(handlers::transaction))
        .route(
            "/v1/transactions/{hash}/withdrawal",
            get(handlers::withdrawal),
        )
        .route("/v1/accounts/{address}", get(handlers::account))
        .route("/v1/accounts/{address}/proof", get(handlers::account_proof))
        .route("/v1/blocks/{id}", get(handlers::block))
        .route(
            "/v1/blocks/{id}/transactions",
            get(handlers::block_transactions),
        )
        .route("/v1/channels/{id}", get(handlers::channel))
        .route("/v1/channels/{id}/proof", get(handlers::channel_proof))
        .route("/v1/secrets/{hashlock}/proof", get(handlers::secret_proof))
        .route("/v1/batches/{index}", get(handlers::batch))
        .route("/v1/batches/{index}/witness", get(handlers::batch_witness))
        .route("/v1/domain", get(handlers::domain))
        .route("/v1/chain", get(handlers::chain))
        .route("/v1/types", get(handlers::types))
        .route("/v1/openapi.json", get(handlers::openapi))
        .route("/v1/ws", get(feed::upgrade))
        .route(
            crate::rpc::PATH,
            post(crate::rpc::http).get(crate::rpc::upgrade),
        )
        .route("/health", get(handlers::health))
        .route("/metrics", get(handlers::metrics))
        .merge(crate::explorer::routes())
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(api.max_body_bytes))
        .with_state(node);
    if rate_limited {
        router.layer(middleware::from_fn_with_state(limiter, limit::rate_limit))
    } else {
        router
    }
}

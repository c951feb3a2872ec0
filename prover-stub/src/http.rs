//! `/health` and `/metrics`.

use std::sync::Arc;

use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};

use crate::service::{Health, Prover};

/// The prover's HTTP router.
pub fn app(prover: Arc<Prover>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(prover)
}

/// 200 while checking, 503 with the refusal while halted.
async fn health(State(prover): State<Arc<Prover>>) -> impl IntoResponse {
    let health = prover.health.read().clone();
    let status = match health {
        Health::Ok { .. } => StatusCode::OK,
        Health::Halted { .. } => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(health))
}

async fn metrics(State(prover): State<Arc<Prover>>) -> String {
    prover.metrics.render()
}

//! # weft-service
//!
//! What the three service binaries (`weft-sequencer`, `weft-prover`, `weft-channel-hub`)
//! share, so that each `main.rs` only parses its configuration, sets up tracing and calls
//! its library's `run(config, shutdown)`:
//!
//! - [`config`]: one declaration per setting. A service declares its settings once, as a
//!   struct of `Option` fields deriving `clap::Args` and `serde::Deserialize`;
//!   [`config::parse`] fills it from (highest first) flags, environment variables and an
//!   optional TOML file, and the service converts it into its typed `Config`.
//! - [`secret`]: keys and tokens come from a file or an environment variable, never from a
//!   flag value.
//! - [`init_tracing`]: `tracing` events to stderr, filtered by `RUST_LOG` (default `info`).
//! - [`shutdown_signal`]: resolves on Ctrl-C or SIGTERM.
//! - [`http`]: binds a listener and serves an axum router over HTTP/1.1 until told to stop,
//!   under [`http::Limits`]: a connection cap below the open-file limit (idle connections
//!   make room, reserved slots keep `/health` answerable), header/idle and body timeouts, a
//!   memory budget for request bodies; `TCP_NODELAY` on every accepted socket.
//! - [`openapi`]: OpenAPI documents built from the types of the bodies (schemars) and a
//!   table of routes.
//! - [`testing`]: runs a test again in a child process with extra environment variables
//!   (to test the environment layer without mutating the test process's environment).

#![warn(missing_docs)]

pub mod config;
pub mod http;
pub mod openapi;
pub mod secret;
pub mod testing;

pub use crate::{config::parse, http::Server};

use tracing_subscriber::EnvFilter;

/// The log filter when `RUST_LOG` is unset or invalid.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// Sends `tracing` events to stderr, filtered by `RUST_LOG` (default
/// [`DEFAULT_LOG_FILTER`]). Call once, first thing in `main`.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .init();
}

/// Resolves when the process receives Ctrl-C (SIGINT) or, on Unix, SIGTERM.
///
/// # Panics
///
/// If the SIGTERM handler cannot be installed (no Tokio runtime with signals enabled).
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

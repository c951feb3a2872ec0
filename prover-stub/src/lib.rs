//! # weft-prover-stub
//!
//! Stands in for a validity prover: it checks for real everything a proof of a batch would
//! prove, and replaces only the proof itself by an ECDSA attestation that the L1 contract
//! verifies.
//!
//! - [`verify`]: the check ([`verify::check_batch`]): signatures, payload == witness,
//!   re-execution to the committed roots, queue entries.
//! - [`service`]: the loop that watches L1, fetches witnesses, attests, drives finality and
//!   survives restarts; [`store`] is its state file; [`chain`] its L1 calls.
//! - [`http`]: `/health` (503 with the reason while halted) and `/metrics`.
//! - [`config`]: flags, environment variables and a TOML file, resolved into a `Config`.
//!
//! The binary (`weft-prover`) parses [`config::Config`], sets up tracing and calls [`run`].

pub mod chain;
pub mod config;
pub mod http;
pub mod metrics;
pub mod service;
pub mod store;
pub mod verify;

use tokio::sync::watch;

/// Opens the prover, serves `/health` and `/metrics` on `config.listen` and runs the
/// [`service`] loop until `shutdown` resolves.
pub async fn run(config: config::Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let listen = config.listen;
    let prover = service::Prover::open(config).await?;
    let (stop, stopped) = watch::channel(false);
    let server =
        weft_service::Server::start(listen, http::app(prover.clone()), stopped.clone()).await?;
    tracing::info!(addr = %server.addr(), "prover health and metrics");
    let running = tokio::spawn(service::run(prover, stopped));
    shutdown.await;
    stop.send_replace(true);
    server.abort().await;
    running.await?
}

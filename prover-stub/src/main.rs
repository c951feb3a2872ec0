//! `weft-prover`: parse the configuration, set up tracing, run until SIGINT or SIGTERM.

use clap::Parser;
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;
use weft_prover_stub::{
    config::{Cli, Config},
    http, service,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Config::from_cli(Cli::parse())?;
    let listen = config.listen;
    let prover = service::Prover::open(config).await?;
    let (stop, stopped) = watch::channel(false);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(%listen, "prover health and metrics");
    let server = tokio::spawn(axum::serve(listener, http::app(prover.clone())).into_future());
    let running = tokio::spawn(service::run(prover, stopped));
    shutdown_signal().await;
    stop.send_replace(true);
    server.abort();
    running.await?
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

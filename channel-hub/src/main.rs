//! `weft-channel-hub`: parse the configuration, set up tracing, run until SIGINT or SIGTERM.

use clap::Parser;
use tracing_subscriber::EnvFilter;
use weft_channel_hub::config::{Cli, Config};

/// mimalloc rather than glibc's malloc: fewer cycles per allocation under the hub's
/// many small, short-lived buffers (`cargo bench -p weft-channel-hub --bench hub`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Config::load(&Cli::parse())?;
    let running = weft_channel_hub::start(config).await?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.stop().await
}

async fn shutdown_signal() {
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

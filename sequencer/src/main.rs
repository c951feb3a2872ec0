//! `weft-sequencer`: parse the configuration, set up tracing, then run the node until SIGINT
//! or SIGTERM, or run one of its commands (`rebuild`, `genesis-root`, `dev-keys`).

use clap::Parser;
use tracing_subscriber::EnvFilter;
use weft_sequencer::{
    config::{Cli, Command, Config, GenesisConfig},
    l1::{AlloyL1, rebuild::rebuild},
    node::genesis_state,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let config = Config::load(&cli)?;
    match cli.command {
        None => {
            let running = weft_sequencer::start(config).await?;
            shutdown_signal().await;
            tracing::info!("shutting down: draining the mempool");
            running.stop().await
        }
        Some(Command::GenesisRoot) => {
            println!("{}", genesis_state(&config)?.state_root());
            Ok(())
        }
        Some(Command::DevKeys) => {
            for i in 0..config.genesis.dev_accounts {
                let key = GenesisConfig::dev_key(i);
                println!("{i} {} {}", key.address(), key.secret_bytes());
            }
            Ok(())
        }
        Some(Command::Rebuild) => {
            let l1 = config
                .l1
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("rebuild needs --l1-rpc"))?;
            let client = AlloyL1::new(&l1.rpc_url, config.rollup_address, l1.rpc_timeout)?;
            let report = rebuild(&config, &client).await?;
            tracing::info!(
                data_dir = %config.data_dir.display(),
                l1_block = report.l1_block,
                batches = report.batches,
                blocks = report.blocks,
                transactions = report.transactions,
                queue_entries = report.queue_entries,
                state_root = %report.state_root,
                "rebuilt from L1; the node can start from this data directory"
            );
            Ok(())
        }
    }
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

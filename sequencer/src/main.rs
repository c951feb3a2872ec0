//! `weft-sequencer`: parse the configuration, set up tracing, then run the node until SIGINT
//! or SIGTERM, or run one of its commands (`admission`, `follower`, `rebuild`, `genesis-root`,
//! `dev-keys`).

use weft_sequencer::{
    config::{Cli, Command, Config, GenesisConfig, Settings},
    l1::rebuild::rebuild,
    node::genesis_state,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    weft_service::init_tracing();
    let (cli, settings): (Cli, Settings) = weft_service::parse()?;
    let config = Config::from_settings(settings)?;
    match cli.command {
        None => weft_sequencer::run(config, weft_service::shutdown_signal()).await,
        Some(Command::Admission) => {
            let ingress = config.ingress.clone().ok_or_else(|| {
                anyhow::anyhow!("an admission node needs --nats-url (the leader's stream)")
            })?;
            let running = weft_sequencer::admission_node::start(&config, &ingress).await?;
            weft_service::shutdown_signal().await;
            running.stop().await
        }
        Some(Command::Follower) => {
            let running = weft_sequencer::start_follower(config).await?;
            weft_service::shutdown_signal().await;
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
            let client = l1.client(config.rollup_address)?;
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

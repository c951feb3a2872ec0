//! `weft-prover`: parse the configuration, set up tracing, run until SIGINT or SIGTERM.

use weft_prover_stub::config::{Cli, Config, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    weft_service::init_tracing();
    let (_, settings): (Cli, Settings) = weft_service::parse()?;
    let config = Config::from_settings(settings)?;
    weft_prover_stub::run(config, weft_service::shutdown_signal()).await
}

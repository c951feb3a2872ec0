//! `weft-channel-hub`: parse the configuration, set up tracing, run until SIGINT or SIGTERM.

use weft_channel_hub::config::{Cli, Config, Settings};

/// mimalloc rather than glibc's malloc: fewer cycles per allocation under the hub's
/// many small, short-lived buffers (`cargo bench -p weft-tests --bench hub`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    weft_service::init_tracing();
    let (_, settings): (Cli, Settings) = weft_service::parse()?;
    let config = Config::from_settings(settings)?;
    weft_channel_hub::run(config, weft_service::shutdown_signal()).await
}

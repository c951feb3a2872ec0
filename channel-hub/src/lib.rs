//! # weft-channel-hub
//!
//! The state-channel hub of DESIGN.md ("Channels"). The wallet side is the `weft-wallet`
//! library; what both sides share (messages, transitions, signed requests) is
//! `weft-channel`.
//!
//! Wallets open channels with the hub on the rollup (`ChannelOpen`) and register them here;
//! the hub funds its side by its [`config::FundingPolicy`] with its own `ChannelDeposit`.
//! Off the rollup, wallet and hub co-sign [`weft_protocol::channel::ChannelState`]s: direct
//! payments either way, and routed payments A → hub → B made atomic by hashlocks. The rules
//! the hub signs by (durable before signing, one state per version, only backed credits,
//! sync after a restart) are in [`hub`]; the transitions both sides build states with are
//! in [`weft_channel::transition`]; the [`watcher`] refutes stale registrations on the rollup.
//!
//! ## Where things are
//!
//! - [`api`]: REST routes and the WebSocket endpoint; [`ws`]: the per-wallet socket, an
//!   adapter from the WebSocket to the hub's sessions.
//! - [`hub`]: channels, funding, updates, routing, settlement, sync, disputes, the hub's
//!   rollup transactions and the wallets' sessions, one file each (`hub/mod.rs` lists them
//!   and the lock order).
//! - [`store`]: the database (sqlx; SQLite or PostgreSQL) with group commit.
//! - the sequencer's API: [`weft_api::Client`], its types and errors.
//!
//! The binary (`weft-channel-hub`) parses [`config::Config`], sets up tracing and calls
//! [`run`]; tests [`start`] hubs the same way on an ephemeral port.

pub mod api;
pub mod config;
pub mod error;
pub mod exodus;
pub mod hub;
pub mod metrics;
pub mod openapi;
pub mod store;
pub mod watcher;
pub mod ws;

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use tokio::{sync::watch, task::JoinHandle};
use tracing::{info, warn};
use weft_service::Server;

pub use crate::{config::Config, error::HubError, hub::Hub};

/// A running hub: its address and shared state, and the handles to stop it.
#[derive(Debug)]
pub struct Running {
    /// Where the API listens.
    pub addr: SocketAddr,
    /// The hub's shared state.
    pub hub: Arc<Hub>,
    stop: watch::Sender<bool>,
    server: Server,
    watcher: JoinHandle<anyhow::Result<()>>,
    exodus: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Runs the hub until `shutdown` resolves, then stops it as [`Running::stop`] does.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let running = start(config).await?;
    shutdown.await;
    info!("shutting down");
    running.stop().await
}

/// Opens the hub (loading its channels), binds the API and starts the watcher.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let listen = config.listen;
    let hub = Hub::open(config).await.context("open the hub")?;
    if let Err(e) = hub.resend_pending().await {
        warn!(error = %e, "could not resend the hub's pending rollup transactions");
    }
    let (stop, stopped) = watch::channel(false);
    let server = Server::start(listen, api::app(hub.clone()), stopped.clone()).await?;
    let addr = server.addr();
    let exodus = hub
        .config
        .exodus
        .clone()
        .map(|c| tokio::spawn(exodus::run(hub.clone(), c, stopped.clone())));
    let watcher = tokio::spawn(watcher::run(hub.clone(), stopped));
    info!(%addr, hub = %hub.address, exodus_watch = exodus.is_some(), "channel hub listening");
    Ok(Running {
        addr,
        hub,
        stop,
        server,
        watcher,
        exodus,
    })
}

impl Running {
    /// Stops accepting requests and the watcher, then closes the database.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.send_replace(true);
        self.watcher.await.context("watcher task")??;
        if let Some(exodus) = self.exodus {
            exodus.await.context("exodus task")??;
        }
        // Open WebSockets would keep a graceful shutdown waiting: close them (the wallets
        // reconnect to the next hub) and stop serving.
        self.hub.sessions.close_all();
        self.server.abort().await;
        self.hub.store.close().await;
        Ok(())
    }
}

//! # weft-sequencer
//!
//! The node dApps talk to: a REST API ([`api`]) feeds [`admission`] (cheap checks, then
//! signature recovery on every core), which feeds the [`mempool`]; the [`builder`] seals
//! ready transactions into blocks, executes them with the protocol crate's parallel engine
//! and writes each block to the [`store`] in one database transaction before anything
//! reports it executed. [`node`] holds the shared state and rebuilds it at start from the
//! latest snapshot plus the stored blocks after it. The [`batcher`] groups stored blocks
//! into batches; with an L1 configured, the [`l1`] watcher takes deposits and forced
//! withdrawals from L1 for the builder and follows the batches' L1 statuses, and the poster
//! commits the batches; `weft-sequencer rebuild` ([`l1::rebuild`]) reconstructs a data
//! directory from L1 alone.
//!
//! The binary (`weft-sequencer`) parses [`config::Config`], sets up tracing and calls
//! [`run`]; tests [`start`] nodes the same way on an ephemeral port.

pub mod admission;
pub mod admission_node;
pub mod api;
pub mod batcher;
pub mod builder;
pub mod config;
pub mod explorer;
pub mod feed;
pub mod ingress;
pub mod l1;
pub mod lease;
pub mod mempool;
pub mod metrics;
pub mod node;
pub mod recent;
pub mod rpc;
pub mod store;

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use tokio::{sync::watch, task::JoinHandle};
use tracing::info;
use weft_service::Server;

use crate::{config::Config, node::Node};

/// A running node: its address and shared state, and the handles to stop it.
#[derive(Debug)]
pub struct Running {
    /// Where the API listens.
    pub addr: SocketAddr,
    /// The node's shared state.
    pub node: Arc<Node>,
    stop: watch::Sender<bool>,
    server: Server,
    builder: JoinHandle<anyhow::Result<()>>,
    batcher: JoinHandle<anyhow::Result<()>>,
    l1: Vec<JoinHandle<anyhow::Result<()>>>,
    lease: JoinHandle<anyhow::Result<()>>,
    ingress: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Opens the node (rebuilding its state), binds the API and starts the block builder, the
/// batcher and, with an L1 section, the L1 watcher and poster (over JSON-RPC).
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let l1 = match &config.l1 {
        Some(c) => Some(c.client(config.rollup_address)?),
        None => None,
    };
    start_with_l1(config, l1).await
}

/// Runs the node until `shutdown` resolves (or the builder or the lease task stops on its
/// own: a fatal error, a lost lease), then stops it as [`Running::stop`] does.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let running = start(config).await?;
    let failed = async {
        while !running.builder_finished() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    tokio::select! {
        () = shutdown => info!("shutting down: draining the mempool"),
        () = failed => tracing::error!("a fatal task stopped: shutting down"),
    }
    running.stop().await
}

/// [`start`] with the given L1 client (tests put faults behind it); `None` or a
/// configuration without an L1 section runs the node without L1.
pub async fn start_with_l1<C: l1::L1Client>(
    config: Config,
    l1: Option<C>,
) -> anyhow::Result<Running> {
    let (listen, limits) = (config.listen, config.api.server);
    // A leased node is a hot standby until it takes the lease (it follows the stored
    // blocks); it then replays the blocks the previous leader committed since.
    let (lease, warm) = match &config.lease {
        Some(lease_config) => {
            let store = store::Store::connect(config.database_url.as_deref(), &config.data_dir)
                .await
                .context("open storage")?;
            let (lease, warm) = lease::take(&store, &config, lease_config).await?;
            store.close().await;
            (Some(lease), warm)
        }
        None => (None, None),
    };
    let node = Node::open_leader(config, lease, warm).await?;
    let (stop, stopped) = watch::channel(false);
    let server =
        Server::start_with(listen, api::app(node.clone()), limits, stopped.clone()).await?;
    let addr = server.addr();
    let builder = tokio::spawn(builder::run(node.clone(), stopped.clone()));
    let batcher = tokio::spawn(batcher::run(node.clone(), stopped.clone()));
    let lease = tokio::spawn(lease::keep(node.clone(), stopped.clone()));
    let ingress = node
        .config
        .ingress
        .clone()
        .map(|config| tokio::spawn(ingress::run(node.clone(), config, stopped.clone())));
    let l1 = match l1 {
        Some(client) => l1::spawn(node.clone(), Arc::new(client), &stopped),
        None => Vec::new(),
    };
    let head = node.head();
    info!(%addr, head = head.number, "sequencer listening");
    Ok(Running {
        addr,
        node,
        stop,
        server,
        builder,
        batcher,
        l1,
        lease,
        ingress,
    })
}

/// Starts a follower (`weft-sequencer follower`): the state rebuilt from the leader's
/// database and kept current with it ([`node::follow_blocks`] in place of the builder), the
/// API serving reads and refusing submissions (`not_leader`); no batcher, lease, ingress or
/// L1 tasks, and nothing written.
pub async fn start_follower(config: Config) -> anyhow::Result<Running> {
    let (listen, limits) = (config.listen, config.api.server);
    let node = Node::open_follower(config).await?;
    let (stop, stopped) = watch::channel(false);
    let server =
        Server::start_with(listen, api::app(node.clone()), limits, stopped.clone()).await?;
    let addr = server.addr();
    let follow = tokio::spawn(node::follow_blocks(node.clone(), stopped.clone()));
    let idle = || tokio::spawn(async { anyhow::Ok(()) });
    info!(%addr, head = node.head().number, "follower listening");
    Ok(Running {
        addr,
        node,
        stop,
        server,
        builder: follow,
        batcher: idle(),
        l1: Vec::new(),
        lease: idle(),
        ingress: None,
    })
}

impl Running {
    /// Stops accepting requests, seals what is ready, writes a snapshot and returns.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.send_replace(true);
        self.server.finished().await.context("server")?;
        self.builder.await.context("builder task")??;
        self.batcher.await.context("batcher task")??;
        for task in self.l1 {
            task.await.context("L1 task")??;
        }
        self.lease.await.context("lease task")??;
        if let Some(ingress) = self.ingress {
            ingress.await.context("ingress task")??;
            self.node.ingress_acks.finish().await;
        }
        // Everything is written: a standby may take over at once.
        lease::release(&self.node).await;
        Ok(())
    }

    /// Whether the block builder or the lease task stopped on its own (a fatal error, a
    /// lost lease).
    pub fn builder_finished(&self) -> bool {
        self.builder.is_finished() || self.lease.is_finished()
    }
}

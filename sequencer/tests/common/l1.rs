//! A sequencer with its L1 side on a real anvil (weft-l1's test kit), in process for tests
//! that need the node's internals: the deployment's genesis root is the node's, the node
//! posts with anvil's first key, and tests act on L1 as users (from the other dev
//! accounts). Nothing here attests batches: the flows through the prover are whole-stack
//! tests (`tests/`), with the real prover process.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, B256},
    providers::Provider,
};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use weft_l1::{
    Rollup,
    testkit::{AnvilOptions, Devnet, DevnetConfig},
};
use weft_protocol::{primitives::Amount, signature::SigningKey};
use weft_sequencer::{
    Running,
    config::{Config, DaMode, L1Config},
    node::genesis_state,
    store::BatchStatus,
};

use super::{Client, config};

pub const ETHER: u128 = 1_000_000_000_000_000_000;

/// A node with its L1.
pub struct L1Node {
    pub dev: Devnet,
    pub config: Config,
    pub running: Option<Running>,
    pub client: Client,
    pub dir: TempDir,
    heartbeat: Option<JoinHandle<()>>,
    heartbeat_every: Option<Duration>,
}

/// How a test wants its L1.
pub struct Setup {
    /// Mine an empty L1 block this often (a chain with a block time; automine stays on).
    pub heartbeat: Option<Duration>,
    /// anvil's options.
    pub anvil: AnvilOptions,
    /// The deployment.
    pub devnet: DevnetConfig,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            heartbeat: Some(Duration::from_millis(150)),
            anvil: AnvilOptions::default(),
            devnet: DevnetConfig::default(),
        }
    }
}

impl L1Node {
    /// anvil, the contracts and a node posting to them; `tune` adjusts the node's config.
    pub async fn start(setup: Setup, tune: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(&dir.path().join("node"), None);
        config.batch.max_age = Duration::from_millis(200);
        let genesis_state_root = genesis_state(&config).unwrap().state_root();
        let dev = Devnet::start_with(
            DevnetConfig {
                genesis_state_root,
                ..setup.devnet
            },
            setup.anvil,
        )
        .await;
        config.rollup_address = *dev.rollup.address();
        config.l1 = Some(L1Config {
            confirmations: 2,
            poll_interval: Duration::from_millis(50),
            from_block: dev.deploy_block,
            resend_after: Duration::from_secs(2),
            rpc_timeout: Duration::from_secs(2),
            sequencer_key: Some(SigningKey::from_bytes(&dev.keys[0]).unwrap()),
            // Each test names its DA carrier (`auto` would pick blobs at anvil's fees).
            da_mode: DaMode::Calldata,
            ..L1Config::new(dev.endpoint())
        });
        tune(&mut config);
        let running = weft_sequencer::start(config.clone()).await.unwrap();
        let client = Client::new(running.addr);
        let heartbeat = setup.heartbeat.map(|every| heartbeat(&dev, every));
        Self {
            dev,
            config,
            running: Some(running),
            client,
            dir,
            heartbeat,
            heartbeat_every: setup.heartbeat,
        }
    }

    /// Stops anvil (see [`Devnet::stop`]), its heartbeat first.
    pub async fn stop_l1(&mut self) {
        self.stop_heartbeat();
        self.dev.stop().await;
    }

    /// Starts anvil again from its state file, and its heartbeat.
    pub fn restart_l1(&mut self) {
        self.dev.restart();
        self.heartbeat = self
            .heartbeat_every
            .map(|every| heartbeat(&self.dev, every));
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().unwrap()
    }

    /// Stops the node (graceful).
    pub async fn stop(&mut self) {
        self.running.take().unwrap().stop().await.unwrap();
    }

    /// Starts the node again from its data directory.
    pub async fn restart(&mut self) {
        let running = weft_sequencer::start(self.config.clone()).await.unwrap();
        self.client = Client::new(running.addr);
        self.running = Some(running);
    }

    /// Stops the L1 heartbeat.
    pub fn stop_heartbeat(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }

    /// The L2 balance of `address` in `token`.
    pub async fn l2_balance(&self, address: &Address, token: u32) -> Amount {
        let (_, v) = self.client.get(&format!("/v1/accounts/{address}")).await;
        v["balances"]
            .as_array()
            .and_then(|b| b.iter().find(|b| b["token"] == token))
            .map_or(0, |b| b["amount"].as_str().unwrap().parse().unwrap())
    }

    /// Waits until the newest stored batch covers the L2 head and L1 has committed it.
    pub async fn wait_all_committed(&self, timeout: Duration) -> u64 {
        let node = self.running().node.clone();
        wait(timeout, "every block committed on L1", || {
            let node = node.clone();
            let rollup = self.dev.rollup.clone();
            async move {
                let head = node.head().number;
                let batch = node.store.latest_batch().await.unwrap()?;
                let last = rollup.lastCommitted().call().await.ok()?;
                (batch.commitment.to_block >= head && last == batch.commitment.index)
                    .then_some(last)
            }
        })
        .await
    }

    /// Waits until the node's store shows batch `index` at least at `status`.
    pub async fn wait_batch_status(&self, index: u64, status: BatchStatus) {
        let node = self.running().node.clone();
        wait(
            Duration::from_secs(20),
            &format!("batch {index} {}", status.as_str()),
            || {
                let node = node.clone();
                async move {
                    let b = node.store.batch(index).await.unwrap()?;
                    (b.status >= status).then_some(())
                }
            },
        )
        .await
    }

    /// Every BatchCommitted event on the canonical chain, as (index, L1 tx).
    pub async fn committed_events(&self) -> Vec<(u64, B256)> {
        let filter = alloy::rpc::types::Filter::new()
            .address(*self.dev.rollup.address())
            .event_signature(<Rollup::BatchCommitted as alloy::sol_types::SolEvent>::SIGNATURE_HASH)
            .from_block(0);
        self.dev
            .provider
            .get_logs(&filter)
            .await
            .unwrap()
            .iter()
            .map(|l| {
                let e = l.log_decode::<Rollup::BatchCommitted>().unwrap();
                (e.inner.data.index, l.transaction_hash.unwrap())
            })
            .collect()
    }
}

impl Drop for L1Node {
    fn drop(&mut self) {
        self.stop_heartbeat();
    }
}

/// Mines an empty L1 block every `every`.
fn heartbeat(dev: &Devnet, every: Duration) -> JoinHandle<()> {
    let provider = dev.provider.clone();
    tokio::spawn(async move {
        loop {
            // Errors while anvil is down are expected.
            let _ = provider
                .raw_request::<_, serde_json::Value>("anvil_mine".into(), (1,))
                .await;
            tokio::time::sleep(every).await;
        }
    })
}

/// Polls `check` until it returns `Some` (panics with `what` after `timeout`).
pub async fn wait<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

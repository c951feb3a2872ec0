//! [`Stack`]: anvil with the contracts, the sequencer, the prover and the hub as real
//! processes, each optional, built by [`StackBuilder`].

use std::{
    cell::Cell,
    ffi::OsString,
    future::Future,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use alloy::{
    primitives::U256,
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionReceipt,
};
use serde_json::Value;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use weft_api::{BatchStatus, BatchView};
use weft_l1::{
    AlloyL1, Rollup,
    testkit::{AnvilOptions, Devnet, DevnetConfig, mined},
};
use weft_protocol::{
    eip712::Domain,
    primitives::{Address, Amount, B256},
    signature::SigningKey,
    state::GenesisAccount,
};

use crate::{
    bins::binaries,
    process::{Process, write_secret},
};

/// How long the stack's `wait_*` helpers wait.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);
/// Set to keep the stack's directory (data, logs, keys) after the test; its path is printed.
pub const KEEP_ENV: &str = "WEFT_STACK_KEEP";
/// The hub's key unless [`HubOptions::key`] says otherwise: the hub binary's public dev key.
pub const HUB_DEV_KEY_SEED: &[u8] = b"weft-hub-dev";

/// anvil and the deployment.
#[derive(Debug, Clone)]
pub struct L1Options {
    /// Mine an empty L1 block this often (a chain with a block time, so confirmations
    /// come; automine stays on); `None`: blocks only on transactions.
    pub heartbeat: Option<Duration>,
    /// anvil's options.
    pub anvil: AnvilOptions,
    /// The deployment; its genesis state root is the sequencer's when there is one.
    pub devnet: DevnetConfig,
}

impl Default for L1Options {
    fn default() -> Self {
        Self {
            heartbeat: Some(Duration::from_millis(150)),
            anvil: AnvilOptions::default(),
            devnet: DevnetConfig::default(),
        }
    }
}

/// Whether the sequencer has an L1 side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequencerL1 {
    /// Watcher and poster, posting with anvil's first key (the deployment's sequencer).
    Post,
    /// No L1 side: the node only knows the Rollup's address (its EIP-712 domain); a test
    /// commits batches itself.
    Off,
}

/// The sequencer's settings (written to its TOML configuration file; see
/// `weft-sequencer --help` and `sequencer/src/config/`).
#[derive(Debug, Clone)]
pub struct SequencerOptions {
    /// Block time.
    pub block_time: Duration,
    /// Most blocks per batch (`None`: the node's default).
    pub batch_max_blocks: Option<u64>,
    /// Longest an unbatched block waits.
    pub batch_max_age: Duration,
    /// The chain's dispute window in blocks (`None`: the default).
    pub dispute_window: Option<u64>,
    /// Deterministic dev accounts funded at genesis.
    pub dev_accounts: u32,
    /// ETH of each (`None`: the default).
    pub dev_balance: Option<Amount>,
    /// Further genesis allocations (not with a prover: the prover knows dev accounts only).
    pub genesis: Vec<GenesisAccount>,
    /// Executor and signature threads.
    pub threads: usize,
    /// With L1: post, or no L1 side.
    pub l1: SequencerL1,
    /// L1 confirmations.
    pub l1_confirmations: u64,
    /// L1 poll interval.
    pub l1_poll: Duration,
    /// A commit without a receipt is re-signed after this long (whole seconds).
    pub l1_resend_after: Duration,
    /// Limit on one L1 request.
    pub l1_rpc_timeout: Duration,
    /// How batches carry their DA payload (`--l1-da`): `calldata` by default here, so that
    /// tests about something else do not pay for KZG proofs on every small batch; the blob
    /// tests name `blobs` or `auto` (the node's own default).
    pub l1_da: &'static str,
    /// Any other key of the configuration file; overrides the fields above.
    pub settings: toml::Table,
}

impl Default for SequencerOptions {
    /// Fast blocks and batches, 20 dev accounts, no rate limit, 2 threads, posting to L1
    /// when there is one after 2 confirmations, polled every 50 ms.
    fn default() -> Self {
        Self {
            block_time: Duration::from_millis(50),
            batch_max_blocks: None,
            batch_max_age: Duration::from_millis(200),
            dispute_window: None,
            dev_accounts: 20,
            dev_balance: None,
            genesis: Vec::new(),
            threads: 2,
            l1: SequencerL1::Post,
            l1_confirmations: 2,
            l1_poll: Duration::from_millis(50),
            l1_resend_after: Duration::from_secs(2),
            l1_rpc_timeout: Duration::from_secs(2),
            l1_da: "calldata",
            settings: toml::Table::new(),
        }
    }
}

/// The prover's settings (its chain parameters are the sequencer's).
#[derive(Debug, Clone)]
pub struct ProverOptions {
    /// Poll interval of L1 and the sequencer.
    pub poll: Duration,
}

impl Default for ProverOptions {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(100),
        }
    }
}

/// The hub's settings (see `weft-channel-hub --help`).
#[derive(Debug, Clone)]
pub struct HubOptions {
    /// Its key (given as a key file); `None`: the public dev key (`keccak256("weft-hub-dev")`).
    pub key: Option<SigningKey>,
    /// Watcher poll interval.
    pub watch_interval: Duration,
    /// Idle time before the hub offers a settlement.
    pub settle_idle: Duration,
    /// How long a routed payment waits for the payee.
    pub route_timeout: Duration,
    /// Further flags.
    pub args: Vec<String>,
}

impl Default for HubOptions {
    fn default() -> Self {
        Self {
            key: None,
            watch_interval: Duration::from_millis(50),
            settle_idle: Duration::from_millis(100),
            route_timeout: Duration::from_secs(5),
            args: Vec::new(),
        }
    }
}

impl HubOptions {
    /// The key the hub signs with.
    pub fn signing_key(&self) -> SigningKey {
        self.key
            .clone()
            .unwrap_or_else(|| SigningKey::from_seed(HUB_DEV_KEY_SEED))
    }
}

/// What to start; [`Stack::builder`].
#[derive(Debug, Default)]
#[must_use]
pub struct StackBuilder {
    l1: Option<L1Options>,
    sequencer: Option<SequencerOptions>,
    prover: Option<ProverOptions>,
    hub: Option<HubOptions>,
}

impl StackBuilder {
    /// anvil with the contracts deployed.
    pub fn l1(mut self, options: L1Options) -> Self {
        self.l1 = Some(options);
        self
    }

    /// The `weft-sequencer` binary.
    pub fn sequencer(mut self, options: SequencerOptions) -> Self {
        self.sequencer = Some(options);
        self
    }

    /// The `weft-prover` binary (needs L1 and the sequencer). Its L1 account is funded.
    pub fn prover(mut self, options: ProverOptions) -> Self {
        self.prover = Some(options);
        self
    }

    /// The `weft-channel-hub` binary (needs the sequencer).
    pub fn hub(mut self, options: HubOptions) -> Self {
        self.hub = Some(options);
        self
    }

    /// Starts everything asked for, in order: L1, sequencer, prover, hub; each waited for
    /// until it answers. Panics (with the failing process's log) if one does not.
    pub async fn start(self) -> Stack {
        assert!(
            self.prover.is_none() || (self.l1.is_some() && self.sequencer.is_some()),
            "the prover needs L1 and the sequencer"
        );
        assert!(
            self.hub.is_none() || self.sequencer.is_some(),
            "the hub needs the sequencer"
        );
        let dir = tempfile::Builder::new()
            .prefix("weft-stack-")
            .tempdir()
            .expect("a temporary directory");
        let bins = binaries();
        let mut stack = Stack {
            dir,
            l1: None,
            heartbeat: None,
            sequencer: None,
            prover: None,
            hub: None,
            api: None,
            hub_key: None,
            logs_shown: Cell::new(false),
        };

        let genesis_state_root = self.sequencer.as_ref().map(|options| {
            let config = stack.write_sequencer_config(options, None);
            genesis_root(&bins.sequencer, &config)
        });
        if let Some(options) = &self.l1 {
            let mut devnet = options.devnet.clone();
            if let Some(root) = genesis_state_root {
                devnet.genesis_state_root = root;
            }
            let dev = Devnet::start_with(devnet, options.anvil.clone()).await;
            stack.heartbeat = options
                .heartbeat
                .map(|every| heartbeat(dev.provider.clone(), every));
            stack.l1 = Some(dev);
        }

        if let Some(options) = &self.sequencer {
            let config = stack.write_sequencer_config(options, stack.l1.as_ref());
            let mut args: Vec<OsString> = vec![
                "--config".into(),
                config.into(),
                "--data-dir".into(),
                stack.path("sequencer").into(),
            ];
            if let (Some(dev), SequencerL1::Post) = (&stack.l1, options.l1) {
                let key = stack.path("sequencer.key");
                write_secret(&key, &dev.keys[0].to_string());
                args.extend(["--sequencer-key-file".into(), key.into()]);
            }
            let mut process = Process::new(
                "sequencer",
                &bins.sequencer,
                args,
                stack.path("sequencer.log"),
            );
            process.start(true).await;
            stack.api = Some(weft_api::Client::new(&process.url()));
            stack.sequencer = Some(process);
        }

        if let (Some(options), Some(seq)) = (&self.prover, &self.sequencer) {
            assert!(
                seq.genesis.is_empty(),
                "the prover's genesis is the dev accounts only"
            );
            let dev = stack.l1();
            // The prover pays for its own L1 transactions.
            dev.set_balance(dev.prover.address(), U256::from(10).pow(U256::from(20)))
                .await;
            let key = stack.path("prover.key");
            write_secret(&key, &dev.prover.secret_bytes().to_string());
            let mut args: Vec<OsString> = vec![
                "--l1-rpc".into(),
                dev.endpoint().into(),
                "--rollup-address".into(),
                dev.rollup.address().to_string().into(),
                "--sequencer-url".into(),
                stack.sequencer().url().into(),
                "--prover-key-file".into(),
                key.into(),
                "--data-dir".into(),
                stack.path("prover").into(),
                "--poll-ms".into(),
                options.poll.as_millis().to_string().into(),
                "--dev-accounts".into(),
                seq.dev_accounts.to_string().into(),
            ];
            if let Some(window) = seq.dispute_window {
                args.extend(["--dispute-window".into(), window.to_string().into()]);
            }
            if let Some(balance) = seq.dev_balance {
                args.extend(["--dev-balance".into(), balance.to_string().into()]);
            }
            let mut process = Process::new("prover", &bins.prover, args, stack.path("prover.log"));
            process.start(true).await;
            stack.prover = Some(process);
        }

        if let Some(options) = &self.hub {
            let signing_key = options.signing_key();
            let key = stack.path("hub.key");
            write_secret(&key, &signing_key.secret_bytes().to_string());
            let mut args: Vec<OsString> = vec![
                "--data-dir".into(),
                stack.path("hub").into(),
                "--sequencer-url".into(),
                stack.sequencer().url().into(),
                "--key-file".into(),
                key.into(),
                "--watch-interval-ms".into(),
                options.watch_interval.as_millis().to_string().into(),
                "--settle-idle-ms".into(),
                options.settle_idle.as_millis().to_string().into(),
                "--route-timeout-ms".into(),
                options.route_timeout.as_millis().to_string().into(),
            ];
            if let Some(dev) = &stack.l1 {
                // The hub runs its side of channel exits if the Rollup contract freezes; its
                // key pays the L1 gas.
                dev.set_balance(signing_key.address(), U256::from(10u128.pow(20)))
                    .await;
                args.extend([
                    "--l1-rpc".into(),
                    dev.endpoint().into(),
                    "--rollup-address".into(),
                    dev.rollup.address().to_string().into(),
                ]);
            }
            args.extend(options.args.iter().map(OsString::from));
            let mut process = Process::new("hub", &bins.hub, args, stack.path("hub.log"));
            process.start(true).await;
            stack.hub = Some(process);
            stack.hub_key = Some(signing_key);
        }
        stack
    }
}

/// The running stack; dropping it kills every process and removes its directory (kept
/// with `WEFT_STACK_KEEP=1`). If the test is panicking, the tail of every log is printed.
#[derive(Debug)]
pub struct Stack {
    dir: TempDir,
    l1: Option<Devnet>,
    heartbeat: Option<JoinHandle<()>>,
    sequencer: Option<Process>,
    prover: Option<Process>,
    hub: Option<Process>,
    api: Option<weft_api::Client>,
    hub_key: Option<SigningKey>,
    logs_shown: Cell<bool>,
}

impl Stack {
    /// What to start.
    pub fn builder() -> StackBuilder {
        StackBuilder::default()
    }

    /// The stack's directory: data directories, key files and logs (`<service>.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A file of the stack's directory (`sequencer.toml`, the logs, the data directories).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    // ---- L1 ----

    /// anvil with the contracts (the Rollup bindings are `l1().rollup`).
    pub fn l1(&self) -> &Devnet {
        self.l1.as_ref().expect("the stack has no L1")
    }

    /// anvil, to stop and restart it.
    pub fn l1_mut(&mut self) -> &mut Devnet {
        self.l1.as_mut().expect("the stack has no L1")
    }

    /// The Rollup contract.
    pub fn rollup(&self) -> &Rollup::RollupInstance<DynProvider> {
        &self.l1().rollup
    }

    /// The L1 client the sequencer and the prover use, on this deployment.
    pub fn alloy_l1(&self) -> AlloyL1 {
        AlloyL1::new(
            &self.l1().endpoint(),
            *self.rollup().address(),
            Duration::from_secs(5),
        )
        .expect("an L1 client")
    }

    /// Stops mining empty L1 blocks.
    pub fn stop_heartbeat(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }

    /// Claims withdrawal `tx` on L1 with the proof the sequencer serves, sent by `sender`
    /// (an anvil account); asserts its batch is finalized.
    pub async fn claim(&self, tx: &B256, sender: Address) -> TransactionReceipt {
        let w = self.api().withdrawal(tx).await.expect("the withdrawal");
        assert_eq!(w.batch_status, BatchStatus::Finalized, "{w:?}");
        mined(
            self.rollup()
                .withdraw(
                    w.batch_index,
                    w.id,
                    w.recipient,
                    w.token,
                    w.amount,
                    U256::from(w.leaf_index),
                    w.proof,
                )
                .from(sender),
        )
        .await
    }

    /// `from` (an anvil account) deposits `wei` to `to` on L2 with `depositETH`.
    pub async fn deposit_eth(&self, from: Address, to: Address, wei: u128) -> TransactionReceipt {
        mined(
            self.rollup()
                .depositETH(to)
                .value(U256::from(wei))
                .from(from),
        )
        .await
    }

    /// An alloy provider on the sequencer's JSON-RPC that signs with `key` (nonce, gas and
    /// fees filled over Weft's JSON-RPC).
    pub fn l2_wallet(&self, key: &SigningKey) -> DynProvider {
        let signer = alloy::signers::local::PrivateKeySigner::from_bytes(&key.secret_bytes())
            .expect("a valid key");
        ProviderBuilder::new()
            .wallet(signer)
            .connect_http(
                format!("{}/rpc", self.sequencer_url())
                    .parse()
                    .expect("url"),
            )
            .erased()
    }

    /// Runs `weft-sequencer rebuild` into a fresh data directory with the sequencer's
    /// configuration (L1, rollup, genesis): the state root it rebuilt from L1 alone.
    pub fn rebuild_from_l1(&self, name: &str) -> B256 {
        let mut command = std::process::Command::new(&binaries().sequencer);
        command
            .arg("--config")
            .arg(self.path("sequencer.toml"))
            .arg("--data-dir")
            .arg(self.path(name))
            .arg("rebuild");
        // SQLite in the fresh data directory, whatever the test's environment says.
        crate::process::scrub_env(&mut command);
        let out = command
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .output()
            .expect("weft-sequencer rebuild runs");
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "rebuild failed:\n{log}");
        let root = log
            .lines()
            .filter(|l| l.contains("rebuilt from L1"))
            .find_map(|l| {
                let at = l.find("state_root=")? + "state_root=".len();
                l.get(at..at + 66)?.parse().ok()
            });
        root.unwrap_or_else(|| panic!("no state root in the rebuild's log:\n{log}"))
    }

    // ---- sequencer ----

    /// The sequencer's process.
    pub fn sequencer(&self) -> &Process {
        self.sequencer.as_ref().expect("the stack has no sequencer")
    }

    /// The sequencer's process, to kill, stop or restart it.
    pub fn sequencer_mut(&mut self) -> &mut Process {
        self.sequencer.as_mut().expect("the stack has no sequencer")
    }

    /// The sequencer's typed client.
    pub fn api(&self) -> &weft_api::Client {
        self.api.as_ref().expect("the stack has no sequencer")
    }

    /// `http://<sequencer>`.
    pub fn sequencer_url(&self) -> String {
        self.sequencer().url()
    }

    /// The EIP-712 domain of the chain.
    pub async fn domain(&self) -> Domain {
        self.api().domain().await.expect("GET /v1/domain")
    }

    /// `GET <path>` on the sequencer, undecoded: the status and the JSON body (`null` if
    /// none).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = reqwest::get(format!("{}{path}", self.sequencer_url()))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The L2 balance of `address` in `token`.
    pub async fn l2_balance(&self, address: &Address, token: u32) -> Amount {
        self.api()
            .account(address)
            .await
            .expect("GET /v1/accounts")
            .balance(token)
    }

    /// The newest sealed batch, if any.
    pub async fn latest_batch(&self) -> Option<BatchView> {
        let mut latest = None;
        for index in 1.. {
            match self.api().batch(index).await.expect("GET /v1/batches") {
                Some(b) => latest = Some(b),
                None => return latest,
            }
        }
        unreachable!()
    }

    /// Waits until batch `index` is at least at `status` in the sequencer's view.
    pub async fn wait_batch_status(&self, index: u64, status: BatchStatus) -> BatchView {
        self.wait(
            &format!("batch {index} {status:?}"),
            DEFAULT_WAIT,
            || async {
                let b = self.api().batch(index).await.ok()??;
                (b.status >= status).then_some(b)
            },
        )
        .await
    }

    /// Waits until the newest batch covers the L2 head and L1 has committed it; its index.
    pub async fn wait_all_committed(&self, timeout: Duration) -> u64 {
        self.wait("every block committed on L1", timeout, || async {
            let head = self.api().head().await.ok()?;
            let batch = self.latest_batch().await?;
            let last = self.rollup().lastCommitted().call().await.ok()?;
            (batch.commitment.to_block >= head && last == batch.commitment.index).then_some(last)
        })
        .await
    }

    /// A read-only SQLite URL of the sequencer's database, for what no route shows.
    pub fn sequencer_db_url(&self) -> String {
        format!(
            "sqlite://{}?mode=ro",
            self.path("sequencer").join("sequencer.db").display()
        )
    }

    // ---- prover ----

    /// The prover's process.
    pub fn prover(&self) -> &Process {
        self.prover.as_ref().expect("the stack has no prover")
    }

    /// The prover's process, to kill, stop or restart it.
    pub fn prover_mut(&mut self) -> &mut Process {
        self.prover.as_mut().expect("the stack has no prover")
    }

    /// The prover's `/health`: HTTP status and body.
    pub async fn prover_health(&self) -> (u16, Value) {
        let r = reqwest::get(format!("{}/health", self.prover().url()))
            .await
            .expect("GET the prover's /health");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Batches this prover process attested (`weft_prover_attested_batches_total`; it
    /// starts at 0 with each run).
    pub async fn prover_attested(&self) -> u64 {
        let text = reqwest::get(format!("{}/metrics", self.prover().url()))
            .await
            .expect("GET the prover's /metrics")
            .text()
            .await
            .expect("the metrics text");
        metric(&text, "weft_prover_attested_batches_total").unwrap_or(0.0) as u64
    }

    // ---- hub ----

    /// The hub's process.
    pub fn hub(&self) -> &Process {
        self.hub.as_ref().expect("the stack has no hub")
    }

    /// The hub's process, to kill, stop or restart it.
    pub fn hub_mut(&mut self) -> &mut Process {
        self.hub.as_mut().expect("the stack has no hub")
    }

    /// `http://<hub>`: what a wallet connects to.
    pub fn hub_url(&self) -> String {
        self.hub().url()
    }

    /// The hub's address on the rollup.
    pub fn hub_address(&self) -> Address {
        self.hub_key
            .as_ref()
            .expect("the stack has no hub")
            .address()
    }

    /// The hub's SQLite database (read-only URL).
    pub fn hub_db_url(&self) -> String {
        format!(
            "sqlite://{}?mode=ro",
            self.path("hub").join("channel-hub.db").display()
        )
    }

    // ---- waiting and logs ----

    /// Polls `check` every 25 ms until it returns `Some`; after `timeout`, panics with
    /// `what` and the tail of every process's log.
    pub async fn wait<T, F, Fut>(&self, what: &str, timeout: Duration, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = check().await {
                return v;
            }
            if Instant::now() >= deadline {
                self.logs_shown.set(true);
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The tail of every process's log.
    pub fn logs(&self) -> String {
        [&self.sequencer, &self.prover, &self.hub]
            .into_iter()
            .flatten()
            .map(Process::describe_log)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Writes the sequencer's configuration file: `options` and, with `l1`, the deployment.
    fn write_sequencer_config(&self, options: &SequencerOptions, l1: Option<&Devnet>) -> PathBuf {
        let ms = |d: Duration| toml::Value::Integer(d.as_millis() as i64);
        let int = |n: u64| toml::Value::Integer(n as i64);
        let mut t = toml::Table::new();
        t.insert("block_time_ms".into(), ms(options.block_time));
        t.insert("batch_max_age_ms".into(), ms(options.batch_max_age));
        if let Some(n) = options.batch_max_blocks {
            t.insert("batch_max_blocks".into(), int(n));
        }
        if let Some(n) = options.dispute_window {
            t.insert("dispute_window".into(), int(n));
        }
        t.insert("dev_accounts".into(), int(options.dev_accounts.into()));
        if let Some(b) = options.dev_balance {
            t.insert("dev_balance".into(), b.to_string().into());
        }
        if !options.genesis.is_empty() {
            t.insert(
                "genesis".into(),
                toml::Value::try_from(&options.genesis).expect("genesis as TOML"),
            );
        }
        t.insert("rate_per_second".into(), int(0));
        t.insert("executor_threads".into(), int(options.threads as u64));
        t.insert("signature_threads".into(), int(options.threads as u64));
        if let Some(dev) = l1 {
            t.insert(
                "rollup_address".into(),
                dev.rollup.address().to_string().into(),
            );
            if options.l1 == SequencerL1::Post {
                t.insert("l1_rpc".into(), dev.endpoint().into());
                t.insert("l1_from_block".into(), int(dev.deploy_block));
                t.insert("l1_confirmations".into(), int(options.l1_confirmations));
                t.insert("l1_poll_ms".into(), ms(options.l1_poll));
                t.insert(
                    "l1_resend_after_secs".into(),
                    int(options.l1_resend_after.as_secs().max(1)),
                );
                t.insert("l1_rpc_timeout_ms".into(), ms(options.l1_rpc_timeout));
                t.insert("l1_da".into(), options.l1_da.into());
            }
        }
        t.extend(options.settings.clone());
        let path = self.path("sequencer.toml");
        std::fs::write(&path, toml::to_string(&t).expect("TOML")).expect("write sequencer.toml");
        path
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop_heartbeat();
        if std::thread::panicking() && !self.logs_shown.get() {
            eprintln!("{}", self.logs());
        }
        for process in [&mut self.hub, &mut self.prover, &mut self.sequencer]
            .into_iter()
            .flatten()
        {
            process.kill();
        }
        if std::env::var_os(KEEP_ENV).is_some() {
            let dir = std::mem::replace(
                &mut self.dir,
                tempfile::tempdir().expect("a temporary directory"),
            );
            eprintln!(
                "weft-tests: kept the stack's directory {}",
                dir.keep().display()
            );
        }
    }
}

/// `weft-sequencer genesis-root --config <config>`: the state root of batch 0.
fn genesis_root(bin: &Path, config: &Path) -> B256 {
    let out = Command::new(bin)
        .arg("genesis-root")
        .arg("--config")
        .arg(config)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "error")
        .output()
        .expect("run weft-sequencer genesis-root");
    assert!(
        out.status.success(),
        "weft-sequencer genesis-root: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("genesis-root prints a 32-byte hex root")
}

/// Mines an empty L1 block every `every` (errors while anvil is down are expected).
fn heartbeat(provider: DynProvider, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let _ = provider
                .raw_request::<_, Value>("anvil_mine".into(), (1,))
                .await;
            tokio::time::sleep(every).await;
        }
    })
}

/// The value of an unlabelled metric in Prometheus text.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Sends `tx` through `l2` and waits for its receipt; asserts it succeeded.
pub async fn send_l2(
    l2: &impl Provider,
    tx: alloy::rpc::types::TransactionRequest,
) -> TransactionReceipt {
    let receipt = l2
        .send_transaction(tx)
        .await
        .expect("sent")
        .get_receipt()
        .await
        .expect("a receipt");
    assert!(receipt.status(), "{receipt:?}");
    receipt
}

//! The node under test: a `weft-sequencer` child process or an external node.

use std::{
    net::{Ipv4Addr, TcpListener},
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};
use tokio::process::Child;
use weft_api::Client;

use crate::{Args, STARTUP_TIMEOUT};

/// The node: a child process the loadgen started, or an external one.
pub(crate) struct Target {
    pub(crate) api: Client,
    pub(crate) child: Option<ChildNode>,
}

/// A started node and what to clean up after it.
pub(crate) struct ChildNode {
    pub(crate) process: Child,
    pub(crate) pid: u32,
    pub(crate) log: PathBuf,
    pub(crate) _dir: tempfile::TempDir,
}

impl Target {
    pub(crate) fn external(url: &str) -> Self {
        eprintln!("node: external, {url}");
        Self {
            api: api_client(url),
            child: None,
        }
    }

    /// Starts `weft-sequencer` on a free loopback port with a fresh SQLite directory.
    pub(crate) async fn start(args: &Args) -> Result<Self> {
        let mut target = Self::spawn(args, None, &[])?;
        target.wait_ready().await?;
        Ok(target)
    }

    /// Starts `weft-sequencer admission` with the chain's flags of [`Self::start`] and
    /// `extra` (its stream), and waits until it answers `/health`.
    pub(crate) async fn start_admission(args: &Args, extra: &[String]) -> Result<Self> {
        let mut target = Self::spawn(args, Some("admission"), extra)?;
        let health = format!("{}/health", target.api.base());
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            target.check_alive()?;
            if reqwest::get(&health)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(target);
            }
            ensure!(
                Instant::now() < deadline,
                "the admission node did not answer in time"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn spawn(args: &Args, command: Option<&str>, extra: &[String]) -> Result<Self> {
        let bin = node_binary(args)?;
        let dir = tempfile::Builder::new()
            .prefix("weft-loadgen-")
            .tempdir()
            .context("create a temporary data directory")?;
        let listen = format!("127.0.0.1:{}", free_port()?);
        let mut argv: Vec<String> = command.into_iter().map(String::from).collect();
        argv.extend([
            "--listen".into(),
            listen.clone(),
            "--data-dir".into(),
            dir.path().join("data").display().to_string(),
            "--dev-accounts".into(),
            args.accounts.to_string(),
            "--rate-per-second".into(),
            "0".into(),
            "--block-time-ms".into(),
            args.block_time_ms.to_string(),
        ]);
        argv.extend(args.node_arg.iter().cloned());
        argv.extend(extra.iter().cloned());
        eprintln!("node: {} {}", bin.display(), argv.join(" "));
        let log = dir.path().join("node.log");
        let log_file = std::fs::File::create(&log).context("create the node log")?;
        let process = tokio::process::Command::new(&bin)
            .args(&argv)
            .env_remove("DATABASE_URL")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", bin.display()))?;
        let pid = process.id().context("the node has no pid")?;
        Ok(Self {
            api: api_client(&format!("http://{listen}")),
            child: Some(ChildNode {
                process,
                pid,
                log,
                _dir: dir,
            }),
        })
    }

    pub(crate) async fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            self.check_alive()?;
            if self.api.health().await.is_ok() {
                return Ok(());
            }
            ensure!(Instant::now() < deadline, "the node did not answer in time");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fails if the started node has exited, with the end of its log.
    pub(crate) fn check_alive(&mut self) -> Result<()> {
        let Some(child) = &mut self.child else {
            return Ok(());
        };
        if let Some(status) = child.process.try_wait().context("poll the node")? {
            let log = std::fs::read_to_string(&child.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "the node exited ({status}); its log ends:\n{}",
                tail.join("\n")
            );
        }
        Ok(())
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.pid)
    }

    pub(crate) async fn stop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.process.start_kill();
            let _ = child.process.wait().await;
        }
    }
}

pub(crate) fn node_binary(args: &Args) -> Result<PathBuf> {
    let bin = match &args.node_bin {
        Some(bin) => bin.clone(),
        None => std::env::current_exe()
            .context("locate this executable")?
            .with_file_name(format!("weft-sequencer{}", std::env::consts::EXE_SUFFIX)),
    };
    ensure!(
        bin.is_file(),
        "{} not found: build it (cargo build --release -p weft-sequencer --bins) or pass --node-bin",
        bin.display()
    );
    Ok(bin)
}

/// A loopback port nobody listens on right now.
pub(crate) fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// A client of the node's REST API for load: no request timeout, `TCP_NODELAY`, and a
/// connection pool that never idles out.
pub(crate) fn api_client(base: &str) -> Client {
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_idle_timeout(None)
        .build()
        .expect("a plain HTTP client builds");
    Client::with_http(base, http)
}

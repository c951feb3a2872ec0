//! One service as a child process: its command line, its port, its log file; started,
//! killed (`SIGKILL`), stopped (`SIGTERM`) and restarted on the same port and data.

use std::{
    ffi::OsString,
    fs::{File, OpenOptions},
    io::Write,
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// How long a service may take to answer `/health` after it is spawned.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a `SIGTERM`ed service may take to exit before it is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of a log shown when something times out or a test panics.
pub const LOG_TAIL_LINES: usize = 40;
/// `RUST_LOG` of the services unless `WEFT_STACK_LOG` says otherwise.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// A service binary run as a child process. Its stdout and stderr go to one log file,
/// appended to across restarts; dropping it kills the child.
#[derive(Debug)]
pub struct Process {
    name: &'static str,
    program: PathBuf,
    args: Vec<OsString>,
    addr: SocketAddr,
    log: PathBuf,
    child: Option<Child>,
}

impl Process {
    /// A process of `program` with `args` (without `--listen`, which the stack adds with a
    /// free loopback port), logging to `log`. Not started.
    pub(crate) fn new(
        name: &'static str,
        program: &Path,
        args: Vec<OsString>,
        log: PathBuf,
    ) -> Self {
        Self {
            name,
            program: program.to_path_buf(),
            args,
            addr: free_port(),
            log,
            child: None,
        }
    }

    /// Spawns the child and waits until it answers `/health` (any status). A child that
    /// exits first because its port was taken meanwhile is started again on another port
    /// (first start only: a restart keeps its address).
    pub(crate) async fn start(&mut self, first: bool) {
        for _ in 0..3 {
            self.spawn();
            match self.wait_up().await {
                Ok(()) => return,
                Err(exited) if first && self.log_tail(LOG_TAIL_LINES).contains("in use") => {
                    eprintln!(
                        "{}: port {} taken ({exited}); another",
                        self.name, self.addr
                    );
                    self.addr = free_port();
                }
                Err(why) => panic!(
                    "{} did not come up: {why}\n{}",
                    self.name,
                    self.describe_log()
                ),
            }
        }
        panic!("{} found no free port", self.name);
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} is running", self.name);
        let mut command = logged_command(
            &self.program,
            &self.log,
            &format!("=== weft-tests: starting {} on {}", self.name, self.addr),
        );
        command
            .args(&self.args)
            .arg("--listen")
            .arg(self.addr.to_string());
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.program.display()));
        self.child = Some(child);
    }

    /// Waits for any answer on `/health`; `Err` if the child exits or time runs out.
    async fn wait_up(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("an HTTP client");
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!("exited with {status}"));
            }
            if http
                .get(format!("{}/health", self.url()))
                .send()
                .await
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("no answer on /health within {START_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// `kill -9`: no draining, no cleanup. Waits until the child is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `SIGTERM` and waits for a graceful exit (killed after [`STOP_TIMEOUT`]).
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                eprintln!("{} ignored SIGTERM for {STOP_TIMEOUT:?}: killed", self.name);
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts the stopped or killed service again, on the same address and data.
    pub async fn restart(&mut self) {
        self.start(false).await;
    }

    /// Whether the child is alive.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// The child's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The service's name in the stack (`sequencer`, `prover`, `hub`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its log file (stdout and stderr, every run).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The log's tail under a header naming the process and the file.
    pub fn describe_log(&self) -> String {
        format!(
            "--- last {LOG_TAIL_LINES} lines of {} ({}) ---\n{}\n---",
            self.name,
            self.log.display(),
            self.log_tail(LOG_TAIL_LINES)
        )
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback port nobody listens on now.
pub(crate) fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral loopback port")
}

/// Writes a secret (a 0x-hex key) to `path`, readable by the owner only.
pub(crate) fn write_secret(path: &Path, secret: &str) {
    let mut f = File::create(path).expect("create the key file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .expect("restrict the key file");
    }
    writeln!(f, "{secret}").expect("write the key file");
}

/// A command for a service child: stdin closed, stdout and stderr appended to `log` (after
/// a `banner` line), and configured only by what the test passes: no `WEFT_*` or
/// `DATABASE_URL` from the test's environment (a CI's, a developer's), plain text
/// (`NO_COLOR`), and `RUST_LOG` from `WEFT_STACK_LOG` or [`DEFAULT_LOG_FILTER`].
pub fn logged_command(program: impl AsRef<std::ffi::OsStr>, log: &Path, banner: &str) -> Command {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open the log file");
    writeln!(file, "{banner}").expect("write the log");
    let mut command = Command::new(program);
    command
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("clone the log handle"))
        .stderr(file);
    scrub_env(&mut command);
    // Errors logged without a captured backtrace each (panics keep theirs: RUST_BACKTRACE).
    command.env("RUST_LIB_BACKTRACE", "0");
    // Plain text in the log files (tracing-subscriber honours NO_COLOR).
    command.env("NO_COLOR", "1");
    command.env(
        "RUST_LOG",
        std::env::var("WEFT_STACK_LOG").unwrap_or_else(|_| DEFAULT_LOG_FILTER.into()),
    );
    command
}

/// Removes the test process's own Weft settings (`WEFT_*`, `DATABASE_URL`) from `command`'s
/// environment: a child takes its settings from its flags and configuration file only.
pub(crate) fn scrub_env(command: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key_str = key.to_string_lossy();
        if key_str.starts_with("WEFT_") || key_str == "DATABASE_URL" {
            command.env_remove(&key);
        }
    }
}

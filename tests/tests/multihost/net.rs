//! Linux network namespaces on one box: a bridge in the root namespace, one namespace per
//! "host" joined to it by a veth pair, and processes run inside a namespace with
//! `ip netns exec`. Everything made here is removed when the [`Net`] is dropped (also when
//! the test panics): the processes left in its namespaces are killed, the namespaces and
//! the bridge deleted.

use std::{
    ffi::OsString,
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    process::{Child, Command},
    time::{Duration, Instant},
};

/// Runs `ip <args>`; the error names the command and what it printed.
pub(crate) fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Why this machine cannot run the test (`None`: it can): not root, or `ip netns` refused.
pub(crate) fn unavailable() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root: network namespaces need CAP_SYS_ADMIN".into());
    }
    let probe = format!("wft{}probe", std::process::id() % 100_000);
    if let Err(e) = ip(&["netns", "add", &probe]) {
        return Some(format!("`ip netns` does not work here: {e}"));
    }
    let _ = ip(&["netns", "del", &probe]);
    None
}

/// One "host": a namespace with an address on the bridge.
#[derive(Debug, Clone)]
pub(crate) struct Host {
    /// The namespace's name.
    pub(crate) ns: String,
    /// Its address on the bridge.
    pub(crate) ip: Ipv4Addr,
}

impl Host {
    /// `ip:port`.
    pub(crate) fn addr(&self, port: u16) -> SocketAddr {
        SocketAddr::from((self.ip, port))
    }

    /// Runs `ip <args>` inside this namespace.
    pub(crate) fn ip(&self, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["netns", "exec", &self.ns, "ip"];
        all.extend_from_slice(args);
        ip(&all)
    }
}

/// A bridge and the namespaces joined to it; removed on drop.
#[derive(Debug)]
pub(crate) struct Net {
    prefix: String,
    subnet: [u8; 3],
    bridge: String,
    hosts: Vec<Host>,
}

impl Net {
    /// A bridge `wft<pid>br` with `10.231.<n>.1/24`, `<n>` from the process id; names
    /// left over from an earlier run with the same id are removed first.
    pub(crate) fn new() -> Result<Self, String> {
        let pid = std::process::id() % 100_000;
        let prefix = format!("wft{pid}");
        let subnet = [10, 231, (pid % 250) as u8 + 1];
        let bridge = format!("{prefix}br");
        let _ = ip(&["link", "del", &bridge]);
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        let net = Self {
            prefix,
            subnet,
            bridge,
            hosts: Vec::new(),
        };
        let cidr = format!("{}/24", net.address(1));
        ip(&["addr", "add", &cidr, "dev", &net.bridge])?;
        ip(&["link", "set", &net.bridge, "up"])?;
        Ok(net)
    }

    fn address(&self, host: u8) -> Ipv4Addr {
        let [a, b, c] = self.subnet;
        Ipv4Addr::new(a, b, c, host)
    }

    /// A namespace `<prefix><short>` with address `.<host>` on the bridge (a veth pair:
    /// `<prefix><short>h` on the bridge, `eth0` inside).
    pub(crate) fn host(&mut self, short: &str, host: u8) -> Result<Host, String> {
        let ns = format!("{}{short}", self.prefix);
        let outer = format!("{ns}h");
        assert!(outer.len() <= 15, "interface name {outer} too long");
        let _ = ip(&["netns", "del", &ns]);
        ip(&["netns", "add", &ns])?;
        let made = Host {
            ns: ns.clone(),
            ip: self.address(host),
        };
        self.hosts.push(made.clone());
        ip(&[
            "link", "add", &outer, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ])?;
        ip(&["link", "set", &outer, "master", &self.bridge])?;
        ip(&["link", "set", &outer, "up"])?;
        let cidr = format!("{}/24", made.ip);
        made.ip(&["addr", "add", &cidr, "dev", "eth0"])?;
        made.ip(&["link", "set", "eth0", "up"])?;
        made.ip(&["link", "set", "lo", "up"])?;
        Ok(made)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for host in &self.hosts {
            // Whatever still runs in the namespace was started by this test.
            if let Ok(out) = Command::new("ip")
                .args(["netns", "pids", &host.ns])
                .output()
            {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
            // Deleting the namespace deletes its end of the veth pair, and so the pair.
            let _ = ip(&["netns", "del", &host.ns]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}

/// A program run inside a namespace (`ip netns exec <ns> <program> <args>`), its stdout
/// and stderr appended to `<log_dir>/<name>.log` over restarts; killed on drop.
#[derive(Debug)]
pub(crate) struct NsProcess {
    pub(crate) name: String,
    ns: String,
    argv: Vec<OsString>,
    log: PathBuf,
    child: Option<Child>,
}

impl NsProcess {
    pub(crate) fn new(name: &str, host: &Host, argv: Vec<OsString>, log_dir: &Path) -> Self {
        Self {
            name: name.into(),
            ns: host.ns.clone(),
            argv,
            log: log_dir.join(format!("{name}.log")),
            child: None,
        }
    }

    /// Spawns it (not waiting for anything).
    pub(crate) fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} runs already", self.name);
        let mut command = weft_tests::logged_command(
            "ip",
            &self.log,
            &format!("=== multihost: starting {} in {}", self.name, self.ns),
        );
        command.args(["netns", "exec", &self.ns]).args(&self.argv);
        // `ip netns exec` execs the program: the child's id is the program's.
        self.child = Some(command.spawn().expect("spawn ip netns exec"));
    }

    /// `SIGKILL`, waited for.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether it runs; a child that exited is reaped.
    pub(crate) fn running(&mut self) -> bool {
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.child = None;
                false
            }
            None => false,
        }
    }

    /// Its log file.
    pub(crate) fn log_path(&self) -> &Path {
        &self.log
    }

    /// The log's bytes so far (to look only at what a later start writes).
    pub(crate) fn log_len(&self) -> usize {
        std::fs::read(&self.log).map(|b| b.len()).unwrap_or(0)
    }

    /// Waits until the log, after byte `from`, contains `needle`.
    pub(crate) async fn wait_log(&mut self, from: usize, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let text = std::fs::read(&self.log).unwrap_or_default();
            if text.len() > from && String::from_utf8_lossy(&text[from..]).contains(needle) {
                return;
            }
            assert!(
                self.running(),
                "{} exited while waiting for {needle:?}\n{}",
                self.name,
                self.tail()
            );
            assert!(
                Instant::now() < deadline,
                "{} did not log {needle:?} within {timeout:?}\n{}",
                self.name,
                self.tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last 40 lines of its log, under a header.
    pub(crate) fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        // Backtraces (RUST_BACKTRACE in the test's environment) would fill the tail.
        let frame = |l: &&str| {
            let t = l.trim_start();
            t.starts_with("at ")
                || t.split_once(": ")
                    .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        };
        let lines: Vec<&str> = text.lines().filter(|l| !frame(l)).collect();
        format!(
            "--- {} ({}) ---\n{}",
            self.name,
            self.log.display(),
            lines[lines.len().saturating_sub(40)..].join("\n")
        )
    }
}

impl Drop for NsProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until something accepts TCP connections at `addr` (from the root namespace).
pub(crate) async fn wait_tcp(addr: SocketAddr, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("nothing listens on {addr} after {timeout:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

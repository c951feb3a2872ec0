//! The service binaries, found next to the test executable. `cargo test --workspace` has
//! built them already; when one is missing or older than a source it is built from, they
//! are built once per test process with the test's own cargo, profile and target directory
//! (so `cargo test -p weft-tests` after an edit runs the edited services). The check
//! compares modification times with the workspace's sources: a plain `cargo build` with
//! other features than `cargo test`'s would rebuild much of the workspace for nothing.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

/// The packages whose binaries the stack runs (and the users' CLI the tests drive).
const PACKAGES: [&str; 4] = [
    "weft-sequencer",
    "weft-prover-stub",
    "weft-channel-hub",
    "weft-cli",
];

/// The binaries' names.
const NAMES: [&str; 4] = ["weft-sequencer", "weft-prover", "weft-channel-hub", "weft"];

/// Set to skip the build (the binaries are already in the target directory).
pub const NO_BUILD_ENV: &str = "WEFT_STACK_NO_BUILD";
/// Set to build with this cargo profile instead of the test executable's.
pub const PROFILE_ENV: &str = "WEFT_STACK_PROFILE";

/// Where the service binaries and the CLI are.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `weft-sequencer`.
    pub sequencer: PathBuf,
    /// `weft-prover`.
    pub prover: PathBuf,
    /// `weft-channel-hub`.
    pub hub: PathBuf,
    /// `weft`, the users' command line.
    pub cli: PathBuf,
}

/// The binaries; on the first call of this process, built if one is missing or stale
/// (`cargo build --bins` of the three service packages). Panics if the build fails.
pub fn binaries() -> &'static Binaries {
    static BINARIES: OnceLock<Binaries> = OnceLock::new();
    BINARIES.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable's path");
        // target/<profile>/deps/<test>-<hash> for tests and benches.
        let mut profile_dir = exe.parent().expect("in a directory");
        if profile_dir.file_name().is_some_and(|n| n == "deps") {
            profile_dir = profile_dir
                .parent()
                .expect("deps is in the profile directory");
        }
        let path = |name: &str| profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        let paths = NAMES.map(path);
        if std::env::var_os(NO_BUILD_ENV).is_none() && stale(&paths) {
            build(profile_dir);
        }
        let bin = |name: &str| {
            let path = path(name);
            assert!(
                path.is_file(),
                "{} is missing: build it with `cargo build --bins -p weft-sequencer \
                 -p weft-prover-stub -p weft-channel-hub -p weft-cli`",
                path.display()
            );
            path
        };
        Binaries {
            sequencer: bin("weft-sequencer"),
            prover: bin("weft-prover"),
            hub: bin("weft-channel-hub"),
            cli: bin("weft"),
        }
    })
}

/// Whether a binary is missing or older than a source of the workspace it may be built
/// from (see [`SOURCES`]). rustc's dep-info in `deps/` lists only the binary crate's own
/// files, and `cargo test` writes no cargo dep-info beside the binaries it uplifts, so the
/// check walks the sources instead: a few hundred files.
fn stale(binaries: &[PathBuf]) -> bool {
    let Some(reason) = why_stale(binaries) else {
        return false;
    };
    // Kept beside the binaries: a test's output is shown only when it fails, and a build
    // here costs minutes, so whoever wonders why one happened can read this.
    if let Some(dir) = binaries.first().and_then(|b| b.parent()) {
        let now = std::time::SystemTime::now();
        let line = format!("{now:?}: building the service binaries: {reason}\n");
        let log = dir.join("weft-stack-build.log");
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
    }
    eprintln!("building the service binaries: {reason}");
    true
}

/// What the binaries are built from, relative to the workspace root: the packages they
/// link (their tests, benches and examples aside), the migrations and contract artifacts
/// they embed, and the manifests.
const SOURCES: [&str; 9] = [
    "Cargo.toml",
    "Cargo.lock",
    "crates",
    "sequencer",
    "prover-stub",
    "channel-hub",
    "cli",
    "migrations",
    "deploy/contracts/out",
];

/// Directories no binary is built from (and hidden ones: tools' caches such as
/// `.hypothesis/`).
const NOT_SOURCES: [&str; 5] = ["tests", "benches", "examples", "target", "node_modules"];

/// Why the binaries must be built, if they must: one is missing, or a source is newer than
/// the oldest.
fn why_stale(binaries: &[PathBuf]) -> Option<String> {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let mut oldest = None;
    for binary in binaries {
        let Some(built) = modified(binary) else {
            return Some(format!("{} is missing", binary.display()));
        };
        oldest = Some(oldest.map_or(built, |o: std::time::SystemTime| o.min(built)));
    }
    let oldest = oldest?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut pending: Vec<PathBuf> = SOURCES.iter().map(|s| root.join(s)).collect();
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            let entries = std::fs::read_dir(&path).into_iter().flatten().flatten();
            pending.extend(
                entries
                    .filter(|e| {
                        let name = e.file_name();
                        !name.to_string_lossy().starts_with('.')
                            && !NOT_SOURCES.iter().any(|n| name == *n)
                    })
                    .map(|e| e.path()),
            );
        } else if meta.modified().is_ok_and(|m| m > oldest) {
            return Some(format!("{} is newer than the binaries", path.display()));
        }
    }
    None
}

/// `cargo build --bins -p …` into the target directory holding `profile_dir`, with the
/// profile that directory belongs to.
fn build(profile_dir: &Path) {
    let target_dir = profile_dir.parent().expect("the target directory");
    let profile = std::env::var(PROFILE_ENV).unwrap_or_else(|_| profile_of(profile_dir));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut command = Command::new(cargo);
    command
        .arg("build")
        .arg("--bins")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--profile")
        .arg(&profile)
        .arg("--target-dir")
        .arg(target_dir);
    for package in PACKAGES {
        command.args(["-p", package]);
    }
    // cargo's progress goes to our stderr (shown with --nocapture or on failure).
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    assert!(status.success(), "{command:?} failed: {status}");
}

/// The cargo profile whose output directory is `dir`: `debug` is `dev`; `release` is
/// `release` (also under `cargo bench`, whose `bench` profile inherits it unchanged: the
/// binaries `make bench` builds with `--release` are reused); a custom profile's directory
/// has its name.
fn profile_of(dir: &Path) -> String {
    match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".into(),
        Some(name) => name.into(),
    }
}

//! The service binaries, found next to the test executable. `cargo test --workspace` has
//! built them already; when one is missing or older than a source it is built from, they
//! are built once per test process with the test's own cargo, profile and target directory
//! (so `cargo test -p weft-tests` after an edit runs the edited services). The check reads
//! cargo's dep-info of each binary and compares modification times: a plain `cargo build`
//! with other features than `cargo test`'s would rebuild much of the workspace for nothing.

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

/// Whether a binary is missing or older than a file it is built from: the files cargo
/// listed for it in its dep-info (`<binary>.d` beside it), so an edit elsewhere in the
/// workspace (a test, a crate the services do not use) never triggers a build.
fn stale(binaries: &[PathBuf]) -> bool {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    binaries.iter().any(|binary| {
        let Some(built) = modified(binary) else {
            return true;
        };
        let Some(dep_info) = dep_info(binary) else {
            return true;
        };
        let Some((_, sources)) = dep_info.lines().next().and_then(|l| l.split_once(": ")) else {
            return true;
        };
        // Paths are separated by spaces; a space inside a path is escaped as `\ `.
        sources
            .replace("\\ ", "\0")
            .split(' ')
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(p.replace('\0', " ")))
            .any(|source| modified(&source).is_none_or(|m| m > built))
    })
}

/// The dep-info of `binary`: the one cargo wrote for the artifact it uplifted there, in
/// `deps/` (`cargo test` uplifts a package's binaries for its integration tests, as a hard
/// link, but writes no `<binary>.d` beside them; `cargo build` writes both, and the one
/// beside may then be older than the binary).
fn dep_info(binary: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(binary).ok()?.ino();
    let name = binary.file_name()?.to_str()?.replace('-', "_");
    let deps = binary.parent()?.join("deps");
    std::fs::read_dir(&deps)
        .ok()?
        .flatten()
        .find(|entry| {
            let file = entry.file_name();
            let file = file.to_string_lossy();
            file.strip_prefix(&name)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|hash| !hash.contains('.'))
                && entry.metadata().is_ok_and(|m| m.ino() == inode)
        })
        .and_then(|entry| std::fs::read_to_string(entry.path().with_extension("d")).ok())
        .or_else(|| std::fs::read_to_string(binary.with_extension("d")).ok())
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

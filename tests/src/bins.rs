//! The service binaries: built once per test process with the test's own cargo, profile
//! and target directory, then found next to the test executable.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

/// The packages whose binaries the stack runs.
const PACKAGES: [&str; 3] = ["weft-sequencer", "weft-prover-stub", "weft-channel-hub"];

/// Set to skip the build (the binaries are already in the target directory).
pub const NO_BUILD_ENV: &str = "WEFT_STACK_NO_BUILD";
/// Set to build with this cargo profile instead of the test executable's.
pub const PROFILE_ENV: &str = "WEFT_STACK_PROFILE";

/// Where the three service binaries are.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `weft-sequencer`.
    pub sequencer: PathBuf,
    /// `weft-prover`.
    pub prover: PathBuf,
    /// `weft-channel-hub`.
    pub hub: PathBuf,
}

/// The binaries, built on the first call of this process (`cargo build --bins` of the three
/// service packages: a no-op when they are fresh). Panics if the build fails.
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
        if std::env::var_os(NO_BUILD_ENV).is_none() {
            build(profile_dir);
        }
        let bin = |name: &str| {
            let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
            assert!(
                path.is_file(),
                "{} is missing: build it with `cargo build --bins -p weft-sequencer \
                 -p weft-prover-stub -p weft-channel-hub`",
                path.display()
            );
            path
        };
        Binaries {
            sequencer: bin("weft-sequencer"),
            prover: bin("weft-prover"),
            hub: bin("weft-channel-hub"),
        }
    })
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

//! Tests of the environment layer without `std::env::set_var` (unsound while other test
//! threads read the environment): the test runs again in a child process that starts with
//! the variables set.

use std::process::Command;

/// Set in the child so that [`in_child_with_env`] knows where it runs.
const CHILD_MARKER: &str = "WEFT_SERVICE_TEST_CHILD";

/// Runs the test `name` (its path in the test binary, e.g. `config::tests::reads_env`)
/// again in a child process of the current test binary, with every `WEFT_*` variable of
/// this process removed and `vars` set, and panics unless it passes there.
///
/// Returns `true` in the child, where the test goes on with its body, and `false` in the
/// parent, where it should return:
///
/// ```no_run
/// # fn parse_port() -> u16 { 0 }
/// if !weft_service::testing::in_child_with_env("tests::reads_port", &[("WEFT_PORT", "1")]) {
///     return;
/// }
/// assert_eq!(parse_port(), 1);
/// ```
pub fn in_child_with_env(name: &str, vars: &[(&str, &str)]) -> bool {
    if std::env::var_os(CHILD_MARKER).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe);
    child.args([name, "--exact", "--nocapture", "--test-threads=1"]);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("WEFT_") {
            child.env_remove(key);
        }
    }
    let out = child
        .env(CHILD_MARKER, "1")
        .envs(vars.iter().copied())
        .output()
        .expect("run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} with {vars:?}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

/// Runs `program` with `args` as a child process, killed if it runs past `timeout_secs`;
/// whether it exited with success, and its stdout and stderr together. For tests that
/// drive an outside tool (schemathesis) against a running service.
pub async fn run_bounded(
    program: &std::path::Path,
    args: &[&str],
    timeout_secs: u64,
) -> (bool, String) {
    let run = tokio::process::Command::new(program)
        .args(args)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(timeout_secs), run)
        .await
        .unwrap_or_else(|_| panic!("{} did not finish in {timeout_secs} s", program.display()))
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), report)
}

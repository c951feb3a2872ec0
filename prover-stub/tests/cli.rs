//! The `weft-prover` binary's command line: its key only from a file or the environment,
//! never a flag value (a key in a flag ends up in shell histories and process listings).
//! The prover's work over a real stack is tested in the top-level `tests/` crate.

use std::process::{Command, Output};

fn prover(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft-prover"))
        .args(args)
        .env_remove("WEFT_PROVER_KEY")
        .env_remove("WEFT_PROVER_KEY_FILE")
        .output()
        .expect("run weft-prover")
}

#[test]
fn help_names_the_key_file_and_the_environment_only() {
    let out = prover(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("--prover-key-file"), "{help}");
    assert!(!help.contains("--prover-key "), "{help}");
}

#[test]
fn a_key_given_as_a_flag_value_is_refused() {
    let key = format!("0x{}", "11".repeat(32));
    let out = prover(&[
        "--l1-rpc",
        "http://127.0.0.1:9",
        "--rollup-address",
        "0x0000000000000000000000000000000000000001",
        "--prover-key",
        &key,
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("--prover-key"), "{stderr}");
    assert!(
        !stderr.contains(&key[4..]),
        "the key must not be echoed: {stderr}"
    );
}

#[test]
fn without_a_key_it_says_where_to_put_one() {
    let out = prover(&[
        "--l1-rpc",
        "http://127.0.0.1:9",
        "--rollup-address",
        "0x0000000000000000000000000000000000000001",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("WEFT_PROVER_KEY"), "{stderr}");
}

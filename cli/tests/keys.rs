//! `weft`'s keys without a network: keystores created, imported (from a file and from stdin),
//! listed and decrypted; a keystore is standard Web3 Secret Storage (alloy decrypts it to the
//! same key); a wrong password, an existing name and a bad key are one line each with the
//! documented exit code; a key is never printed.

use std::{
    io::Write,
    path::Path,
    process::{Command, Output, Stdio},
};

use alloy::signers::local::PrivateKeySigner;
use serde_json::Value;

const KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const ADDRESS: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

fn weft(home: &Path, password: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_weft"));
    command
        .args(args)
        .arg("--json")
        .env("WEFT_HOME", home)
        .env("WEFT_PASSWORD", password)
        // Nothing listens there: commands that reach the network fail as unreachable.
        .env("WEFT_L2_URL", "http://127.0.0.1:9")
        .env("WEFT_NETWORK_FILE", home.join("none.json"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("weft runs");
    if let Some(input) = stdin {
        writeln!(child.stdin.take().unwrap(), "{input}").unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
}

#[test]
fn keystores_are_created_imported_listed_and_guarded() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    std::fs::write(home.join("none.json"), "{}").unwrap();

    let key_file = home.join("alice.key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let import_alice = [
        "wallet",
        "import",
        "alice",
        "--private-key-file",
        key_file.to_str().unwrap(),
    ];
    let out = weft(home, "pw", &import_alice, None);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(json(&out)["address"], ADDRESS.to_lowercase());
    let out = weft(
        home,
        "pw2",
        &["wallet", "import", "again"],
        Some(KEY.trim_start_matches("0x")),
    );
    assert!(out.status.success(), "stdin, without 0x: {out:?}");
    let out = weft(home, "pw", &["wallet", "new", "carol"], None);
    assert!(out.status.success(), "{out:?}");
    let carol = json(&out)["address"].as_str().unwrap().to_string();

    let out = weft(home, "", &["wallet", "list"], None);
    let names: Vec<String> = json(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["again", "alice", "carol"]);
    let out = weft(home, "", &["wallet", "address", "carol"], None);
    assert_eq!(json(&out)["address"], carol.as_str());

    // Standard keystores, private to the user; the key never appears in any output.
    let path = home.join("keystores/alice.json");
    let signer = PrivateKeySigner::decrypt_keystore(&path, "pw").unwrap();
    assert_eq!(signer.address().to_string(), ADDRESS);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        !std::fs::read_to_string(&path)
            .unwrap()
            .contains(KEY.trim_start_matches("0x"))
    );

    // Refusals: one line, the code, the exit code.
    // (password, arguments, stdin, exit code, error code)
    type Case<'a> = (&'a str, &'a [&'a str], Option<&'a str>, i32, &'a str);
    let cases: [Case<'_>; 5] = [
        ("pw", &import_alice, None, 5, "key"),
        ("pw", &["wallet", "import", "bad"], Some("0x1234"), 5, "key"),
        (
            "wrong",
            &["-a", "alice", "send", "--to", ADDRESS, "1"],
            None,
            5,
            "key",
        ),
        (
            "pw",
            &["-a", "alice", "send", "--to", ADDRESS, "1"],
            None,
            4,
            "unreachable",
        ),
        (
            "pw",
            &["-a", "alice", "send", "--to", ADDRESS, "1.2.3"],
            None,
            2,
            "usage",
        ),
    ];
    for (password, args, stdin, code, name) in cases {
        let out = weft(home, password, args, stdin);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {out:?}");
        assert_eq!(json(&out)["error"]["code"], name, "{args:?}");
        let stderr = String::from_utf8(out.stderr.clone()).unwrap();
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(!stderr.contains(KEY.trim_start_matches("0x")));
    }
}

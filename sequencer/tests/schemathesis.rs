//! schemathesis over `/v1/openapi.json` against a live sequencer: every check, bounded
//! examples, zero failures. The served document is the contract; this keeps the server and
//! the document in step. The Python environment comes from `schemathesis/venv.sh` (pinned
//! in `schemathesis/requirements.txt`; `make deps` makes it, and so does this test when it
//! is missing).

mod common;

use std::{path::Path, process::Command, time::Duration};

use common::config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), None);
    c.block.block_time = Duration::from_millis(100);
    let running = weft_sequencer::start(c).await.unwrap();
    let base = format!("http://{}", running.addr);

    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    let venv = Command::new(tests.join("venv.sh"))
        .output()
        .expect("run tests/schemathesis/venv.sh");
    assert!(
        venv.status.success(),
        "making the schemathesis environment failed: {}",
        String::from_utf8_lossy(&venv.stderr)
    );
    let st = String::from_utf8(venv.stdout).unwrap().trim().to_owned();

    let run = tokio::process::Command::new(&st)
        .args([
            "run",
            &format!("{base}/v1/openapi.json"),
            "--data-generation-method=all",
            "--checks",
            "all",
            "--hypothesis-max-examples=20",
            "--hypothesis-derandomize",
            "--hypothesis-suppress-health-check=all",
            "--workers",
            "2",
            "--request-timeout",
            "10000",
            "--no-color",
            "--experimental=openapi-3.1",
        ])
        .env("SCHEMATHESIS_HOOKS", "")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(150), run)
        .await
        .expect("schemathesis finishes within 150 s")
        .expect("run schemathesis");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{report}");
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{report}"
    );
    running.stop().await.unwrap();
}

//! schemathesis over `/v1/openapi.json` against a live sequencer: every check, bounded
//! examples, zero failures. The served document is the contract; this keeps the server and
//! the document in step. The Python environment comes from `schemathesis/venv.sh` (pinned
//! in `schemathesis/requirements.txt`; `make deps` makes it, and so does `run.sh` when it
//! is missing).

mod common;

use std::{path::Path, time::Duration};

use common::config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), None);
    c.block.block_time = Duration::from_millis(100);
    let running = weft_sequencer::start(c).await.unwrap();
    let base = format!("http://{}", running.addr);

    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis/run.sh");
    let (passed, report) =
        weft_service::testing::run_bounded(&run, &[&format!("{base}/v1/openapi.json")], 300).await;
    eprintln!("{report}");
    assert!(passed, "schemathesis found failures:\n{report}");
    running.stop().await.unwrap();
}

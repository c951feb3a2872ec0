//! The explorer in Debian's Chromium (playwright-core, `tests/browser/explorer.test.mjs`
//! under `node --test`) against a stack: anvil with the contracts, the sequencer posting its
//! batches, the prover finalizing them. A transfer is made and its batch finalized first, so
//! the pages show a whole timeline; the browser test sends its own transaction to see a new
//! block arrive on the home page.

use std::{path::Path, process::Command, time::Duration};

use weft_api::BatchStatus;
use weft_protocol::{
    genesis::dev_key,
    transaction::{Transaction, Transfer},
};
use weft_tests::{L1Options, ProverOptions, SequencerOptions, Stack};

/// Where the browser is: `WEFT_CHROMIUM`, else Debian's.
fn chromium() -> String {
    let path = std::env::var("WEFT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&path).is_file(),
        "no browser at {path}: install Debian's chromium (`apt-get install -y chromium`, as \
         .ci/run does) or set WEFT_CHROMIUM"
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_works_in_chromium() {
    let browser = chromium();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let stack = Stack::builder()
        .l1(L1Options::default())
        .sequencer(SequencerOptions::default())
        .prover(ProverOptions::default())
        .start()
        .await;
    let api = stack.api();
    let domain = stack.domain().await;
    let (key, to) = (dev_key(0), dev_key(1).address());
    let (hash, _) = api
        .sign_and_submit(&key, &domain, |nonce| {
            Transaction::Transfer(Transfer {
                from: key.address(),
                to,
                token: 0,
                amount: 7,
                fee: 0,
                nonce,
            })
        })
        .await
        .unwrap();
    let block = api
        .wait_executed(&hash, Duration::from_secs(20))
        .await
        .unwrap();
    let covered = stack.wait_all_committed(Duration::from_secs(60)).await;
    stack
        .wait_batch_status(covered, BatchStatus::Finalized)
        .await;
    let batch = api
        .transaction(&hash)
        .await
        .unwrap()
        .unwrap()
        .batch
        .unwrap()
        .index;
    let chain_id = domain.chain_id();

    let url = stack.sequencer_url();
    let output = tokio::task::spawn_blocking({
        let root = root.to_path_buf();
        move || {
            Command::new("node")
                .args(["--test", "--test-reporter=spec", "tests/browser/"])
                .current_dir(root)
                .env("WEFT_URL", url)
                .env("WEFT_TX", hash.to_string())
                .env("WEFT_BLOCK", block.to_string())
                .env("WEFT_ADDRESS", key.address().to_string())
                .env("WEFT_BATCH", batch.to_string())
                .env("WEFT_CHAIN_ID", chain_id.to_string())
                .env("WEFT_DEV_KEY", dev_key(2).secret_bytes().to_string())
                .env("WEFT_CHROMIUM", browser)
                .output()
                .expect("node runs (Node 20, `npm ci` for playwright-core and viem)")
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("fail 0"),
        "browser tests failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

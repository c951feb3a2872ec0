//! The README's quick start, run with the `weft` binary against the whole stack (anvil with
//! the contracts, the sequencer, the prover, the hub; every part its own process): keys
//! imported into keystores, a deposit from L1, a transfer, a withdrawal claimed on L1 once
//! final, channels opened, an invoice paid through the hub, channels closed; then the exact
//! L1 and L2 balances of both users, computed from the amounts and the fees each command
//! reported. Also the CLI's errors: one line, the API's code, the documented exit codes.
//! And the exodus: with the sequencer gone and a forced withdrawal unserved, `weft exodus`
//! takes the finalized balance out on L1 with a proof saved while the sequencer was up.

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
};
use serde_json::Value;
use weft_api::BatchStatus;
use weft_protocol::genesis::dev_key;
use weft_tests::{HubOptions, L1Options, ProverOptions, SequencerOptions, Stack, binaries, mined};

const ETHER: u128 = 1_000_000_000_000_000_000;
const PASSWORD: &str = "correct horse battery staple";

/// Runs `weft` with a home directory and a network file.
struct Weft {
    home: PathBuf,
    network: PathBuf,
}

/// What a run printed and how it ended.
#[derive(Debug)]
struct Run {
    code: i32,
    json: Value,
    stderr: String,
}

impl Weft {
    fn command(&self, account: &str, args: &[&str]) -> Command {
        let mut command = Command::new(&binaries().cli);
        command
            .args(args)
            .arg("--json")
            .args(["--account", account])
            .env("WEFT_HOME", &self.home)
            .env("WEFT_NETWORK_FILE", &self.network)
            .env("WEFT_PASSWORD", PASSWORD)
            .env_remove("WEFT_L2_URL")
            .env_remove("WEFT_L1_RPC")
            .stdin(Stdio::null());
        command
    }

    /// A `Weft` with a home under `dir` and a network file for `stack`.
    fn new(dir: &Path, stack: &Stack, hub: bool) -> Self {
        let network = dir.join("network.json");
        let mut spec = serde_json::json!({
            "l1Rpc": stack.l1().endpoint(),
            "l2Url": stack.sequencer_url(),
            "rollup": stack.rollup().address(),
        });
        if hub {
            spec["hubUrl"] = stack.hub().url().into();
        }
        std::fs::write(&network, spec.to_string()).unwrap();
        Self {
            home: dir.join("home"),
            network,
        }
    }

    fn run_with(&self, mut command: Command) -> Run {
        let output = command.output().expect("run weft");
        let stdout = String::from_utf8_lossy(&output.stdout);
        Run {
            code: output.status.code().unwrap_or(-1),
            json: serde_json::from_str(stdout.trim()).unwrap_or(Value::Null),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs a command that must succeed; its JSON.
    async fn ok(&self, account: &str, args: &[&str]) -> Value {
        let command = self.command(account, args);
        let run = tokio::task::block_in_place(|| self.run_with(command));
        assert_eq!(run.code, 0, "weft {args:?} as {account}: {run:?}");
        run.json
    }

    /// Imports `key` as account `name` from a key file written in `dir`; the reply.
    async fn import(&self, dir: &Path, name: &str, key: &alloy::primitives::B256) -> Value {
        let file = write_secret(dir, &format!("{name}.key"), key);
        self.ok(
            name,
            &[
                "wallet",
                "import",
                name,
                "--private-key-file",
                file.to_str().unwrap(),
            ],
        )
        .await
    }

    /// Runs a command that must fail.
    fn fails(&self, account: &str, args: &[&str]) -> Run {
        let run = tokio::task::block_in_place(|| self.run_with(self.command(account, args)));
        assert_ne!(run.code, 0, "weft {args:?} should fail: {run:?}");
        assert_eq!(
            run.stderr
                .lines()
                .filter(|l| l.starts_with("weft: "))
                .count(),
            1,
            "one error line: {run:?}"
        );
        run
    }
}

fn amount(v: &Value) -> u128 {
    v.as_str()
        .unwrap_or_else(|| panic!("a decimal string: {v}"))
        .parse()
        .unwrap()
}

/// `weft balance` of token 0 on L2.
fn l2_eth(balance: &Value) -> u128 {
    balance["l2"]["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["token"] == 0)
        .map_or(0, |b| amount(&b["amount"]))
}

/// Whether a transaction view or reply says it is in a block and succeeded.
fn executed(v: &Value) -> bool {
    ["executed", "committed", "proven", "finalized"].contains(&v["status"].as_str().unwrap_or(""))
}

fn write_secret(dir: &Path, name: &str, key: &alloy::primitives::B256) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{key}\n")).unwrap();
    path
}

/// A stack with the prover and the hub (dev key 7), and `weft` for it in a fresh directory.
async fn stack_with_hub() -> (Stack, tempfile::TempDir, Weft) {
    let stack = Stack::builder()
        .l1(L1Options::default())
        .sequencer(SequencerOptions::default())
        .prover(ProverOptions::default())
        .hub(HubOptions {
            key: Some(dev_key(7)),
            ..HubOptions::default()
        })
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let weft = Weft::new(dir.path(), &stack, true);
    (stack, dir, weft)
}

/// Once everything is finalized, saves the node's answer to `proof_path` in `file`, stops the
/// sequencer and freezes the Rollup contract: `who`'s forced withdrawal is never served.
async fn freeze_after_saving(stack: &mut Stack, proof_path: &str, file: &Path, who: Address) {
    let last = stack.wait_all_committed(Duration::from_secs(20)).await;
    stack.wait_batch_status(last, BatchStatus::Finalized).await;
    let (status, proof) = stack.get(proof_path).await;
    assert_eq!(status, 200, "{proof}");
    std::fs::write(file, proof.to_string()).unwrap();
    stack.sequencer_mut().stop().await;
    let dev = stack.l1();
    let forced = mined(dev.rollup.forceWithdraw(0).from(who)).await;
    let entry = forced
        .decoded_log::<weft_l1::Rollup::QueueEntry>()
        .unwrap()
        .data;
    dev.increase_time(dev.config.forced_withdrawal_deadline + 1)
        .await;
    mined(
        dev.rollup
            .activateExodus(entry.queueIndex)
            .from(dev.accounts[4]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quick_start_runs_with_the_cli_and_balances_are_exact() {
    let stack = Stack::builder()
        .l1(L1Options::default())
        .sequencer(SequencerOptions {
            block_time: Duration::from_millis(50),
            dev_accounts: 10,
            threads: 1,
            settings: toml::toml! { min_fee = 3 },
            ..SequencerOptions::default()
        })
        .prover(ProverOptions::default())
        .hub(HubOptions {
            key: Some(dev_key(7)),
            args: vec!["--fee".into(), "3".into()],
            ..HubOptions::default()
        })
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let weft = Weft::new(dir.path(), &stack, true);
    let l1 = &stack.l1().provider;
    let (alice, bob) = (stack.l1().accounts[1], stack.l1().accounts[3]);
    let l1_before = (
        l1.get_balance(alice).await.unwrap(),
        l1.get_balance(bob).await.unwrap(),
    );
    let fee = stack.api().chain().await.unwrap().fee.min_fee;
    assert_eq!(fee, 3);

    // Keys: alice's from a file, bob's on stdin; stored encrypted, listed without a password.
    let imported = weft.import(dir.path(), "alice", &stack.l1().keys[1]).await;
    assert_eq!(imported["address"], serde_json::json!(alice));
    let mut import_bob = weft.command("bob", &["wallet", "import", "bob"]);
    import_bob.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = import_bob.spawn().unwrap();
    writeln!(child.stdin.take().unwrap(), "{}", stack.l1().keys[3]).unwrap();
    assert!(child.wait().unwrap().success());
    let keystore = std::fs::read_to_string(weft.home.join("keystores/bob.json")).unwrap();
    assert!(
        keystore.contains("\"crypto\"") && !keystore.contains(&stack.l1().keys[3].to_string()[2..])
    );
    let carol = weft.ok("carol", &["wallet", "new", "carol"]).await;
    let address = weft.ok("carol", &["wallet", "address"]).await;
    assert_eq!(address["address"], carol["address"]);
    let list = weft.ok("alice", &["wallet", "list"]).await;
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    let exists = weft.fails("carol", &["wallet", "new", "carol"]);
    assert_eq!(
        (exists.code, exists.json["error"]["code"].as_str()),
        (5, Some("key"))
    );

    // Errors: one line with the code, the documented exit codes.
    let mut wrong = weft.command("alice", &["send", "--to", &bob.to_string(), "1"]);
    wrong.env("WEFT_PASSWORD", "wrong");
    let run = tokio::task::block_in_place(|| weft.run_with(wrong));
    assert_eq!(
        (run.code, run.json["error"]["code"].as_str()),
        (5, Some("key")),
        "{run:?}"
    );
    let run = weft.fails("alice", &["send", "--to", &bob.to_string(), "1"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(run.json["error"]["code"], "insufficient_balance", "{run:?}");
    let run = weft.fails("alice", &["send", "--to", &bob.to_string(), "1.2.3"]);
    assert_eq!(
        (run.code, run.json["error"]["code"].as_str()),
        (2, Some("usage"))
    );

    // 1. Deposit 2 ETH from L1; credited on L2 when the command returns.
    let deposit = weft.ok("alice", &["deposit", "2"]).await;
    assert_eq!(deposit["credited"], true, "{deposit}");
    let deposit_l1_fee = amount(&deposit["l1Fee"]);
    let tx = weft
        .ok("alice", &["tx", deposit["l2Tx"].as_str().unwrap()])
        .await;
    assert!(executed(&tx), "{tx}");

    // An ERC-20 from L1: approved and deposited by one command, credited as token 1.
    let token = *stack.l1().token.address();
    let minter = stack.l1().accounts[5];
    mined(
        stack
            .l1()
            .token
            .mint(alice, U256::from(500u64))
            .from(minter),
    )
    .await;
    let erc20 = weft
        .ok(
            "alice",
            &["deposit", "500wei", "--token", &token.to_string()],
        )
        .await;
    assert_eq!(
        (erc20["token"].as_u64(), erc20["credited"].as_bool()),
        (Some(1), Some(true))
    );
    let erc20_l1_fee = amount(&erc20["l1Fee"]);

    // 2. Send 0.5 ETH to bob on L2.
    let sent = weft
        .ok("alice", &["send", "--to", &bob.to_string(), "0.5"])
        .await;
    assert!(executed(&sent), "{sent}");
    assert_eq!(amount(&sent["fee"]), fee);

    // 3. Bob withdraws 0.1 ETH and claims it on L1 once final.
    let withdrawn = weft.ok("bob", &["withdraw", "0.1"]).await;
    let withdrawal = withdrawn["hash"].as_str().unwrap().to_string();
    let claimed = weft.ok("bob", &["claim", &withdrawal]).await;
    assert_eq!(amount(&claimed["amount"]), ETHER / 10);
    let claim_l1_fee = amount(&claimed["l1Fee"]);
    let tx = weft.ok("bob", &["tx", &withdrawal]).await;
    assert_eq!(tx["status"], "finalized", "{tx}");
    assert!(tx["batch"]["finalizeL1Tx"].is_string(), "{tx}");
    let again = weft.fails("bob", &["claim", &withdrawal]);
    assert_eq!(again.json["error"]["code"], "already_claimed", "{again:?}");

    // 4. Channels: both open one; bob invoices, alice pays through the hub; both close.
    let opened = weft.ok("alice", &["channel", "open", "0.5"]).await;
    assert_eq!(amount(&opened["balance"]), ETHER / 2, "{opened}");
    weft.ok("bob", &["channel", "open", "0.1"]).await;
    let mut invoice = weft.command("bob", &["channel", "invoice", "0.05", "--wait"]);
    invoice.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut payee = invoice.spawn().unwrap();
    let mut lines = BufReader::new(payee.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let code = first["invoice"].as_str().unwrap().to_string();
    let paid = weft.ok("alice", &["channel", "pay", &code]).await;
    assert_eq!(paid["status"], "settled", "{paid}");
    assert!(paid["proofOfPayment"].is_string(), "{paid}");
    let status = tokio::task::block_in_place(|| payee.wait()).unwrap();
    let last: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert!(status.success() && last["paid"] == true, "{last}");
    let list = weft.ok("bob", &["channel", "list"]).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let closed = weft.ok("alice", &["channel", "close"]).await;
    assert_eq!(
        amount(&closed["channel"]["balance"]),
        ETHER / 2 - ETHER / 20
    );
    let closed = weft.ok("bob", &["channel", "close"]).await;
    assert_eq!(
        amount(&closed["channel"]["balance"]),
        ETHER / 10 + ETHER / 20
    );

    // The watcher starts, shows each channel, stops on Ctrl-C.
    let mut watch = weft.command("bob", &["channel", "watch"]);
    watch.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut watcher = watch.spawn().unwrap();
    let mut lines = BufReader::new(watcher.stdout.take().unwrap()).lines();
    let start: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(start["watching"], serde_json::json!(bob), "{start}");
    let channel: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(channel["status"], "closed", "{channel}");
    let busy = weft.fails("bob", &["channel", "list"]);
    assert_eq!(
        busy.json["error"]["code"], "busy",
        "one process per account: {busy:?}"
    );
    Command::new("kill")
        .args(["-INT", &watcher.id().to_string()])
        .status()
        .unwrap();
    let stopped = tokio::task::block_in_place(|| watcher.wait()).unwrap();
    assert!(stopped.success(), "{stopped:?}");

    // Exact balances: every amount and fee accounted for.
    let a = weft.ok("alice", &["balance"]).await;
    let b = weft.ok("bob", &["balance"]).await;
    // alice: +2 deposit, -0.5 sent, -0.5 into her channel, +0.45 out of it; 3 fees
    // (send, open, close).
    assert_eq!(
        l2_eth(&a),
        2 * ETHER - ETHER / 2 - ETHER / 2 + (ETHER / 2 - ETHER / 20) - 3 * fee
    );
    // bob: +0.5, -0.1 withdrawn, -0.1 into his channel, +0.15 out of it; 3 fees
    // (withdraw, open, close).
    assert_eq!(
        l2_eth(&b),
        ETHER / 2 - ETHER / 10 - ETHER / 10 + (ETHER / 10 + ETHER / 20) - 3 * fee
    );
    let l1_after = (
        U256::from(amount(&a["l1"]["eth"])),
        U256::from(amount(&b["l1"]["eth"])),
    );
    assert_eq!(
        l1_after.0,
        l1_before.0 - U256::from(2 * ETHER + deposit_l1_fee + erc20_l1_fee)
    );
    let l2_token = a["l2"]["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["token"] == 1)
        .unwrap();
    assert_eq!(amount(&l2_token["amount"]), 500);
    assert_eq!(
        l1_after.1,
        l1_before.1 + U256::from(ETHER / 10) - U256::from(claim_l1_fee)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exodus_takes_the_finalized_balance_out_when_the_sequencer_is_gone() {
    let mut stack = Stack::builder()
        .l1(L1Options::default())
        .sequencer(SequencerOptions::default())
        .prover(ProverOptions::default())
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let weft = Weft::new(dir.path(), &stack, false);
    let dave = stack.l1().accounts[6];
    weft.import(dir.path(), "dave", &stack.l1().keys[6]).await;

    // Not frozen yet: the exodus is refused.
    let refused = weft.fails("dave", &["exodus"]);
    assert_eq!(
        (refused.code, refused.json["error"]["code"].as_str()),
        (3, Some("not_frozen"))
    );

    weft.ok("dave", &["deposit", "1"]).await;
    // The proof, saved while the sequencer serves it; then exodus.
    let proof_file = dir.path().join("proof.json");
    freeze_after_saving(
        &mut stack,
        &format!("/v1/accounts/{dave}/proof"),
        &proof_file,
        dave,
    )
    .await;
    let dev = stack.l1();

    let before = dev.provider.get_balance(dave).await.unwrap();
    let out = weft
        .ok(
            "dave",
            &["exodus", "--proof-file", proof_file.to_str().unwrap()],
        )
        .await;
    let claimed = out["claimed"].as_array().unwrap();
    assert_eq!(claimed.len(), 1, "{out}");
    assert_eq!(amount(&claimed[0]["amount"]), ETHER);
    let tx: alloy::primitives::B256 = claimed[0]["l1Tx"].as_str().unwrap().parse().unwrap();
    let receipt = dev
        .provider
        .get_transaction_receipt(tx)
        .await
        .unwrap()
        .unwrap();
    let gas = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    assert_eq!(
        dev.provider.get_balance(dave).await.unwrap(),
        before + U256::from(ETHER) - gas
    );
    // Once only.
    let again = weft
        .ok(
            "dave",
            &["exodus", "--proof-file", proof_file.to_str().unwrap()],
        )
        .await;
    assert_eq!(again["claimed"].as_array().unwrap().len(), 0, "{again}");
}

/// With channels open when the Rollup contract freezes, `weft channel exit` settles them on
/// L1 from the wallet's own states: the first run proves the finalized roots and the
/// channel, registers the newest co-signed state and says when the L1 dispute ends; the run
/// after it concludes and takes the wallet's balance out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_exit_takes_a_channel_out_on_l1_when_frozen() {
    let (mut stack, dir, weft) = stack_with_hub().await;
    let erin = stack.l1().accounts[8];
    weft.import(dir.path(), "erin", &stack.l1().keys[8]).await;
    let refused = weft.fails("erin", &["channel", "exit"]);
    assert_eq!(refused.json["error"]["code"], "not_frozen", "{refused:?}");

    weft.ok("erin", &["deposit", "1"]).await;
    let opened = weft.ok("erin", &["channel", "open", "0.5"]).await;
    let id = opened["id"].as_str().unwrap().to_string();
    let balance = amount(&opened["balance"]);
    assert_eq!(balance, ETHER / 2, "{opened}");
    let proof_file = dir.path().join("channel.json");
    freeze_after_saving(
        &mut stack,
        &format!("/v1/channels/{id}/proof"),
        &proof_file,
        erin,
    )
    .await;
    let dev = stack.l1();
    let window = dev.config.forced_withdrawal_deadline;

    let args = [
        "channel",
        "exit",
        "--proof-file",
        proof_file.to_str().unwrap(),
    ];
    let first = weft.ok("erin", &args).await;
    let c = &first["channels"][0];
    assert_eq!(
        (c["id"].as_str(), c["status"].as_str()),
        (Some(id.as_str()), Some("disputed")),
        "{first}"
    );
    let steps: Vec<&str> = c["l1Txs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["proveRoots", "start", "register"], "{first}");
    // Nothing to do until the window ends.
    let again = weft.ok("erin", &args).await;
    assert_eq!(
        again["channels"][0]["l1Txs"],
        serde_json::json!([]),
        "{again}"
    );

    dev.increase_time(window + 1).await;
    let before = dev.provider.get_balance(erin).await.unwrap();
    let done = weft.ok("erin", &args).await;
    let c = &done["channels"][0];
    assert_eq!(c["status"], "concluded", "{done}");
    assert_eq!(amount(&c["amount"]), balance);
    let mut gas = U256::ZERO;
    for t in c["l1Txs"].as_array().unwrap() {
        let tx: alloy::primitives::B256 = t["l1Tx"].as_str().unwrap().parse().unwrap();
        let r = dev
            .provider
            .get_transaction_receipt(tx)
            .await
            .unwrap()
            .unwrap();
        gas += U256::from(r.gas_used) * U256::from(r.effective_gas_price);
    }
    assert_eq!(
        dev.provider.get_balance(erin).await.unwrap(),
        before + U256::from(balance) - gas
    );
    // Once only.
    let after = weft.ok("erin", &args).await;
    assert_eq!(
        after["channels"][0]["l1Txs"],
        serde_json::json!([]),
        "{after}"
    );
}

/// The hub defends its side of an exit: erin pays bob through the hub, the rollup freezes,
/// and erin registers on L1 her older state (before the payment, more for her); the hub
/// registers its newest co-signed state within the L1 window, concludes after it and takes
/// its part, and erin's `weft channel exit` takes out only what the newest state gives her.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_refutes_a_stale_exit_and_takes_its_part() {
    use weft_l1::exodus::{
        exodus_channel_register_call, exodus_channel_start_call, exodus_roots_call,
    };

    let (mut stack, dir, weft) = stack_with_hub().await;
    let (erin, hub) = (stack.l1().accounts[8], dev_key(7).address());
    for (name, i) in [("erin", 8), ("bob", 3)] {
        weft.import(dir.path(), name, &stack.l1().keys[i]).await;
        weft.ok(name, &["deposit", "1"]).await;
    }
    let opened = weft.ok("erin", &["channel", "open", "0.5"]).await;
    let id: alloy::primitives::B256 = opened["id"].as_str().unwrap().parse().unwrap();
    weft.ok("bob", &["channel", "open", "0.1"]).await;
    let mut invoice = weft.command("bob", &["channel", "invoice", "0.1", "--wait"]);
    invoice.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut payee = invoice.spawn().unwrap();
    let mut lines = BufReader::new(payee.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let paid = weft
        .ok(
            "erin",
            &["channel", "pay", first["invoice"].as_str().unwrap()],
        )
        .await;
    assert_eq!(paid["status"], "settled", "{paid}");
    assert!(
        tokio::task::block_in_place(|| payee.wait())
            .unwrap()
            .success()
    );

    let proof_file = dir.path().join("channel.json");
    freeze_after_saving(
        &mut stack,
        &format!("/v1/channels/{id}/proof"),
        &proof_file,
        erin,
    )
    .await;
    // The sequencer again, without its L1 side: it serves the finalized state, the proofs the
    // hub's exit takes.
    let config = stack.path("sequencer.toml");
    let mut settings: toml::Table = std::fs::read_to_string(&config).unwrap().parse().unwrap();
    settings.retain(|key, _| !key.starts_with("l1_"));
    std::fs::write(&config, toml::to_string(&settings).unwrap()).unwrap();
    stack.sequencer_mut().restart().await;

    // erin's states: the opening one both signed (0.5 for her), and the newest, her lock of
    // 0.1 to the hub, which she signed and the hub took (its secret revealed by bob).
    let store = weft_wallet::WalletStore::open(&weft.home.join("channels"))
        .await
        .unwrap();
    let history = store.states(&id).await.unwrap();
    store.close().await;
    let (old, old_w, old_h) =
        history
            .iter()
            .find_map(|w| {
                (w.state.balance_wallet == ETHER / 2 && w.state.balance_hub == ETHER / 2)
                    .then_some((&w.state, w.wallet_signature?, w.hub_signature?))
            })
            .unwrap();
    let newest = &history.last().unwrap().state;
    assert_eq!(newest.balance_wallet, ETHER / 2 - ETHER / 10, "{newest:?}");
    assert_eq!(newest.locks.len(), 1, "{newest:?}");

    // erin tries the old state first (she races the hub: either hers is registered and then
    // refuted, or the hub's came first and hers is stale).
    let dev = stack.l1();
    let rollup = &dev.rollup;
    let view: weft_api::ChannelProofView =
        serde_json::from_str(&std::fs::read_to_string(&proof_file).unwrap()).unwrap();
    let _ = rollup
        .call_builder(&exodus_roots_call(&view.wallet))
        .from(erin)
        .send()
        .await;
    let start = exodus_channel_start_call(&view.channel, &view.wallet, &view.hub);
    let _ = rollup.call_builder(&start).from(erin).send().await;
    let cheat = exodus_channel_register_call(
        old,
        alloy::primitives::Bytes::copy_from_slice(&old_w.to_bytes()),
        alloy::primitives::Bytes::copy_from_slice(&old_h.to_bytes()),
    );
    let _ = rollup.call_builder(&cheat).from(erin).send().await;
    let exit = stack
        .wait(
            "the hub's newest state registered",
            Duration::from_secs(30),
            || async {
                let e = rollup.channelExits(id).call().await.ok()?;
                (e.registered && e.version == newest.version).then_some(e)
            },
        )
        .await;
    assert!(exit.version > old.version);

    // After the window the hub concludes and takes its part (0.5 and the lock's 0.1).
    dev.increase_time(dev.config.forced_withdrawal_deadline + 1)
        .await;
    let hub_before = dev.provider.get_balance(hub).await.unwrap();
    stack
        .wait(
            "the hub's part withdrawn",
            Duration::from_secs(30),
            || async {
                let e = rollup.channelExits(id).call().await.ok()?;
                (e.concluded && e.toHub == 0).then_some(())
            },
        )
        .await;
    let hub_gained = dev.provider.get_balance(hub).await.unwrap() - hub_before;
    // Its balance and the lock, whose secret it revealed on L1.
    let hub_part = U256::from(newest.balance_hub + newest.locks[0].amount);
    // Less the gas of the hub's conclude and withdraw transactions (well under 0.01 ETH).
    assert!(hub_gained <= hub_part && hub_gained > hub_part - U256::from(ETHER / 100));

    // erin's exit pays her the newest state's balance, not the old one's.
    let args = [
        "channel",
        "exit",
        "--proof-file",
        proof_file.to_str().unwrap(),
    ];
    let done = weft.ok("erin", &args).await;
    let c = &done["channels"][0];
    assert_eq!(c["status"], "concluded", "{done}");
    assert_eq!(amount(&c["amount"]), newest.balance_wallet);
}

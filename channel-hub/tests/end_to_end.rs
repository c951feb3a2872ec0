//! The whole channel story over real parts: a sequencer (in process, SQLite), the hub as
//! its real binary (a separate process, killed with SIGKILL mid-payment and restarted on
//! its database), two wallets with their own databases talking REST and WebSocket.
//!
//! Two wallets open channels, pay each other 1,000 times through the hub, the hub dies
//! while a payment is half-way (the payee holds the hub's lock but has not answered) and
//! comes back; the payment completes. Then one channel closes cooperatively and the other
//! is registered with a stale state and refuted by the hub. The rollup's balances must be
//! exact and no payment may be left half-done.

mod common;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{GENESIS_BALANCE, fill_block, l2_balance, sequencer_with_window};
use sqlx::{Connection, SqliteConnection};
use weft_channel::RouteStatus;
use weft_channel_hub::config::dev_key;
use weft_protocol::{
    channel::{ChannelStatus, LockDirection},
    primitives::{Amount, B256},
};
use weft_wallet::{Wallet, WalletChannel, WalletConfig};

/// The hub binary as a child process.
struct HubProcess {
    child: Child,
    addr: SocketAddr,
    data_dir: PathBuf,
    sequencer: SocketAddr,
}

impl HubProcess {
    async fn start(data_dir: &Path, sequencer: SocketAddr, addr: SocketAddr) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_weft-channel-hub"))
            .args(["--listen", &addr.to_string()])
            .args(["--data-dir", data_dir.to_str().unwrap()])
            .args(["--sequencer-url", &format!("http://{sequencer}")])
            .args(["--watch-interval-ms", "50"])
            .args(["--route-timeout-ms", "3000"])
            // Locks fit in the test's short dispute window (at most the window less 2).
            .args(["--min-lock-blocks", "1", "--lock-margin-blocks", "4"])
            .arg("--dev-key")
            .env_remove("DATABASE_URL")
            .env_remove("WEFT_HUB_KEY")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn the hub");
        let hub = Self {
            child,
            addr,
            data_dir: data_dir.to_path_buf(),
            sequencer,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let up = reqwest::get(format!("http://{addr}/health")).await;
            if up.is_ok_and(|r| r.status().is_success()) {
                return hub;
            }
            assert!(Instant::now() < deadline, "the hub did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no draining, no cleanup.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    async fn restart(&mut self) {
        *self = Self::start(&self.data_dir.clone(), self.sequencer, self.addr).await;
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

async fn open_wallet(i: u32, dir: &Path, hub: &HubProcess, seq: SocketAddr) -> Wallet {
    let config = WalletConfig::new(
        &hub.url(),
        &format!("http://{seq}"),
        common::key(i),
        dir.to_path_buf(),
    );
    let w = Wallet::open(config).await.unwrap();
    assert!(w.wait_connected(Duration::from_secs(5)).await);
    w
}

/// One routed payment, retried through the hub's transient answers (a payee busy with the
/// previous payment's acknowledgement, a sync after the hub restarted).
async fn pay(from: &Wallet, channel: &B256, to: &Wallet, amount: Amount) {
    let invoice = to.invoice(amount).await.unwrap();
    for _ in 0..200 {
        match from.pay(channel, to.address(), amount, invoice).await {
            Ok(RouteStatus::Settled) => return,
            Ok(other) => panic!("payment ended {other:?}"),
            Err(e) if matches!(e.code(), Some("sync_required" | "stale_version")) => {
                from.sync(channel).await.unwrap();
            }
            Err(e)
                if matches!(
                    e.code(),
                    Some("channel_busy" | "payee_unavailable" | "offer_pending")
                ) =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("payment failed: {e}"),
        }
    }
    panic!("payment never went through");
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_payments_a_crash_a_close_and_a_dispute_leave_exact_balances() {
    let dir = tempfile::tempdir().unwrap();
    // A dispute window of a few blocks, so the disputed close concludes within the test.
    const WINDOW: u64 = 16;
    let seq = sequencer_with_window(&dir.path().join("seq"), WINDOW).await;
    let hub_dir = dir.path().join("hub");
    let mut hub = HubProcess::start(&hub_dir, seq.addr, free_port()).await;
    let alice = open_wallet(0, &dir.path().join("alice"), &hub, seq.addr).await;
    let bob = open_wallet(1, &dir.path().join("bob"), &hub, seq.addr).await;
    let hub_address = dev_key().address();
    const DEPOSIT: Amount = 1_000_000;

    let a = alice.open_channel(0, DEPOSIT).await.unwrap();
    let b = bob.open_channel(0, DEPOSIT).await.unwrap();
    // The hub matched both deposits.
    for (w, id) in [(&alice, a), (&bob, b)] {
        let c = w.channel(&id).unwrap().latest;
        assert_eq!((c.balance_wallet, c.balance_hub), (DEPOSIT, DEPOSIT));
    }

    // 1,000 routed payments: alice pays bob, every tenth goes back. The 500th is
    // interrupted by a crash of the hub.
    let (mut to_bob, mut to_alice) = (0u128, 0u128);
    for i in 0..1_000u128 {
        let amount = 1 + i % 97;
        if i == 500 {
            to_bob += amount;
            crash_mid_payment(&mut hub, &alice, &a, &bob, &b, amount).await;
        } else if i % 10 == 9 {
            to_alice += amount;
            pay(&bob, &b, &alice, amount).await;
        } else {
            to_bob += amount;
            pay(&alice, &a, &bob, amount).await;
        }
    }
    let alice_balance = DEPOSIT - to_bob + to_alice;
    let bob_balance = DEPOSIT + to_bob - to_alice;
    wait_for("both channels to settle", || {
        let (ca, cb) = (alice.channel(&a).unwrap(), bob.channel(&b).unwrap());
        ca.latest.balance_wallet == alice_balance
            && cb.latest.balance_wallet == bob_balance
            && ca.latest.locks.is_empty()
            && cb.latest.locks.is_empty()
            && ca.offer.is_none()
            && cb.offer.is_none()
    })
    .await;
    // What the hub holds equals what the wallets hold.
    for (w, id) in [(&alice, a), (&bob, b)] {
        let view = w.hub_view(&id).await.unwrap();
        assert_eq!(view.latest.state, w.channel(&id).unwrap().latest);
        assert!(view.offer.is_none());
    }
    // No payment half-done: every one the hub recorded is settled.
    let counts = payment_counts(&hub_dir).await;
    assert_eq!(counts, vec![("settled".to_owned(), 1_000)], "{counts:?}");

    // Bob closes cooperatively (the hub submits); alice registers a stale state (version
    // 2, before any payment) and the hub refutes it with the latest.
    bob.close_channel(&b, true).await.unwrap();
    let alice_latest = alice.channel(&a).unwrap().latest;
    alice.register_on_rollup(&a, Some(2)).await.unwrap();
    wait_for("the hub to refute the stale registration", || {
        seq.node.state.read().channel(&a).is_some_and(|r| {
            matches!(&r.status, ChannelStatus::Disputed { state, .. } if *state == alice_latest)
        })
    })
    .await;

    // The rollup's balances are exact (fees are zero): bob got his channel balance, the
    // hub its side of bob's channel; alice's channel still holds both sides until the
    // dispute window ends, split as the latest state says.
    assert_eq!(
        l2_balance(&seq, &bob.address()).await,
        GENESIS_BALANCE - DEPOSIT + bob_balance
    );
    assert_eq!(
        l2_balance(&seq, &hub_address).await,
        GENESIS_BALANCE - 2 * DEPOSIT + (2 * DEPOSIT - bob_balance)
    );
    assert_eq!(
        l2_balance(&seq, &alice.address()).await,
        GENESIS_BALANCE - DEPOSIT
    );
    let record = seq.node.state.read().channel(&a).cloned().unwrap();
    assert_eq!(record.total, 2 * DEPOSIT);
    assert_eq!(alice_latest.balance_wallet, alice_balance);
    assert_eq!(alice_latest.balance_hub, 2 * DEPOSIT - alice_balance);
    let ChannelStatus::Disputed { deadline, .. } = record.status else {
        panic!("not disputed")
    };

    // Blocks go by (other traffic) until a watcher concludes after the deadline: alice's
    // channel pays out its latest state, and every balance is final and exact.
    for _ in 0..WINDOW * 20 {
        if seq.node.state.read().channel(&a).unwrap().status == ChannelStatus::Closed {
            break;
        }
        fill_block(&seq).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(
        seq.node.state.read().channel(&a).unwrap().status,
        ChannelStatus::Closed
    );
    assert!(seq.node.head.borrow().number > deadline);
    assert_eq!(
        l2_balance(&seq, &alice.address()).await,
        GENESIS_BALANCE - DEPOSIT + alice_balance
    );
    assert_eq!(
        l2_balance(&seq, &hub_address).await,
        GENESIS_BALANCE - 2 * DEPOSIT + (2 * DEPOSIT - bob_balance) + (2 * DEPOSIT - alice_balance)
    );

    alice.close().await;
    bob.close().await;
    drop(hub);
    seq.stop().await.unwrap();
}

/// Payment 500: bob holds the hub's lock without answering, the hub is killed, restarted;
/// bob answers, and the payment completes on both channels.
async fn crash_mid_payment(
    hub: &mut HubProcess,
    alice: &Wallet,
    a: &B256,
    bob: &Wallet,
    b: &B256,
    amount: Amount,
) {
    let invoice = bob.invoice(amount).await.unwrap();
    // Either latest state may still hold the previous payment's lock to its wallet
    // (revealed, not yet settled into its balance): it is the wallet's all the same.
    let bob_before = owned(&bob.channel(b).unwrap());
    let alice_before = owned(&alice.channel(a).unwrap());
    bob.set_answering(false);
    let payer = alice.clone();
    let (a2, to) = (*a, bob.address());
    let in_flight = tokio::spawn(async move { payer.pay(&a2, to, amount, invoice).await });
    wait_for("bob to hold the hub's lock", || {
        bob.channel(b).unwrap().offer.is_some()
    })
    .await;
    hub.kill();
    // The payer's request died with the hub.
    assert!(in_flight.await.unwrap().is_err());
    hub.restart().await;
    bob.set_answering(true);
    wait_for("the interrupted payment to complete", || {
        let paid = bob.channel(b).unwrap().latest.balance_wallet == bob_before + amount;
        let settled = alice.channel(a).is_some_and(|c| {
            c.latest.balance_wallet == alice_before - amount && c.latest.locks.is_empty()
        });
        paid && settled
    })
    .await;
}

/// What a wallet owns in a channel: its balance and the locks to it in its latest state
/// (locks it accepted by revealing their secrets).
fn owned(c: &WalletChannel) -> Amount {
    c.latest.balance_wallet
        + c.latest
            .locks
            .iter()
            .filter(|l| l.direction == LockDirection::HubToWallet)
            .map(|l| l.amount)
            .sum::<Amount>()
}

async fn payment_counts(hub_dir: &Path) -> Vec<(String, i64)> {
    let url = format!(
        "sqlite://{}?mode=ro",
        hub_dir.join("channel-hub.db").display()
    );
    let mut db = SqliteConnection::connect(&url).await.unwrap();
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM payments GROUP BY status ORDER BY status")
            .fetch_all(&mut db)
            .await
            .unwrap();
    db.close().await.unwrap();
    rows
}

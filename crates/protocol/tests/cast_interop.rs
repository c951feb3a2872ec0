//! Interop with an EIP-712 implementation we did not write: Foundry's `cast`.
//!
//! For every transaction kind (and a bare channel state) the typed-data JSON from
//! [`Eip712::typed_data`] is written to a file and signed with
//! `cast wallet sign --private-key <key> --data --from-file <file>`; cast builds the types,
//! encodes the message and hashes it itself (alloy-dyn-abi). Each case asserts that
//!
//! * our `Signature::recover` over our `signing_hash` yields the key's address;
//! * cast's signature is byte-identical to our `SigningKey::sign_digest` (RFC 6979 makes
//!   both deterministic, so equal bytes mean equal digests);
//! * `cast wallet verify --data --from-file` accepts our signature for the key's address.
//!
//! cast comes from the npm package `@foundry-rs/cast` pinned in the root `package.json`:
//! run `npm ci` at the repository root, or point `WEFT_CAST` at a cast binary. A missing
//! cast is a test failure, not a skip.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{
        OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
};

use weft_protocol::{
    channel::{ChannelState, Lock, LockDirection, channel_id},
    eip712::{Domain, Eip712},
    primitives::{Address, B256, Bytes, address, b256, keccak256},
    signature::{Signature, SigningKey},
    transaction::{
        ChannelConclude, ChannelDeposit, ChannelOpen, ChannelSettle, Deposit, ForcedWithdraw,
        RevealSecret, Transaction, Transfer, Withdraw,
    },
};

// ---------------------------------------------------------------------------------------
// Running cast
// ---------------------------------------------------------------------------------------

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `WEFT_CAST`; else the native binary of npm's platform package
/// (`node_modules/@foundry-rs/cast-<os>-<arch>/bin/cast`, ten times faster to start than
/// the Node wrapper); else `node_modules/.bin/cast`. Panics with the fix if none exists.
fn cast_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("WEFT_CAST") {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "WEFT_CAST={} is not a file; unset it and run `npm ci` at the repository \
                 root to install the pinned cast",
                path.display()
            );
            return path;
        }
        let modules = repo_root().join("node_modules");
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            "windows" => "win32",
            other => other,
        };
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        let native = modules.join(format!(
            "@foundry-rs/cast-{os}-{arch}/bin/cast{}",
            std::env::consts::EXE_SUFFIX
        ));
        if native.is_file() {
            return native;
        }
        let wrapper = modules.join(".bin/cast");
        assert!(
            wrapper.exists(),
            "Foundry's cast is not installed at {}: run `npm ci` at the repository root \
             (it installs @foundry-rs/cast pinned in package.json), or set WEFT_CAST to a \
             cast binary",
            wrapper.display()
        );
        wrapper
    })
    .clone()
}

/// Runs cast with `args`; returns its trimmed stdout, or an error with the command line,
/// status and stderr.
fn cast(args: &[&str]) -> Result<String, String> {
    let bin = cast_bin();
    let out = Command::new(&bin)
        .args(args)
        .output()
        .map_err(|e| format!("could not run {}: {e}", bin.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() {
        return Err(format!(
            "`cast {}` failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            stdout
        ));
    }
    Ok(stdout)
}

/// A typed-data file that removes itself.
struct TempJson(PathBuf);

impl TempJson {
    fn new(label: &str, json: &serde_json::Value) -> Self {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "weft-cast-interop-{}-{}-{label}.json",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, serde_json::to_vec_pretty(json).unwrap()).unwrap();
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("temp dir path is UTF-8")
    }
}

impl Drop for TempJson {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn key_hex(key: &SigningKey) -> String {
    key.secret_bytes().to_string()
}

/// Signs `item`'s typed data with cast and checks it against our digest and signer.
fn check(label: &str, item: &dyn Eip712, domain: &Domain, key: &SigningKey) -> Result<(), String> {
    let typed = item.typed_data(domain);
    let file = TempJson::new(label, &typed);
    let digest = item.signing_hash(domain);
    let ours = key.sign_digest(&digest);

    // (a) Our own sign/recover round trip over our digest.
    let recovered = ours
        .recover(&digest)
        .map_err(|e| format!("{label}: recover: {e}"))?;
    if recovered != key.address() {
        return Err(format!(
            "{label}: our signature recovers {recovered}, not {}",
            key.address()
        ));
    }

    // (b) cast signs the JSON; it must produce our exact bytes.
    let printed = cast(&[
        "wallet",
        "sign",
        "--private-key",
        &key_hex(key),
        "--data",
        "--from-file",
        file.path(),
    ])
    .map_err(|e| format!("{label}: {e}\ntyped data:\n{typed:#}"))?;
    let theirs: Signature = printed
        .parse()
        .map_err(|e| format!("{label}: cast printed {printed:?}, not a 65-byte signature: {e}"))?;
    let cast_signer = theirs.recover(&digest).ok();
    if theirs != ours {
        return Err(format!(
            "{label}: cast's signature differs from ours\n  cast: {theirs}\n  ours: {ours}\n  \
             cast's signature over our digest {digest} recovers {cast_signer:?} (key {}), so \
             cast hashed the typed data differently\ntyped data:\n{typed:#}",
            key.address()
        ));
    }
    if cast_signer != Some(key.address()) {
        return Err(format!(
            "{label}: cast's signature recovers {cast_signer:?}"
        ));
    }

    // (c) cast verifies our signature against the same JSON.
    cast(&[
        "wallet",
        "verify",
        "--address",
        &key.address().to_string(),
        "--data",
        "--from-file",
        file.path(),
        &ours.to_string(),
    ])
    .map_err(|e| format!("{label}: cast rejects our signature: {e}"))?;
    Ok(())
}

/// Runs every case and reports all failures at once.
fn check_all(cases: &[(String, &dyn Eip712)], domain: &Domain, key: &SigningKey) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(label, item)| check(label, *item, domain, key).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases disagree with cast:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

/// anvil's first dev account.
fn alice() -> SigningKey {
    SigningKey::from_bytes(&b256!(
        "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    ))
    .unwrap()
}

fn hub() -> SigningKey {
    SigningKey::from_seed(b"weft hub")
}

fn domain() -> Domain {
    Domain::new(31337, address!("5FbDB2315678afecb367f032d93F642f64180aa3"))
}

/// A domain at the edge of its ranges: chain id `u64::MAX`.
fn extreme_domain() -> Domain {
    Domain::new(
        u64::MAX,
        address!("ffffffffffffffffffffffffffffffffffffffff"),
    )
}

fn two_locks(big: bool) -> Vec<Lock> {
    vec![
        Lock {
            amount: if big { u128::MAX } else { 250 },
            hashlock: keccak256(b"secret one"),
            expiry: if big { u64::MAX } else { 1_000 },
            direction: LockDirection::WalletToHub,
        },
        Lock {
            amount: if big { u128::MAX - 1 } else { 75 },
            hashlock: keccak256(b"secret two"),
            expiry: if big { u64::MAX - 1 } else { 1_024 },
            direction: LockDirection::HubToWallet,
        },
    ]
}

fn state(big: bool, locks: Vec<Lock>, is_final: bool) -> ChannelState {
    let id = channel_id(&alice().address(), &hub().address(), 7);
    ChannelState {
        channel_id: id,
        version: if big { u64::MAX } else { 12 },
        balance_wallet: if big { u128::MAX } else { 1_000_000 },
        balance_hub: if big { u128::MAX } else { 2_500 },
        locks,
        is_final,
    }
}

/// A settlement of `state`, co-signed by the wallet (alice) and the hub under `domain`.
fn settle(state: ChannelState, domain: &Domain, big: bool) -> ChannelSettle {
    let digest = state.signing_hash(domain);
    let wallet_signature = alice().sign_digest(&digest).to_bytes();
    let hub_signature = hub().sign_digest(&digest).to_bytes();
    assert_eq!(wallet_signature.len(), 65);
    ChannelSettle {
        from: alice().address(),
        state,
        wallet_signature: Bytes::copy_from_slice(&wallet_signature),
        hub_signature: Bytes::copy_from_slice(&hub_signature),
        fee: if big { u128::MAX } else { 3 },
        nonce: if big { u64::MAX } else { 41 },
    }
}

/// One transaction of every kind. `big` puts every integer at its type's maximum.
fn every_kind(domain: &Domain, big: bool) -> Vec<Transaction> {
    let from = alice().address();
    let (amount, fee, nonce, token) = if big {
        (u128::MAX, u128::MAX, u64::MAX, u32::MAX)
    } else {
        (1_000_000_000_000_000_000, 21_000, 5, 0)
    };
    let channel = channel_id(&from, &hub().address(), 7);
    vec![
        Transaction::Transfer(Transfer {
            from,
            to: address!("70997970C51812dc3A010C7d01b50e0d17dc79C8"),
            token,
            amount,
            fee,
            nonce,
        }),
        Transaction::Withdraw(Withdraw {
            from,
            l1_recipient: Address::repeat_byte(0xee),
            token,
            amount,
            fee,
            nonce,
        }),
        Transaction::ChannelOpen(ChannelOpen {
            from,
            hub: hub().address(),
            token,
            amount,
            fee,
            nonce,
        }),
        {
            let s = settle(state(big, two_locks(big), false), domain, big);
            Transaction::ChannelDeposit(ChannelDeposit {
                from,
                channel_id: channel,
                amount,
                state: s.state,
                wallet_signature: s.wallet_signature,
                hub_signature: s.hub_signature,
                fee,
                nonce,
            })
        },
        Transaction::ChannelClose(settle(state(big, two_locks(big), true), domain, big)),
        Transaction::ChannelRegister(settle(state(big, two_locks(big), false), domain, big)),
        Transaction::ChannelRefute(settle(state(big, two_locks(big), false), domain, big)),
        Transaction::ChannelConclude(ChannelConclude {
            from,
            channel_id: channel,
            fee,
            nonce,
        }),
        Transaction::RevealSecret(RevealSecret {
            from,
            secret: if big {
                B256::repeat_byte(0xff)
            } else {
                keccak256(b"preimage")
            },
            fee,
            nonce,
        }),
        Transaction::Deposit(Deposit {
            queue_index: if big { u64::MAX } else { 0 },
            to: from,
            token,
            amount,
        }),
        Transaction::ForcedWithdraw(ForcedWithdraw {
            queue_index: if big { u64::MAX } else { 1 },
            account: from,
            token,
        }),
    ]
}

/// Every kind's position in `Transaction`; the exhaustive match stops this file compiling
/// when a kind is added without a case here.
fn kind_index(tx: &Transaction) -> usize {
    match tx {
        Transaction::Transfer(_) => 0,
        Transaction::Withdraw(_) => 1,
        Transaction::ChannelOpen(_) => 2,
        Transaction::ChannelDeposit(_) => 3,
        Transaction::ChannelClose(_) => 4,
        Transaction::ChannelRegister(_) => 5,
        Transaction::ChannelRefute(_) => 6,
        Transaction::ChannelConclude(_) => 7,
        Transaction::RevealSecret(_) => 8,
        Transaction::Deposit(_) => 9,
        Transaction::ForcedWithdraw(_) => 10,
        // Not EIP-712 typed data: an Ethereum transaction, which cast signs as such.
        Transaction::Evm(_) => unreachable!("no EVM transaction among the typed-data kinds"),
    }
}
const KINDS: usize = 11;

fn tx_cases(txs: &[Transaction]) -> Vec<(String, &dyn Eip712)> {
    txs.iter()
        .map(|tx| (tx.kind().to_owned(), tx as &dyn Eip712))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
fn fixtures_cover_every_transaction_kind() {
    for big in [false, true] {
        let txs = every_kind(&domain(), big);
        let mut seen = [false; KINDS];
        for tx in &txs {
            seen[kind_index(tx)] = true;
        }
        assert!(seen.iter().all(|s| *s), "missing kinds: {seen:?}");
        // The co-signatures are real: they recover to the wallet and the hub.
        for tx in &txs {
            if let Transaction::ChannelClose(s)
            | Transaction::ChannelRegister(s)
            | Transaction::ChannelRefute(s) = tx
            {
                let digest = s.state.signing_hash(&domain());
                assert_eq!(s.state.locks.len(), 2);
                let w = Signature::from_bytes(&s.wallet_signature).unwrap();
                let h = Signature::from_bytes(&s.hub_signature).unwrap();
                assert_eq!(w.recover(&digest).unwrap(), alice().address());
                assert_eq!(h.recover(&digest).unwrap(), hub().address());
            }
        }
    }
}

#[test]
fn cast_signs_every_transaction_kind_identically() {
    let txs = every_kind(&domain(), false);
    check_all(&tx_cases(&txs), &domain(), &alice());
}

#[test]
fn cast_signs_every_transaction_kind_identically_at_maximum_values() {
    let d = extreme_domain();
    let txs = every_kind(&d, true);
    check_all(&tx_cases(&txs), &d, &alice());
}

#[test]
fn cast_signs_channel_states_identically() {
    let states = [
        ("state-two-locks", state(false, two_locks(false), false)),
        (
            "state-two-locks-final",
            state(false, two_locks(false), true),
        ),
        ("state-no-locks", state(false, Vec::new(), true)),
        ("state-maximum-values", state(true, two_locks(true), false)),
    ];
    let cases: Vec<(String, &dyn Eip712)> = states
        .iter()
        .map(|(label, s)| ((*label).to_owned(), s as &dyn Eip712))
        .collect();
    // Both co-signers: the wallet and the hub.
    check_all(&cases, &domain(), &alice());
    check_all(&cases, &extreme_domain(), &hub());
}

#[test]
fn cast_signs_raw_digests_identically() {
    // Isolates signing from hashing: `--no-hash` signs the 32 bytes as given.
    let key = hub();
    for digest in [
        keccak256(b"weft"),
        B256::ZERO,
        SECP256K1_N_MINUS_1,
        every_kind(&domain(), true)[0].signing_hash(&domain()),
    ] {
        let theirs = cast_sign_digest(&key, &digest);
        assert_eq!(theirs, key.sign_digest(&digest), "digest {digest}");
    }
}

/// The one place the two signers part: a digest at or above the group order `n` (never a
/// keccak output in practice: probability ~2^-128). RFC 6979 reduces the digest mod `n`
/// before deriving the nonce, as k256 (cast) does; libsecp256k1 feeds the unreduced bytes
/// to its nonce function. Both sign `digest mod n`, so both signatures are valid for the
/// key; only the nonces, hence the bytes, differ.
#[test]
fn digests_above_the_group_order_get_different_but_valid_signatures() {
    let key = hub();
    for digest in [SECP256K1_N, B256::repeat_byte(0xff)] {
        let theirs = cast_sign_digest(&key, &digest);
        let ours = key.sign_digest(&digest);
        assert_ne!(theirs, ours, "digest {digest}");
        assert_eq!(theirs.recover(&digest).unwrap(), key.address());
        assert_eq!(ours.recover(&digest).unwrap(), key.address());
    }
}

/// secp256k1 group order `n`, and `n - 1`.
const SECP256K1_N: B256 = b256!("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
const SECP256K1_N_MINUS_1: B256 =
    b256!("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140");

fn cast_sign_digest(key: &SigningKey, digest: &B256) -> Signature {
    let printed = cast(&[
        "wallet",
        "sign",
        "--private-key",
        &key_hex(key),
        "--no-hash",
        &digest.to_string(),
    ])
    .unwrap();
    printed.parse().unwrap()
}

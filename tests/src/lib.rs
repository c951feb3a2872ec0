//! # weft-tests
//!
//! Whole-stack tests across real processes. [`Stack`] starts, each optional and in this
//! order:
//!
//! - **L1**: anvil with the contracts deployed (weft-l1's `testkit`: [`Devnet`]), for the
//!   sequencer's genesis root, and an empty block every 150 ms unless told otherwise;
//! - **sequencer**: the `weft-sequencer` binary, its settings in a TOML file, posting with
//!   anvil's first key (a key file);
//! - **prover**: the `weft-prover` binary on the same chain parameters, its L1 account
//!   funded, the devnet's attestation key as a key file;
//! - **hub**: the `weft-channel-hub` binary with its key as a key file;
//!
//! each on a free loopback port with its data under one temporary directory, its stdout
//! and stderr in `<dir>/<service>.log`, killed when the stack is dropped. The binaries are
//! built once per test process (`bins.rs`: `cargo build --bins` with the test's cargo,
//! profile and target directory) and found next to the test executable.
//!
//! The stack gives the typed clients (`weft_api::Client` of the sequencer, the Rollup
//! bindings and `AlloyL1` on L1, the hub's URL for wallets), waits (batch statuses, every
//! block committed), `kill -9` / `SIGTERM` / restart of a process ([`Process`]), and the
//! tail of every log when a wait times out or the test panics.
//!
//! ```no_run
//! # async fn example() {
//! use weft_tests::{ProverOptions, SequencerOptions, Stack, L1Options};
//! let stack = Stack::builder()
//!     .l1(L1Options::default())
//!     .sequencer(SequencerOptions::default())
//!     .prover(ProverOptions::default())
//!     .start()
//!     .await;
//! let head = stack.api().head().await.unwrap();
//! # }
//! ```

mod bins;
mod process;
mod stack;

pub use bins::{Binaries, NO_BUILD_ENV, PROFILE_ENV, binaries};
pub use process::{
    DEFAULT_LOG_FILTER, LOG_TAIL_LINES, Process, START_TIMEOUT, STOP_TIMEOUT, logged_command,
};
pub use stack::{
    DEFAULT_WAIT, HUB_DEV_KEY_SEED, HubOptions, KEEP_ENV, L1Options, ProverOptions, SequencerL1,
    SequencerOptions, Stack, StackBuilder, send_l2,
};
pub use weft_l1::testkit::{AnvilOptions, Devnet, DevnetConfig, mined};

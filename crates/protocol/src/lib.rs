//! # weft-protocol
//!
//! The rules of the Weft rollup: pure, deterministic, no I/O and no runtime. The sequencer,
//! the prover and every verifier share this crate, so a block means the same thing to all.
//!
//! ## The flow
//!
//! A wallet builds a [`transaction::Transaction`], signs its EIP-712 digest
//! ([`eip712`]) and submits a [`transaction::SignedTransaction`]. Admission checks it with
//! [`transaction::SignedTransaction::verify`] (one secp256k1 recovery, [`signature`]),
//! which yields a [`transaction::VerifiedTransaction`] carrying the canonical hash. A
//! [`execution::BlockExecutor`] applies a block of them to the [`state::State`] and returns
//! receipts, the withdrawals root and the new state root.
//!
//! ## Where things are
//!
//! - [`primitives`]: scalar types and keccak256.
//! - [`eip712`]: the domain, struct types, `hashStruct`, typed-data JSON.
//! - [`transaction`], [`channel`]: every kind, the co-signed channel state, the channel
//!   record the rollup keeps and the dispute window.
//! - [`signature`]: recovery with the EIP-2 low-s rule; signing keys for wallets and tests.
//! - [`codec`]: the canonical binary encoding (storage, prover witness).
//! - [`da`]: the compressed data-availability encoding of a batch (what L1 carries).
//! - [`merkle`]: the one proof-verification rule and the fixed-depth tree.
//! - [`state`]: accounts, partitions, the state root, account proofs; [`snapshot`] stores it.
//! - [`block`]: L2 block headers and their hashes; [`batch`]: L1 commitments, queue chain.
//! - [`execution`]: the sequential reference and the parallel engine (algorithm in its docs).
//!
//! ## Example
//!
//! ```
//! use weft_protocol::{
//!     eip712::Domain,
//!     execution::{BlockEnv, BlockExecutor, ParallelExecutor, SequentialExecutor},
//!     primitives::Address,
//!     signature::SigningKey,
//!     state::{Balance, GenesisAccount, State},
//!     transaction::{Transaction, Transfer},
//! };
//!
//! let domain = Domain::new(31337, Address::repeat_byte(0x42));
//! let alice = SigningKey::from_seed(b"alice");
//! let genesis = State::genesis(
//!     &[GenesisAccount { address: alice.address(), balances: vec![Balance { token: 0, amount: 100 }] }],
//!     1,
//! )
//! .unwrap();
//!
//! let bob = Address::repeat_byte(0xb0);
//! let signed = Transaction::Transfer(Transfer { from: alice.address(), to: bob, token: 0, amount: 30, fee: 1, nonce: 0 })
//!     .sign(&alice, &domain);
//! let verified = signed.verify(&domain).unwrap();
//!
//! let env = BlockEnv {
//!     number: 1,
//!     timestamp: 0,
//!     fee_recipient: Address::repeat_byte(0xfe),
//!     domain,
//!     dispute_window: weft_protocol::channel::DEFAULT_DISPUTE_WINDOW,
//!     gas_limit: weft_protocol::evm::DEFAULT_BLOCK_GAS_LIMIT,
//!     base_fee: weft_protocol::evm::DEFAULT_MIN_BASE_FEE,
//! };
//! let (mut a, mut b) = (genesis.clone(), genesis);
//! let seq = SequentialExecutor.execute_block(&mut a, &env, &[verified.clone()]).unwrap();
//! let par = ParallelExecutor::new(2).execute_block(&mut b, &env, &[verified]).unwrap();
//! assert!(seq.receipts[0].is_success());
//! assert_eq!(seq, par);
//! assert_eq!(a.account_by_address(&bob).unwrap().balance(0), 30);
//! ```

#![warn(missing_docs)]

pub mod batch;
pub mod block;
pub mod channel;
pub mod codec;
pub mod da;
pub mod eip712;
pub mod error;
pub mod evm;
pub mod execution;
pub mod genesis;
pub mod merkle;
pub mod primitives;
pub mod schema;
pub mod signature;
pub mod snapshot;
pub mod state;
pub mod transaction;

#[cfg(feature = "testkit")]
pub mod testkit;

//! # weft-storage
//!
//! The database plumbing every Weft service shares, and nothing else: each service keeps its
//! own tables, accessors and migration files; this crate opens the database they live in,
//! applies the service's migrations, converts columns, batches writes into shared commits
//! and gives tests fresh databases. No metrics, no service types: callers measure and name
//! what they store.
//!
//! ## The conventions
//!
//! SQLite in the service's data directory is the default, with nothing to install;
//! PostgreSQL when `DATABASE_URL` names one. Both run the same SQL through sqlx's `Any`
//! driver: SQLite accepts PostgreSQL's `$1` placeholders, and every column is an integer,
//! text or byte string, which `Any` carries for both. What differs is small and named here:
//! each backend's migration SQL, the SQLite connection settings, how a write transaction
//! begins ([`Backend::begin_write`]) and the placeholders of long statements ([`insert_sql`]).
//!
//! ## Where things are
//!
//! | file         | what                                                                  |
//! |--------------|-----------------------------------------------------------------------|
//! | `pool.rs`    | [`open_pool`], [`Backend`], SQLite pragmas (WAL, `synchronous = FULL`) |
//! | `migrate.rs` | the migrator over a service's [`EmbeddedMigration`] list               |
//! | `columns.rs` | [`Columns`] (row reader with `Corrupt` errors), [`to_i64`]             |
//! | `sql.rs`     | multi-row `INSERT` and `IN` lists ([`insert_sql`], [`in_list_sql`])    |
//! | `group.rs`   | group commit: [`GroupWriter`] shares one transaction among callers     |
//! | `error.rs`   | [`StoreError`] and its retry policy ([`StoreError::is_transient`])     |
//! | `testkit.rs` | feature `testkit`: [`testkit::TestDatabase`], [`testkit::on_every_backend`] |
#![warn(missing_docs)]

mod columns;
mod error;
mod group;
mod migrate;
mod pool;
mod sql;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

pub use columns::{Columns, to_i64};
pub use error::StoreError;
pub use group::{Apply, GroupStats, GroupWriter, MAX_GROUP_JOBS};
pub use migrate::EmbeddedMigration;
pub use pool::{Backend, DEFAULT_MAX_CONNECTIONS, DEFAULT_SQLITE_BUSY_TIMEOUT, open_pool};
pub use sql::{in_list_sql, insert_sql};

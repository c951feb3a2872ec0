//! Durable storage through sqlx: SQLite in the data directory by default, PostgreSQL when
//! `DATABASE_URL` names one. Schema and invariants: `migrations/sequencer/README.md`.
//!
//! Every method is one round trip or one database transaction; a sealed block (header,
//! transactions, receipts) is written in a single transaction before anything reports it
//! as executed.
//!
//! Both backends run the same SQL through sqlx's `Any` driver: SQLite accepts PostgreSQL's
//! `$1` placeholders, and every column is an integer, text or byte string, which `Any`
//! carries for both. What differs is small and named: the migrations directory, the SQLite
//! connection settings and how a write transaction begins (this file), and the placeholders
//! of the multi-row insert (`transactions.rs`, for speed).
//!
//! One accessor group per table group, each adding methods to [`Store`]:
//!
//! | file              | tables                                         |
//! |-------------------|------------------------------------------------|
//! | `blocks.rs`       | `blocks`, and the write of a block as a whole  |
//! | `transactions.rs` | `transactions`, with their receipts            |
//! | `snapshots.rs`    | `snapshots`                                    |
//!
//! `columns.rs` converts values to and from columns for all of them. It and [`open_pool`]
//! are public so that the channel hub's store follows the same conventions on both backends.

mod blocks;
mod chain;
pub mod columns;
mod error;
mod l1;
mod snapshots;
mod transactions;

#[cfg(test)]
mod tests;

use std::{borrow::Cow, path::Path, time::Duration};

use sqlx::{
    Any, AnyPool, ConnectOptions, SqlSafeStr, Transaction as DbTransaction,
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::{Migration, MigrationType, Migrator},
    sqlite::SqliteConnectOptions,
};
use weft_protocol::{
    block::BlockHeader, execution::Receipt, primitives::B256, signature::Signature,
    transaction::Transaction,
};

pub use chain::DISPUTE_WINDOW as DISPUTE_WINDOW_PARAM;
pub use error::StoreError;
pub use l1::{BatchStatus, QueueEntry, StoredBatch, StoredL1Transaction};
pub use snapshots::KEEP_SNAPSHOTS;

/// A transaction as stored: what was signed, its signature (none for system kinds), where it
/// sits and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTransaction {
    /// Canonical hash.
    pub hash: B256,
    /// The block it is in.
    pub block_number: u64,
    /// Position in the block.
    pub index: u32,
    /// The transaction.
    pub transaction: Transaction,
    /// The sender's signature; `None` for system kinds.
    pub signature: Option<Signature>,
    /// Its receipt.
    pub receipt: Receipt,
}

/// A block ready to be written: header, hash and transactions in block order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBlock {
    /// The header.
    pub header: BlockHeader,
    /// `header.hash()`.
    pub hash: B256,
    /// Transactions with receipts, in block order.
    pub transactions: Vec<StoredTransaction>,
}

/// A state snapshot as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    /// The block after which the state was taken.
    pub block_number: u64,
    /// That block's state root.
    pub state_root: B256,
    /// `State::encode_snapshot` bytes.
    pub data: Vec<u8>,
}

/// File name of the default SQLite database inside the data directory.
pub const DEFAULT_SQLITE_FILE: &str = "sequencer.db";

/// How long a SQLite connection waits for another connection's lock before failing.
pub const DEFAULT_SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Most connections in the pool.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file (the default, in the data directory).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// The backend a connection URL names.
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            // Only the scheme: the rest may hold a password.
            other => Err(StoreError::UnsupportedUrl(other.to_owned())),
        }
    }

    /// The statement that opens a write transaction. SQLite takes the write lock at once
    /// (`IMMEDIATE`): a transaction that reads first and upgrades later can fail with
    /// `SQLITE_BUSY` without waiting for the busy timeout.
    pub fn begin_write(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }
}

/// The sequencer's database: a connection pool, cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Opens the database and applies the migrations it lacks.
    ///
    /// `database_url` `None` opens (creating it and `data_dir` if needed) the SQLite file
    /// `<data_dir>/sequencer.db`; `Some(url)` opens a `postgres://` (or `postgresql://`) or
    /// `sqlite:` URL. SQLite connections run in WAL mode with `synchronous = FULL` (a
    /// committed block survives power loss), foreign keys on and a busy timeout.
    pub async fn connect(database_url: Option<&str>, data_dir: &Path) -> Result<Self, StoreError> {
        let (pool, backend) = open_pool(
            database_url,
            data_dir,
            DEFAULT_SQLITE_FILE,
            MIGRATIONS,
            SQLITE_CACHE_KIB,
        )
        .await?;
        Ok(Self { pool, backend })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Opens a write transaction; dropping it uncommitted rolls it back.
    async fn begin_write(&self) -> Result<DbTransaction<'static, Any>, StoreError> {
        Ok(self.pool.begin_with(self.backend.begin_write()).await?)
    }
}

/// Opens a connection pool and applies the `migrations` it lacks (see [`MIGRATIONS`] for
/// their form): the sequencer's conventions, shared with the channel hub's store.
///
/// `database_url` `None` opens (creating it and `data_dir` if needed) the SQLite file
/// `<data_dir>/<sqlite_file>`; `Some(url)` opens a `postgres://` (or `postgresql://`) or
/// `sqlite:` URL. SQLite connections run in WAL mode with `synchronous = FULL`, foreign keys
/// on, a busy timeout and `cache_kib` KiB of page cache each.
pub async fn open_pool(
    database_url: Option<&str>,
    data_dir: &Path,
    sqlite_file: &str,
    migrations: &[(&str, &'static str, &'static str)],
    cache_kib: u32,
) -> Result<(AnyPool, Backend), StoreError> {
    sqlx::any::install_default_drivers();
    let (options, backend) = match database_url {
        None => {
            std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
                path: data_dir.to_owned(),
                source,
            })?;
            // Through the SQLite options, so that the path is escaped into a URL properly.
            let sqlite = SqliteConnectOptions::new()
                .filename(data_dir.join(sqlite_file))
                .create_if_missing(true);
            (
                AnyConnectOptions::from_url(&sqlite.to_url_lossy())?,
                Backend::Sqlite,
            )
        }
        Some(url) => (url.parse::<AnyConnectOptions>()?, Backend::of_url(url)?),
    };
    let pool = AnyPoolOptions::new()
        .max_connections(DEFAULT_MAX_CONNECTIONS)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    for pragma in SQLITE_CONNECTION_PRAGMAS {
                        sqlx::query(*pragma).execute(&mut *conn).await?;
                    }
                    let cache = format!("PRAGMA cache_size = -{cache_kib}");
                    sqlx::query(sqlx::AssertSqlSafe(cache))
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    if backend == Backend::Sqlite {
        // Persistent in the file, and it needs an exclusive lock: set once, not per
        // connection. An in-memory database answers "memory".
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode = WAL")
            .fetch_one(&pool)
            .await?;
        if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
            tracing::warn!(journal_mode = %mode, "sqlite refused WAL mode");
        }
    }
    migrator(backend, migrations).run(&pool).await?;
    Ok((pool, backend))
}

/// Run on every new SQLite connection. `synchronous = FULL` makes every commit durable in
/// WAL mode (`NORMAL` may lose the last commits on power loss, and a block reported as
/// executed must not be lost).
const SQLITE_CONNECTION_PRAGMAS: &[&str] = &[
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    // Milliseconds; DEFAULT_SQLITE_BUSY_TIMEOUT (checked by a test).
    "PRAGMA busy_timeout = 10000",
    // Statement journals (a multi-row INSERT must be undoable on its own) in memory rather
    // than in a temporary file written on every statement.
    "PRAGMA temp_store = MEMORY",
];

/// The sequencer's page cache per SQLite connection (the default is 2 MiB): the indexes
/// that every block's write walks stay cached.
pub const SQLITE_CACHE_KIB: u32 = 16 * 1024;

/// The migrations, embedded: `(file name, SQLite SQL, PostgreSQL SQL)`. Both directories
/// hold the same file names (a test checks this list against them). Append only; a landed
/// migration is never edited.
///
/// They are listed here rather than embedded with `sqlx::migrate!` because that macro needs
/// sqlx's `macros` feature, which builds sqlx and SQLite a second time for the proc macro.
/// Versions and descriptions come from the file names as `migrate!` derives them, and
/// `Migration::new` checksums the SQL text, so switching to the macro later (with the
/// feature on) would see the same applied migrations.
const MIGRATIONS: &[(&str, &str, &str)] = &[
    (
        "0001_init.sql",
        include_str!("../../../migrations/sequencer/sqlite/0001_init.sql"),
        include_str!("../../../migrations/sequencer/postgres/0001_init.sql"),
    ),
    (
        "0002_l1.sql",
        include_str!("../../../migrations/sequencer/sqlite/0002_l1.sql"),
        include_str!("../../../migrations/sequencer/postgres/0002_l1.sql"),
    ),
    (
        "0003_chain_params.sql",
        include_str!("../../../migrations/sequencer/sqlite/0003_chain_params.sql"),
        include_str!("../../../migrations/sequencer/postgres/0003_chain_params.sql"),
    ),
];

/// The backend's migrations out of a list of `(file name, SQLite SQL, PostgreSQL SQL)`.
fn migrator(backend: Backend, list: &[(&str, &'static str, &'static str)]) -> Migrator {
    let migrations = list
        .iter()
        .map(|(file, sqlite, postgres)| {
            let (version, description) = parse_migration_file_name(file);
            let sql = match backend {
                Backend::Sqlite => sqlite,
                Backend::Postgres => postgres,
            };
            Migration::new(
                version,
                Cow::Owned(description),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// `0001_init_schema.sql` → `(1, "init schema")`, as sqlx names migrations.
fn parse_migration_file_name(file: &str) -> (i64, String) {
    let stem = file
        .strip_suffix(".sql")
        .expect("migration file ends in .sql");
    let (version, description) = stem.split_once('_').expect("migration file is N_name.sql");
    let version = version
        .parse()
        .expect("migration file starts with its version");
    (version, description.replace('_', " "))
}

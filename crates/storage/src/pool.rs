//! The connection pool: which backend a URL names, the SQLite connection settings, and the
//! opening of a service's database with its migrations applied.

use std::{path::Path, time::Duration};

use sqlx::{
    AnyPool,
    any::{AnyConnectOptions, AnyPoolOptions},
};

use crate::{EmbeddedMigration, StoreError, migrate::migrator};

/// How long a SQLite connection waits for another connection's lock before failing.
pub const DEFAULT_SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Most connections in the pool.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;

/// Which database a pool runs on.
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

    /// Whether this build has the backend's driver (features `sqlite` and `postgres`).
    pub fn is_built(self) -> bool {
        match self {
            Self::Sqlite => cfg!(feature = "sqlite"),
            Self::Postgres => cfg!(feature = "postgres"),
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

/// Opens a connection pool and applies the `migrations` it lacks.
///
/// `database_url` `None` opens (creating it and `data_dir` if needed) the SQLite file
/// `<data_dir>/<sqlite_file>`; `Some(url)` opens a `postgres://` (or `postgresql://`) or
/// `sqlite:` URL. SQLite connections run in WAL mode with `synchronous = FULL` (a commit
/// survives power loss), foreign keys on, a busy timeout of [`DEFAULT_SQLITE_BUSY_TIMEOUT`]
/// and `cache_kib` KiB of page cache each. A backend this build has no driver for is
/// [`StoreError::BackendNotBuilt`].
pub async fn open_pool(
    database_url: Option<&str>,
    data_dir: &Path,
    sqlite_file: &str,
    migrations: &[EmbeddedMigration],
    cache_kib: u32,
) -> Result<(AnyPool, Backend), StoreError> {
    sqlx::any::install_default_drivers();
    let backend = database_url.map_or(Ok(Backend::Sqlite), Backend::of_url)?;
    if !backend.is_built() {
        return Err(StoreError::BackendNotBuilt(backend));
    }
    let options = match database_url {
        None => sqlite_file_options(data_dir, sqlite_file)?,
        Some(url) => url.parse::<AnyConnectOptions>()?,
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

/// The options of the SQLite file `<data_dir>/<sqlite_file>`, creating `data_dir` if needed.
#[cfg(feature = "sqlite")]
fn sqlite_file_options(
    data_dir: &Path,
    sqlite_file: &str,
) -> Result<AnyConnectOptions, StoreError> {
    use sqlx::{ConnectOptions, sqlite::SqliteConnectOptions};

    std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
        path: data_dir.to_owned(),
        source,
    })?;
    // Through the SQLite options, so that the path is escaped into a URL properly.
    let sqlite = SqliteConnectOptions::new()
        .filename(data_dir.join(sqlite_file))
        .create_if_missing(true);
    Ok(AnyConnectOptions::from_url(&sqlite.to_url_lossy())?)
}

/// Without the SQLite driver `open_pool` refuses SQLite before it gets here.
#[cfg(not(feature = "sqlite"))]
fn sqlite_file_options(_: &Path, _: &str) -> Result<AnyConnectOptions, StoreError> {
    Err(StoreError::BackendNotBuilt(Backend::Sqlite))
}

/// Run on every new SQLite connection. `synchronous = FULL` makes every commit durable in
/// WAL mode (`NORMAL` may lose the last commits on power loss, and what a service reported
/// as done must not be lost).
const SQLITE_CONNECTION_PRAGMAS: &[&str] = &[
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    // Milliseconds; DEFAULT_SQLITE_BUSY_TIMEOUT (checked by a test).
    "PRAGMA busy_timeout = 10000",
    // Statement journals (a multi-row INSERT must be undoable on its own) in memory rather
    // than in a temporary file written on every statement.
    "PRAGMA temp_store = MEMORY",
];

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One table `t` of integer ids, for the crate's tests.
    pub(crate) const MIGRATIONS: &[EmbeddedMigration] = &[(
        "0001_init.sql",
        "CREATE TABLE t (id INTEGER PRIMARY KEY)",
        "CREATE TABLE t (id BIGINT PRIMARY KEY)",
    )];

    #[test]
    fn urls_choose_the_backend_and_errors_do_not_leak_passwords() {
        assert_eq!(Backend::of_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of_url("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::of_url("postgres://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            Backend::of_url("postgresql://u@h/db").unwrap(),
            Backend::Postgres
        );
        let err = Backend::of_url("mysql://user:hunter2@host/db").unwrap_err();
        assert!(matches!(err, StoreError::UnsupportedUrl(_)));
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[tokio::test]
    async fn sqlite_connections_are_durable_wal_with_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let (pool, backend) = open_pool(None, dir.path(), "test.db", MIGRATIONS, 4096)
            .await
            .unwrap();
        assert_eq!(backend, Backend::Sqlite);
        assert!(dir.path().join("test.db").exists());
        let mut conn = pool.acquire().await.unwrap();
        let pragma = async |conn: &mut sqlx::AnyConnection, sql: &'static str| -> String {
            let row = sqlx::query(sql).fetch_one(&mut *conn).await.unwrap();
            match sqlx::Row::try_get::<i64, _>(&row, 0) {
                Ok(v) => v.to_string(),
                Err(_) => sqlx::Row::get::<String, _>(&row, 0),
            }
        };
        assert_eq!(pragma(&mut conn, "PRAGMA journal_mode").await, "wal");
        // 2 is FULL.
        assert_eq!(pragma(&mut conn, "PRAGMA synchronous").await, "2");
        assert_eq!(pragma(&mut conn, "PRAGMA foreign_keys").await, "1");
        assert_eq!(
            pragma(&mut conn, "PRAGMA busy_timeout").await,
            DEFAULT_SQLITE_BUSY_TIMEOUT.as_millis().to_string()
        );
        assert_eq!(pragma(&mut conn, "PRAGMA cache_size").await, "-4096");
    }

    #[tokio::test]
    async fn migrations_are_applied_once_on_every_backend() {
        crate::testkit::on_every_backend(async |db| {
            let open = async || {
                open_pool(db.url(), db.dir(), "test.db", MIGRATIONS, 2048)
                    .await
                    .unwrap()
            };
            let (pool, backend) = open().await;
            assert_eq!(backend, db.backend());
            sqlx::query("INSERT INTO t (id) VALUES (1)")
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
            // A second opening finds the migration applied and the row kept.
            let (pool, _) = open().await;
            let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(rows, 1);
            pool.close().await;
        })
        .await;
    }
}

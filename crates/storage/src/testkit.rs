//! Fresh databases for tests (feature `testkit`): an SQLite data directory, or a PostgreSQL
//! database created on the server `DATABASE_URL` names and dropped after the test. Without
//! `DATABASE_URL` (or with one that names no PostgreSQL server) the PostgreSQL half is
//! skipped, so the tests pass on a machine with nothing installed.

use std::{
    path::Path,
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

#[cfg(feature = "postgres")]
use sqlx::{Postgres, migrate::MigrateDatabase};
use tempfile::TempDir;

use crate::Backend;

/// Where one test's database lives: a fresh data directory, and for PostgreSQL a fresh
/// database. Pass [`Self::url`] and [`Self::dir`] to a service's `connect`.
#[derive(Debug)]
pub struct TestDatabase {
    dir: TempDir,
    url: Option<String>,
}

impl TestDatabase {
    /// A fresh SQLite data directory (the database file is created by the first opening).
    pub fn sqlite() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temporary directory"),
            url: None,
        }
    }

    /// A fresh PostgreSQL database on the server `DATABASE_URL` names, or `None` (with a
    /// line on stderr) when it names none or this build has no PostgreSQL driver. Drop it
    /// with [`Self::drop_database`].
    #[cfg(not(feature = "postgres"))]
    pub async fn postgres() -> Option<Self> {
        eprintln!("weft-storage built without the postgres feature: skipping PostgreSQL");
        None
    }

    /// A fresh PostgreSQL database on the server `DATABASE_URL` names, or `None` (with a
    /// line on stderr) when it names none or this build has no PostgreSQL driver. Drop it
    /// with [`Self::drop_database`].
    #[cfg(feature = "postgres")]
    pub async fn postgres() -> Option<Self> {
        let Some(server) = std::env::var("DATABASE_URL")
            .ok()
            .filter(|url| Backend::of_url(url).is_ok_and(|b| b == Backend::Postgres))
        else {
            eprintln!("DATABASE_URL names no PostgreSQL server: skipping PostgreSQL");
            return None;
        };
        let url = fresh_database_url(&server);
        Postgres::create_database(&url)
            .await
            .expect("create test database");
        Some(Self {
            dir: tempfile::tempdir().expect("temporary directory"),
            url: Some(url),
        })
    }

    /// The database URL: `None` for SQLite (the file in [`Self::dir`]).
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self.url {
            None => Backend::Sqlite,
            Some(_) => Backend::Postgres,
        }
    }

    /// Drops the PostgreSQL database (closing the connections still open to it) and removes
    /// the data directory.
    pub async fn drop_database(self) {
        #[cfg(feature = "postgres")]
        if let Some(url) = &self.url {
            Postgres::force_drop_database(url)
                .await
                .expect("drop test database");
        }
    }
}

/// Runs `test` against a fresh SQLite data directory, then against a fresh PostgreSQL
/// database (created here, dropped after) if `DATABASE_URL` names a server.
pub async fn on_every_backend(test: impl AsyncFn(&TestDatabase)) {
    let sqlite = TestDatabase::sqlite();
    test(&sqlite).await;
    if let Some(postgres) = TestDatabase::postgres().await {
        test(&postgres).await;
        postgres.drop_database().await;
    }
}

/// `server`'s URL with a new, unique database name.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
fn fresh_database_url(server: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let name = format!(
        "weft_test_{}_{nanos}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let (base, query) = server
        .split_once('?')
        .map_or((server, None), |(b, q)| (b, Some(q)));
    let (scheme, rest) = base.split_once("://").expect("a URL with ://");
    let host = rest.split_once('/').map_or(rest, |(host, _)| host);
    match query {
        Some(q) => format!("{scheme}://{host}/{name}?{q}"),
        None => format!("{scheme}://{host}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_database_keeps_the_server_and_its_parameters() {
        let url = fresh_database_url("postgres://u@h:5432/test?sslmode=disable");
        assert!(url.starts_with("postgres://u@h:5432/weft_test_"), "{url}");
        assert!(url.ends_with("?sslmode=disable"), "{url}");
        assert_ne!(
            url,
            fresh_database_url("postgres://u@h:5432/test?sslmode=disable")
        );
        assert!(fresh_database_url("postgresql://h").starts_with("postgresql://h/weft_test_"));
    }
}

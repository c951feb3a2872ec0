//! The migrator: each service embeds its own migration files (under `migrations/<service>/`)
//! and hands the list to [`crate::open_pool`], which applies those the database lacks.
//!
//! The lists are written out rather than embedded with `sqlx::migrate!` because that macro
//! needs sqlx's `macros` feature, which builds sqlx and SQLite a second time for the proc
//! macro. Versions and descriptions come from the file names as `migrate!` derives them, and
//! `Migration::new` checksums the SQL text, so switching to the macro later (with the feature
//! on) would see the same applied migrations.

use std::borrow::Cow;

use sqlx::{
    SqlSafeStr,
    migrate::{Migration, MigrationType, Migrator},
};

use crate::Backend;

/// One embedded migration: `(file name, SQLite SQL, PostgreSQL SQL)`, the file name as
/// `NNNN_words.sql` in both backends' directories. Append only; a landed migration is never
/// edited.
pub type EmbeddedMigration = (&'static str, &'static str, &'static str);

/// The backend's migrations out of a list of [`EmbeddedMigration`]s.
pub(crate) fn migrator(backend: Backend, list: &[EmbeddedMigration]) -> Migrator {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_named_from_their_file_names_as_sqlx_names_them() {
        assert_eq!(
            parse_migration_file_name("0001_init.sql"),
            (1, String::from("init"))
        );
        assert_eq!(
            parse_migration_file_name("0012_add_batch_table.sql"),
            (12, String::from("add batch table"))
        );
    }

    #[test]
    fn each_backend_gets_its_own_sql() {
        let list = [("0001_init.sql", "sqlite sql", "postgres sql")];
        for (backend, sql) in [
            (Backend::Sqlite, "sqlite sql"),
            (Backend::Postgres, "postgres sql"),
        ] {
            let m = migrator(backend, &list);
            let migration = m.iter().next().unwrap();
            assert_eq!(migration.version, 1);
            assert_eq!(migration.sql.as_str(), sql);
        }
    }
}

//! Statements with many rows or values, built from constants and counts only, never from
//! values.
//!
//! Placeholders are anonymous `?` on SQLite and `$n` on PostgreSQL: SQLite finds the name of
//! a numbered one (`$n`, `?n`) by a linear scan, which sqlx does for every parameter, so a
//! 7,000-parameter statement with `$n` costs quadratic time (measured with the sequencer's
//! 10,000-transaction block: 1.2 s instead of 0.1 s).

use std::fmt::Write as _;

use crate::Backend;

/// `head (?, ..), (?, ..) tail`: a multi-row `INSERT` of `rows` rows with `columns`
/// parameters each, `head` ending in `VALUES `.
pub fn insert_sql(backend: Backend, head: &str, columns: usize, rows: usize, tail: &str) -> String {
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * columns * 5);
    sql.push_str(head);
    let mut param = 0;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            param += 1;
            if column > 0 {
                sql.push_str(", ");
            }
            push_placeholder(&mut sql, backend, param);
        }
        sql.push(')');
    }
    sql.push_str(tail);
    sql
}

/// `head (?, ?, ..)` with `values` parameters, for `IN` lists.
pub fn in_list_sql(backend: Backend, head: &str, values: usize) -> String {
    let mut sql = String::with_capacity(head.len() + values * 5 + 2);
    sql.push_str(head);
    sql.push('(');
    for param in 1..=values {
        if param > 1 {
            sql.push_str(", ");
        }
        push_placeholder(&mut sql, backend, param);
    }
    sql.push(')');
    sql
}

fn push_placeholder(sql: &mut String, backend: Backend, param: usize) {
    match backend {
        Backend::Sqlite => sql.push('?'),
        Backend::Postgres => write!(sql, "${param}").expect("writing to a String cannot fail"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_row_insert_has_a_placeholder_per_column_and_row() {
        let postgres = insert_sql(Backend::Postgres, "INSERT INTO t (a, b) VALUES ", 2, 2, ";");
        assert_eq!(postgres, "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4);");
        let sqlite = insert_sql(Backend::Sqlite, "INSERT INTO t (a, b) VALUES ", 2, 2, "");
        assert_eq!(sqlite, "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)");
    }

    #[test]
    fn an_in_list_has_a_placeholder_per_value() {
        assert_eq!(
            in_list_sql(Backend::Postgres, "SELECT 1 WHERE x IN ", 3),
            "SELECT 1 WHERE x IN ($1, $2, $3)"
        );
        assert_eq!(
            in_list_sql(Backend::Sqlite, "SELECT 1 WHERE x IN ", 2),
            "SELECT 1 WHERE x IN (?, ?)"
        );
    }
}

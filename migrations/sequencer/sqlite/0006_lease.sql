-- The leader lease: PostgreSQL only (a SQLite file has one writer and no shared clock); the
-- table exists here so both schemas keep the same migrations, and stays unused.
-- Keep in step with ../postgres/0006_lease.sql. Invariants: ../README.md.
CREATE TABLE leader_lease (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    holder     TEXT    NOT NULL,
    epoch      INTEGER NOT NULL CHECK (epoch >= 0),
    expires_at TEXT    NOT NULL
) STRICT;
INSERT INTO leader_lease (id, holder, epoch, expires_at) VALUES (1, '', 0, '');

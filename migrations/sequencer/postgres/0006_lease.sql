-- The leader lease (high availability, docs/operations.md): one row naming the node that may
-- write blocks, an epoch that grows at every change of holder, and an expiry on this server's
-- clock. Every block and batch write of a leased node checks it in its own transaction.
-- Keep in step with ../sqlite/0006_lease.sql. Invariants: ../README.md.
CREATE TABLE leader_lease (
    id         INTEGER     PRIMARY KEY CHECK (id = 1),
    holder     TEXT        NOT NULL,
    epoch      BIGINT      NOT NULL CHECK (epoch >= 0),
    expires_at TIMESTAMPTZ NOT NULL
);
INSERT INTO leader_lease (id, holder, epoch, expires_at) VALUES (1, '', 0, '-infinity');

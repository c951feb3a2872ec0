-- Chain parameters the stored blocks were executed with (besides the genesis), so a node
-- never resumes a chain with different rules. Keep in step with ../sqlite/0003_chain_params.sql.
-- Invariants: ../README.md.
CREATE TABLE chain_params (
    name  TEXT PRIMARY KEY,
    -- Canonical decimal.
    value TEXT NOT NULL
);

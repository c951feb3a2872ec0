-- The L1 side: queue entries taken from L1, batches, and the L1 transactions that post them.
-- Keep in step with ../sqlite/0002_l1.sql. Invariants: ../README.md.

-- L1 queue entries (deposits, forced withdrawals), taken once each by index after enough
-- confirmations. `queue_index` is contiguous from 0; `queue_hash` is the chain after the
-- entry (`keccak256(previous ‖ entry_hash)`), equal to the Rollup contract's.
CREATE TABLE l1_queue (
    queue_index     BIGINT PRIMARY KEY CHECK (queue_index >= 0),
    -- `weft_protocol::codec` encoding of the system `Transaction`.
    encoded         BYTEA   NOT NULL,
    entry_hash      BYTEA   NOT NULL CHECK (length(entry_hash) = 32),
    queue_hash      BYTEA   NOT NULL CHECK (length(queue_hash) = 32),
    l1_block_number BIGINT  NOT NULL CHECK (l1_block_number >= 0),
    l1_block_hash   BYTEA   NOT NULL CHECK (length(l1_block_hash) = 32)
);

-- Batches of consecutive blocks: index contiguous from 1, each from_block the previous
-- to_block + 1, each prev_state_root the previous new_state_root.
CREATE TABLE batches (
    batch_index      BIGINT PRIMARY KEY CHECK (batch_index >= 1),
    from_block       BIGINT  NOT NULL UNIQUE CHECK (from_block >= 1),
    to_block         BIGINT  NOT NULL UNIQUE,
    prev_state_root  BYTEA   NOT NULL CHECK (length(prev_state_root) = 32),
    new_state_root   BYTEA   NOT NULL CHECK (length(new_state_root) = 32),
    withdrawals_root BYTEA   NOT NULL CHECK (length(withdrawals_root) = 32),
    queue_position   BIGINT  NOT NULL CHECK (queue_position >= 0),
    queue_hash       BYTEA   NOT NULL CHECK (length(queue_hash) = 32),
    da_hash          BYTEA   NOT NULL CHECK (length(da_hash) = 32),
    commitment_hash  BYTEA   NOT NULL CHECK (length(commitment_hash) = 32),
    -- Accounts after `to_block` (the next batch's DA starts from it).
    accounts_after   BIGINT  NOT NULL CHECK (accounts_after >= 0),
    da_payload       BYTEA   NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('sealed', 'committed', 'proven', 'finalized')),
    commit_l1_tx     BYTEA   CHECK (length(commit_l1_tx) = 32),
    prove_l1_tx      BYTEA   CHECK (length(prove_l1_tx) = 32),
    finalize_l1_tx   BYTEA   CHECK (length(finalize_l1_tx) = 32),
    CHECK (to_block >= from_block)
);

-- Signed L1 transactions, written before they are sent; a fee bump writes a new row for
-- the same nonce. At most one row per nonce is 'included'.
CREATE TABLE l1_transactions (
    tx_hash                  BYTEA   PRIMARY KEY CHECK (length(tx_hash) = 32),
    nonce                    BIGINT  NOT NULL CHECK (nonce >= 0),
    purpose                  TEXT    NOT NULL,
    batch_index              INTEGER,
    raw                      BYTEA   NOT NULL,
    max_fee_per_gas          TEXT    NOT NULL,
    max_priority_fee_per_gas TEXT    NOT NULL,
    status                   TEXT    NOT NULL CHECK (status IN ('pending', 'included', 'reverted', 'replaced')),
    created_at               BIGINT  NOT NULL
);
CREATE INDEX l1_transactions_by_nonce ON l1_transactions (nonce);

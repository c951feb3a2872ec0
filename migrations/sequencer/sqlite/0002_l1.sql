-- The L1 side: queue entries taken from L1, batches, and the L1 transactions that post them.
-- Keep in step with ../postgres/0002_l1.sql. Invariants: ../README.md.

-- L1 queue entries (deposits, forced withdrawals), taken once each by index after enough
-- confirmations. `queue_index` is contiguous from 0; `queue_hash` is the chain after the
-- entry (`keccak256(previous ‖ entry_hash)`), equal to the Rollup contract's.
CREATE TABLE l1_queue (
    queue_index     INTEGER PRIMARY KEY CHECK (queue_index >= 0),
    -- `weft_protocol::codec` encoding of the system `Transaction`.
    encoded         BLOB    NOT NULL,
    entry_hash      BLOB    NOT NULL CHECK (length(entry_hash) = 32),
    queue_hash      BLOB    NOT NULL CHECK (length(queue_hash) = 32),
    l1_block_number INTEGER NOT NULL CHECK (l1_block_number >= 0),
    l1_block_hash   BLOB    NOT NULL CHECK (length(l1_block_hash) = 32)
) STRICT;

-- Batches of consecutive blocks: index contiguous from 1, each from_block the previous
-- to_block + 1, each prev_state_root the previous new_state_root.
CREATE TABLE batches (
    batch_index      INTEGER PRIMARY KEY CHECK (batch_index >= 1),
    from_block       INTEGER NOT NULL UNIQUE CHECK (from_block >= 1),
    to_block         INTEGER NOT NULL UNIQUE,
    prev_state_root  BLOB    NOT NULL CHECK (length(prev_state_root) = 32),
    new_state_root   BLOB    NOT NULL CHECK (length(new_state_root) = 32),
    withdrawals_root BLOB    NOT NULL CHECK (length(withdrawals_root) = 32),
    queue_position   INTEGER NOT NULL CHECK (queue_position >= 0),
    queue_hash       BLOB    NOT NULL CHECK (length(queue_hash) = 32),
    da_hash          BLOB    NOT NULL CHECK (length(da_hash) = 32),
    commitment_hash  BLOB    NOT NULL CHECK (length(commitment_hash) = 32),
    -- Accounts after `to_block` (the next batch's DA starts from it).
    accounts_after   INTEGER NOT NULL CHECK (accounts_after >= 0),
    da_payload       BLOB    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('sealed', 'committed', 'proven', 'finalized')),
    commit_l1_tx     BLOB    CHECK (length(commit_l1_tx) = 32),
    prove_l1_tx      BLOB    CHECK (length(prove_l1_tx) = 32),
    finalize_l1_tx   BLOB    CHECK (length(finalize_l1_tx) = 32),
    CHECK (to_block >= from_block)
) STRICT;

-- Signed L1 transactions, written before they are sent; a fee bump writes a new row for
-- the same nonce. At most one row per nonce is 'included'.
CREATE TABLE l1_transactions (
    tx_hash                  BLOB    PRIMARY KEY CHECK (length(tx_hash) = 32),
    nonce                    INTEGER NOT NULL CHECK (nonce >= 0),
    purpose                  TEXT    NOT NULL,
    batch_index              INTEGER,
    raw                      BLOB    NOT NULL,
    max_fee_per_gas          TEXT    NOT NULL,
    max_priority_fee_per_gas TEXT    NOT NULL,
    status                   TEXT    NOT NULL CHECK (status IN ('pending', 'included', 'reverted', 'replaced')),
    created_at               INTEGER NOT NULL
) STRICT;
CREATE INDEX l1_transactions_by_nonce ON l1_transactions (nonce);

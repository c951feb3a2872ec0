-- Sequencer storage, SQLite flavour. Schema and invariants: ../README.md.
-- Keep in step with ../postgres/0001_init.sql: same tables, columns and constraints.
-- Tables are STRICT, so a value of the wrong type is an error rather than stored as is.

-- Sealed L2 blocks. `number` is contiguous from 1 and every `parent_hash` is the previous
-- block's `hash` (block 1: 32 zero bytes); the store checks both before it inserts.
CREATE TABLE blocks (
    number            INTEGER PRIMARY KEY CHECK (number >= 1),
    hash              BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
    parent_hash       BLOB    NOT NULL CHECK (length(parent_hash) = 32),
    timestamp         INTEGER NOT NULL CHECK (timestamp >= 0),
    fee_recipient     BLOB    NOT NULL CHECK (length(fee_recipient) = 20),
    tx_count          INTEGER NOT NULL CHECK (tx_count >= 0),
    transactions_root BLOB    NOT NULL CHECK (length(transactions_root) = 32),
    state_root        BLOB    NOT NULL CHECK (length(state_root) = 32),
    withdrawals_root  BLOB    NOT NULL CHECK (length(withdrawals_root) = 32),
    queue_position    INTEGER NOT NULL CHECK (queue_position >= 0)
) STRICT;

-- Included transactions with their receipts, written in the same database transaction as
-- their block.
CREATE TABLE transactions (
    hash                 BLOB    PRIMARY KEY CHECK (length(hash) = 32),
    block_number         INTEGER NOT NULL REFERENCES blocks (number),
    idx                  INTEGER NOT NULL CHECK (idx >= 0),
    -- `Transaction::kind()`, for reading without decoding.
    kind                 TEXT    NOT NULL,
    -- Signed kinds only; system kinds (deposit, forced withdrawal) have neither.
    sender               BLOB    CHECK (length(sender) = 20),
    nonce                INTEGER CHECK (nonce >= 0),
    -- `weft_protocol::codec` encoding of the `Transaction`.
    encoded              BLOB    NOT NULL,
    -- r || s || v, v in {27, 28}; NULL for system kinds.
    signature            BLOB    CHECK (length(signature) = 65),
    status               TEXT    NOT NULL CHECK (status IN ('success', 'failed')),
    -- `FailureReason::code()`, set exactly when the status is 'failed'.
    failure_reason       TEXT,
    -- u128 amounts as canonical decimal text.
    fee_paid             TEXT    NOT NULL,
    withdrawal_recipient BLOB    CHECK (length(withdrawal_recipient) = 20),
    withdrawal_token     INTEGER CHECK (withdrawal_token >= 0),
    withdrawal_amount    TEXT,
    UNIQUE (block_number, idx),
    CHECK ((status = 'failed') = (failure_reason IS NOT NULL)),
    CHECK ((sender IS NULL) = (nonce IS NULL)),
    CHECK (
        (withdrawal_recipient IS NULL AND withdrawal_token IS NULL AND withdrawal_amount IS NULL)
        OR (withdrawal_recipient IS NOT NULL AND withdrawal_token IS NOT NULL
            AND withdrawal_amount IS NOT NULL)
    )
) STRICT;

-- State snapshots (`State::encode_snapshot`); the store keeps the newest two. Block 0 is
-- the genesis state, which has no row in `blocks`.
CREATE TABLE snapshots (
    block_number INTEGER PRIMARY KEY CHECK (block_number >= 0),
    state_root   BLOB    NOT NULL CHECK (length(state_root) = 32),
    data         BLOB    NOT NULL
) STRICT;

-- Sequencer storage, PostgreSQL flavour. Schema and invariants: ../README.md.
-- Keep in step with ../sqlite/0001_init.sql: same tables, columns and constraints.

-- Sealed L2 blocks. `number` is contiguous from 1 and every `parent_hash` is the previous
-- block's `hash` (block 1: 32 zero bytes); the store checks both before it inserts.
CREATE TABLE blocks (
    number            BIGINT  PRIMARY KEY CHECK (number >= 1),
    hash              BYTEA   NOT NULL UNIQUE CHECK (length(hash) = 32),
    parent_hash       BYTEA   NOT NULL CHECK (length(parent_hash) = 32),
    timestamp         BIGINT  NOT NULL CHECK (timestamp >= 0),
    fee_recipient     BYTEA   NOT NULL CHECK (length(fee_recipient) = 20),
    tx_count          BIGINT  NOT NULL CHECK (tx_count >= 0),
    transactions_root BYTEA   NOT NULL CHECK (length(transactions_root) = 32),
    state_root        BYTEA   NOT NULL CHECK (length(state_root) = 32),
    withdrawals_root  BYTEA   NOT NULL CHECK (length(withdrawals_root) = 32),
    queue_position    BIGINT  NOT NULL CHECK (queue_position >= 0)
);

-- Included transactions with their receipts, written in the same database transaction as
-- their block.
CREATE TABLE transactions (
    hash                 BYTEA   PRIMARY KEY CHECK (length(hash) = 32),
    block_number         BIGINT  NOT NULL REFERENCES blocks (number),
    idx                  BIGINT  NOT NULL CHECK (idx >= 0),
    -- `Transaction::kind()`, for reading without decoding.
    kind                 TEXT    NOT NULL,
    -- Signed kinds only; system kinds (deposit, forced withdrawal) have neither.
    sender               BYTEA   CHECK (length(sender) = 20),
    nonce                BIGINT  CHECK (nonce >= 0),
    -- `weft_protocol::codec` encoding of the `Transaction`.
    encoded              BYTEA   NOT NULL,
    -- r || s || v, v in {27, 28}; NULL for system kinds.
    signature            BYTEA   CHECK (length(signature) = 65),
    status               TEXT    NOT NULL CHECK (status IN ('success', 'failed')),
    -- `FailureReason::code()`, set exactly when the status is 'failed'.
    failure_reason       TEXT,
    -- u128 amounts as canonical decimal text.
    fee_paid             TEXT    NOT NULL,
    withdrawal_recipient BYTEA   CHECK (length(withdrawal_recipient) = 20),
    withdrawal_token     BIGINT  CHECK (withdrawal_token >= 0),
    withdrawal_amount    TEXT,
    UNIQUE (block_number, idx),
    CHECK ((status = 'failed') = (failure_reason IS NOT NULL)),
    CHECK ((sender IS NULL) = (nonce IS NULL)),
    CHECK (
        (withdrawal_recipient IS NULL AND withdrawal_token IS NULL AND withdrawal_amount IS NULL)
        OR (withdrawal_recipient IS NOT NULL AND withdrawal_token IS NOT NULL
            AND withdrawal_amount IS NOT NULL)
    )
);

-- State snapshots (`State::encode_snapshot`); the store keeps the newest two. Block 0 is
-- the genesis state, which has no row in `blocks`.
CREATE TABLE snapshots (
    block_number BIGINT  PRIMARY KEY CHECK (block_number >= 0),
    state_root   BYTEA   NOT NULL CHECK (length(state_root) = 32),
    data         BYTEA   NOT NULL
);

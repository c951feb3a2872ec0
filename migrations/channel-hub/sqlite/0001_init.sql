-- Channel hub storage, SQLite flavour. Schema and invariants: ../README.md.
-- Keep in step with ../postgres/0001_init.sql: same tables, columns and constraints.

-- Channels registered with the hub (opened by a wallet on the rollup).
CREATE TABLE channels (
    id            BLOB    PRIMARY KEY CHECK (length(id) = 32),
    wallet        BLOB    NOT NULL CHECK (length(wallet) = 20),
    token         INTEGER NOT NULL CHECK (token >= 0),
    -- active | halted | disputed | closed
    status        TEXT    NOT NULL,
    status_reason TEXT,
    registered_at INTEGER NOT NULL
) STRICT;
CREATE INDEX channels_by_wallet ON channels (wallet);

-- Every state the hub has signed, written (committed) before the signature leaves the
-- hub. The primary key is the rule "never two different states with one version".
CREATE TABLE states (
    channel_id BLOB    NOT NULL REFERENCES channels (id),
    version    INTEGER NOT NULL CHECK (version >= 0),
    -- EIP-712 hashStruct of the state.
    state_hash BLOB    NOT NULL CHECK (length(state_hash) = 32),
    -- weft_protocol::codec encoding of the ChannelState.
    encoded    BLOB    NOT NULL,
    -- What the state does (open, funding, topup, pay, route, lock, settle, fulfil, refund,
    -- reject, payment, close, sync).
    purpose    TEXT    NOT NULL,
    -- The routed payment (its hashlock) the state belongs to, if any.
    payment    BLOB    CHECK (length(payment) = 32),
    PRIMARY KEY (channel_id, version)
) STRICT;

-- The wallet's signature of a state the hub signed: with it the state is co-signed.
CREATE TABLE wallet_signatures (
    channel_id BLOB    NOT NULL,
    version    INTEGER NOT NULL,
    signature  BLOB    NOT NULL CHECK (length(signature) = 65),
    PRIMARY KEY (channel_id, version),
    FOREIGN KEY (channel_id, version) REFERENCES states (channel_id, version)
) STRICT;

-- Routed payments A -> hub -> B, keyed by their hashlock.
CREATE TABLE payments (
    hashlock      BLOB    PRIMARY KEY CHECK (length(hashlock) = 32),
    payer_channel BLOB    NOT NULL REFERENCES channels (id),
    payee_channel BLOB    NOT NULL REFERENCES channels (id),
    amount        TEXT    NOT NULL,
    -- offered | fulfilled | refused | settled | refunded
    status        TEXT    NOT NULL,
    secret        BLOB    CHECK (length(secret) = 32),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX payments_open ON payments (status) WHERE status IN ('offered', 'fulfilled', 'refused');

-- The hub's own rollup transactions, stored before they are sent.
CREATE TABLE rollup_transactions (
    hash       BLOB    PRIMARY KEY CHECK (length(hash) = 32),
    nonce      INTEGER NOT NULL CHECK (nonce >= 0),
    kind       TEXT    NOT NULL,
    channel_id BLOB    CHECK (length(channel_id) = 32),
    encoded    BLOB    NOT NULL,
    signature  BLOB    NOT NULL CHECK (length(signature) = 65),
    -- pending | executed | failed
    status     TEXT    NOT NULL
) STRICT;

-- Small named counters (the watcher's block cursor).
CREATE TABLE meta (
    key   TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;

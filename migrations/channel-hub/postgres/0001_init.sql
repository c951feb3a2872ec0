-- Channel hub storage, PostgreSQL flavour. Schema and invariants: ../README.md.
-- Keep in step with ../sqlite/0001_init.sql: same tables, columns and constraints.

-- Channels registered with the hub (opened by a wallet on the rollup).
CREATE TABLE channels (
    id            BYTEA   PRIMARY KEY CHECK (octet_length(id) = 32),
    wallet        BYTEA   NOT NULL CHECK (octet_length(wallet) = 20),
    token         BIGINT  NOT NULL CHECK (token >= 0),
    -- active | halted | disputed | closed
    status        TEXT    NOT NULL,
    status_reason TEXT,
    registered_at BIGINT  NOT NULL
);
CREATE INDEX channels_by_wallet ON channels (wallet);

-- Every state the hub has signed, written (committed) before the signature leaves the
-- hub. The primary key is the rule "never two different states with one version".
CREATE TABLE states (
    channel_id BYTEA   NOT NULL REFERENCES channels (id),
    version    BIGINT  NOT NULL CHECK (version >= 0),
    -- EIP-712 hashStruct of the state.
    state_hash BYTEA   NOT NULL CHECK (octet_length(state_hash) = 32),
    -- weft_protocol::codec encoding of the ChannelState.
    encoded    BYTEA   NOT NULL,
    -- What the state does (open, funding, topup, pay, route, lock, settle, fulfil, refund,
    -- reject, payment, close, sync).
    purpose    TEXT    NOT NULL,
    -- The routed payment (its hashlock) the state belongs to, if any.
    payment    BYTEA   CHECK (octet_length(payment) = 32),
    PRIMARY KEY (channel_id, version)
);

-- The wallet's signature of a state the hub signed: with it the state is co-signed.
CREATE TABLE wallet_signatures (
    channel_id BYTEA   NOT NULL,
    version    BIGINT  NOT NULL,
    signature  BYTEA   NOT NULL CHECK (octet_length(signature) = 65),
    PRIMARY KEY (channel_id, version),
    FOREIGN KEY (channel_id, version) REFERENCES states (channel_id, version)
);

-- Routed payments A -> hub -> B, keyed by their hashlock.
CREATE TABLE payments (
    hashlock      BYTEA   PRIMARY KEY CHECK (octet_length(hashlock) = 32),
    payer_channel BYTEA   NOT NULL REFERENCES channels (id),
    payee_channel BYTEA   NOT NULL REFERENCES channels (id),
    amount        TEXT    NOT NULL,
    -- offered | fulfilled | refused | settled | refunded
    status        TEXT    NOT NULL,
    secret        BYTEA   CHECK (octet_length(secret) = 32),
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
CREATE INDEX payments_open ON payments (status) WHERE status IN ('offered', 'fulfilled', 'refused');

-- The hub's own rollup transactions, stored before they are sent.
CREATE TABLE rollup_transactions (
    hash       BYTEA   PRIMARY KEY CHECK (octet_length(hash) = 32),
    nonce      BIGINT  NOT NULL CHECK (nonce >= 0),
    kind       TEXT    NOT NULL,
    channel_id BYTEA   CHECK (octet_length(channel_id) = 32),
    encoded    BYTEA   NOT NULL,
    signature  BYTEA   NOT NULL CHECK (octet_length(signature) = 65),
    -- pending | executed | failed
    status     TEXT    NOT NULL
);

-- Small named counters (the watcher's block cursor).
CREATE TABLE meta (
    key   TEXT    PRIMARY KEY,
    value BIGINT  NOT NULL
);

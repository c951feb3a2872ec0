-- The wallet client's storage (SQLite): its channels, every state it or the hub signed, and
-- the secrets of its invoices. One file may serve several wallets (a wallet service): each
-- channel names its wallet. Schema: ../README.md.

CREATE TABLE channels (
    id     BLOB    PRIMARY KEY CHECK (length(id) = 32),
    wallet BLOB    NOT NULL CHECK (length(wallet) = 20),
    hub    BLOB    NOT NULL CHECK (length(hub) = 20),
    token  INTEGER NOT NULL CHECK (token >= 0),
    -- active | closing | disputed | closed
    status TEXT    NOT NULL
) STRICT;

-- States of the wallet's channels with whichever signatures it holds. A state with both is
-- co-signed; one with only the hub's is an offer; one with only the wallet's, a proposal.
CREATE TABLE states (
    channel_id       BLOB    NOT NULL REFERENCES channels (id),
    version          INTEGER NOT NULL CHECK (version >= 0),
    state_hash       BLOB    NOT NULL CHECK (length(state_hash) = 32),
    encoded          BLOB    NOT NULL,
    wallet_signature BLOB    CHECK (length(wallet_signature) = 65),
    hub_signature    BLOB    CHECK (length(hub_signature) = 65),
    PRIMARY KEY (channel_id, version, state_hash)
) STRICT;

-- Secrets of the wallet's invoices (payments it expects), keyed by hashlock.
CREATE TABLE secrets (
    hashlock BLOB PRIMARY KEY CHECK (length(hashlock) = 32),
    secret   BLOB NOT NULL CHECK (length(secret) = 32),
    amount   TEXT NOT NULL
) STRICT;

-- Routed payments settle their locks in the next update (see channel-hub/src/hub.rs), so a
-- lock to the wallet is accepted by revealing its secret, not by a signature, and the
-- wallet's own locks to the hub are paid once the hub reveals their secrets.

-- 1 for a state the wallet accepted without signing it: a lock offer whose secret it
-- revealed (the hub's signature is on it; the wallet can sign it whenever it must).
ALTER TABLE states ADD COLUMN accepted INTEGER NOT NULL DEFAULT 0;

-- Proofs of payment: the secrets the hub revealed for the wallet's routed payments. A lock
-- to the hub whose secret is here is paid, and the wallet's next update settles it.
CREATE TABLE proofs (
    hashlock BLOB PRIMARY KEY CHECK (length(hashlock) = 32),
    secret   BLOB NOT NULL CHECK (length(secret) = 32)
) STRICT;

-- Keep in step with ../postgres/0002_signature_in_state_row.sql. Schema: ../README.md.

-- The wallet's signature of a state it sent signed (a proposal) is written in the state's
-- own row: one row per update instead of two. A signature that comes later (a countersigned
-- offer) still goes to wallet_signatures. Readers take whichever holds it.
ALTER TABLE states ADD COLUMN wallet_signature BLOB CHECK (length(wallet_signature) = 65);

-- Open payments are found by the hashlocks of the locks in the channels' latest states
-- (through the primary key), not by status: this index cost two or three updates per
-- payment.
DROP INDEX payments_open;

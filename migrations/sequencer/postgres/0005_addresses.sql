-- An address's transactions (the explorer's address page): who a transaction pays or calls
-- besides its sender (`Transaction::recipient`), and indexes on both. Keep in step with
-- ../sqlite/0005_addresses.sql. Invariants: ../README.md.
ALTER TABLE transactions ADD COLUMN recipient BYTEA CHECK (length(recipient) = 20);
CREATE INDEX transactions_by_sender ON transactions (sender, block_number);
CREATE INDEX transactions_by_recipient ON transactions (recipient, block_number);

-- A receipt's logs are found by their transaction's place in its block, not by its hash:
-- the index on `tx_hash` took a random B-tree insert per log, about 40 % of writing an
-- ERC-20 block (800 transfers: 38 ms with it, 21-23 ms without, SQLite, synchronous = FULL),
-- while `(block_number, tx_index)` grows at its end. Keep in step with
-- ../postgres/0007_logs_by_position.sql. Invariants: ../README.md.
DROP INDEX logs_by_transaction;
CREATE INDEX logs_by_position ON logs (block_number, tx_index);

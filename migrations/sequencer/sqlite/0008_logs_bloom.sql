-- A block's logs bloom, stored with the block: eth_getBlockByNumber and every newHeads
-- notification otherwise read all of the block's logs to compute it (10,000 rows for a block
-- of ERC-20 transfers). NULL for a block without logs (its bloom is zero) and for blocks
-- stored before this migration (computed from their logs when read). Keep in step with
-- ../postgres/0008_logs_bloom.sql. Invariants: ../README.md.
ALTER TABLE blocks ADD COLUMN logs_bloom BLOB CHECK (logs_bloom IS NULL OR length(logs_bloom) = 256);

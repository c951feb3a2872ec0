-- EVM receipts and their logs (eth_getTransactionReceipt, eth_getLogs). Keep in step with
-- ../sqlite/0004_evm.sql. Invariants: ../README.md.

-- The EVM part of a receipt; all NULL for native kinds. `effective_gas_price` is a u128 as
-- canonical decimal text; `revert_data` is empty unless the transaction reverted.
ALTER TABLE transactions ADD COLUMN gas_used BIGINT CHECK (gas_used >= 0);
ALTER TABLE transactions ADD COLUMN cumulative_gas_used BIGINT CHECK (cumulative_gas_used >= 0);
ALTER TABLE transactions ADD COLUMN effective_gas_price TEXT;
ALTER TABLE transactions ADD COLUMN contract_address BYTEA CHECK (length(contract_address) = 20);
ALTER TABLE transactions ADD COLUMN revert_data BYTEA;

-- Accounts in the state after the block (the EVM creates accounts the DA encoding does not
-- see: the batcher takes a batch's account count from here). NULL for blocks rebuilt from L1
-- and blocks stored before this migration.
ALTER TABLE blocks ADD COLUMN account_count BIGINT CHECK (account_count >= 0);

-- Logs of successful EVM transactions, written with their block. `log_index` counts the
-- block's logs from 0; topics beyond a log's count are NULL.
CREATE TABLE logs (
    block_number BIGINT NOT NULL REFERENCES blocks (number),
    log_index    BIGINT NOT NULL CHECK (log_index >= 0),
    tx_index     BIGINT NOT NULL CHECK (tx_index >= 0),
    tx_hash      BYTEA    NOT NULL REFERENCES transactions (hash),
    address      BYTEA    NOT NULL CHECK (length(address) = 20),
    topic_count  BIGINT NOT NULL CHECK (topic_count BETWEEN 0 AND 4),
    topic0       BYTEA    CHECK (length(topic0) = 32),
    topic1       BYTEA    CHECK (length(topic1) = 32),
    topic2       BYTEA    CHECK (length(topic2) = 32),
    topic3       BYTEA    CHECK (length(topic3) = 32),
    data         BYTEA    NOT NULL,
    PRIMARY KEY (block_number, log_index)
);

-- eth_getLogs filters by address or by the event signature over a block range.
CREATE INDEX logs_by_address ON logs (address, block_number);
CREATE INDEX logs_by_topic0 ON logs (topic0, block_number);
CREATE INDEX logs_by_transaction ON logs (tx_hash);

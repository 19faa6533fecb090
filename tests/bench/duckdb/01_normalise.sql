-- normalise (DuckDB): a cryo export's blocks, native_transfers and erc20_transfers as ifr's
-- `transfers` table (data/schemas/transfers.yaml): 0x-hex lowercase addresses and hashes, block time
-- from the blocks files, year/month of the UTC block time, symbol and decimals from the asset list,
-- amount = value / 10^decimals (NULL for tokens not in the list), and one row per natural key
-- (tx_hash, kind, log_index, trace_address), the first file in name order winning, as ifr dedups.
-- Placeholders (a dollar sign and a name in braces) are filled in by tests/bench/compare.py with quoted paths.
CREATE OR REPLACE TEMP VIEW bench_blocks AS
SELECT CAST(block_number AS BIGINT) AS block_number,
       make_timestamp(CAST(arg_min(timestamp, (filename, file_row_number)) AS BIGINT) * 1000000) AS block_time
FROM read_parquet(${chain_blocks}, filename = true, file_row_number = true)
GROUP BY block_number;

CREATE OR REPLACE TEMP VIEW bench_assets AS
SELECT chain, NULLIF(lower(trim(token_address)), '') AS token_address, symbol,
       CAST(decimals AS INTEGER) AS decimals, price_asset
FROM read_csv(${assets}, header = true, all_varchar = true);

CREATE OR REPLACE TEMP VIEW bench_raw AS
SELECT 0 AS dataset, filename, file_row_number, CAST(block_number AS BIGINT) AS block_number,
       CAST(transaction_index AS BIGINT) AS tx_index, CAST(NULL AS BIGINT) AS log_index,
       '#' || CAST(transfer_index AS VARCHAR) AS trace_address, 'native' AS kind,
       CAST(NULL AS VARCHAR) AS token_address, transaction_hash, from_address, to_address, value_string
FROM read_parquet(${chain_native}, filename = true, file_row_number = true)
UNION ALL
SELECT 1, filename, file_row_number, CAST(block_number AS BIGINT), CAST(transaction_index AS BIGINT),
       CAST(log_index AS BIGINT), CAST(NULL AS VARCHAR), 'token', '0x' || lower(hex(erc20)),
       transaction_hash, from_address, to_address, value_string
FROM read_parquet(${chain_erc20}, filename = true, file_row_number = true);

CREATE OR REPLACE TEMP VIEW transfers AS
WITH keyed AS (
  SELECT r.*, '0x' || lower(hex(r.transaction_hash)) AS tx_hash,
         hash('0x' || lower(hex(r.transaction_hash)), kind, log_index, trace_address) AS key_hash
  FROM bench_raw r
), shared_hashes AS (
  -- Keys whose 64-bit hash more than one row has: the only rows that can be duplicates (the same
  -- check ifr makes before its exact path). Grouping 8-byte hashes, not the rows, keeps memory low.
  SELECT key_hash FROM keyed GROUP BY key_hash HAVING count(*) > 1
), unique_rows AS (
  SELECT * FROM keyed WHERE key_hash NOT IN (SELECT key_hash FROM shared_hashes)
  UNION ALL
  SELECT * FROM keyed
  WHERE key_hash IN (SELECT key_hash FROM shared_hashes)
  QUALIFY row_number() OVER (PARTITION BY tx_hash, kind, log_index, trace_address ORDER BY dataset, filename, file_row_number) = 1
)
SELECT ${chain_name} AS chain, u.block_number, b.block_time,
       CAST(year(b.block_time) AS INTEGER) AS year, CAST(month(b.block_time) AS INTEGER) AS month,
       u.tx_hash, u.kind, u.token_address,
       '0x' || lower(hex(u.from_address)) AS from_address, '0x' || lower(hex(u.to_address)) AS to_address,
       a.symbol AS asset, a.decimals,
       CAST(u.value_string AS DOUBLE) / power(10, a.decimals) AS amount
FROM unique_rows u
JOIN bench_blocks b ON b.block_number = u.block_number
LEFT JOIN bench_assets a ON a.chain = ${chain_name}
  AND a.token_address IS NOT DISTINCT FROM u.token_address;

-- chain_months: the chain data of the transfers read, per chain, year and month: the part of
--   chain_coverage that reads the transfers. It runs on each lake file of transfers alone (see
--   README.md, "Scans"); over the lake its result is the files' results stacked.
-- Grain: one row per chain x year x month with transfers, per lake file.
-- Units: first_block / last_block = the lowest and highest block number with a transfer;
--   first_day / last_day = the UTC days of the first and last transfer; transfers = a count.
-- Filters: none (every transfer read).
SELECT chain, year, month,
       MIN(block_number) AS first_block,
       MAX(block_number) AS last_block,
       CAST(MIN(block_time) AS DATE) AS first_day,
       CAST(MAX(block_time) AS DATE) AS last_day,
       CAST(COUNT(*) AS BIGINT) AS transfers
FROM transfers
GROUP BY chain, year, month

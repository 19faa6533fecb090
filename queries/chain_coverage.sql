-- chain_coverage: the chain data the lake holds: which chains, which block and date ranges, how
--   many transfers, per year.
-- Grain: one row per chain x year with transfers.
-- Units: first_block / last_block = the lowest and highest block number with a transfer;
--   first_day / last_day = the UTC days of the first and last transfer; transfers = a count.
-- Filters: none (every transfer of the lake). Order: by chain, then year.
SELECT chain, year,
       MIN(block_number) AS first_block,
       MAX(block_number) AS last_block,
       CAST(MIN(block_time) AS DATE) AS first_day,
       CAST(MAX(block_time) AS DATE) AS last_day,
       CAST(COUNT(*) AS BIGINT) AS transfers
FROM transfers
GROUP BY chain, year
ORDER BY chain, year

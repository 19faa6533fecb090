-- chain_coverage: the chain data the lake holds: which chains, which block and date ranges, how
--   many transfers, per year.
-- Grain: one row per chain x year with transfers.
-- Units: first_block / last_block = the lowest and highest block number with a transfer;
--   first_day / last_day = the UTC days of the first and last transfer; transfers = a count.
-- Filters: none (every transfer of the lake, as chain_months gives them per lake file). Order: by
--   chain, then year.
SELECT chain, year,
       MIN(first_block) AS first_block,
       MAX(last_block) AS last_block,
       MIN(first_day) AS first_day,
       MAX(last_day) AS last_day,
       CAST(SUM(transfers) AS BIGINT) AS transfers
FROM chain_months
GROUP BY chain, year
ORDER BY chain, year

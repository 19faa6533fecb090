-- price_coverage: how many of each year's transfers have a value in the totals.
-- Grain: one row per year with transfers.
-- Units: counts of transfers. transfers = every transfer of the year (each is in exactly one
--   actor_flows row, attributed or not); priced_transfers = those with a plausible value;
--   implausible_transfers = those valued above the report's max-transfer-usd (kept out of every
--   total); the rest had no price that day.
-- Filters: none. Read from actor_flows (a few rows), not from the transfers.
SELECT year,
       SUM(transfers) AS transfers,
       SUM(transfers - unpriced_transfers) AS priced_transfers,
       SUM(implausible_transfers) AS implausible_transfers
FROM actor_flows
GROUP BY year
ORDER BY year

-- asset_price_coverage: price coverage by asset: how many of each asset's transfers have a value
--   in the totals, and what the priced ones are worth, per year.
-- Grain: one row per year x chain x asset with transfers (asset NULL: a token not in the assets
--   table).
-- Units: transfers = every transfer of the asset; priced_transfers = those with a plausible value;
--   implausible_transfers = those valued above the report's max-transfer-usd (kept out of every
--   total); the rest had no price that day. priced_micro_usd = the value of the priced transfers in
--   integer micro-dollars. An unpriced transfer's value is unknown: coverage by value is the priced
--   value beside the unpriced count, never a guessed value.
-- Filters: none. Read from actor_flows (a few rows), not from the transfers.
SELECT year, chain, asset,
       SUM(transfers) AS transfers,
       SUM(transfers - unpriced_transfers) AS priced_transfers,
       SUM(implausible_transfers) AS implausible_transfers,
       COALESCE(SUM(value_micro_usd), CAST(0 AS DECIMAL(38, 0))) AS priced_micro_usd
FROM actor_flows
GROUP BY year, chain, asset
ORDER BY year, chain, asset

-- incident_values: each ledger incident's on-chain theft value beside its reported USD.
-- Grain: one row per incident x asset (assets with no theft transfer found give no row).
-- Units: value_micro_usd in 128-bit integer micro-dollars at the transfer day's close; transfers and
--   unpriced_transfers as in actor_year_totals.
SELECT incident, asset, year,
       SUM(CAST(FLOOR(value_usd * 1000000 + 0.5) AS DECIMAL(38, 0))) AS value_micro_usd,
       CAST(COUNT(*) AS BIGINT) AS transfers,
       SUM(CASE WHEN value_usd IS NULL THEN 1 ELSE 0 END) AS unpriced_transfers
FROM theft_transfers
GROUP BY incident, asset, year
ORDER BY incident, asset, year

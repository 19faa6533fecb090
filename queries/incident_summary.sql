-- incident_summary: each ledger incident attributed to an actor, its reported USD beside the
--   on-chain value of its theft transfers (all assets and years of incident_values together).
-- Grain: one row per incident with an actor (an incident whose theft transfers were not found on
--   chain has onchain_transfers = 0 and is kept: it is reported, not verified). chains = the
--   ledger's `;`-separated chains (the report compares them with chain_coverage).
-- Units: reported_micro_usd = the ledger's reported_usd rounded to the micro-dollar (NULL when the
--   ledger has none); onchain_micro_usd = sum of incident_values.value_micro_usd (0 when nothing
--   is priced: read onchain_transfers and unpriced_transfers before the value);
--   recovered_micro_usd = the USD figures of the recoveries tied to the incident, summed (NULL
--   when none has one), recoveries = how many there are (recoveries table).
-- Filters: incidents with an actor. Order: by date, then id.
WITH onchain AS (
  SELECT incident,
         SUM(value_micro_usd) AS onchain_micro_usd,
         SUM(transfers) AS onchain_transfers,
         SUM(unpriced_transfers) AS unpriced_transfers
  FROM incident_values
  GROUP BY incident
), recovered AS (
  SELECT incident,
         SUM(CAST(FLOOR(usd * 1000000 + 0.5) AS DECIMAL(38, 0))) AS recovered_micro_usd,
         CAST(COUNT(*) AS BIGINT) AS recoveries
  FROM recoveries
  WHERE incident IS NOT NULL
  GROUP BY incident
)
SELECT i.id AS incident, i.name, i.date, EXTRACT(YEAR FROM i.date) AS year, i.actor, i.chains,
       CAST(FLOOR(i.reported_usd * 1000000 + 0.5) AS DECIMAL(38, 0)) AS reported_micro_usd,
       COALESCE(o.onchain_micro_usd, CAST(0 AS DECIMAL(38, 0))) AS onchain_micro_usd,
       COALESCE(o.onchain_transfers, 0) AS onchain_transfers,
       COALESCE(o.unpriced_transfers, 0) AS unpriced_transfers,
       r.recovered_micro_usd,
       COALESCE(r.recoveries, 0) AS recoveries
FROM incidents i
LEFT JOIN onchain o ON o.incident = i.id
LEFT JOIN recovered r ON r.incident = i.id
WHERE i.actor IS NOT NULL AND i.actor <> ''
ORDER BY i.date, i.id

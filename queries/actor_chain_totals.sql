-- actor_chain_totals: what each actor stole, received and sent, per year and chain.
-- Grain: one row per actor x year x chain x metric (stolen | inflow | outflow).
-- Units: as actor_year_totals (value_micro_usd in 128-bit integer micro-dollars; transfers counted,
--   priced or not; unpriced_transfers those not in the value).
-- The same rules as actor_month_totals, kept apart by the chain the transfers are on (Bitcoin's
-- address-to-address flows, Ethereum's transfers ...): summed over chains they are
-- actor_year_totals. A value bridged from one chain to another is counted on each chain it moves
-- on, as an outflow of the actor there if it leaves the actor's addresses.
WITH inflow AS (
  SELECT x.ancestor AS actor, f.year, f.chain, f.value_micro_usd, f.transfers, f.unpriced_transfers
  FROM actor_flows f
  JOIN actor_ancestors x ON x.actor = f.to_actor
  LEFT JOIN actor_ancestors y ON y.actor = f.from_actor AND y.ancestor = x.ancestor
  WHERE y.actor IS NULL
), outflow AS (
  SELECT x.ancestor AS actor, f.year, f.chain, f.value_micro_usd, f.transfers, f.unpriced_transfers
  FROM actor_flows f
  JOIN actor_ancestors x ON x.actor = f.from_actor
  LEFT JOIN actor_ancestors y ON y.actor = f.to_actor AND y.ancestor = x.ancestor
  WHERE y.actor IS NULL
), stolen AS (
  SELECT x.ancestor AS actor, s.year, s.chain,
         CAST(ROUND(s.value_usd * 1000000) AS HUGEINT) AS value_micro_usd,
         CAST(1 AS BIGINT) AS transfers,
         CAST(CASE WHEN s.value_usd IS NULL THEN 1 ELSE 0 END AS BIGINT) AS unpriced_transfers
  FROM theft_transfers s
  JOIN actor_ancestors x ON x.actor = s.actor
), flows AS (
  SELECT actor, year, chain, 'inflow' AS metric, value_micro_usd, transfers, unpriced_transfers FROM inflow
  UNION ALL
  SELECT actor, year, chain, 'outflow' AS metric, value_micro_usd, transfers, unpriced_transfers FROM outflow
  UNION ALL
  SELECT actor, year, chain, 'stolen' AS metric, value_micro_usd, transfers, unpriced_transfers FROM stolen
)
SELECT actor, year, chain, metric,
       SUM(value_micro_usd) AS value_micro_usd,
       SUM(transfers) AS transfers,
       SUM(unpriced_transfers) AS unpriced_transfers
FROM flows
GROUP BY actor, year, chain, metric
ORDER BY actor, year, chain, metric

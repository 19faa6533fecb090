-- actor_month_totals: what each actor stole, received and sent, per month (the monthly series).
-- Grain: one row per actor x year x month x metric (stolen | inflow | outflow).
-- Units: value_micro_usd = sum of value_usd in integer micro-dollars (exact, whatever the order
--   of summation; the report shows it in USD to the cent); transfers = transfers counted, priced or
--   not; unpriced_transfers = those without a price (not in the value).
-- "In A" = attributed to actor A or to one of its descendants (actor_ancestors: Lazarus Group
-- counts in DPRK). Filters: inflow = receiver in A, sender not; outflow = sender in A, receiver not;
-- a transfer between two addresses of A is internal and in neither. stolen = theft transfers of
-- ledger incidents attributed to A (theft_transfers), by the month of the transfer.
WITH inflow AS (
  SELECT x.ancestor AS actor, t.year, t.month, t.value_usd
  FROM attributed_transfers t
  JOIN actor_ancestors x ON x.actor = t.to_actor
  LEFT JOIN actor_ancestors y ON y.actor = t.from_actor AND y.ancestor = x.ancestor
  WHERE y.actor IS NULL
), outflow AS (
  SELECT x.ancestor AS actor, t.year, t.month, t.value_usd
  FROM attributed_transfers t
  JOIN actor_ancestors x ON x.actor = t.from_actor
  LEFT JOIN actor_ancestors y ON y.actor = t.to_actor AND y.ancestor = x.ancestor
  WHERE y.actor IS NULL
), stolen AS (
  SELECT x.ancestor AS actor, s.year, s.month, s.value_usd
  FROM theft_transfers s
  JOIN actor_ancestors x ON x.actor = s.actor
), flows AS (
  SELECT actor, year, month, 'inflow' AS metric, value_usd FROM inflow
  UNION ALL
  SELECT actor, year, month, 'outflow' AS metric, value_usd FROM outflow
  UNION ALL
  SELECT actor, year, month, 'stolen' AS metric, value_usd FROM stolen
)
SELECT actor, year, month, metric,
       SUM(CAST(ROUND(value_usd * 1000000) AS BIGINT)) AS value_micro_usd,
       COUNT(*) AS transfers,
       SUM(CASE WHEN value_usd IS NULL THEN 1 ELSE 0 END) AS unpriced_transfers
FROM flows
GROUP BY actor, year, month, metric
ORDER BY actor, year, month, metric

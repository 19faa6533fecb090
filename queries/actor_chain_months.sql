-- actor_chain_months: what each actor stole, received and sent, per month and chain: the rules
-- of the totals, written once (actor_month_totals and actor_chain_totals are its sums).
-- Grain: one row per actor x year x month x chain x metric (stolen | inflow | outflow).
-- Units: value_micro_usd = sum of value_usd in 128-bit integer micro-dollars (exact, whatever the
--   order of summation); transfers = transfers counted, priced or not; unpriced_transfers = those
--   not in the value (no price, or implausible).
-- "In A" = attributed to actor A or to one of its descendants (actor_ancestors: Lazarus Group
-- counts in DPRK). Filters: inflow = receiver in A, sender not; outflow = sender in A, receiver not;
-- a transfer between two addresses of A is internal and in neither. stolen = theft transfers of
-- ledger incidents attributed to A (theft_transfers), by the month and chain of the transfer.
-- Inflow and outflow are read from actor_flows (the transfers summed by sender and receiver actor).
WITH inflow AS (
  SELECT x.ancestor AS actor, f.year, f.month, f.chain, f.value_micro_usd, f.transfers, f.unpriced_transfers
  FROM actor_flows f
  JOIN actor_ancestors x ON x.actor = f.to_actor
  LEFT JOIN actor_ancestors y ON y.actor = f.from_actor AND y.ancestor = x.ancestor
  WHERE y.actor IS NULL
), outflow AS (
  SELECT x.ancestor AS actor, f.year, f.month, f.chain, f.value_micro_usd, f.transfers, f.unpriced_transfers
  FROM actor_flows f
  JOIN actor_ancestors x ON x.actor = f.from_actor
  LEFT JOIN actor_ancestors y ON y.actor = f.to_actor AND y.ancestor = x.ancestor
  WHERE y.actor IS NULL
), stolen AS (
  SELECT x.ancestor AS actor, s.year, s.month, s.chain,
         CAST(FLOOR(s.value_usd * 1000000 + 0.5) AS DECIMAL(38, 0)) AS value_micro_usd,
         CAST(1 AS BIGINT) AS transfers,
         CAST(CASE WHEN s.value_usd IS NULL THEN 1 ELSE 0 END AS BIGINT) AS unpriced_transfers
  FROM theft_transfers s
  JOIN actor_ancestors x ON x.actor = s.actor
), flows AS (
  SELECT actor, year, month, chain, 'inflow' AS metric, value_micro_usd, transfers, unpriced_transfers FROM inflow
  UNION ALL
  SELECT actor, year, month, chain, 'outflow' AS metric, value_micro_usd, transfers, unpriced_transfers FROM outflow
  UNION ALL
  SELECT actor, year, month, chain, 'stolen' AS metric, value_micro_usd, transfers, unpriced_transfers FROM stolen
)
SELECT actor, year, month, chain, metric,
       SUM(value_micro_usd) AS value_micro_usd,
       SUM(transfers) AS transfers,
       SUM(unpriced_transfers) AS unpriced_transfers
FROM flows
GROUP BY actor, year, month, chain, metric
ORDER BY actor, year, month, chain, metric

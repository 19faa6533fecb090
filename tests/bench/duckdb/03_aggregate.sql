-- aggregate (DuckDB): ifr's actor_year_totals and actor_destinations (queries/*.sql) — inflow,
-- outflow and stolen per actor (descendants count in their ancestors) and year, in integer
-- micro-dollars (0 when nothing in the group is priced: unpriced transfers are counted, not
-- valued); outflows by receiver category. The ledger's theft transfers: its tx hashes, else
-- victim -> attacker transfers from its date to date + ${window} days, valued on the transfer day.
CREATE OR REPLACE TEMP VIEW theft_transfers AS
SELECT k.incident, k.actor, t.year, t.value_usd
FROM attributed_transfers t JOIN incident_tx k ON t.tx_hash = k.tx_hash
UNION ALL
SELECT k.incident, k.actor, t.year, t.value_usd
FROM attributed_transfers t JOIN incident_parties k ON t.from_address = k.victim AND t.to_address = k.attacker
WHERE t.day >= k.day_from AND t.day <= k.day_to;

CREATE OR REPLACE TEMP TABLE actor_year_totals AS
WITH flows AS (
  SELECT x.ancestor AS actor, t.year, 'inflow' AS metric, t.value_usd
  FROM attributed_transfers t
  JOIN actor_ancestors x ON x.actor = t.to_actor
  WHERE NOT EXISTS (SELECT 1 FROM actor_ancestors y WHERE y.actor = t.from_actor AND y.ancestor = x.ancestor)
  UNION ALL
  SELECT x.ancestor, t.year, 'outflow', t.value_usd
  FROM attributed_transfers t
  JOIN actor_ancestors x ON x.actor = t.from_actor
  WHERE NOT EXISTS (SELECT 1 FROM actor_ancestors y WHERE y.actor = t.to_actor AND y.ancestor = x.ancestor)
  UNION ALL
  SELECT x.ancestor, s.year, 'stolen', s.value_usd
  FROM theft_transfers s JOIN actor_ancestors x ON x.actor = s.actor
)
SELECT actor, year, metric,
       COALESCE(SUM(CAST(ROUND(value_usd * 1000000) AS BIGINT)), 0) AS value_micro_usd,
       COUNT(*) AS transfers,
       SUM(CASE WHEN value_usd IS NULL THEN 1 ELSE 0 END) AS unpriced_transfers
FROM flows
GROUP BY actor, year, metric;

CREATE OR REPLACE TEMP TABLE actor_destinations AS
SELECT x.ancestor AS actor, t.year, t.to_category AS category,
       COALESCE(SUM(CAST(ROUND(t.value_usd * 1000000) AS BIGINT)), 0) AS value_micro_usd,
       COUNT(*) AS transfers
FROM attributed_transfers t
JOIN actor_ancestors x ON x.actor = t.from_actor
WHERE NOT EXISTS (SELECT 1 FROM actor_ancestors y WHERE y.actor = t.to_actor AND y.ancestor = x.ancestor)
GROUP BY x.ancestor, t.year, t.to_category;

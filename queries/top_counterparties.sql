-- top_counterparties: the ten largest receivers of each actor's direct outflows, per year.
-- Grain: one row per actor x year x receiving address, at most 10 per actor-year: largest value
--   first, ties by address (ranked in the query, so only the top rows leave it).
-- Units: value_micro_usd = sum of value_usd in 128-bit integer micro-dollars (0 when none is priced);
--   transfers = transfers counted.
-- Filters: the outflows of actor_year_totals (sender in A or a descendant, receiver not in A).
WITH totals AS (
  SELECT x.ancestor AS actor, t.year, t.to_address AS counterparty, t.to_actor AS counterparty_actor,
         t.to_category AS category,
         COALESCE(SUM(CAST(ROUND(t.value_usd * 1000000) AS HUGEINT)), CAST(0 AS HUGEINT)) AS value_micro_usd,
         COUNT(*) AS transfers
  FROM attributed_transfers t
  JOIN actor_ancestors x ON x.actor = t.from_actor
  LEFT JOIN actor_ancestors y ON y.actor = t.to_actor AND y.ancestor = x.ancestor
  WHERE y.actor IS NULL
  GROUP BY x.ancestor, t.year, t.to_address, t.to_actor, t.to_category
), ranked AS (
  SELECT actor, year, counterparty, counterparty_actor, category, value_micro_usd, transfers,
         ROW_NUMBER() OVER (PARTITION BY actor, year ORDER BY 0 - value_micro_usd, counterparty) AS rank
  FROM totals
)
SELECT actor, year, counterparty, counterparty_actor, category, value_micro_usd, transfers
FROM ranked
WHERE rank <= 10
ORDER BY actor, year, rank

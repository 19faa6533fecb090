-- top_counterparties: the receivers of each actor's direct outflows, largest first.
-- Grain: one row per actor x year x receiving address (the report keeps the top 10 per actor-year).
-- Units: value_micro_usd = sum of value_usd in integer micro-dollars; transfers = transfers counted.
-- Filters: the outflows of actor_year_totals (sender in A or a descendant, receiver not in A).
SELECT x.ancestor AS actor, t.year, t.to_address AS counterparty, t.to_actor AS counterparty_actor,
       t.to_category AS category,
       SUM(CAST(ROUND(t.value_usd * 1000000) AS BIGINT)) AS value_micro_usd,
       COUNT(*) AS transfers
FROM attributed_transfers t
JOIN actor_ancestors x ON x.actor = t.from_actor
LEFT JOIN actor_ancestors y ON y.actor = t.to_actor AND y.ancestor = x.ancestor
WHERE y.actor IS NULL
GROUP BY x.ancestor, t.year, t.to_address, t.to_actor, t.to_category

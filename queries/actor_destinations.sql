-- actor_destinations: where each actor's outflows went, per year.
-- Grain: one row per actor x year x receiver category (exchange, mixer, bridge, defi, sanctioned,
--   other, unlabelled).
-- Units: value_micro_usd = sum of value_usd in integer micro-dollars; transfers = transfers counted
--   (priced or not).
-- Filters: the outflows of actor_year_totals (sender in A or a descendant, receiver not in A),
--   read from actor_flows.
SELECT x.ancestor AS actor, f.year, f.to_category AS category,
       SUM(f.value_micro_usd) AS value_micro_usd,
       SUM(f.transfers) AS transfers
FROM actor_flows f
JOIN actor_ancestors x ON x.actor = f.from_actor
LEFT JOIN actor_ancestors y ON y.actor = f.to_actor AND y.ancestor = x.ancestor
WHERE y.actor IS NULL
GROUP BY x.ancestor, f.year, f.to_category
ORDER BY actor, year, category

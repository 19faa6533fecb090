-- counterparty_totals: each actor's direct outflows summed by receiving address, per year: the
--   part of top_counterparties that reads the transfers. Like every query over attributed_transfers
--   it runs on each lake file of transfers alone (see README.md, "Scans"); over the lake its
--   result is the files' results stacked, and top_counterparties sums them.
-- Grain: one row per actor x year x receiving address x its actor and category, per lake file.
-- Units: value_micro_usd = sum of value_usd in 128-bit integer micro-dollars, each transfer rounded
--   to the micro-dollar before summing (NULL when none is priced); transfers = transfers counted.
-- Filters: the outflows of actor_year_totals (sender in A or a descendant, receiver not in A).
WITH sums AS (
  -- Summed first, then the receivers inside the actor dropped: the test is on two group keys
  -- (to_actor, ancestor), so this is the same as dropping them before summing; but an engine that
  -- builds a join's hash table on its left side (DataFusion) then holds the sums, not every
  -- outflow of the year (10 GiB at 100M transfers).
  SELECT x.ancestor, t.year, t.to_address, t.to_actor, t.to_category,
         SUM(CAST(FLOOR(t.value_usd * 1000000 + 0.5) AS DECIMAL(38, 0))) AS value_micro_usd,
         CAST(COUNT(*) AS BIGINT) AS transfers
  FROM attributed_transfers t
  JOIN actor_ancestors x ON x.actor = t.from_actor
  GROUP BY x.ancestor, t.year, t.to_address, t.to_actor, t.to_category
)
SELECT s.ancestor AS actor, s.year, s.to_address AS counterparty, s.to_actor AS counterparty_actor, s.to_category AS category,
       s.value_micro_usd, s.transfers
FROM sums s
LEFT JOIN actor_ancestors y ON y.actor = s.to_actor AND y.ancestor = s.ancestor
WHERE y.actor IS NULL

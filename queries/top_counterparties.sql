-- top_counterparties: the ten largest receivers of each actor's direct outflows, per year.
-- Grain: one row per actor x year x receiving address, at most 10 per actor-year: largest value
--   first, ties by address, then its actor and category (ranked in the query, so only the top rows
--   leave it).
-- Units: value_micro_usd = sum of value_usd in 128-bit integer micro-dollars (0 when none is priced);
--   transfers = transfers counted.
-- Filters: the outflows of actor_year_totals (sender in A or a descendant, receiver not in A), as
--   counterparty_totals sums them per lake file; summed here over the files.
WITH totals AS (
  SELECT actor, year, counterparty, counterparty_actor, category,
         COALESCE(SUM(value_micro_usd), CAST(0 AS DECIMAL(38, 0))) AS value_micro_usd,
         SUM(transfers) AS transfers
  FROM counterparty_totals
  GROUP BY actor, year, counterparty, counterparty_actor, category
), ranked AS (
  SELECT actor, year, counterparty, counterparty_actor, category, value_micro_usd, transfers,
         ROW_NUMBER() OVER (PARTITION BY actor, year ORDER BY 0 - value_micro_usd, counterparty, COALESCE(counterparty_actor, ''), category) AS rank
  FROM totals
)
SELECT actor, year, counterparty, counterparty_actor, category, value_micro_usd, transfers
FROM ranked
WHERE rank <= 10
ORDER BY actor, year, rank

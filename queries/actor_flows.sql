-- actor_flows: every transfer of attributed_transfers summed by who sent it to whom, per month —
--   the one scan of the transfers that actor_month_totals, actor_destinations and the price
--   coverage are computed from (each of them then reads these few rows, not the transfers).
-- Grain: one row per sender actor x receiver actor x receiver category x year x month (an actor
--   is NULL for an unattributed address; those rows are kept for the coverage count).
-- Units: value_micro_usd = sum of value_usd in integer micro-dollars, each transfer rounded to
--   the micro-dollar before summing (so sums of these sums are exact); transfers = transfers
--   counted, priced or not; unpriced_transfers = those without a price (not in the value).
-- Filters: none.
SELECT from_actor, to_actor, to_category, year, month,
       SUM(CAST(ROUND(value_usd * 1000000) AS BIGINT)) AS value_micro_usd,
       CAST(COUNT(*) AS BIGINT) AS transfers,
       CAST(SUM(CASE WHEN value_usd IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS unpriced_transfers
FROM attributed_transfers
GROUP BY from_actor, to_actor, to_category, year, month

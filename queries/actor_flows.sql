-- actor_flows: every transfer of attributed_transfers summed by who sent it to whom, per month —
--   the one scan of the transfers that actor_month_totals, actor_destinations and the price
--   coverage are computed from (each of them then reads these few rows, not the transfers).
--   The same scan also attributes each transfer with the high-confidence labels only
--   (address_actors_high: address_actors built from labels at or above the report's
--   high_confidence), so the lower bounds of actor_year_ranges need no second scan.
-- Grain: one row per sender actor x receiver actor x receiver category (all labels) x the same
--   three under high-confidence labels (*_high) x year x month x chain x asset (an actor is NULL
--   for an unattributed address; those rows are kept for the coverage counts, by asset).
-- Units: value_micro_usd = sum of value_usd in integer micro-dollars (128-bit: no sum can
--   overflow), each transfer rounded to the micro-dollar before summing (so sums of these sums are
--   exact); transfers = transfers counted, priced or not; unpriced_transfers = those not in the
--   value (no price, or an implausible value); implausible_transfers = those of them flagged as
--   implausible (value above the report's max-transfer-usd; attributed_transfers).
-- Filters: none (a high-confidence interval is matched on the transfer's day, as in
--   attributed_transfers).
WITH attributed AS (
  SELECT t.from_actor, t.to_actor, t.to_category,
         fh.actor AS from_actor_high, rh.actor AS to_actor_high, COALESCE(rh.category, 'unlabelled') AS to_category_high,
         t.year, t.month, t.chain, t.asset, t.value_usd, t.implausible
  FROM attributed_transfers t
  LEFT JOIN address_actors_high fh ON fh.address = t.from_address
  LEFT JOIN address_actors_high rh ON rh.address = t.to_address
  WHERE (fh.address IS NULL OR (t.day >= fh.valid_from AND t.day < fh.valid_to))
    AND (rh.address IS NULL OR (t.day >= rh.valid_from AND t.day < rh.valid_to))
)
SELECT from_actor, to_actor, to_category, from_actor_high, to_actor_high, to_category_high, year, month, chain, asset,
       SUM(CAST(FLOOR(value_usd * 1000000 + 0.5) AS DECIMAL(38, 0))) AS value_micro_usd,
       CAST(COUNT(*) AS BIGINT) AS transfers,
       CAST(SUM(CASE WHEN value_usd IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS unpriced_transfers,
       CAST(SUM(CASE WHEN implausible THEN 1 ELSE 0 END) AS BIGINT) AS implausible_transfers
FROM attributed
GROUP BY from_actor, to_actor, to_category, from_actor_high, to_actor_high, to_category_high, year, month, chain, asset

-- actor_year_totals: what each actor stole, received and sent, per year.
-- Grain: one row per actor x year x metric (stolen | inflow | outflow).
-- Units: value_micro_usd = sum of value_usd in 128-bit integer micro-dollars (exact, whatever the
--   order of summation; the report shows it in USD to the cent); transfers = transfers counted,
--   priced or not; unpriced_transfers = those not in the value (no price, or implausible).
-- The sum over the months of actor_month_totals: "in A" = attributed to actor A or a descendant
-- (Lazarus Group counts in DPRK); inflow = receiver in A, sender not; outflow = sender in A,
-- receiver not (transfers between two addresses of A are internal and in neither); stolen = theft
-- transfers of ledger incidents attributed to A.
SELECT actor, year, metric,
       SUM(value_micro_usd) AS value_micro_usd,
       SUM(transfers) AS transfers,
       SUM(unpriced_transfers) AS unpriced_transfers
FROM actor_month_totals
GROUP BY actor, year, metric
ORDER BY actor, year, metric

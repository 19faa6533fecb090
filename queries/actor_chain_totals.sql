-- actor_chain_totals: what each actor stole, received and sent, per year and chain.
-- Grain: one row per actor x year x chain x metric (stolen | inflow | outflow).
-- Units: value_micro_usd = sum of value_usd in 128-bit integer micro-dollars (exact, whatever the
--   order of summation; the report shows it in USD to the cent); transfers = transfers counted,
--   priced or not; unpriced_transfers = those not in the value (no price, or implausible).
-- actor_chain_months summed over the months (the rules of actor_month_totals, kept apart by the
-- chain the transfers are on): summed over chains they are actor_year_totals. A value bridged
-- from one chain to another is counted on each chain it moves on, as an outflow of the actor there
-- if it leaves the actor's addresses.
SELECT actor, year, chain, metric,
       SUM(value_micro_usd) AS value_micro_usd,
       SUM(transfers) AS transfers,
       SUM(unpriced_transfers) AS unpriced_transfers
FROM actor_chain_months
GROUP BY actor, year, chain, metric
ORDER BY actor, year, chain, metric

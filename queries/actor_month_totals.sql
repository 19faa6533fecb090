-- actor_month_totals: what each actor stole, received and sent, per month (the monthly series).
-- Grain: one row per actor x year x month x metric (stolen | inflow | outflow).
-- Units: value_micro_usd = sum of value_usd in 128-bit integer micro-dollars (exact, whatever the
--   order of summation; the report shows it in USD to the cent); transfers = transfers counted,
--   priced or not; unpriced_transfers = those not in the value (no price, or implausible).
-- actor_chain_months summed over the chains: "in A" = attributed to actor A or to one of its
-- descendants (Lazarus Group counts in DPRK); inflow = receiver in A, sender not; outflow = sender
-- in A, receiver not (a transfer between two addresses of A is internal and in neither); stolen =
-- theft transfers of ledger incidents attributed to A, by the month of the transfer.
SELECT actor, year, month, metric,
       SUM(value_micro_usd) AS value_micro_usd,
       SUM(transfers) AS transfers,
       SUM(unpriced_transfers) AS unpriced_transfers
FROM actor_chain_months
GROUP BY actor, year, month, metric
ORDER BY actor, year, month, metric

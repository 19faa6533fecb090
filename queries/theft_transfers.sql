-- theft_transfers: the on-chain theft transfers of the ledger's incidents (a view).
-- Grain: one row per (incident, transfer); chain, tx_hash and to_address are what the tracer
--   seeds an incident's taint from (the same rule, read from this view); amount is decimal-adjusted
--   (the report lists the rows so that each incident's on-chain value can be checked by hand).
-- An incident's listed tx hashes when it has them (incident_tx); otherwise the transfers from its
-- victim addresses to its attacker addresses from its date to date + the incident window
-- (incident_parties). Units: value_usd at the close of the transfer's day, or of the incident's
-- ledger date when report_options.stolen_price_day is 'disclosure-day' (NULL without a close, and
-- NULL above the asset's max_transfer_usd, the ceiling attributed_transfers applies).
-- theft_candidates = attributed_transfers restricted to rows whose tx_hash is in incident_tx or whose
-- sender is an incident_parties victim (ifr pushes those keys into the Parquet scan; another engine
-- may register attributed_transfers itself under that name: the joins below select the same rows).
WITH matched AS (
  SELECT k.incident, k.actor, k.disclosure_day, t.chain, t.year, t.month, t.day, t.tx_hash, t.to_address, t.asset, t.amount, t.price_asset, t.max_transfer_usd, t.value_usd
  FROM theft_candidates t
  JOIN incident_tx k ON t.tx_hash = k.tx_hash
  UNION ALL
  SELECT k.incident, k.actor, k.disclosure_day, t.chain, t.year, t.month, t.day, t.tx_hash, t.to_address, t.asset, t.amount, t.price_asset, t.max_transfer_usd, t.value_usd
  FROM theft_candidates t
  JOIN incident_parties k ON t.from_address = k.victim AND t.to_address = k.attacker
  WHERE t.day >= k.day_from AND t.day <= k.day_to
)
SELECT m.incident, m.actor, m.chain, m.year, m.month, m.day, m.tx_hash, m.to_address, m.asset, m.amount,
       CASE WHEN o.stolen_price_day <> 'disclosure-day' THEN m.value_usd
            WHEN m.amount * p.close_usd > m.max_transfer_usd THEN NULL
            ELSE m.amount * p.close_usd END AS value_usd
FROM matched m
CROSS JOIN report_options o
LEFT JOIN price_days p ON p.asset = m.price_asset AND p.day = m.disclosure_day

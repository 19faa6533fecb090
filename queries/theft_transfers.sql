-- theft_transfers: the on-chain theft transfers of the ledger's incidents (a view).
-- Grain: one row per (incident, transfer).
-- An incident's listed tx hashes when it has them (incident_tx); otherwise the transfers from its
-- victim addresses to its attacker addresses from its date to date + the incident window
-- (incident_parties). Units: value_usd as in attributed_transfers (transfer day's close).
SELECT k.incident, k.actor, t.year, t.month, t.day, t.tx_hash, t.asset, t.value_usd
FROM attributed_transfers t
JOIN incident_tx k ON t.tx_hash = k.tx_hash
UNION ALL
SELECT k.incident, k.actor, t.year, t.month, t.day, t.tx_hash, t.asset, t.value_usd
FROM attributed_transfers t
JOIN incident_parties k ON t.from_address = k.victim AND t.to_address = k.attacker
WHERE t.day >= k.day_from AND t.day <= k.day_to

-- recoveries: stolen or illicit funds frozen, seized or returned, each with the incident and the
--   actor it concerns (the row's own actor, else its incident's).
-- Grain: one row per recovery.
-- Units: micro_usd = the source's USD figure in integer micro-dollars (NULL when the source gives
--   none: unknown, never 0).
-- Filters: none. Order: by date, then id.
SELECT r.id, r.incident, COALESCE(r.actor, i.actor) AS actor, r.date, EXTRACT(YEAR FROM r.date) AS year, r.kind,
       CAST(FLOOR(r.usd * 1000000 + 0.5) AS DECIMAL(38, 0)) AS micro_usd,
       r.asset_amount, r.acted_by, r.source_url
FROM recoveries r
LEFT JOIN incidents i ON i.id = r.incident
ORDER BY r.date, r.id

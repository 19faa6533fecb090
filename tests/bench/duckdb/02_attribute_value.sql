-- attribute and value (DuckDB): ifr's queries/attributed_transfers.sql over the normalised view,
-- materialised once for the rows any total reads: those with an attributed sender or receiver,
-- and the ledger's theft candidates (its tx hashes; victim -> attacker pairs). One pass over the
-- chain files, as ifr's report makes.
-- Prices come from the raw price CSV (one source: no preference order to apply); the attribution
-- intervals are ifr's resolved labels (`ifr sql "SELECT * FROM address_actors"`, a few thousand
-- rows computed from the YAML TagPacks/ActorPack and the sanctions list, which DuckDB cannot read).
CREATE OR REPLACE TEMP VIEW asset_series AS
SELECT DISTINCT chain, symbol, price_asset FROM bench_assets;

CREATE OR REPLACE TEMP VIEW price_days AS
SELECT asset, CAST(day AS DATE) AS day, CAST(close_usd AS DOUBLE) AS close_usd
FROM read_csv(${prices}, header = true, all_varchar = true);

CREATE OR REPLACE TEMP TABLE address_actors AS
SELECT address, CAST(valid_from AS DATE) AS valid_from, CAST(valid_to AS DATE) AS valid_to,
       NULLIF(actor, '') AS actor, category
FROM read_csv(${address_actors}, header = true, all_varchar = true);

CREATE OR REPLACE TEMP TABLE actor_ancestors AS
SELECT actor, ancestor FROM read_csv(${actor_ancestors}, header = true, all_varchar = true);

CREATE OR REPLACE TEMP VIEW ledger AS
SELECT id, trim(actor) AS actor, CAST(date AS DATE) AS day, tx_hashes, victim_addresses, attacker_addresses
FROM read_csv(${incidents}, header = true, all_varchar = true)
WHERE COALESCE(trim(actor), '') <> '';

CREATE OR REPLACE TEMP TABLE incident_tx AS
SELECT id AS incident, actor, lower(trim(h.h)) AS tx_hash
FROM ledger, unnest(string_split(tx_hashes, ';')) AS h(h)
WHERE COALESCE(tx_hashes, '') <> '' AND trim(h.h) <> '';

CREATE OR REPLACE TEMP TABLE incident_parties AS
SELECT id AS incident, actor, lower(trim(v.v)) AS victim, lower(trim(a.a)) AS attacker,
       day AS day_from, day + ${window} AS day_to
FROM ledger, unnest(string_split(victim_addresses, ';')) AS v(v), unnest(string_split(attacker_addresses, ';')) AS a(a)
WHERE COALESCE(tx_hashes, '') = '' AND trim(v.v) <> '' AND trim(a.a) <> '';

CREATE OR REPLACE TEMP TABLE attributed_transfers AS
WITH valued AS (
  SELECT t.year, t.month, CAST(t.block_time AS DATE) AS day, t.tx_hash, t.from_address, t.to_address,
         t.asset, t.amount, a.price_asset, t.amount * p.close_usd AS value_usd
  FROM transfers t
  LEFT JOIN asset_series a ON a.chain = t.chain AND a.symbol = t.asset
  LEFT JOIN price_days p ON p.asset = a.price_asset AND p.day = CAST(t.block_time AS DATE)
), attributed AS (
  SELECT v.*, f.actor AS from_actor, r.actor AS to_actor, COALESCE(r.category, 'unlabelled') AS to_category
  FROM valued v
  LEFT JOIN address_actors f ON f.address = v.from_address AND v.day >= f.valid_from AND v.day < f.valid_to
  LEFT JOIN address_actors r ON r.address = v.to_address AND v.day >= r.valid_from AND v.day < r.valid_to
)
SELECT * FROM attributed
WHERE from_actor IS NOT NULL OR to_actor IS NOT NULL
   OR tx_hash IN (SELECT tx_hash FROM incident_tx)
   OR (from_address, to_address) IN (SELECT (victim, attacker) FROM incident_parties);

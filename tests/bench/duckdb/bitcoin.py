"""DuckDB's side of tests/bench/bitcoin.sh: the input resolution, proportional flows and per-actor
yearly totals of a synthetic Bitcoin export (the folder `ifr synth --bitcoin-txs` wrote), within
4 GB and 2 threads. Usage: python bitcoin.py DATASET_DIR OUT_CSV"""
import csv, os, sys
import duckdb
d, out = sys.argv[1], sys.argv[2]
# The Bitcoin labels of the TagPack the generator wrote (its simple layout: one key per line).
labels, cur = [], {}
for line in open(os.path.join(d, "labels.yaml")):
    line = line.strip()
    if line.startswith("- address:"):
        cur = {"address": line.split(":", 1)[1].strip().strip("'")}
        labels.append(cur)
    elif ":" in line and cur is not None:
        k, v = line.split(":", 1)
        cur[k.strip()] = v.strip().strip("'")
with open(os.path.join(out + ".labels.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["address", "actor"])
    for l in labels:
        if l.get("currency") == "BTC":
            w.writerow([l["address"], l["actor"]])
# A database file beside the dataset, not an in-memory one: DuckDB compresses a file database's
# tables (an in-memory database's temporary tables spilled over 50 GB at 100M outputs and ran out
# of disk). Removed at the end.
db = os.path.join(os.path.dirname(os.path.abspath(d)), "duckdb.db")
for stale in (db, db + ".wal"):
    if os.path.exists(stale):
        os.remove(stale)
con = duckdb.connect(db)
con.execute("SET memory_limit = '4GB'; SET threads = 2; SET preserve_insertion_order = false")
# What does not fit spills beside the dataset (not into the working folder).
con.execute(f"SET temp_directory = '{os.path.join(os.path.dirname(os.path.abspath(d)), 'duckdb.tmp')}'")
txs = os.path.join(d, "bitcoin", "transactions", "*", "*", "*.json*")  # .json or .json.gz
cols = """{hash: 'VARCHAR', block_timestamp: 'BIGINT', is_coinbase: 'BOOLEAN',
  inputs: 'STRUCT(spent_transaction_hash VARCHAR, spent_output_index BIGINT)[]',
  outputs: 'STRUCT("index" BIGINT, addresses VARCHAR[], "value" BIGINT)[]'}"""
con.execute(f"""
CREATE TABLE outs AS
SELECT t.hash AS tx, o."index" AS vout, o.addresses[1] AS address, o."value" AS v, t.is_coinbase AS cb,
       t.block_timestamp AS ts
FROM read_json('{txs}', format = 'newline_delimited', columns = {cols}) t, unnest(t.outputs) AS u(o)""")
con.execute(f"""
CREATE TABLE ins AS
SELECT t.hash AS tx, i.spent_transaction_hash AS stx, i.spent_output_index AS svout
FROM read_json('{txs}', format = 'newline_delimited', columns = {cols}) t, unnest(t.inputs) AS u(i)""")
con.execute(f"""
CREATE TABLE flows AS
WITH senders AS (
  SELECT i.tx, o.address AS from_address, sum(o.v)::HUGEINT AS v
  FROM ins i JOIN outs o ON o.tx = i.stx AND o.vout = i.svout
  GROUP BY ALL),
totals AS (SELECT tx, sum(v) AS total_in FROM senders GROUP BY tx),
receivers AS (
  SELECT tx, address, sum(v)::HUGEINT AS w, any_value(ts) AS ts FROM outs
  WHERE NOT cb AND address IS NOT NULL GROUP BY ALL)
SELECT s.from_address, r.address AS to_address, (s.v * r.w // t.total_in)::BIGINT AS sat, r.ts
FROM senders s JOIN totals t USING (tx) JOIN receivers r USING (tx)
WHERE s.from_address IS NOT NULL AND s.v * r.w // t.total_in > 0""")
con.execute(f"""
COPY (
  WITH labels AS (SELECT * FROM read_csv('{out}.labels.csv', header = true)),
  prices AS (SELECT CAST(day AS DATE) AS day, close_usd FROM read_csv('{os.path.join(d, "prices.csv")}', header = true)
             WHERE asset = 'BTC'),
  valued AS (
    SELECT f.*, year(to_timestamp(f.ts)) AS year, f.sat / 1e8 * p.close_usd AS usd
    FROM flows f LEFT JOIN prices p ON p.day = CAST(to_timestamp(f.ts) AS DATE)),
  edges AS (
    SELECT v.year, lf.actor AS from_actor, lt.actor AS to_actor, v.usd
    FROM valued v LEFT JOIN labels lf ON lf.address = v.from_address LEFT JOIN labels lt ON lt.address = v.to_address)
  SELECT to_actor AS actor, year, 'inflow' AS metric, round(sum(usd), 2) AS value_usd, count(*) AS transfers
  FROM edges WHERE to_actor IS NOT NULL AND to_actor IS DISTINCT FROM from_actor GROUP BY ALL
  UNION ALL
  SELECT from_actor, year, 'outflow', round(sum(usd), 2), count(*)
  FROM edges WHERE from_actor IS NOT NULL AND from_actor IS DISTINCT FROM to_actor GROUP BY ALL
  ORDER BY ALL
) TO '{out}' (HEADER)""")
con.close()
for done in (db, db + ".wal"):
    if os.path.exists(done):
        os.remove(done)

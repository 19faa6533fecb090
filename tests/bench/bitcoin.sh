#!/usr/bin/env bash
# Benchmark (not a test): a synthetic Bitcoin year (bitcoin-etl JSON lines, inputs not enriched)
# ingested, input-resolved and reported by `ifr run`, against DuckDB doing the same input
# resolution (each input joined to the output it spends), the same proportional flows and the
# same aggregation (what each labelled actor received and sent on Bitcoin per year, in USD at the
# day's close). Both read the same files; the two results are compared before any time is printed.
# Usage: tests/bench/bitcoin.sh [bitcoin transactions] [workdir] [gzip]  (the dataset is generated
# once and cached; `gzip` writes it as .json.gz, which both read, for sizes whose plain JSON would
# not fit the disk; DuckDB is installed from PyPI into target/bench-venv, like tests/bench/run)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-1000000}
work=${2:-/tmp/ifr-bench-bitcoin-$n}
gzip=()
if [ "${3:-}" = gzip ]; then gzip=(--bitcoin-gzip); fi
cargo build --release --locked --quiet
ifr=$PWD/target/release/ifr
venv=target/bench-venv
if ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'duckdb==1.4.2'
fi
if [ ! -f "$work/data/ifr.toml" ]; then
  /usr/bin/time -f "synth: %e s wall, %M KB peak RSS" \
    "$ifr" synth --out "$work/data" --transfers 20000 --bitcoin-txs "$n" --from 2022-01-01 --to 2022-12-31 --force "${gzip[@]}"
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%Y-%m-%d);" \
  "$n background Bitcoin transactions; $(du -sh "$work/data/bitcoin" | cut -f1) of JSON lines${gzip:+ (gzip)}"
t() { /usr/bin/time -f "$1: %e s wall, %M KB peak RSS" "${@:2}"; }

# ifr: a fresh lake, every source (the Ethereum side is 20,000 transfers), the whole report.
rm -rf "$work/data/lake" "$work/data/report"
(cd "$work/data" && t "ifr run (ingest, resolve, report)" "$ifr" run --quiet)
(cd "$work/data" && "$ifr" sql "SELECT count(*) AS outputs FROM utxo_outputs" -f csv)
# The comparison reads only the report: the lake goes, to leave DuckDB the disk (at 100M outputs
# the lake is 14 GB).
rm -rf "$work/data/lake"

# DuckDB: the same resolution, flows and totals, within the same 4 GiB and 2 threads, in a
# database file beside the dataset.
rm -rf "$work/duck.csv" "$work/duckdb.tmp" "$work/duckdb.db" "$work/duckdb.db.wal"
t "duckdb (resolve, flows, totals)" "$venv/bin/python" tests/bench/duckdb/bitcoin.py "$work/data" "$work/duck.csv"

# The same numbers: DuckDB's totals of the exchanges and the bridge (actors without parents, so
# that actor hierarchies play no part) equal the report's bitcoin rows of actor_chain_totals.
python3 - "$work/duck.csv" "$work/data/report/2022/tables/actor_chain_totals.csv" <<'PY'
import csv, sys
duck = {(r["actor"], r["metric"]): (float(r["value_usd"]), int(r["transfers"])) for r in csv.DictReader(open(sys.argv[1]))}
ours = {(r["actor"], r["metric"]): (float(r["value_usd"] or 0), int(r["transfers"]))
        for r in csv.DictReader(open(sys.argv[2])) if r["chain"] == "bitcoin" and r["metric"] in ("inflow", "outflow")}
checked = 0
for k, (v, n) in sorted(duck.items()):
    if k[0] in ("binance", "coinbase", "kraken", "okx", "htx", "thorchain"):
        o = ours.get(k)
        assert o is not None and o[1] == n and abs(o[0] - v) <= 0.01 + 1e-9 * abs(v), f"{k}: ifr {o} vs duckdb {(v, n)}"
        checked += 1
print(f"ifr and DuckDB agree on {checked} exchange and bridge totals on Bitcoin (value and transfer count)")
PY

#!/usr/bin/env python3
"""The DuckDB side of ifr's year-scale benchmark, and the check that it agrees with ifr.

    compare.py duckdb  SYNTH_DIR ATTRIBUTION_DIR OUT_DIR   run tests/bench/duckdb/*.sql on the
                                                           synth files, write the two tables as CSV
    compare.py check   DUCKDB_OUT_DIR IFR_REPORT_DIR       compare them with ifr's report tables
    compare.py scan    SYNTH_DIR                           one plain scan of the chain columns

SYNTH_DIR is what `ifr synth` wrote (cryo chain/, assets.csv, prices.csv, incidents.csv);
ATTRIBUTION_DIR holds address_actors.csv and actor_ancestors.csv from `ifr sql -f csv`.
Values are compared exactly, in cents as ifr's report prints them (from integer micro-dollars).
Needs the `duckdb` module (PyPI); it is a dependency of this harness only, not of ifr.
"""

import csv
import glob
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SQL_DIR = os.path.join(HERE, "duckdb")
WINDOW_DAYS = 3  # ifr's default [report] incident-window-days
TABLES = {
    "actor_year_totals": (["actor", "year", "metric"], ["value_usd", "transfers", "unpriced_transfers"]),
    "actor_destinations": (["actor", "year", "category"], ["value_usd", "transfers"]),
}


def sql_quote(s):
    return "'" + str(s).replace("'", "''") + "'"


def sql_list(paths):
    if not paths:
        raise SystemExit("no input files found for the DuckDB benchmark")
    return "[" + ", ".join(sql_quote(p) for p in paths) + "]"


def usd_from_micro(micro):
    """Cents as ifr's report prints them (reports/src/tables.rs usd_from_micro)."""
    micro = int(micro)
    cents = (abs(micro) + 5000) // 10000
    return "%s%d.%02d" % ("-" if micro < 0 else "", cents // 100, cents % 100)


def chain_files(synth, dataset):
    return sorted(glob.glob(os.path.join(synth, "chain", "*__%s__*.parquet" % dataset)))


def placeholders(synth, attribution):
    return {
        "chain_blocks": sql_list(chain_files(synth, "blocks")),
        "chain_native": sql_list(chain_files(synth, "native_transfers")),
        "chain_erc20": sql_list(chain_files(synth, "erc20_transfers")),
        "chain_name": sql_quote("ethereum"),
        "assets": sql_quote(os.path.join(synth, "assets.csv")),
        "prices": sql_quote(os.path.join(synth, "prices.csv")),
        "incidents": sql_quote(os.path.join(synth, "incidents.csv")),
        "address_actors": sql_quote(os.path.join(attribution, "address_actors.csv")),
        "actor_ancestors": sql_quote(os.path.join(attribution, "actor_ancestors.csv")),
        "window": str(WINDOW_DAYS),
    }


def fill(text, values):
    for k, v in values.items():
        text = text.replace("${%s}" % k, v)
    if "${" in text:
        raise SystemExit("unfilled placeholder in the DuckDB SQL: " + text[text.index("${"):][:40])
    return text


def run_duckdb(synth, attribution, out):
    import duckdb

    os.makedirs(out, exist_ok=True)
    con = duckdb.connect()
    # An in-memory DuckDB spills only with a temp directory; insertion order is not needed.
    con.execute("SET temp_directory = %s" % sql_quote(os.path.join(out, ".duckdb-tmp")))
    con.execute("SET preserve_insertion_order = false")
    values = placeholders(synth, attribution)
    started = time.monotonic()
    for path in sorted(glob.glob(os.path.join(SQL_DIR, "*.sql"))):
        with open(path) as f:
            con.execute(fill(f.read(), values))
    for table, (keys, _) in TABLES.items():
        rows = con.execute("SELECT * FROM %s ORDER BY %s" % (table, ", ".join(keys))).fetchall()
        cols = [d[0] for d in con.description]
        with open(os.path.join(out, table + ".csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(cols)
            w.writerows(rows)
    print("duckdb: %.2f s" % (time.monotonic() - started))


def read_duckdb(out, table):
    keys, values = TABLES[table]
    rows = {}
    with open(os.path.join(out, table + ".csv")) as f:
        for r in csv.DictReader(f):
            r["value_usd"] = usd_from_micro(r["value_micro_usd"])
            rows[tuple(r[k] for k in keys)] = tuple(r[v] for v in values)
    return rows


def read_ifr(report, table):
    keys, values = TABLES[table]
    rows = {}
    for path in sorted(glob.glob(os.path.join(report, "*", "tables", table + ".csv"))):
        with open(path) as f:
            for r in csv.DictReader(f):
                rows[tuple(r[k] for k in keys)] = tuple(r[v] for v in values)
    return rows


def check(out, report):
    bad = 0
    for table, (keys, values) in TABLES.items():
        d, i = read_duckdb(out, table), read_ifr(report, table)
        if not i:
            print("%s: ifr's report has no rows (looked in %s/*/tables/)" % (table, report))
            bad += 1
        for k in sorted(set(d) | set(i)):
            if d.get(k) != i.get(k):
                bad += 1
                if bad <= 20:
                    print("%s %s: duckdb %s, ifr %s (%s)" % (table, "/".join(k), d.get(k), i.get(k), ", ".join(values)))
        print("%s: %d rows from DuckDB, %d from ifr" % (table, len(d), len(i)))
    if bad:
        print("MISMATCH: %d row(s) differ between DuckDB and ifr" % bad)
        return 1
    print("DuckDB and ifr agree on every row")
    return 0


def scan(synth):
    """One plain scan: read and decode every column the pipeline needs from the chain files."""
    import duckdb

    con = duckdb.connect()
    q = """SELECT count(*), sum(octet_length(transaction_hash)), sum(octet_length(from_address)), sum(octet_length(to_address)),
                  sum(length(value_string)), sum(block_number), sum(transaction_index), sum(%s) FROM read_parquet(%s)"""
    started = time.monotonic()
    n = 0
    n += con.execute(q % ("transfer_index", sql_list(chain_files(synth, "native_transfers")))).fetchone()[0]
    n += con.execute(q % ("log_index + octet_length(erc20)", sql_list(chain_files(synth, "erc20_transfers")))).fetchone()[0]
    con.execute("SELECT sum(block_number), sum(timestamp) FROM read_parquet(%s)" % sql_list(chain_files(synth, "blocks"))).fetchone()
    print("scan: %d transfers in %.2f s" % (n, time.monotonic() - started))


def main(argv):
    if len(argv) >= 2 and argv[1] == "duckdb" and len(argv) == 5:
        run_duckdb(argv[2], argv[3], argv[4])
        return 0
    if len(argv) >= 2 and argv[1] == "check" and len(argv) == 4:
        return check(argv[2], argv[3])
    if len(argv) >= 2 and argv[1] == "scan" and len(argv) == 3:
        scan(argv[2])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

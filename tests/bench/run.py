#!/usr/bin/env python3
"""ifr's year-scale benchmark: ifr against DuckDB on the same synthetic years (see tests/bench/run).

For each size: generate the year with `ifr synth` (cached), then, alternating, `ifr run` on a fresh
lake and the DuckDB SQL in tests/bench/duckdb/ on the same input files; check that both give the
same actor_year_totals and actor_destinations; time `ifr report` alone, tracing from 1,000 seeds,
one plain scan of the chain columns (DuckDB) and one sorted scan in the tracer's own code path (a
seed that never occurs). Prints a table of wall time, peak RSS and ratios, and appends it to
BENCHMARKS.md (unless --no-record).
"""

import argparse
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
IFR = os.path.join(ROOT, "target", "release", "ifr")
COMPARE = os.path.join(HERE, "compare.py")
TIME_FMT = "BENCH %e %M"
NEVER = "0x00000000000000000000000000000000000000ff"


def measured(cmd, expect_error=None):
    """Run cmd under /usr/bin/time; return (wall seconds, peak RSS MiB, stdout). With expect_error,
    the command must fail with that text in its message (the tracer's floor: a seed that never occurs)."""
    p = subprocess.run(["/usr/bin/time", "-f", TIME_FMT] + cmd, capture_output=True, text=True)
    m = re.search(r"^BENCH ([0-9.]+) ([0-9]+)$", p.stderr, re.M)
    ok = p.returncode == 0 if expect_error is None else (p.returncode != 0 and expect_error in p.stderr)
    if not ok or not m:
        sys.stderr.write(p.stdout[-4000:] + p.stderr[-4000:])
        raise SystemExit("benchmark step failed (exit %d): %s" % (p.returncode, " ".join(cmd[:6])))
    return float(m.group(1)), int(m.group(2)) / 1024.0, p.stdout


def synth(work, n, year):
    d = os.path.join(work, "synth-%d" % n)
    if os.path.exists(os.path.join(d, "ifr.toml")):
        print("synth %d: cached in %s" % (n, d))
        return d
    print("synth %d: generating into %s" % (n, d), flush=True)
    subprocess.run([IFR, "synth", "--out", d, "--transfers", str(n), "--from", "%d-01-01" % year, "--to", "%d-12-31" % year, "--force"], check=True)
    return d


def fresh(d):
    for sub in ("lake", "report"):
        shutil.rmtree(os.path.join(d, sub), ignore_errors=True)


def export_attribution(d, out):
    os.makedirs(out, exist_ok=True)
    for table, order in (("address_actors", "address, valid_from"), ("actor_ancestors", "actor, ancestor")):
        p = subprocess.run([IFR, "sql", "-f", "csv", "--config", os.path.join(d, "ifr.toml"), "SELECT * FROM %s ORDER BY %s" % (table, order)], capture_output=True, text=True, check=True)
        with open(os.path.join(out, table + ".csv"), "w") as f:
            f.write(p.stdout)


def seeds(d, k=1000):
    p = subprocess.run([IFR, "sql", "-f", "csv", "--config", os.path.join(d, "ifr.toml"), "SELECT DISTINCT from_address FROM transfers ORDER BY from_address LIMIT %d" % k], capture_output=True, text=True, check=True)
    return [line for line in p.stdout.splitlines()[1:] if line]


def bench_size(n, args, python):
    d = synth(args.work, n, args.year)
    cfg = ["--config", os.path.join(d, "ifr.toml")]
    duck_out = os.path.join(d, "duckdb-out")
    att = os.path.join(d, "attribution")
    rows = {}

    def record(name, wall, rss):
        rows.setdefault(name, []).append((wall, rss))
        print("  %-44s %9.2f s %9.0f MiB" % (name, wall, rss), flush=True)

    print("size %d transfers, %d rep(s), alternating ifr / DuckDB" % (n, args.reps), flush=True)
    for rep in range(args.reps):
        fresh(d)
        wall, rss, _ = measured([IFR, "run"] + cfg)
        record("ifr run (ingest + report, fresh lake)", wall, rss)
        if rep == 0:
            export_attribution(d, att)
        try:
            wall, rss, _ = measured([python, COMPARE, "duckdb", d, att, duck_out])
        except SystemExit as e:  # DuckDB itself failed (at 100M: out of memory): say so, go on
            print("  DuckDB failed: %s" % e, flush=True)
            wall, rss = float("nan"), float("nan")
        record("DuckDB (normalise, attribute, value, aggregate)", wall, rss)
    duck_failed = any(w != w for w, _ in rows["DuckDB (normalise, attribute, value, aggregate)"])
    ok = not duck_failed and subprocess.run([python, COMPARE, "check", duck_out, os.path.join(d, "report")]).returncode == 0
    wall, rss, _ = measured([IFR, "report"] + cfg)
    record("ifr report (lake already built)", wall, rss)
    wall, rss, _ = measured([python, COMPARE, "scan", d])
    record("plain scan of the chain columns (DuckDB)", wall, rss)
    # Reads and walks every month in the tracer's own code path with nothing tainted, then reports
    # that the seed never occurs: the floor for tracing.
    wall, rss, _ = measured([IFR, "trace", "--method", "haircut", "--address", NEVER] + cfg, expect_error="do not appear")
    record("sorted scan: tracer walk, no taint", wall, rss)
    addr = []
    for a in seeds(d):
        addr += ["--address", a]
    wall, rss, _ = measured([IFR, "trace", "--method", "haircut"] + addr + cfg)
    record("trace, 1,000 seeds, haircut", wall, rss)
    return {k: (statistics.median(w for w, _ in v), max(r for _, r in v)) for k, v in rows.items()}, (ok, duck_failed)


def table(results):
    out = []
    out.append("| transfers | step | wall | peak RSS | ratio |")
    out.append("|---|---|---|---|---|")
    for n, (r, (ok, duck_failed)) in results.items():
        run = r["ifr run (ingest + report, fresh lake)"][0]
        duck = r["DuckDB (normalise, attribute, value, aggregate)"][0]
        scan = r["plain scan of the chain columns (DuckDB)"][0]
        sorted_scan = r["sorted scan: tracer walk, no taint"][0]
        ratios = {
            "ifr run (ingest + report, fresh lake)": "%.2f× DuckDB, %.1f× scan" % (run / duck, run / scan),
            "ifr report (lake already built)": "%.2f× DuckDB" % (r["ifr report (lake already built)"][0] / duck),
            "DuckDB (normalise, attribute, value, aggregate)": "FAILED (see the output above)" if duck_failed else "%.1f× scan; results %s" % (duck / scan, "equal ifr's" if ok else "DIFFER from ifr's"),
            "trace, 1,000 seeds, haircut": "%.2f× sorted scan" % (r["trace, 1,000 seeds, haircut"][0] / sorted_scan),
        }
        for name, (wall, rss) in r.items():
            out.append("| %s | %s | %.2f s | %.0f MiB | %s |" % (format(n, ","), name, wall, rss, ratios.get(name, "")))
    sizes = sorted(results)
    if len(sizes) >= 2:
        a, b = sizes[0], sizes[-1]
        ra = results[a][0]["ifr run (ingest + report, fresh lake)"][0]
        rb = results[b][0]["ifr run (ingest + report, fresh lake)"][0]
        out.append("")
        out.append("Growth of `ifr run` from %s to %s transfers: %.2f× the time for %.0f× the data (linear = %.0f×)." % (format(a, ","), format(b, ","), rb / ra, b / a, b / a))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000000,100000000", help="comma-separated transfer counts")
    ap.add_argument("--reps", type=int, default=1, help="alternating ifr/DuckDB repetitions per size (median)")
    ap.add_argument("--year", type=int, default=2022)
    ap.add_argument("--work", default=os.environ.get("IFR_BENCH_DIR", os.path.join(ROOT, "target", "bench")))
    ap.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    args = ap.parse_args()
    python = sys.executable
    os.makedirs(args.work, exist_ok=True)
    results = {}
    for n in [int(s) for s in args.sizes.split(",") if s]:
        results[n] = bench_size(n, args, python)
    import duckdb

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    head = "### %s — `tests/bench/run` (%d cores, %.0f GiB, %s; ifr release build, DuckDB %s)" % (
        datetime.date.today().isoformat(), os.cpu_count(), mem, platform.machine(), duckdb.__version__)
    text = head + "\n\n" + table(results) + "\n"
    print()
    print(text)
    if not args.no_record:
        with open(os.path.join(ROOT, "BENCHMARKS.md"), "a") as f:
            f.write("\n" + text)
    # A DuckDB failure is reported, not an error of ifr's; a difference in results is.
    return 0 if all(ok or failed for _, (ok, failed) in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Benchmark (not a test): `ifr refresh` on a synthetic year exported day by day (one cryo chunk of
# 7,200 blocks per day and dataset): a full build over every day, a refresh that adds the last day
# to a lake holding the others, and a refresh with nothing new.
# Usage: tests/bench/refresh.sh [transfers] [workdir]  (the dataset is generated once and cached)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-10000000}
work=${2:-/tmp/ifr-bench-refresh-$n}
cargo build --release --locked --quiet
ifr=$PWD/target/release/ifr
if [ ! -f "$work/data/ifr.toml" ]; then
  "$ifr" synth --out "$work/data" --transfers "$n" --from 2022-01-01 --to 2022-12-31 --chunk-blocks 7200 --force
fi
# The chunks of the last day (every dataset's file with the highest start block).
last=$(ls "$work/data/chain" | sed -E 's/.*__([0-9]+)_to_.*/\1/' | sort -n | tail -1)
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%Y-%m-%d); $n transfers;" \
  "$(ls "$work/data/chain" | wc -l) chunk files; last day starts at block $last"
t() { /usr/bin/time -f "$1: %e s wall, %M KB peak RSS" "${@:2}"; }

# A full build: every day, fresh lake and releases.
rm -rf "$work/full" && cp -a "$work/data" "$work/full" && rm -rf "$work/full/lake" "$work/full/releases"
(cd "$work/full" && t "full build (every day, fresh lake)" "$ifr" refresh --quiet)

# Every day but the last, then the last day added.
rm -rf "$work/inc" && cp -a "$work/data" "$work/inc" && rm -rf "$work/inc/lake" "$work/inc/releases"
mkdir -p "$work/held" && mv "$work/inc/chain/"*"__${last}_to_"* "$work/held/"
(cd "$work/inc" && "$ifr" refresh --quiet)
mv "$work/held/"* "$work/inc/chain/"
(cd "$work/inc" && t "one new day (refresh)" "$ifr" refresh 2> "$work/one-day.log" > /dev/null)
grep "^one new day (refresh)" "$work/one-day.log"
# Where the one new day's time went: its steps, longest first.
python3 - "$work/one-day.log" <<'PY'
import json, sys
steps = []
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("event") in ("step finished", "finished") and "seconds" in e:
        steps.append((e["seconds"], e.get("stage", ""), e.get("step", e.get("source", ""))))
for secs, stage, what in sorted(steps, reverse=True)[:12]:
    print(f"  {secs:7.3f} s  {stage}: {what}")
PY
(cd "$work/inc" && t "nothing new (refresh)" "$ifr" refresh --quiet)

# The ingest alone: one new day appended vs every day loaded.
rm -rf "$work/ing" && cp -a "$work/data" "$work/ing" && rm -rf "$work/ing/lake" "$work/ing/releases"
mv "$work/ing/chain/"*"__${last}_to_"* "$work/held/"
(cd "$work/ing" && "$ifr" ingest --quiet)
mv "$work/held/"* "$work/ing/chain/"
(cd "$work/ing" && t "one new day (ingest only)" "$ifr" ingest --quiet)
rm -rf "$work/ing/lake"
(cd "$work/ing" && t "every day (ingest only, fresh lake)" "$ifr" ingest --quiet)
# Both ways give the same release: the tables and figures of the last release.
diff -r "$work/full/releases/current/2022/tables" "$work/inc/releases/current/2022/tables" > /dev/null && \
  cmp -s "$work/full/releases/current/2022/figures.json" "$work/inc/releases/current/2022/figures.json" && \
  echo "the appended release equals the full build's (tables, figures.json)"

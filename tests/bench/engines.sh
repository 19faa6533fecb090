#!/usr/bin/env bash
# Benchmark (not a test): the report's queries on polars (in process), DataFusion (in process) and
# Apache Ballista with one and with two executors on this machine, over the same lake of a
# synthetic year, side by side. Each engine's `ifr report` is timed whole (wall, the client's peak
# RSS; for Ballista also the scheduler's and executors' peaks) and by its aggregation steps (the
# scans -- on DataFusion and Ballista with the setting up of the engine's folder and inputs -- then
# actor_flows and what follows: the "step finished" seconds of the JSON log).
# polars runs without its kept scan results (`_cache/` removed first), like the others.
# A run that fails (out of memory, say) or takes longer than $IFR_BENCH_TIMEOUT (default 3h) is a
# row that says so, and the others still run; only reports that were published are compared.
# $IFR_BENCH_ENGINES picks the engines after polars (which always runs: the others are compared
# with it): a list of datafusion, ballista-1 and ballista-2 (default: all three).
# Usage: tests/bench/engines.sh [transfers] [workdir]  (release build with --features ballista)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-10000000}
work=${2:-/tmp/ifr-bench-$n}
limit=${IFR_BENCH_TIMEOUT:-3h}
engines=${IFR_BENCH_ENGINES:-datafusion ballista-1 ballista-2}
cargo build --release --locked --quiet --features ballista
ifr=$PWD/target/release/ifr
if [ ! -f "$work/ifr.toml" ]; then
  "$ifr" synth --out "$work" --transfers "$n" --from 2022-01-01 --to 2022-12-31 --force
fi
cd "$work"
"$ifr" ingest > /dev/null 2>&1
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%Y-%m-%d); $n transfers"

peak_kb() { awk '/VmHWM/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run NAME ARGS...: one timed `ifr report` into out-NAME, its aggregation steps from the log.
run() {
  local name=$1; shift
  rm -rf lake/_cache "out-$name"
  if ! /usr/bin/time -f "%e %M" -o "time-$name" timeout "$limit" "$ifr" report --out "out-$name" "$@" 2> "log-$name" > /dev/null; then
    # A failed, killed (out of memory) or timed-out run publishes nothing: the row says so.
    printf '| %s | failed: %s (see %s/log-%s) | - | - | - |' "$name" "$(head -1 "time-$name")" "$work" "$name"
    return
  fi
  local scans flows
  scans=$(grep '"step finished"' "log-$name" | grep '"step":"scanning the transfers' | sed 's/.*"seconds":\([0-9.]*\).*/\1/' | awk '{s += $1} END {print s + 0}')
  flows=$(grep '"step finished"' "log-$name" | grep -m1 '"step":"aggregating actor_flows' | sed 's/.*"seconds":\([0-9.]*\).*/\1/')
  read -r wall kb < "time-$name"
  printf '| %s | %.1f | %.1f | %.1f | %d |' "$name" "$scans" "$flows" "$wall" $((kb / 1024))
}

echo "| engine | scans (s) | actor_flows and after (s) | ifr report (s) | client peak RSS (MiB) | cluster peak RSS (MiB) |"
echo "|---|---|---|---|---|---|"
# same NAME: out-NAME holds the files out-polars holds, byte for byte (manifest.json aside: it names
# the folder; and the folder's lock file). Only published reports are compared.
differ=0
same() {
  [ -f "out-$1/index.html" ] && [ -f out-polars/index.html ] || return 0
  cmp -s <(cd out-polars && find . -type f ! -name manifest.json ! -name '.ifr-*' -exec sha256sum {} + | sort) \
         <(cd "out-$1" && find . -type f ! -name manifest.json ! -name '.ifr-*' -exec sha256sum {} + | sort) \
    || { echo "$1's report differs from polars'" >&2; differ=1; }
}
echo "$(run polars --engine polars) - |"
if [[ " $engines " == *" datafusion "* ]]; then
  echo "$(run datafusion --engine datafusion) - |"
  same datafusion
fi
for executors in 1 2; do
  [[ " $engines " == *" ballista-$executors "* ]] || continue
  sp=$(port)
  "$ifr" cluster scheduler --bind "127.0.0.1:$sp" > /dev/null 2>&1 &
  pids=($!)
  for i in $(seq "$executors"); do
    ep=$(port)
    mkdir -p "work-$i"
    "$ifr" cluster executor --scheduler "127.0.0.1:$sp" --bind "127.0.0.1:$ep" --work-dir "work-$i" > /dev/null 2>&1 &
    pids+=($!)
  done
  sleep 3
  line=$(run "ballista-$executors" --engine ballista --ballista-url "df://127.0.0.1:$sp")
  cluster=0
  for p in "${pids[@]}"; do cluster=$((cluster + $(peak_kb "$p"))); done
  kill "${pids[@]}" 2> /dev/null || true
  wait 2> /dev/null || true
  echo "$line $((cluster / 1024)) |" | sed "s/| ballista-$executors |/| ballista, $executors executor(s) |/"
  same "ballista-$executors"
  rm -rf work-*
done
[ "$differ" = 0 ] || exit 1
echo "every published report is byte-identical to polars' (manifest.json aside: it names the folder; and the folder's lock file)"

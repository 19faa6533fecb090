#!/usr/bin/env bash
# Benchmark (not a test): tracing a synthetic year against one sorted scan of the same columns.
# Usage: tests/bench/trace.sh [transfers] [workdir]  (the dataset is generated once and cached)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-10000000}
work=${2:-/tmp/ifr-bench-$n}
cargo build --release --locked --quiet
ifr=$PWD/target/release/ifr
if [ ! -f "$work/ifr.toml" ]; then
  "$ifr" synth --out "$work" --transfers "$n" --from 2022-01-01 --to 2022-12-31 --force
fi
cd "$work"
"$ifr" ingest > /dev/null
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%Y-%m-%d); $n transfers"
/usr/bin/time -f "sorted scan (floor): %e s wall, %M KB peak RSS" "$ifr" sql \
  "SELECT count(*) AS n, max(from_address) AS f, max(to_address) AS t, max(amount_raw) AS a FROM (SELECT block_number, tx_index, log_index, trace_address, block_time, tx_hash, from_address, to_address, asset, amount_raw FROM transfers ORDER BY block_number, tx_index, log_index, trace_address)" > /dev/null
for m in haircut fifo poison; do
  /usr/bin/time -f "trace ronin-2022, $m: %e s wall, %M KB peak RSS" "$ifr" trace --incident ronin-2022 --method $m > /dev/null
done
/usr/bin/time -f "trace ronin-2022, all three methods in one pass: %e s wall, %M KB peak RSS" "$ifr" trace --incident ronin-2022 > /dev/null

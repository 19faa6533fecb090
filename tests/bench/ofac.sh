#!/usr/bin/env bash
# Benchmark (not a test): `ifr ingest` of the real OFAC SDN_ADVANCED XML (99 MB XML, 2.7 MB bz2)
# with a release build, 5 runs, wall time and peak RSS of each; `bzcat` alone as the floor.
# Usage: tests/bench/ofac.sh [path/to/shared/data]
set -euo pipefail
cd "$(dirname "$0")/../.."
data=$(realpath "${1:-../shared/data}")
xml="$data/sanctions/ofac/sdn_advanced_2024-05-28.xml.bz2"
[ -f "$xml" ] || { echo "no $xml: pass the shared data folder" >&2; exit 1; }
cargo build --release --locked --quiet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/ifr.toml" <<TOML
[[sources]]
name = "ofac"
kind = "sanctions"
format = "ofac-xml"
path = "$xml"
TOML
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%Y-%m-%d)"
for i in 1 2 3 4 5; do
  rm -rf "$tmp/lake"
  /usr/bin/time -f "ifr ingest (ofac-xml): %e s wall, %M KB peak RSS" target/release/ifr ingest --config "$tmp/ifr.toml" > /dev/null
done
for i in 1 2 3; do
  /usr/bin/time -f "bzcat alone: %e s wall, %M KB peak RSS" bzcat "$xml" > /dev/null
done

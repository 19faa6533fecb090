#!/usr/bin/env bash
# Benchmark (not a test): peak memory of `ifr ingest` on ethereum-etl token_transfers split into
# 10 vs 100 files of the same total rows — chain loaders stream, so memory must not grow with the
# file count. Usage: tests/bench/chain_files.sh [total_rows]
set -euo pipefail
cd "$(dirname "$0")/../.."
rows=${1:-1000000}
cargo build --release --locked --quiet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%Y-%m-%d); $rows token transfers"
for files in 10 100; do
  dir="$tmp/etl-$files"
  mkdir -p "$dir"
  python3 - "$dir" "$files" "$rows" <<'PY'
import sys, random
d, files, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(7)
per = rows // files
t0 = 1640995200  # 2022-01-01
with open(f"{d}/blocks.csv", "w") as b:
    b.write("number,hash,timestamp\n")
    for n in range(rows // 100 + 1):
        b.write(f"{n},0x{n:064x},{t0 + n * 12 * 100}\n")
tok = [f"0x{random.getrandbits(160):040x}" for _ in range(50)]
addr = [f"0x{random.getrandbits(160):040x}" for _ in range(100000)]
i = 0
for f in range(files):
    with open(f"{d}/token_transfers_{f:04d}.csv", "w") as o:
        o.write("token_address,from_address,to_address,value,transaction_hash,log_index,block_number\n")
        for _ in range(per):
            o.write(f"{random.choice(tok)},{random.choice(addr)},{random.choice(addr)},{random.getrandbits(70)},0x{i:064x},{i % 7},{i // 100}\n")
            i += 1
PY
  cat > "$tmp/ifr-$files.toml" <<TOML
lake = "lake-$files"
[[sources]]
name = "etl"
kind = "chain"
format = "ethereum-etl"
chain = "ethereum"
path = "etl-$files"
TOML
  /usr/bin/time -f "$files files: %e s wall, %M KB peak RSS" target/release/ifr ingest --config "$tmp/ifr-$files.toml" > /dev/null
done

#!/usr/bin/env bash
# End-to-end ingestion benchmark: generate SCALE (1 ≈ one million transactions), then
# time `bankpipe ingest` on it and report wall time, rows per second and peak RSS.
#
#   cargo build --release --bin bankpipe
#   benches/ingest_e2e.sh 1        # scale 1
#   benches/ingest_e2e.sh 10       # scale 10
set -euo pipefail
scale=${1:-1}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${BANKPIPE_BIN:-${CARGO_TARGET_DIR:-$here/target}/release/bankpipe}
work=${BENCH_DIR:-/var/tmp/bankpipe-bench}/scale-$scale
rm -rf "$work"
mkdir -p "$work"

"$bin" generate --out "$work/raw" --scale "$scale" --seed 42 --defects 0.001 --end-date 2026-11-24 >/dev/null
echo "input: $(du -sh "$work/raw" | cut -f1) of raw extracts"
/usr/bin/time -v "$bin" ingest --raw "$work/raw" --data "$work" >"$work/ingest.txt" 2>"$work/time.txt"
cat "$work/ingest.txt"
rows=$(awk '$1 == "total" { print $2 }' "$work/ingest.txt")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$work/time.txt")
rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.txt")
echo "scale $scale: $rows rows in ${wall} s = $(awk -v r="$rows" -v w="$wall" 'BEGIN { printf "%.0f", r / w }') rows/s, peak RSS $((rss_kb / 1024)) MiB"

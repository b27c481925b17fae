#!/usr/bin/env bash
# End-to-end benchmark: generate SCALE (1 ≈ one million transactions), then time a
# `bankpipe` command on it and report wall time, rows per second and peak RSS.
#
#   cargo build --release --bin bankpipe
#   benches/e2e.sh 1             # ingest only, scale 1
#   benches/e2e.sh 10 run        # the whole job (ingest + star schema + marts), scale 10
#
# The generated folder is kept between calls of the same scale (BENCH_DIR, default
# /var/tmp/bankpipe-bench/scale-N); the lake under it is rebuilt each time.
set -euo pipefail
scale=${1:-1}
command=${2:-ingest}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${BANKPIPE_BIN:-${CARGO_TARGET_DIR:-$here/target}/release/bankpipe}
work=${BENCH_DIR:-/var/tmp/bankpipe-bench}/scale-$scale
mkdir -p "$work"
if [ ! -f "$work/raw/_generator/expected.json" ]; then
  rm -rf "$work/raw"
  "$bin" generate --out "$work/raw" --scale "$scale" --seed 42 --defects 0.001 --end-date 2026-11-24 >/dev/null
fi
rm -rf "$work/processed" "$work/quarantine" "$work/transformed"
echo "input: $(du -sh --exclude=_generator "$work/raw" | cut -f1) of raw extracts"
case "$command" in
  ingest) args=(ingest) ;;
  run) args=(run --as-of 2026-11-24 --force) ;;
  *) echo "unknown command $command (ingest or run)" >&2; exit 2 ;;
esac
BANKPIPE_HASH_KEY=bench /usr/bin/time -v "$bin" "${args[@]}" --raw "$work/raw" --data "$work" \
  >"$work/$command.txt" 2>"$work/time.txt"
cat "$work/$command.txt"
rows=$(awk '$1 == "total" { print $2 }' "$work/$command.txt")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$work/time.txt")
rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.txt")
echo "scale $scale, $command: $rows raw rows in ${wall} s = $(awk -v r="$rows" -v w="$wall" 'BEGIN { printf "%.0f", r / w }') rows/s, peak RSS $((rss_kb / 1024)) MiB"

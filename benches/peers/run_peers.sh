#!/usr/bin/env bash
# Runs the DuckDB and Polars peers of bankpipe's job on SCALE_DIR/raw, each under
# /usr/bin/time -v, and prints each one's wall time and peak RSS.
#
#   benches/peers/run_peers.sh SCALE_DIR
#
# Outputs go to $OUT (default SCALE_DIR/peers)/{duckdb,polars}, replaced on each run;
# each job's log (its per-table row counts) and time report sit next to them.
# Environment: PEER_PYTHON (default /var/tmp/peer-venv/bin/python), AS_OF (default
# 2026-11-24), BANKPIPE_HASH_KEY (default "bench"), THREADS (default: every core).
set -euo pipefail

scale_dir=${1:?usage: run_peers.sh SCALE_DIR}
here=$(cd "$(dirname "$0")" && pwd)
python=${PEER_PYTHON:-/var/tmp/peer-venv/bin/python}
as_of=${AS_OF:-2026-11-24}
hash_key=${BANKPIPE_HASH_KEY:-bench}
threads=${THREADS:-$(nproc)}
out=${OUT:-$scale_dir/peers}
raw=$scale_dir/raw

[ -d "$raw" ] || { echo "no raw folder at $raw" >&2; exit 1; }
mkdir -p "$out"
"$python" -c 'import duckdb, polars; print(f"duckdb {duckdb.__version__}, polars {polars.__version__}")'
echo "input: $raw ($(du -shL --exclude=_generator "$raw" | cut -f1)), threads: $threads, as-of: $as_of"

summary=()
for peer in duckdb polars; do
    rm -rf "${out:?}/$peer"
    log=$out/$peer.log
    report=$out/$peer.time
    echo "== $peer"
    POLARS_MAX_THREADS=$threads /usr/bin/time -v -o "$report" \
        "$python" "$here/${peer}_job.py" --raw "$raw" --out "$out/$peer" \
        --as-of "$as_of" --hash-key "$hash_key" --threads "$threads" | tee "$log"
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$report")
    rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$report")
    summary+=("$peer: wall $wall, peak RSS $((rss_kb / 1024)) MiB")
done
echo "== summary"
printf '%s\n' "${summary[@]}"

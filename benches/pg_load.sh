#!/usr/bin/env bash
# PostgreSQL load throughput of fact_transactions, side by side on the same server in
# the same run: `bankpipe load-postgres` (binary COPY streamed from the Delta tables,
# keys and indexes in place) against `psql \copy` of the same rows from CSV into the
# same table (truncated, same keys and indexes).
#
#   cargo build --release --bin bankpipe
#   benches/pg_load.sh 1         # scale 1 ≈ one million transactions
#
# The warehouse comes from benches/e2e.sh's folder (BENCH_DIR, default
# /var/tmp/bankpipe-bench/scale-N); when it has none, `benches/e2e.sh N run` builds it.
# PostgreSQL is DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test); the load
# goes into a fresh schema bench_pg_<pid>, dropped at the end.
set -euo pipefail
scale=${1:-1}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${BANKPIPE_BIN:-${CARGO_TARGET_DIR:-$here/target}/release/bankpipe}
work=${BENCH_DIR:-/var/tmp/bankpipe-bench}/scale-$scale
url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
schema=bench_pg_$$
csv=$work/pg_load_fact_transactions.csv

if [ ! -x "$bin" ]; then
  echo "no bankpipe binary at $bin: cargo build --release --bin bankpipe (or set BANKPIPE_BIN)" >&2
  exit 2
fi
if [ ! -d "$work/transformed/fact_transactions/_delta_log" ]; then
  echo "no warehouse under $work: building it with benches/e2e.sh $scale run"
  BANKPIPE_BIN=$bin "$here/benches/e2e.sh" "$scale" run
fi

pg() { psql -X -q -v ON_ERROR_STOP=1 "$url" "$@"; }
cleanup() {
  pg -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -f "$csv"
}
trap cleanup EXIT
now() { date +%s.%N; }

echo "server: $(pg -At -c 'SHOW server_version'), schema $schema"
"$bin" load-postgres --data "$work" --database-url "$url" --schema "$schema" | tee "$work/pg_load.txt"
read -r rows copy_s < <(awk '$1 == "fact_transactions" { print $2, $3 }' "$work/pg_load.txt")

# The same rows as CSV, then back into the same table, emptied: its primary key, foreign
# keys (immediate, as in the load) and indexes stay. CASCADE empties fact_fraudes too,
# which refers to it.
pg -c "\\copy (SELECT * FROM $schema.fact_transactions) TO '$csv' WITH (FORMAT csv)"
pg -c "SET client_min_messages = warning; TRUNCATE $schema.fact_transactions CASCADE"
start=$(now)
pg -c "\\copy $schema.fact_transactions FROM '$csv' WITH (FORMAT csv)"
end=$(now)
csv_s=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
csv_rows=$(pg -At -c "SELECT count(*) FROM $schema.fact_transactions")
if [ "$csv_rows" != "$rows" ]; then
  echo "\\copy loaded $csv_rows rows where load-postgres loaded $rows" >&2
  exit 1
fi

rate() { awk -v r="$1" -v s="$2" 'BEGIN { printf "%.0f", r / s }'; }
copy_rate=$(rate "$rows" "$copy_s")
csv_rate=$(rate "$rows" "$csv_s")
echo
echo "scale $scale, fact_transactions, $rows rows ($(du -h "$csv" | cut -f1) as CSV), keys and indexes in place:"
printf '  %-52s %8.3f s  %9s rows/s\n' "bankpipe load-postgres (binary COPY from Delta)" "$copy_s" "$copy_rate"
printf '  %-52s %8.3f s  %9s rows/s\n' "psql \\copy FROM csv" "$csv_s" "$csv_rate"
echo "  ratio: $(awk -v a="$copy_rate" -v b="$csv_rate" 'BEGIN { printf "%.2f", a / b }')× \\copy"

"""bankpipe's job written with the Polars lazy API: a peer for benchmarking.

Raw CSV / JSON Lines extracts in; out, as Parquet files under `--out`:
`processed/<entity>.parquet`, `quarantine/<entity>.parquet`, `transformed/<table>.parquet`
and `transformed/marts/<mart>.parquet`. The job is bankpipe's (see README.md): the
same contract (`contract.py`), the same rule precedence, the same star schema and
marts as bankpipe's `transformation` crate, as Polars expressions. Every table is a
lazy plan sunk to Parquet (the streaming engine where Polars has it) and scanned
back by the tables built after it, as bankpipe reads its Delta tables back.

Decimals stay exact (Polars Decimal) except where bankpipe itself computes in
floating point (loan amortisation, fraud thresholds, loan portfolio ratios). Polars
multiplies decimals at the larger of the two scales (0.01 × 0.0001 = 0.0000 at scale
4) and divides at the dividend's scale, so every product and quotient first widens to
Decimal(38, 10); Polars rounds decimals half to even by default, so every rounding
asks for half away from zero, as DataFusion and DuckDB do.

Ingestion gaps, compared with bankpipe (also in README.md):
- Each CSV file is scanned twice: once as lines (for the raw text, the field count
  and invalid UTF-8) and once by Polars' CSV reader with `truncate_ragged_lines`
  (for the fields); the two are matched row by row, which assumes one physical line
  per record: a file with line breaks inside quoted fields stops the job ("zip node
  received non-equal length inputs"). A record's fields are counted on its line with
  quoted sections removed; a quote left over is broken quoting.
- Invalid UTF-8 is read with `utf8-lossy`: a field holding U+FFFD is `invalid_encoding`
  (a genuine U+FFFD in the data would be flagged too).
- JSON Lines are validated and read with `str.json_path_match` (one JSON parse per
  field); a line that does not parse as a JSON object is `malformed_record`. Extra
  keys are not carried into the processed layer (CSV extra columns are).
- `client_ref` needs SHA-256, which Polars lacks: it is computed with Python's
  hashlib over the clients (one call per batch).
"""

import argparse
import csv
import datetime as dt
import glob
import hashlib
import os
import shutil
import sys
import time
from decimal import Decimal

import polars as pl

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from contract import (  # noqa: E402
    BY_NAME, COUNTRIES, CURRENCIES, ENTITIES, FRAUD, FRAUD_RULES, REVENUE, RULES, UNKNOWN_ID, UNKNOWN_KEY,
    reason,
)

UTC = "UTC"
TS = pl.Datetime("us", UTC)
MONEY = pl.Decimal(18, 2)
WIDE = pl.Decimal(38, 10)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
TIMESTAMP_RE = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
                r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?)?$")
QUOTED_RE = r'"(?:[^"]|"")*"'
SEPARATOR = "\x1f"  # no CSV line holds it: reading with it gives one field per line
ENGINE = "streaming"


def half_up(expr, places):
    """`expr` rounded half away from zero to `places` digits (bankpipe's rounding)."""
    return expr.round(places, mode="half_away_from_zero")


def cents(numerator, denominator):
    """numerator / denominator (decimals) rounded to cents, as DataFusion does it: at
    scale 10, then half away from zero to 2 places."""
    return half_up(numerator.cast(WIDE) / denominator, 2).cast(MONEY)


def date_key(expr):
    """The yyyymmdd integer key of a date or timestamp expression."""
    return (expr.dt.year() * 10000 + expr.dt.month().cast(pl.Int32) * 100
            + expr.dt.day().cast(pl.Int32)).cast(pl.Int32)


def month_end_key(expr):
    """The key of the last day of the month of a date or timestamp expression."""
    return date_key(expr.dt.month_end())


def days_between(start, end):
    """Whole days from the date expression `start` to the date expression `end`."""
    return (end - start).dt.total_days().cast(pl.Int32)


def balance(principal, annual_rate, term, paid):
    """The annuity balance after `paid` installments of `term` (facts.rs `balance`),
    in floating point as bankpipe, rounded to cents."""
    r = annual_rate.cast(pl.Float64) / 12
    k = pl.min_horizontal(paid, term).cast(pl.Float64)
    n = term.cast(pl.Float64)
    p = principal.cast(pl.Float64)
    value = (pl.when(r == 0).then(p * (1 - k / n))
             .otherwise(p * ((1 + r).pow(n) - (1 + r).pow(k)) / ((1 + r).pow(n) - 1)))
    return half_up(value, 2).cast(MONEY)


def write(frame, path):
    """Sinks a lazy frame (or writes a data frame) to the Parquet file `path` and
    returns it scanned back, as later tables read it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(frame, pl.DataFrame):
        frame.write_parquet(path, compression="snappy")
    else:
        frame.sink_parquet(path, compression="snappy", engine=ENGINE)
    return pl.scan_parquet(path)


# ---------------------------------------------------------------------------------------
# Ingestion
# ---------------------------------------------------------------------------------------

def csv_header(path):
    """The header names of the CSV file `path` (BOM and spaces stripped)."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        names = next(csv.reader(f), [])
    return [n.lstrip("\ufeff").strip() for n in names]


def scan_lines(path, skip):
    """The physical lines of `path` after `skip` lines, as `_raw` (invalid UTF-8 as U+FFFD)."""
    return pl.scan_csv(path, has_header=False, skip_lines=skip, separator=SEPARATOR,
                       quote_char=None, schema={"_raw": pl.String}, encoding="utf8-lossy")


def is_record(jsonl):
    """Whether a line of `scan_lines` holds a record: blank lines do not (a CSV line of
    spaces does: it is a record of one field)."""
    if jsonl:
        return pl.col("_raw").str.strip_chars().str.len_chars() > 0
    return pl.col("_raw").is_not_null()


def read_csv_file(path, names, contract_names):
    """One CSV file as text: line, raw text, the contract columns and extras, and the
    read-level failure (malformed_record, invalid_encoding) of each record."""
    fields = pl.scan_csv(path, has_header=True, schema={n: pl.String for n in names},
                         truncate_ragged_lines=True, encoding="utf8-lossy")
    frame = pl.concat([scan_lines(path, 1).with_row_index("_i"), fields], how="horizontal")
    raw = pl.col("_raw")
    unquoted = raw.str.replace_all(QUOTED_RE, "")
    n_fields = (pl.when(unquoted.str.contains('"', literal=True)).then(-1)
                .otherwise(unquoted.str.count_matches(",", literal=True) + 1))
    bad_column = pl.coalesce([pl.when(pl.col(n).str.contains("\ufffd", literal=True)).then(pl.lit(n))
                              for n in names])
    return frame.filter(is_record(jsonl=False)).select(
        pl.lit(path).alias("_file"),
        (pl.col("_i") + 2).cast(pl.Int64).alias("_line"),
        raw,
        *[(pl.col(n) if n in names else pl.lit(None, pl.String)).alias(n) for n in contract_names],
        *[pl.col(n).alias("x_" + n) for n in names if n not in contract_names],
        pl.when(n_fields != len(names)).then(pl.lit("malformed_record"))
        .when(raw.str.contains("\ufffd", literal=True)).then(pl.lit("invalid_encoding"))
        .alias("_read_rule"),
        pl.when(n_fields == len(names)).then(bad_column).alias("_read_column"),
    )


def read_jsonl_file(path, contract_names):
    """One JSON Lines file as text: like read_csv_file, fields by JSON path."""
    raw = pl.col("_raw")
    is_object = raw.str.json_path_match("$").is_not_null() & raw.str.strip_chars().str.starts_with("{")
    return (scan_lines(path, 0).with_row_index("_i")
            .filter(is_record(jsonl=True))
            .select(
                pl.lit(path).alias("_file"),
                (pl.col("_i") + 1).cast(pl.Int64).alias("_line"),
                raw,
                *[raw.str.json_path_match(f"$['{n}']").alias(n) for n in contract_names],
                pl.when(~is_object).then(pl.lit("malformed_record"))
                .when(raw.str.contains("\ufffd", literal=True)).then(pl.lit("invalid_encoding"))
                .alias("_read_rule"),
                pl.lit(None, pl.String).alias("_read_column"),
            ))


def clean(name):
    """The trimmed text of column `name`, null when empty."""
    text = pl.col(name).str.strip_chars(" \t\r\n")
    return pl.when(text.str.len_bytes() > 0).then(text)


def typed(column, v):
    """The typed value of the cleaned text `v` of `column` (null when it does not parse)."""
    kind = column.kind
    if kind == "code":
        return v.str.to_lowercase()
    if kind in ("country", "currency"):
        return v.str.to_uppercase()
    if kind == "date":
        return pl.when(v.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")).then(
            v.str.to_date("%Y-%m-%d", strict=False))
    if kind == "timestamp":
        t = v.str.replace(" ", "T", literal=True)
        return pl.when(v.str.contains(TIMESTAMP_RE)).then(pl.coalesce(
            t.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%#z", strict=False, time_unit="us", time_zone=UTC),
            t.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us").dt.replace_time_zone(UTC),
            t.str.to_datetime("%Y-%m-%dT%H:%M", strict=False, time_unit="us").dt.replace_time_zone(UTC),
            v.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")).dt.replace_time_zone(UTC),
        ))
    if kind == "decimal":
        s = column.scale
        shape = v.str.contains(f"^[+-]?([0-9]+(\\.[0-9]{{0,{s}}})?|\\.[0-9]{{1,{s}}})$")
        digits = v.str.extract(r"^[+-]?([0-9]*)", 1).str.strip_chars_start("0").str.len_chars()
        return pl.when(shape & (digits + s <= 18)).then(
            v.str.to_decimal(scale=s).cast(pl.Decimal(18, s)))
    if kind == "int":
        return pl.when(v.str.contains(r"^[+-]?[0-9]+$")).then(v.cast(pl.Int32, strict=False))
    if kind == "bool":
        lower = v.str.to_lowercase()
        return (pl.when(lower.is_in(["true", "1", "yes"])).then(True)
                .when(lower.is_in(["false", "0", "no"])).then(False))
    return v


def iban_ok(v):
    """Whether the text `v` is an IBAN with a valid ISO 13616 mod-97 checksum (vectorised:
    letters become 10–35, the digits are left-padded with zeros to 70, which keeps the
    remainder, and the remainder is carried over ten 7-digit chunks)."""
    s = v.str.replace_all(" ", "", literal=True).str.to_uppercase()
    letters = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    digits = (s.str.slice(4) + s.str.slice(0, 4)).str.replace_many(
        letters, [str(i + 10) for i in range(26)]).str.pad_start(70, "0")
    remainder = pl.lit(0, pl.Int64)
    for start in range(0, 70, 7):
        remainder = (remainder * 10_000_000 + digits.str.slice(start, 7).cast(pl.Int64, strict=False)) % 97
    return s.str.contains(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$") & (remainder == 1)


def column_checks(column, v, t):
    """The (rule, condition) pairs of `column`'s own rules over cleaned text `v`, typed `t`."""
    checks = []
    if column.required:
        checks.append(("missing_required", v.is_null()))
    if column.kind in ("date", "timestamp", "decimal", "int", "bool"):
        checks.append(("unparseable", v.is_not_null() & t.is_null()))
    check = column.check
    if check == "positive":
        checks.append(("out_of_range", t <= 0))
    elif check == "non_negative":
        checks.append(("out_of_range", t < 0))
    elif isinstance(check, tuple):
        checks.append(("out_of_range", ~t.is_between(check[1], check[2])))
    codes = {"code": column.codes, "country": COUNTRIES, "currency": CURRENCIES}.get(column.kind)
    if codes:
        checks.append(("unknown_code", v.is_not_null() & ~t.is_in(list(codes))))
    if check == "four_digits":
        checks.append(("unknown_code", v.is_not_null() & ~v.str.contains(r"^[0-9]{4}$")))
    if check == "iban":
        checks.append(("invalid_iban", v.is_not_null() & ~iban_ok(v)))
    return checks


def failure(entity):
    """The index of the first (rule, column, reason) a row breaks, or null, and the list
    it indexes. Rules in the contract's order; within a rule the columns in contract
    order, then the row rules (one_of, date order)."""
    by_rule = {rule: [] for rule in RULES}
    for i, column in enumerate(entity.columns):
        for rule, condition in column_checks(column, pl.col(f"v{i}"), pl.col(f"t{i}")):
            by_rule[rule].append((condition, column.name, reason(rule, column.name)))
    index = {c.name: i for i, c in enumerate(entity.columns)}
    if entity.one_of:
        missing = pl.all_horizontal([pl.col(f"v{index[n]}").is_null() for n in entity.one_of])
        by_rule["missing_required"].append((missing, None, reason("one_of", ", ".join(entity.one_of))))
    for earlier, later, strict in entity.date_order:
        a, b = pl.col(f"t{index[earlier]}"), pl.col(f"t{index[later]}")
        by_rule["date_order"].append(((b <= a) if strict else (b < a), later, reason("date_order", later)))
    arms = [arm for rule in RULES for arm in by_rule[rule]]
    expr = pl
    for n, (condition, _, _) in enumerate(arms):
        expr = expr.when(condition.fill_null(False)).then(pl.lit(n, pl.Int32))
    return expr.otherwise(pl.lit(None, pl.Int32)), [(r, c, w) for r in RULES for _, c, w in by_rule[r]]


def ingest(entity, raw_dir, out, run_id):
    """Types and validates `entity`'s files; writes `processed/<entity>.parquet` and
    `quarantine/<entity>.parquet`; returns (rows read, accepted, quarantined)."""
    files = sorted(glob.glob(os.path.join(raw_dir, entity.pattern)))
    names = [c.name for c in entity.columns]
    if entity.is_jsonl:
        parts = [read_jsonl_file(path, names) for path in files]
        extras = []
    else:
        headers = [csv_header(path) for path in files]
        extras = list(dict.fromkeys(n for h in headers for n in h if n not in names))
        parts = [read_csv_file(path, header, names).with_columns(
            [pl.lit(None, pl.String).alias("x_" + x) for x in extras if x not in header])
            for path, header in zip(files, headers)]
    if not parts:
        return write_empty(entity, out)
    text = pl.concat(parts, how="diagonal").with_row_index("_ord")
    fail, arms = failure(entity)
    frame = (text
             .with_columns([clean(n).alias(f"v{i}") for i, n in enumerate(names)])
             .with_columns([typed(c, pl.col(f"v{i}")).alias(f"t{i}") for i, c in enumerate(entity.columns)])
             .with_columns(pl.when(pl.col("_read_rule").is_null()).then(fail).alias("_fail")))
    passing = pl.col("_read_rule").is_null() & pl.col("_fail").is_null()
    keys = [f"t{names.index(k)}" for k in entity.key]
    frame = frame.with_columns(
        (passing & (pl.col("_ord") != pl.col("_ord").min().over([*keys, passing.alias("_p")])))
        .alias("_duplicate"))
    orphans = []
    for j, (column, parent) in enumerate(entity.references):
        ref = f"t{names.index(column)}"
        parent_keys = (pl.scan_parquet(os.path.join(out, "processed", f"{parent}.parquet"))
                       .select(pl.col(BY_NAME[parent].key[0]).alias(ref), pl.lit(True).alias(f"_has{j}")))
        frame = frame.join(parent_keys, on=ref, how="left", maintain_order="left")
        orphans.append(pl.when(pl.col(ref).is_not_null() & pl.col(f"_has{j}").is_null()).then(pl.lit(column)))
    orphan = pl.coalesce(orphans) if orphans else pl.lit(None, pl.String)
    frame = frame.with_columns(pl.when(passing & ~pl.col("_duplicate")).then(orphan).alias("_orphan"))
    frame = frame.with_columns((passing & ~pl.col("_duplicate") & pl.col("_orphan").is_null()).alias("_ok"))
    processed = frame.filter(pl.col("_ok")).select(
        *[pl.col(f"t{i}").alias(n) for i, n in enumerate(names)],
        *[pl.col("x_" + x).alias(x) for x in extras],
        pl.col("_file").alias("_source_file"), pl.col("_line").alias("_source_line"))
    rule_of = pl.col("_fail").replace_strict(list(range(len(arms))), [a[0] for a in arms], return_dtype=pl.String)
    column_of = pl.col("_fail").replace_strict(list(range(len(arms))), [a[1] for a in arms], return_dtype=pl.String)
    reason_of = pl.col("_fail").replace_strict(list(range(len(arms))), [a[2] for a in arms], return_dtype=pl.String)
    duplicate_reason = reason("duplicate", ", ".join(entity.key))
    quarantine = frame.filter(~pl.col("_ok")).select(
        pl.lit(entity.name).alias("entity"),
        pl.col("_file").alias("source_file"),
        pl.col("_line").alias("line"),
        pl.col("_raw").alias("raw"),
        pl.coalesce(pl.col("_read_rule"), rule_of,
                    pl.when(pl.col("_duplicate")).then(pl.lit("duplicate")),
                    pl.when(pl.col("_orphan").is_not_null()).then(pl.lit("orphan_reference"))).alias("rule_id"),
        pl.when(pl.col("_read_rule").is_not_null()).then(pl.col("_read_column"))
        .when(pl.col("_fail").is_not_null()).then(column_of)
        .when(pl.col("_duplicate")).then(pl.lit(entity.key[0]))
        .otherwise(pl.col("_orphan")).alias("column"),
        pl.when(pl.col("_read_rule") == "malformed_record").then(pl.lit(reason("malformed_record", None)))
        .when(pl.col("_read_rule") == "invalid_encoding").then(pl.lit("a field is not valid UTF-8 text"))
        .when(pl.col("_fail").is_not_null()).then(reason_of)
        .when(pl.col("_duplicate")).then(pl.lit(duplicate_reason))
        .otherwise(pl.concat_str(pl.col("_orphan"), pl.lit(" is not a known parent row"))).alias("reason"),
        pl.lit(run_id).alias("run_id"),
    )
    processed_path = os.path.join(out, "processed", f"{entity.name}.parquet")
    quarantine_path = os.path.join(out, "quarantine", f"{entity.name}.parquet")
    os.makedirs(os.path.dirname(processed_path), exist_ok=True)
    os.makedirs(os.path.dirname(quarantine_path), exist_ok=True)
    pl.collect_all([processed.sink_parquet(processed_path, compression="snappy", lazy=True),
                    quarantine.sink_parquet(quarantine_path, compression="snappy", lazy=True)],
                   engine=ENGINE)
    read = sum(scan_lines(path, 0 if entity.is_jsonl else 1).filter(is_record(entity.is_jsonl)).select(pl.len())
               .collect(engine=ENGINE).item() for path in files)
    accepted = pl.scan_parquet(processed_path).select(pl.len()).collect().item()
    quarantined = pl.scan_parquet(quarantine_path).select(pl.len()).collect().item()
    return read, accepted, quarantined


def write_empty(entity, out):
    """Writes the empty processed and quarantine tables of an entity without files."""
    types = {"date": pl.Date, "timestamp": TS, "int": pl.Int32, "bool": pl.Boolean}
    schema = {c.name: (pl.Decimal(18, c.scale) if c.kind == "decimal" else types.get(c.kind, pl.String))
              for c in entity.columns}
    write(pl.DataFrame(schema={**schema, "_source_file": pl.String, "_source_line": pl.Int64}),
          os.path.join(out, "processed", f"{entity.name}.parquet"))
    write(pl.DataFrame(schema={n: (pl.Int64 if n == "line" else pl.String) for n in
                               ["entity", "source_file", "line", "raw", "rule_id", "column", "reason", "run_id"]}),
          os.path.join(out, "quarantine", f"{entity.name}.parquet"))
    return 0, 0, 0


# ---------------------------------------------------------------------------------------
# Star schema (banking/mod.rs, banking/satisfaction.rs)
#
# Dimensions are built as on bankpipe's first run: type 1 rows valid from `as_of`,
# type 2 rows valid from the beginning of time with no end, so "the version valid at
# the event" is the one version of the business key, and facts join on it.
# ---------------------------------------------------------------------------------------

def with_unknown(dim, key, business_key):
    """`dim` with keys numbered 1.. in business-key order, and the unknown member -1."""
    numbered = dim.sort(business_key).with_row_index(key, offset=1).with_columns(pl.col(key).cast(pl.Int64))
    unknown = pl.DataFrame({key: [UNKNOWN_KEY], business_key: [UNKNOWN_ID], "valid_from": [EPOCH],
                            "is_current": [True]},
                           schema={key: pl.Int64, business_key: pl.String, "valid_from": TS,
                                   "is_current": pl.Boolean})
    columns = numbered.collect_schema().names()
    return pl.concat([numbered, unknown.lazy()], how="diagonal_relaxed").select(columns)


def history_columns(valid_from):
    """valid_from, valid_to and is_current of a dimension row built this run."""
    return [pl.lit(valid_from, TS).alias("valid_from"), pl.lit(None, TS).alias("valid_to"),
            pl.lit(True).alias("is_current")]


def sha256_hex(key):
    """A Polars batch function: hex SHA-256 of `key` + each value (Polars has no SHA-256)."""
    def digest(values):
        """Hashes one batch of client ids."""
        return pl.Series([hashlib.sha256((key + v).encode()).hexdigest() for v in values.to_list()],
                         dtype=pl.String)
    return digest


def dimensions(lake, as_of, hash_key):
    """dim_products, dim_clients, dim_accounts, dim_satisfaction as data frames."""
    as_of_ts = dt.datetime.combine(as_of, dt.time(), dt.timezone.utc)
    products = with_unknown(lake["products"].select(
        "product_id", "name", "category", "monthly_fee", "interest_rate", "currency", "active",
        *history_columns(as_of_ts)), "product_key", "product_id").collect()
    age = as_of.year - pl.col("birth_date").dt.year()
    band = (pl.when(age < 25).then(pl.lit("<25")).when(age < 35).then(pl.lit("25-34"))
            .when(age < 45).then(pl.lit("35-44")).when(age < 55).then(pl.lit("45-54"))
            .when(age < 65).then(pl.lit("55-64")).otherwise(pl.lit("65+")))
    clients = with_unknown(lake["clients"].select(
        "client_id",
        pl.col("client_id").map_batches(sha256_hex(hash_key), return_dtype=pl.String).alias("client_ref"),
        pl.col("birth_date").dt.year().cast(pl.Int32).alias("birth_year"), band.alias("age_band"),
        "gender", "city", "country", "segment", "kyc_risk", *history_columns(EPOCH)),
        "client_key", "client_id").collect()
    accounts = with_unknown(lake["accounts"].select(
        "account_id", "client_id", "product_id", "currency", "status", "branch_code", "opened_on",
        "closed_on", *history_columns(EPOCH)), "account_key", "account_id").collect()
    nps = pl.col("nps")
    satisfaction = with_unknown(
        lake["satisfaction"]
        .join(clients.lazy().select("client_id", "client_key"), on="client_id", how="left")
        .join(products.lazy().select("product_id", "product_key"), on="product_id", how="left")
        .select("survey_id",
                pl.col("client_key").fill_null(UNKNOWN_KEY), pl.col("product_key").fill_null(UNKNOWN_KEY),
                date_key(pl.col("answered_at")).alias("date_key"),
                pl.col("answered_at").dt.date().alias("answered_on"), "channel", "csat", "nps",
                pl.when(nps >= 9).then(pl.lit("promoter")).when(nps >= 7).then(pl.lit("passive"))
                .when(nps.is_not_null()).then(pl.lit("detractor")).alias("nps_category"),
                (pl.col("comment").str.strip_chars() != "").fill_null(False).alias("has_comment"),
                *history_columns(as_of_ts)),
        "satisfaction_key", "survey_id").collect()
    return {"dim_products": products, "dim_clients": clients, "dim_accounts": accounts,
            "dim_satisfaction": satisfaction}


# ---------------------------------------------------------------------------------------
# Report window and daily FX (orchestration transform.rs, fx.rs, dates.rs)
# ---------------------------------------------------------------------------------------

def report_window(transactions, as_of):
    """From the first transaction day (or `as_of`) to `as_of` or the last transaction
    day, whichever is later."""
    days = pl.concat([transactions.select(pl.col("booked_at").dt.date().alias("d")),
                      transactions.select(pl.col("value_date").alias("d"))])
    first, last = days.select(pl.col("d").min().alias("a"), pl.col("d").max().alias("b")).collect().row(0)
    return (min(first, as_of), max(last, as_of)) if first is not None else (as_of, as_of)


def report_months(window):
    """One row per calendar month of the window: month_start, month_end."""
    starts = pl.date_range(window[0].replace(day=1), window[1], "1mo", eager=True)
    return pl.DataFrame({"month_start": starts}).with_columns(
        pl.col("month_start").dt.month_end().alias("month_end"))


def daily_fx(lake, window):
    """`fx_daily`: each currency's rate on every day from its first rate to the window's
    last month end (a missing day takes the latest earlier rate), EUR = 1 from the
    earliest day a loan or payment is converted."""
    converted = pl.concat([lake["loans"].select(pl.col("start_date").alias("d")),
                           lake["payments"].select(pl.col("due_date").alias("d"))])
    earliest = converted.select(pl.col("d").min()).collect().item()
    earliest = min(earliest, window[0]) if earliest else window[0]
    last = pl.select(pl.lit(window[1]).dt.month_end()).item()
    rates = lake["fx_rates"].filter(pl.col("currency") != "EUR").select("date", "currency", "per_eur")
    days = (rates.group_by("currency").agg(pl.col("date").min().alias("first"))
            .select("currency", pl.date_ranges("first", pl.max_horizontal("first", pl.lit(last)))
                    .alias("date")).explode("date"))
    filled = (days.join(rates, on=["currency", "date"], how="left").sort("currency", "date")
              .with_columns(pl.col("per_eur").forward_fill().over("currency")))
    eur = pl.DataFrame({"date": pl.date_range(earliest, max(last, earliest), "1d", eager=True)}).with_columns(
        pl.lit("EUR").alias("currency"), pl.lit(Decimal("1"), pl.Decimal(18, 6)).alias("per_eur"))
    return pl.concat([filled.select("date", "currency", "per_eur").collect(), eur])


# ---------------------------------------------------------------------------------------
# Facts (banking/facts.rs, fraud.rs, revenue.rs)
# ---------------------------------------------------------------------------------------

def join_rate(frame, fx, currency, day):
    """`frame` with `per_eur` of `currency` (a column) on `day` (a date expression), from `fx_daily`."""
    rates = fx.lazy().select(pl.col("currency").alias("_fx_currency"), pl.col("date").alias("_fx_date"),
                             "per_eur")
    return (frame.with_columns(pl.col(currency).alias("_fx_currency"), day.alias("_fx_date"))
            .join(rates, on=["_fx_currency", "_fx_date"], how="left")
            .drop("_fx_currency", "_fx_date"))


def transactions_eur(lake, fx):
    """The processed transactions with `amount_eur` at the booking day's rate."""
    return (join_rate(lake["transactions"], fx, "currency", pl.col("booked_at").dt.date())
            .with_columns(cents(pl.col("amount"), pl.col("per_eur")).alias("amount_eur")).drop("per_eur"))


def account_keys(frame, dims, on="account_id"):
    """`frame` with account_key (or -1), and the account's client_id and product_id as `_a_*`."""
    accounts = dims["dim_accounts"].lazy().select(
        pl.col("account_id").alias(on), "account_key",
        pl.col("client_id").alias("_a_client_id"), pl.col("product_id").alias("_a_product_id"))
    return frame.join(accounts, on=on, how="left").with_columns(pl.col("account_key").fill_null(UNKNOWN_KEY))


def client_keys(frame, dims, on):
    """`frame` with client_key (or -1) and the client's country as `_c_country`."""
    clients = dims["dim_clients"].lazy().select(pl.col("client_id").alias(on), "client_key",
                                                pl.col("country").alias("_c_country"))
    return frame.join(clients, on=on, how="left").with_columns(pl.col("client_key").fill_null(UNKNOWN_KEY))


def product_keys(frame, dims, on):
    """`frame` with product_key (or -1)."""
    products = dims["dim_products"].lazy().select(pl.col("product_id").alias(on), "product_key")
    return frame.join(products, on=on, how="left").with_columns(pl.col("product_key").fill_null(UNKNOWN_KEY))


ALERT_COLUMNS = ["transaction_id", "account_id", "booked_at", "channel", "amount_eur", "rule_id"]


def fraud_alerts(te):
    """The six rules of fraud.rs over `transactions_eur`, as (ALERT_COLUMNS) rows."""
    la, ve, st = FRAUD["large_amount"], FRAUD["velocity"], FRAUD["structuring"]
    nc, dr, na = FRAUD["new_country"], FRAUD["dormant_reactivation"], FRAUD["night_atm"]
    account = "account_id"
    is_debit = pl.col("direction") == "debit"
    debit_amount = pl.when(is_debit).then(pl.col("amount_eur").cast(pl.Float64))
    prior_sum = debit_amount.fill_null(0.0).cum_sum().shift(1, fill_value=0.0).over(account)
    prior_n = debit_amount.is_not_null().cast(pl.Int64).cum_sum().shift(1, fill_value=0).over(account)
    history = te.sort(account, "booked_at", "transaction_id").with_columns(
        pl.when(prior_n > 0).then(prior_sum / prior_n).alias("prior_debit_mean"),
        is_debit.cast(pl.Int64).cum_sum().shift(1, fill_value=0).over(account).alias("prior_debits"),
        pl.col("booked_at").shift(1).over(account).alias("previous_at"),
        pl.col("booked_at").min().over(account).alias("first_at"),
    )
    amount = pl.col("amount_eur").cast(pl.Float64)
    day = pl.col("booked_at").dt.date()

    def tag(frame, rule):
        """The alert rows of `frame` under `rule`."""
        return frame.select(*ALERT_COLUMNS[:-1], pl.lit(rule).alias("rule_id"))

    large = history.filter(is_debit & (pl.col("prior_debits") >= la["min_prior_debits"])
                           & (amount >= la["min_factor"] * pl.col("prior_debit_mean")))
    window = f"{ve['window_seconds']}s"
    card = te.filter(pl.col("channel") == ve["channel"]).sort(account, "booked_at")
    trailing = (card.rolling(index_column="booked_at", period=window, closed="both", group_by=account)
                .agg(pl.len().alias("trailing")).unique([account, "booked_at"]).sort(account, "booked_at"))
    peak = (trailing.rolling(index_column="booked_at", period=window, offset="0s", closed="both", group_by=account)
            .agg(pl.col("trailing").max().alias("peak")).unique([account, "booked_at"]))
    velocity = card.join(peak, on=[account, "booked_at"]).filter(pl.col("peak") >= ve["min_count"])
    structuring = (te.filter((pl.col("direction") == "credit") & pl.col("channel").is_in(st["channels"])
                             & (amount >= st["lower_bound_eur"]) & (amount < st["threshold_eur"]))
                   .filter(pl.len().over(account, day) >= st["min_count"]))
    first_in_country = pl.col("booked_at").min().over(account, "country")
    new_country = history.with_columns(first_in_country.alias("first_in_country")).filter(
        (pl.col("channel") == nc["channel"]) & (pl.col("booked_at") == pl.col("first_in_country"))
        & (pl.col("booked_at") - pl.col("first_at") >= dt.timedelta(days=nc["min_history_days"])))
    dormant = history.filter(
        is_debit & pl.col("previous_at").is_not_null() & (pl.col("prior_debits") > 0)
        & (pl.col("booked_at") - pl.col("previous_at") >= dt.timedelta(days=dr["min_gap_days"]))
        & (amount >= dr["min_factor"] * pl.col("prior_debit_mean")))
    hour = pl.col("booked_at").dt.hour()
    night = (te.filter((pl.col("channel") == "atm") & is_debit & (hour >= na["from_hour_utc"])
                       & (hour < na["to_hour_utc"]))
             .filter(pl.len().over(account, day) >= na["min_count"]))
    return pl.concat([tag(large, "large_amount"), tag(velocity, "velocity"), tag(structuring, "structuring"),
                      tag(new_country, "new_country"), tag(dormant, "dormant_reactivation"),
                      tag(night, "night_atm")])


def fact_fraudes(te, lake, dims):
    """One alert per rule and transaction, scored, with the latest fraud report."""
    weight = pl.col("rule_id").replace_strict({r: FRAUD[r]["weight"] for r in FRAUD_RULES}, default=0)
    reports = (lake["fraud_reports"].group_by("transaction_id")
               .agg(pl.col("confirmed").sort_by(["reported_at", "confirmed"], descending=[True, True]).first()))
    alerts = fraud_alerts(te).with_columns(pl.len().over("transaction_id").alias("rules_fired"))
    alerts = client_keys(account_keys(alerts, dims), dims, "_a_client_id")
    return (alerts.join(reports, on="transaction_id", how="left")
            .select(pl.concat_str("transaction_id", pl.lit(":"), "rule_id").alias("alert_id"),
                    "transaction_id", date_key(pl.col("booked_at")).alias("date_key"),
                    "client_key", "account_key", "rule_id",
                    pl.min_horizontal(100, weight + FRAUD["multi_rule_bonus"] * (pl.col("rules_fired") - 1))
                    .cast(pl.Int32).alias("risk_score"),
                    "amount_eur", "channel", "confirmed", "booked_at"))


def fact_transactions(te, dims, alerts):
    """One row per processed transaction with keys, signed and EUR amounts."""
    suspicious = alerts.select("transaction_id").unique().with_columns(pl.lit(True).alias("is_suspicious"))
    frame = product_keys(client_keys(account_keys(te, dims), dims, "_a_client_id"), dims, "_a_product_id")
    return (frame.join(suspicious, on="transaction_id", how="left")
            .select("transaction_id", date_key(pl.col("booked_at")).alias("date_key"),
                    "account_key", "client_key", "product_key", "amount",
                    pl.when(pl.col("direction") == "debit").then(-pl.col("amount")).otherwise(pl.col("amount"))
                    .alias("signed_amount"),
                    "amount_eur", "currency", "direction", "channel", "status", "mcc", "country",
                    (pl.col("country") != pl.coalesce("_c_country", "country")).alias("is_international"),
                    pl.col("is_suspicious").fill_null(False), "booked_at", "value_date"))


def installments(lake):
    """The loan installments of `payments`, with the day they were paid."""
    return (lake["payments"].filter(pl.col("loan_id").is_not_null() & (pl.col("kind") == "installment"))
            .select("loan_id", "due_date", pl.col("paid_at").dt.date().alias("paid_on"), "amount"))


def fact_loans(lake, dims, fx, as_of):
    """Repaid amount, amortised outstanding principal, days past due at `as_of`."""
    paid_on, due = pl.col("paid_on"), pl.col("due_date")
    as_of_lit = pl.lit(as_of)
    paid = installments(lake).group_by("loan_id").agg(
        pl.col("amount").filter(paid_on.is_not_null()).sum().alias("amount_repaid"),
        paid_on.count().alias("paid_count"),
        pl.when(paid_on.is_not_null()).then(pl.max_horizontal(days_between(due, paid_on), 0))
        .when(due < as_of).then(days_between(due, as_of_lit)).otherwise(0).max().alias("max_days_past_due"),
        due.filter(paid_on.is_null() & (due < as_of)).min().alias("oldest_unpaid"))
    loans = (lake["loans"].join(paid, on="loan_id", how="left")
             .with_columns(pl.col("amount_repaid").fill_null(0).cast(MONEY), pl.col("paid_count").fill_null(0),
                           pl.col("max_days_past_due").fill_null(0).cast(pl.Int32),
                           days_between(pl.col("oldest_unpaid"), as_of_lit).fill_null(0).alias("days_past_due")))
    loans = product_keys(account_keys(client_keys(loans, dims, "client_id"), dims), dims, "product_id")
    loans = join_rate(loans, fx, "currency", as_of_lit)
    return loans.select(
        "loan_id", "client_key", "account_key", "product_key",
        date_key(pl.col("start_date")).alias("start_date_key"),
        date_key(pl.col("maturity_date")).alias("maturity_date_key"),
        "principal", cents(pl.col("principal"), pl.col("per_eur")).alias("principal_eur"),
        "currency", "annual_rate", "term_months", "status", "amount_repaid",
        pl.when(pl.col("status") == "repaid").then(pl.lit(Decimal("0"), MONEY))
        .otherwise(balance(pl.col("principal"), pl.col("annual_rate"), pl.col("term_months"), pl.col("paid_count")))
        .alias("outstanding_principal"),
        "days_past_due", "max_days_past_due",
        ((pl.col("days_past_due") > 90) | pl.col("status").is_in(["default", "written_off"]))
        .alias("is_non_performing"))


def loan_months(lake, months):
    """Each loan in each report month it runs in, with the outstanding principal at the
    month's start and end and the days past due at its end."""
    loans = lake["loans"]
    i = installments(lake)
    end, start = pl.col("month_end"), pl.col("month_start")
    states = (loans.select("loan_id", "start_date").join(months.lazy(), how="cross")
              .filter(pl.col("start_date") <= end)
              .join(i, on="loan_id", how="left")
              .group_by("loan_id", "month_start", "month_end").agg(
                  (pl.col("paid_on") <= end).sum().alias("paid_by_end"),
                  (pl.col("paid_on") < start).sum().alias("paid_by_start"),
                  pl.col("due_date").filter((pl.col("due_date") <= end)
                                            & (pl.col("paid_on").is_null() | (pl.col("paid_on") > end)))
                  .min().alias("oldest_unpaid")))
    return (states.join(loans, on="loan_id")
            .select("loan_id", "month_start", "month_end", "currency",
                    balance(pl.col("principal"), pl.col("annual_rate"), pl.col("term_months"),
                            pl.col("paid_by_start")).alias("outstanding_start"),
                    balance(pl.col("principal"), pl.col("annual_rate"), pl.col("term_months"),
                            pl.col("paid_by_end")).alias("outstanding_end"),
                    days_between(pl.col("oldest_unpaid"), end).fill_null(0).alias("days_past_due")))


def fact_payments(lake, dims, fx, as_of):
    """Keys at the due date, EUR amount at the due day's rate, days late at `as_of`."""
    frame = client_keys(account_keys(lake["payments"], dims), dims, "_a_client_id")
    frame = join_rate(frame, fx, "currency", pl.col("due_date"))
    paid_on, due = pl.col("paid_at").dt.date(), pl.col("due_date")
    return frame.select(
        "payment_id", "loan_id", "account_key", "client_key",
        date_key(due).alias("due_date_key"), date_key(pl.col("paid_at")).alias("paid_date_key"),
        "due_date", "paid_at", "amount", cents(pl.col("amount"), pl.col("per_eur")).alias("amount_eur"),
        "currency", "kind", "status",
        pl.when(pl.col("paid_at").is_not_null()).then(pl.max_horizontal(days_between(due, paid_on), 0))
        .when(due < as_of).then(days_between(due, pl.lit(as_of))).otherwise(0).cast(pl.Int32).alias("days_late"))


REVENUE_COLUMNS = ["date_key", "client_key", "account_key", "product_key", "revenue_type", "amount_eur"]


def fact_revenue(dims, fx, months, months_of_loans, loans, transactions, payments):
    """Account fees, interest income, FX fees and late fees (revenue.rs defaults)."""
    end, start = pl.col("month_end"), pl.col("month_start")
    products = dims["dim_products"].lazy().filter(pl.col("monthly_fee") > 0).select(
        "product_id", "product_key", "monthly_fee", pl.col("currency").alias("_p_currency"))
    fees = (dims["dim_accounts"].lazy().filter(pl.col("account_key") != UNKNOWN_KEY)
            .join(months.lazy(), how="cross")
            .filter((pl.col("opened_on") <= end) & (pl.col("closed_on").is_null() | (pl.col("closed_on") >= start)))
            .join(products, on="product_id"))
    fees = join_rate(client_keys(fees, dims, "client_id"), fx, "_p_currency", end).select(
        date_key(end).alias("date_key"), "client_key", "account_key", "product_key",
        pl.lit("account_fee").alias("revenue_type"),
        cents(pl.col("monthly_fee"), pl.col("per_eur")).alias("amount_eur"))
    interest = months_of_loans.join(
        loans.select("loan_id", "client_key", "account_key", "product_key", "annual_rate",
                     pl.col("currency").alias("_l_currency")), on="loan_id")
    interest = join_rate(interest, fx, "_l_currency", end).filter(
        (pl.col("outstanding_start") > 0) & (pl.col("annual_rate") > 0)).select(
        date_key(end).alias("date_key"), "client_key", "account_key", "product_key",
        pl.lit("interest_income").alias("revenue_type"),
        cents(pl.col("outstanding_start").cast(WIDE) * pl.col("annual_rate") / 12, pl.col("per_eur"))
        .alias("amount_eur"))
    account_currency = dims["dim_accounts"].lazy().select("account_key", pl.col("currency").alias("_a_currency"))
    fx_fee = (transactions.join(account_currency, on="account_key")
              .filter((pl.col("status") == "booked") & pl.col("channel").is_in(REVENUE["fx_fee_channels"])
                      & (pl.col("currency") != pl.col("_a_currency")))
              .group_by(month_end_key(pl.col("booked_at")).alias("date_key"), "client_key", "account_key",
                        "product_key")
              .agg(half_up(pl.col("amount_eur").sum().cast(WIDE) * pl.lit(Decimal(REVENUE["fx_fee_rate"])), 2)
                   .cast(MONEY).alias("amount_eur"))
              .select(*REVENUE_COLUMNS[:4], pl.lit("fx_fee").alias("revenue_type"), "amount_eur"))
    late = (payments.join(loans.select("loan_id", pl.col("product_key").alias("_l_product_key")),
                          on="loan_id", how="left")
            .filter((pl.col("kind") == "installment") & pl.col("status").is_in(["late", "missed"]))
            .group_by(month_end_key(pl.col("due_date")).alias("date_key"), "client_key", "account_key",
                      pl.col("_l_product_key").fill_null(UNKNOWN_KEY).alias("product_key"))
            .agg((pl.len().cast(pl.Int64) * int(REVENUE["late_fee_eur"])).cast(MONEY).alias("amount_eur"))
            .select(*REVENUE_COLUMNS[:4], pl.lit("late_fee").alias("revenue_type"), "amount_eur"))
    return pl.concat([fees, interest, fx_fee, late], how="vertical_relaxed")


def dim_dates(tables, window):
    """Every day from the earliest to the latest date key the facts and dimensions use,
    and over the report window."""
    keys = pl.concat([tables[t].select(pl.col(c).cast(pl.Int32).alias("k")) for t, c in [
        ("fact_transactions", "date_key"), ("fact_loans", "start_date_key"), ("fact_loans", "maturity_date_key"),
        ("fact_payments", "due_date_key"), ("fact_payments", "paid_date_key"), ("fact_revenue", "date_key"),
        ("dim_satisfaction", "date_key")]])
    first, last = keys.select(pl.col("k").min().alias("a"), pl.col("k").max().alias("b")).collect().row(0)
    if first is not None:
        def day(key):
            """The date of a yyyymmdd key."""
            return dt.date(key // 10000, key // 100 % 100, key % 100)
        window = (min(day(first), window[0]), max(day(last), window[1]))
    d = pl.col("date")
    return pl.DataFrame({"date": pl.date_range(window[0], window[1], "1d", eager=True)}).select(
        date_key(d).alias("date_key"), d, d.dt.year().cast(pl.Int32).alias("year"),
        d.dt.quarter().cast(pl.Int32).alias("quarter"), d.dt.month().cast(pl.Int32).alias("month"),
        d.dt.strftime("%B").alias("month_name"), d.dt.week().cast(pl.Int32).alias("iso_week"),
        d.dt.day().cast(pl.Int32).alias("day_of_month"), d.dt.weekday().cast(pl.Int32).alias("day_of_week"),
        (d.dt.weekday() >= 6).alias("is_weekend"), (d == d.dt.month_end()).alias("is_month_end"))


# ---------------------------------------------------------------------------------------
# Marts (aggregation.rs)
# ---------------------------------------------------------------------------------------

def mart_client_monthly(tables, dims):
    """Client × month: booked transactions, inflow, outflow, revenue, alerts (EUR)."""
    clients = dims["dim_clients"].lazy()
    by_key = clients.select("client_key", "client_id")
    none = pl.lit(None, MONEY)
    t = tables["fact_transactions"].filter(pl.col("status") == "booked").join(by_key, on="client_key").select(
        "client_id", month_end_key(pl.col("booked_at")).alias("month_key"), pl.lit(1).alias("transactions"),
        pl.when(pl.col("direction") == "credit").then(pl.col("amount_eur")).alias("inflow"),
        pl.when(pl.col("direction") == "debit").then(pl.col("amount_eur")).alias("outflow"),
        none.alias("revenue"), pl.lit(0).alias("alerts"))
    r = tables["fact_revenue"].join(by_key, on="client_key").select(
        "client_id", pl.col("date_key").alias("month_key"), pl.lit(0).alias("transactions"),
        none.alias("inflow"), none.alias("outflow"), pl.col("amount_eur").alias("revenue"), pl.lit(0).alias("alerts"))
    f = tables["fact_fraudes"].join(by_key, on="client_key").select(
        "client_id", month_end_key(pl.col("booked_at")).alias("month_key"), pl.lit(0).alias("transactions"),
        none.alias("inflow"), none.alias("outflow"), none.alias("revenue"), pl.lit(1).alias("alerts"))
    current = clients.filter(pl.col("is_current")).select("client_id", "client_key")
    return (pl.concat([t, r, f]).group_by("client_id", "month_key").agg(
        pl.col("transactions").sum().cast(pl.Int64).alias("transaction_count"),
        pl.col("inflow").sum().cast(MONEY).alias("inflow_eur"),
        pl.col("outflow").sum().cast(MONEY).alias("outflow_eur"),
        pl.col("revenue").sum().cast(MONEY).alias("revenue_eur"),
        pl.col("alerts").sum().cast(pl.Int64).alias("alerts"))
        .join(current, on="client_id")
        .select("client_key", "client_id", "month_key", "transaction_count", "inflow_eur", "outflow_eur",
                "revenue_eur", "alerts"))


def mart_product_performance(tables, dims, months):
    """Product × month: active accounts at the month's end, revenue, average CSAT, NPS."""
    products = dims["dim_products"].lazy()
    end = pl.col("month_end")
    none_money, none_int = pl.lit(None, MONEY), pl.lit(None, pl.Int32)
    active = (dims["dim_accounts"].lazy()
              .filter((pl.col("account_key") != UNKNOWN_KEY) & (pl.col("status") == "active"))
              .join(months.lazy(), how="cross")
              .filter((pl.col("opened_on") <= end) & (pl.col("closed_on").is_null() | (pl.col("closed_on") > end)))
              .select("product_id", date_key(end).alias("month_key"), pl.lit(1).alias("active"),
                      none_money.alias("revenue"), none_int.alias("csat"), none_int.alias("nps")))
    revenue = tables["fact_revenue"].join(products.select("product_key", "product_id"), on="product_key").select(
        "product_id", pl.col("date_key").alias("month_key"), pl.lit(0).alias("active"),
        pl.col("amount_eur").alias("revenue"), none_int.alias("csat"), none_int.alias("nps"))
    surveys = (dims["dim_satisfaction"].lazy().filter(pl.col("satisfaction_key") != UNKNOWN_KEY)
               .join(products.select("product_key", "product_id"), on="product_key")
               .select("product_id", month_end_key(pl.col("answered_on")).alias("month_key"),
                       pl.lit(0).alias("active"), none_money.alias("revenue"), "csat", "nps"))
    nps = pl.col("nps")
    answers = nps.count()
    score = 100.0 * ((nps >= 9).sum().cast(pl.Float64) - (nps <= 6).sum().cast(pl.Float64)) / answers
    return (pl.concat([active, revenue, surveys]).group_by("product_id", "month_key").agg(
        pl.col("active").sum().cast(pl.Int64).alias("active_accounts"),
        pl.col("revenue").sum().cast(MONEY).alias("revenue_eur"),
        half_up(pl.col("csat").cast(pl.Float64).mean(), 2).alias("avg_csat"),
        answers.cast(pl.Int64).alias("nps_answers"),
        pl.when(answers > 0).then(half_up(score, 1)).alias("nps"))
        .join(products.select("product_id", "product_key"), on="product_id")
        .select("product_key", "product_id", "month_key", "active_accounts", "revenue_eur", "avg_csat",
                "nps_answers", "nps"))


def mart_loan_portfolio(months_of_loans, fx):
    """Month: loans running, outstanding principal in EUR, PAR30, PAR90, non-performing ratio."""
    running = join_rate(months_of_loans, fx, "currency", pl.col("month_end")).filter(
        pl.col("outstanding_end") > 0).with_columns(
        (pl.col("outstanding_end").cast(pl.Float64) / pl.col("per_eur").cast(pl.Float64)).alias("eur"))
    eur, dpd = pl.col("eur"), pl.col("days_past_due")
    share = lambda days: half_up(pl.when(dpd > days).then(eur).otherwise(0.0).sum() / eur.sum(), 4)  # noqa: E731
    return running.group_by("month_end").agg(
        pl.len().cast(pl.Int64).alias("loans"),
        half_up(eur.sum(), 2).cast(MONEY).alias("outstanding_principal_eur"),
        share(30).alias("par30"), share(90).alias("par90"),
        half_up((dpd > 90).sum().cast(pl.Float64) / pl.len(), 4).alias("non_performing_ratio"),
    ).select(date_key(pl.col("month_end")).alias("month_key"), pl.exclude("month_end"))


def mart_fraud_daily(alerts):
    """Day × channel × rule: alerts, their EUR amount, reports, confirmed rate."""
    confirmed = pl.col("confirmed")
    return alerts.group_by("date_key", "channel", "rule_id").agg(
        pl.len().cast(pl.Int64).alias("alerts"),
        pl.col("amount_eur").sum().cast(MONEY).alias("amount_eur"),
        confirmed.count().cast(pl.Int64).alias("reported"),
        confirmed.sum().cast(pl.Int64).alias("confirmed"),
        pl.when(confirmed.count() > 0)
        .then(half_up(confirmed.sum().cast(pl.Float64) / confirmed.count(), 4)).alias("confirmed_rate"))


# ---------------------------------------------------------------------------------------
# The job
# ---------------------------------------------------------------------------------------

def transform(out, as_of, hash_key, counts):
    """Builds the star schema and the marts in bankpipe's order, writing each table."""
    lake = {e.name: pl.scan_parquet(os.path.join(out, "processed", f"{e.name}.parquet")) for e in ENTITIES}
    tables = {}

    def done(name, frame, folder="transformed"):
        """Writes a table, records its rows, and keeps it (scanned back) for later tables."""
        tables[name] = write(frame, os.path.join(out, folder, f"{name}.parquet"))
        counts[f"{folder}/{name}"] = tables[name].select(pl.len()).collect().item()

    dims = dimensions(lake, as_of, hash_key)
    for name, frame in dims.items():
        done(name, frame)
    window = report_window(lake["transactions"], as_of)
    months = report_months(window)
    fx = daily_fx(lake, window)
    # bankpipe's `transactions_eur` view, read by two tables: kept for them, then removed.
    work = os.path.join(out, ".work")
    te = write(transactions_eur(lake, fx), os.path.join(work, "transactions_eur.parquet"))
    done("fact_fraudes", fact_fraudes(te, lake, dims))
    done("fact_transactions", fact_transactions(te, dims, tables["fact_fraudes"]))
    shutil.rmtree(work)
    done("fact_loans", fact_loans(lake, dims, fx, as_of))
    months_of_loans = loan_months(lake, months).collect().lazy()
    done("fact_payments", fact_payments(lake, dims, fx, as_of))
    done("fact_revenue", fact_revenue(dims, fx, months, months_of_loans, tables["fact_loans"],
                                      tables["fact_transactions"], tables["fact_payments"]))
    done("dim_dates", dim_dates({**tables}, window))
    marts = "transformed/marts"
    done("mart_client_monthly", mart_client_monthly(tables, dims), marts)
    done("mart_product_performance", mart_product_performance(tables, dims, months), marts)
    done("mart_loan_portfolio", mart_loan_portfolio(months_of_loans, fx), marts)
    done("mart_fraud_daily", mart_fraud_daily(tables["fact_fraudes"]), marts)


def main():
    """Parses the arguments, runs the job, prints per-table row counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--as-of", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--hash-key", required=True)
    parser.add_argument("--threads", type=int, help="set POLARS_MAX_THREADS before Python starts instead")
    parser.add_argument("--memory-limit", help="not supported by Polars; accepted for a common command line")
    args = parser.parse_args()
    if args.threads and pl.thread_pool_size() != args.threads:
        print(f"note: Polars uses {pl.thread_pool_size()} threads; set POLARS_MAX_THREADS={args.threads}",
              file=sys.stderr)
    os.makedirs(args.out, exist_ok=True)
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-polars"
    counts = {}
    started = time.monotonic()
    for entity in ENTITIES:
        read, accepted, quarantined = ingest(entity, args.raw, args.out, run_id)
        if read != accepted + quarantined:
            sys.exit(f"{entity.name}: conservation fails: read {read} != "
                     f"{accepted} accepted + {quarantined} quarantined")
        print(f"{entity.name}: read {read}, accepted {accepted}, quarantined {quarantined}")
        counts[f"processed/{entity.name}"] = accepted
        counts[f"quarantine/{entity.name}"] = quarantined
    ingested = time.monotonic()
    transform(args.out, args.as_of, args.hash_key, counts)
    finished = time.monotonic()
    print(f"ingest {ingested - started:.2f} s, transform {finished - ingested:.2f} s")
    for table, rows in counts.items():
        print(f"{table}\t{rows}")


if __name__ == "__main__":
    main()

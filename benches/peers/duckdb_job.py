"""bankpipe's job written in DuckDB SQL: a peer for benchmarking.

Raw CSV / JSON Lines extracts in; out, as Parquet files under `--out`:
`processed/<entity>.parquet`, `quarantine/<entity>.parquet`, `transformed/<table>.parquet`
and `transformed/marts/<mart>.parquet`. The job is bankpipe's (see README.md): the
same contract (`contract.py`), the same rule precedence, and the star schema and marts
with the SQL of bankpipe's `transformation` crate, translated from DataFusion's dialect.

Ingestion gaps, compared with bankpipe (honest list, also in README.md):
- Malformed CSV records and invalid UTF-8 are found by DuckDB's CSV reader
  (`store_rejects`): a row with too few or too many fields or broken quoting is
  `malformed_record`, `INVALID ENCODING` is `invalid_encoding`. DuckDB decides what
  counts as broken quoting, not bankpipe's reader.
- The line number of an accepted CSV row is computed from its position among the
  accepted rows and the line numbers of the rejected ones: it assumes one physical
  line per record (no blank lines, no line breaks inside quoted fields).
- The raw text of a row quarantined after parsing is rebuilt from its fields
  (re-quoted), not the bytes as read; DuckDB reads `""` as NULL, so an empty quoted
  field comes back empty.
- JSON Lines: extra keys are not carried into the processed layer (CSV extra columns are).
- Processed rows are not kept in file order (a sort would cost more than it tells).
"""

import argparse
import csv
import datetime as dt
import glob
import os
import sys
import time

import duckdb

sys.dont_write_bytecode = True  # no __pycache__ next to the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from contract import (  # noqa: E402
    BY_NAME, COUNTRIES, CURRENCIES, ENTITIES, FRAUD, FRAUD_RULES, REVENUE, RULES, UNKNOWN_ID,
    UNKNOWN_KEY, reason,
)

TIMESTAMP_RE = (r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
                r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?)?")

MACROS = """
CREATE MACRO clean(x) AS NULLIF(trim(x, ' ' || chr(9) || chr(10) || chr(13)), '');
CREATE MACRO date_key(d) AS CAST(year(d) * 10000 + month(d) * 100 + day(d) AS INTEGER);
CREATE MACRO month_end_key(d) AS date_key(last_day(CAST(d AS DATE)));
CREATE MACRO csv_field(x) AS CASE WHEN x IS NULL THEN ''
    WHEN regexp_matches(x, '[,"\\r\\n]') THEN '"' || replace(x, '"', '""') || '"' ELSE x END;
CREATE MACRO iban_chars(s) AS list_transform(string_split(substr(s, 5) || substr(s, 1, 4), ''),
    lambda c: CASE WHEN c >= 'A' THEN ascii(c) - 55 ELSE ascii(c) - 48 END);
CREATE MACRO iban_ok(v) AS CASE
    WHEN regexp_full_match(upper(replace(v, ' ', '')), '[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}')
    THEN list_reduce(iban_chars(upper(replace(v, ' ', ''))),
                     lambda acc, x: (acc * CASE WHEN x >= 10 THEN 100 ELSE 10 END + x) % 97) = 1
    ELSE false END;
-- num / den rounded half away from zero to cents, exactly (DuckDB divides decimals
-- as DOUBLE): num has at most 10 digits after the point, den at most 6.
CREATE MACRO div_cents(num, den) AS CAST(CAST(
    sign(CAST(num * 10000000000 AS HUGEINT)) *
    ((2 * abs(CAST(num * 10000000000 AS HUGEINT)) + 100 * CAST(den * 1000000 AS HUGEINT))
     // (200 * CAST(den * 1000000 AS HUGEINT))) AS DECIMAL(18, 0)) * 0.01 AS DECIMAL(18, 2));
CREATE MACRO cents(x) AS CAST(round(x, 2) AS DECIMAL(18, 2));
CREATE MACRO balance(principal, annual_rate, term, paid) AS CAST(round(
    CASE WHEN CAST(annual_rate AS DOUBLE) / 12 = 0
         THEN CAST(principal AS DOUBLE) * (1 - CAST(least(paid, term) AS DOUBLE) / CAST(term AS DOUBLE))
         ELSE CAST(principal AS DOUBLE)
              * (power(1 + CAST(annual_rate AS DOUBLE) / 12, CAST(term AS DOUBLE))
                 - power(1 + CAST(annual_rate AS DOUBLE) / 12, CAST(least(paid, term) AS DOUBLE)))
              / (power(1 + CAST(annual_rate AS DOUBLE) / 12, CAST(term AS DOUBLE)) - 1) END, 2)
    AS DECIMAL(18, 2));
"""

EPOCH = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"


def q(name):
    """`name` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(text):
    """`text` as an SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def in_list(values):
    """An SQL list of string literals, for IN."""
    return "(" + ", ".join(lit(v) for v in values) + ")"


def valid_at(alias, at):
    """The join condition: the type 2 version `alias` was valid at `at` (sql.rs valid_at)."""
    return (f"{at} >= {alias}.valid_from AND ({alias}.valid_to IS NULL OR {at} < {alias}.valid_to)")


# ---------------------------------------------------------------------------------------
# Ingestion
# ---------------------------------------------------------------------------------------

def typed_sql(column, v):
    """The SQL typing the cleaned text `v` of `column` (NULL when it does not parse)."""
    kind = column.kind
    if kind == "code":
        return f"lower({v})"
    if kind in ("country", "currency"):
        return f"upper({v})"
    if kind == "date":
        return (f"CASE WHEN regexp_full_match({v}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') "
                f"THEN CAST(try_strptime({v}, '%Y-%m-%d') AS DATE) END")
    if kind == "timestamp":
        return (f"CASE WHEN regexp_full_match({v}, '{TIMESTAMP_RE}') "
                f"THEN try_cast({v} AS TIMESTAMPTZ) END")
    if kind == "decimal":
        s = column.scale
        pattern = f"[+-]?([0-9]+(\\.[0-9]{{0,{s}}})?|\\.[0-9]{{1,{s}}})"
        digits = f"length(ltrim(regexp_extract({v}, '^[+-]?([0-9]*)', 1), '0'))"
        return (f"CASE WHEN regexp_full_match({v}, '{pattern}') AND {digits} + {s} <= 18 "
                f"THEN CAST({v} AS DECIMAL(18, {s})) END")
    if kind == "int":
        return f"CASE WHEN regexp_full_match({v}, '[+-]?[0-9]+') THEN try_cast({v} AS INTEGER) END"
    if kind == "bool":
        return (f"CASE WHEN lower({v}) IN ('true', '1', 'yes') THEN true "
                f"WHEN lower({v}) IN ('false', '0', 'no') THEN false END")
    return v


def column_checks(column, v, t):
    """The (rule, condition) pairs of `column`'s own rules over cleaned text `v`, typed `t`."""
    checks = []
    if column.required:
        checks.append(("missing_required", f"{v} IS NULL"))
    if column.kind in ("date", "timestamp", "decimal", "int", "bool"):
        checks.append(("unparseable", f"{v} IS NOT NULL AND {t} IS NULL"))
    check = column.check
    if check == "positive":
        checks.append(("out_of_range", f"{t} <= 0"))
    elif check == "non_negative":
        checks.append(("out_of_range", f"{t} < 0"))
    elif isinstance(check, tuple):
        checks.append(("out_of_range", f"NOT ({t} BETWEEN {check[1]} AND {check[2]})"))
    if column.kind == "code":
        checks.append(("unknown_code", f"{v} IS NOT NULL AND {t} NOT IN {in_list(column.codes)}"))
    elif column.kind == "country":
        checks.append(("unknown_code", f"{v} IS NOT NULL AND {t} NOT IN {in_list(COUNTRIES)}"))
    elif column.kind == "currency":
        checks.append(("unknown_code", f"{v} IS NOT NULL AND {t} NOT IN {in_list(CURRENCIES)}"))
    if check == "four_digits":
        checks.append(("unknown_code", f"{v} IS NOT NULL AND NOT regexp_full_match({v}, '[0-9]{{4}}')"))
    if check == "iban":
        checks.append(("invalid_iban", f"{v} IS NOT NULL AND NOT iban_ok({v})"))
    return checks


def failure_sql(entity):
    """A CASE giving the first rule a row breaks as {rule, column, reason}, or NULL.

    The rules come in the contract's order; within a rule, the columns in contract
    order, then the row rules (one_of, date order), as bankpipe records them.
    """
    by_rule = {rule: [] for rule in RULES}
    for i, column in enumerate(entity.columns):
        for rule, condition in column_checks(column, f"v{i}", f"t{i}"):
            by_rule[rule].append((condition, column.name, reason(rule, column.name)))
    index = {c.name: i for i, c in enumerate(entity.columns)}
    if entity.one_of:
        all_null = " AND ".join(f"v{index[n]} IS NULL" for n in entity.one_of)
        by_rule["missing_required"].append((all_null, None, reason("one_of", ", ".join(entity.one_of))))
    for earlier, later, strict in entity.date_order:
        op = "<=" if strict else "<"
        by_rule["date_order"].append(
            (f"t{index[later]} {op} t{index[earlier]}", later, reason("date_order", later)))
    arms = []
    for rule in RULES:
        for condition, column, why in by_rule[rule]:
            column_sql = lit(column) if column else "CAST(NULL AS VARCHAR)"
            arms.append(f"WHEN {condition} THEN {{'rule': {lit(rule)}, 'column': {column_sql}, "
                        f"'reason': {lit(why)}}}")
    return "CASE " + "\n      ".join(arms) + " END" if arms else "NULL"


def csv_header(path):
    """The header names of the CSV file `path` (BOM and spaces stripped)."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        names = next(csv.reader(f), [])
    return [n.lstrip("\ufeff").strip() for n in names]


def read_file(con, entity, path, n):
    """Reads file number `n` of `entity` into the text table `txt_n` and its rejected
    records into `rej_n` (line, raw, rule, column); returns the text column names."""
    rejects = f"rejects_{entity.name}_{n}"
    if entity.is_jsonl:
        # One VARCHAR column per line: no delimiter or quote can split it.
        names = ["_line_text"]
        options = (f"header=false, columns={{'_line_text': 'VARCHAR'}}, delim={lit(chr(31))}, "
                   "quote='', escape=''")
        first_line = 1
    else:
        names = csv_header(path)
        columns = ", ".join(f"{lit(name)}: 'VARCHAR'" for name in names)
        options = f"header=true, columns={{{columns}}}, delim=',', quote='\"', escape='\"'"
        first_line = 2
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE raw_{n} AS
        SELECT row_number() OVER () AS _ordinal, *
        FROM read_csv({lit(path)}, {options}, auto_detect=false, store_rejects=true,
                      rejects_table='{rejects}', rejects_scan='{rejects}_scan',
                      max_line_size=16777216)""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE rej_{n} AS
        SELECT line, arg_min(csv_line, rank) AS raw, min(rank) AS rank, arg_min(column_name, rank) AS col
        FROM (SELECT line, csv_line, column_name,
                     CASE WHEN error_type = 'INVALID ENCODING' THEN 1 ELSE 0 END AS rank
              FROM {rejects})
        GROUP BY line""")
    # The line of the k-th accepted record: k plus the header plus the rejected
    # records before it (one physical line per record).
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE txt_{n} AS
        WITH r AS (SELECT accepted_before, max(rejected) AS rejected FROM (
                     SELECT line - {first_line} - (row_number() OVER (ORDER BY line) - 1) AS accepted_before,
                            row_number() OVER (ORDER BY line) AS rejected
                     FROM rej_{n}) GROUP BY accepted_before)
        SELECT t.*, t._ordinal + {first_line - 1} + COALESCE(r.rejected, 0) AS _line
        FROM raw_{n} t ASOF LEFT JOIN r ON t._ordinal > r.accepted_before""")
    con.execute(f"DROP TABLE raw_{n}")
    return names


def json_key(name):
    """`name` as a quoted JSONPath member."""
    return '"' + name.replace('"', '\\"') + '"'


def source_sql(entity, n):
    """The records of text table `txt_n`: for JSON Lines, the non-blank lines with
    `_is_object` (whether the line parses as a JSON object)."""
    if not entity.is_jsonl:
        return f"txt_{n}"
    return (f"(SELECT *, COALESCE(CASE WHEN json_valid(_line_text) THEN json_type(_line_text) = 'OBJECT' END, "
            f"false) AS _is_object FROM txt_{n} WHERE clean(_line_text) IS NOT NULL)")


def text_part(entity, path, n, header, extras):
    """The records of file `n` that its reader accepted, as text columns f0.. (the
    contract's columns) and x_<name> (the extra columns)."""
    fields = []
    for i, column in enumerate(entity.columns):
        if entity.is_jsonl:
            field = f"json_extract_string(_line_text, {lit('$.' + json_key(column.name))})"
        else:
            field = q(column.name) if column.name in header else "CAST(NULL AS VARCHAR)"
        fields.append(f"{field} AS f{i}")
    fields += [f"{q(x) if x in header else 'CAST(NULL AS VARCHAR)'} AS {q('x_' + x)}" for x in extras]
    if entity.is_jsonl:
        fields.append("_line_text")
    where = "WHERE _is_object" if entity.is_jsonl else ""
    return (f"SELECT {n} AS _file_index, {lit(path)} AS _file, _ordinal, _line, {', '.join(fields)} "
            f"FROM {source_sql(entity, n)} {where}")


def rejected_parts(entity, path, n):
    """The quarantine rows of the records of file `n` that its reader rejected."""
    parts = [f"""SELECT {lit(path)} AS source_file, line, raw,
        CASE WHEN rank = 1 THEN 'invalid_encoding' ELSE 'malformed_record' END AS rule_id,
        CASE WHEN rank = 1 THEN col END AS "column",
        CASE WHEN rank = 1 THEN 'a field is not valid UTF-8 text'
             ELSE {lit(reason('malformed_record', None))} END AS reason FROM rej_{n}"""]
    if entity.is_jsonl:
        parts.append(f"""SELECT {lit(path)}, _line, _line_text, 'malformed_record', CAST(NULL AS VARCHAR),
            'the line is not a JSON object' FROM {source_sql(entity, n)} WHERE NOT _is_object""")
    return parts


def raw_sql(entity, headers):
    """The record as text, for the quarantine: the JSON line, or the CSV fields of its
    file's header, re-quoted."""
    if entity.is_jsonl:
        return "_line_text"
    names = [c.name for c in entity.columns]

    def line(header):
        """The fields of one header's records joined back into a CSV line."""
        cols = [f"f{names.index(h)}" if h in names else q("x_" + h) for h in header]
        return " || ',' || ".join(f"csv_field({c})" for c in cols) or "''"
    if len(headers) == 1:
        return line(headers[0])
    return "CASE _file_index " + " ".join(f"WHEN {n} THEN {line(h)}" for n, h in enumerate(headers)) + " END"


def check(con, entity, parts):
    """Creates `checked`: every record typed (t0..), with `_failure`, the first rule it
    breaks, duplicates and orphans included (NULL when it is accepted)."""
    names = [c.name for c in entity.columns]
    cleaned = ", ".join(f"clean(f{i}) AS v{i}" for i in range(len(names)))
    typed = ", ".join(f"{typed_sql(c, f'v{i}')} AS t{i}" for i, c in enumerate(entity.columns))
    keys = ", ".join(f"t{names.index(k)}" for k in entity.key)
    joins, orphan = [], ""
    for j, (column, parent) in enumerate(entity.references):
        i = names.index(column)
        joins.append(f"LEFT JOIN (SELECT {q(BY_NAME[parent].key[0])} AS k FROM {parent}) p{j} ON p{j}.k = r.t{i}")
        orphan += (f" WHEN r.t{i} IS NOT NULL AND p{j}.k IS NULL THEN {{'rule': 'orphan_reference', "
                   f"'column': {lit(column)}, 'reason': {lit(reason('orphan_reference', column))}}}")
    duplicate = (f"{{'rule': 'duplicate', 'column': {lit(entity.key[0])}, "
                 f"'reason': {lit(reason('duplicate', ', '.join(entity.key)))}}}")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE checked AS
        WITH v AS ({' UNION ALL '.join(parts)}),
        c AS (SELECT *, {cleaned} FROM v),
        t AS (SELECT *, {typed} FROM c),
        f AS (SELECT *, {failure_sql(entity)} AS _fail FROM t),
        r AS (SELECT *, CASE WHEN _fail IS NULL THEN row_number() OVER (
                  PARTITION BY _fail IS NULL, {keys} ORDER BY _file_index, _ordinal) END AS _rank FROM f)
        SELECT r.* EXCLUDE ({', '.join(f'v{i}' for i in range(len(names)))}),
               CASE WHEN _fail IS NOT NULL THEN _fail WHEN _rank > 1 THEN {duplicate}{orphan} END AS _failure
        FROM r {' '.join(joins)}""")


def ingest(con, entity, raw_dir, run_id):
    """Types and validates `entity`'s files into table `<entity>` (processed) and
    `q_<entity>` (quarantine); returns (rows read, accepted, quarantined)."""
    files = sorted(glob.glob(os.path.join(raw_dir, entity.pattern)))
    if not files:
        return create_empty(con, entity, run_id)
    names = [c.name for c in entity.columns]
    headers = [read_file(con, entity, path, n) for n, path in enumerate(files)]
    extras = [] if entity.is_jsonl else list(dict.fromkeys(h for hs in headers for h in hs if h not in names))
    check(con, entity, [text_part(entity, path, n, h, extras) for n, (path, h) in enumerate(zip(files, headers))])
    contract_out = ", ".join(f"t{i} AS {q(c)}" for i, c in enumerate(names))
    extra_out = "".join(f", {q('x_' + x)} AS {q(x)}" for x in extras)
    con.execute(f"""CREATE OR REPLACE TABLE {entity.name} AS
        SELECT {contract_out}{extra_out}, _file AS _source_file, CAST(_line AS BIGINT) AS _source_line
        FROM checked WHERE _failure IS NULL""")
    rejected = [part for n, path in enumerate(files) for part in rejected_parts(entity, path, n)]
    con.execute(f"""CREATE OR REPLACE TABLE q_{entity.name} AS
        SELECT {lit(entity.name)} AS entity, source_file, CAST(line AS BIGINT) AS line, raw, rule_id,
               "column", reason, {lit(run_id)} AS run_id
        FROM ({' UNION ALL '.join(rejected)}
              UNION ALL SELECT _file, _line, {raw_sql(entity, headers)}, _failure.rule, _failure.column,
                               _failure.reason FROM checked WHERE _failure IS NOT NULL)""")
    blank = "WHERE clean(_line_text) IS NOT NULL" if entity.is_jsonl else ""
    read = sum(con.execute(f"SELECT (SELECT count(*) FROM txt_{n} {blank}) + (SELECT count(*) FROM rej_{n})")
               .fetchone()[0] for n in range(len(files)))
    for n in range(len(files)):
        con.execute(f"DROP TABLE txt_{n}; DROP TABLE rej_{n}")
    con.execute("DROP TABLE checked")
    accepted = con.execute(f"SELECT count(*) FROM {entity.name}").fetchone()[0]
    quarantined = con.execute(f"SELECT count(*) FROM q_{entity.name}").fetchone()[0]
    return read, accepted, quarantined


def sql_type(column):
    """The DuckDB type of a contract column once processed."""
    return {"date": "DATE", "timestamp": "TIMESTAMPTZ", "int": "INTEGER", "bool": "BOOLEAN",
            "decimal": f"DECIMAL(18, {column.scale})"}.get(column.kind, "VARCHAR")


def create_empty(con, entity, run_id):
    """Creates the empty processed and quarantine tables of an entity without files
    (an optional extract not delivered)."""
    columns = ", ".join(f"CAST(NULL AS {sql_type(c)}) AS {q(c.name)}" for c in entity.columns)
    con.execute(f"""CREATE OR REPLACE TABLE {entity.name} AS SELECT {columns},
        CAST(NULL AS VARCHAR) AS _source_file, CAST(NULL AS BIGINT) AS _source_line WHERE false""")
    con.execute(f"""CREATE OR REPLACE TABLE q_{entity.name} AS SELECT
        CAST(NULL AS VARCHAR) AS entity, CAST(NULL AS VARCHAR) AS source_file, CAST(NULL AS BIGINT) AS line,
        CAST(NULL AS VARCHAR) AS raw, CAST(NULL AS VARCHAR) AS rule_id, CAST(NULL AS VARCHAR) AS "column",
        CAST(NULL AS VARCHAR) AS reason, {lit(run_id)} AS run_id WHERE false""")
    return 0, 0, 0


# ---------------------------------------------------------------------------------------
# Star schema (banking/mod.rs, banking/satisfaction.rs)
# ---------------------------------------------------------------------------------------

def unknown_row(key, business_key, attributes, attribute_types):
    """The unknown member (key -1) of a dimension, with null attributes (dimension.rs)."""
    nulls = ", ".join(f"CAST(NULL AS {t}) AS {a}" for a, t in zip(attributes, attribute_types))
    return (f"SELECT {UNKNOWN_KEY} AS {key}, {lit(UNKNOWN_ID)} AS {business_key}, {nulls}, "
            f"{EPOCH} AS valid_from, CAST(NULL AS TIMESTAMPTZ) AS valid_to, true AS is_current")


def build_dimensions(con, as_of, hash_key):
    """dim_products and dim_satisfaction (type 1: valid from `as_of`), dim_clients and
    dim_accounts (type 2, first run: every version valid from the beginning of time),
    each with keys numbered in business-key order and the unknown member -1."""
    as_of_ts = f"CAST(DATE '{as_of}' AS TIMESTAMPTZ)"
    year = as_of.year
    con.execute(f"""CREATE TABLE dim_products AS
        SELECT row_number() OVER (ORDER BY product_id) AS product_key, product_id, name, category,
               monthly_fee, interest_rate, currency, active,
               {as_of_ts} AS valid_from, CAST(NULL AS TIMESTAMPTZ) AS valid_to, true AS is_current
        FROM products
        UNION ALL {unknown_row('product_key', 'product_id',
                               ['name', 'category', 'monthly_fee', 'interest_rate', 'currency', 'active'],
                               ['VARCHAR', 'VARCHAR', 'DECIMAL(18, 2)', 'DECIMAL(18, 4)', 'VARCHAR', 'BOOLEAN'])}""")
    bands = " ".join(f"WHEN {year} - year(birth_date) < {limit} THEN '{band}'" for limit, band in
                     [(25, "<25"), (35, "25-34"), (45, "35-44"), (55, "45-54"), (65, "55-64")])
    con.execute(f"""CREATE TABLE dim_clients AS
        SELECT row_number() OVER (ORDER BY client_id) AS client_key, client_id,
               sha256($hash_key || client_id) AS client_ref,
               CAST(year(birth_date) AS INTEGER) AS birth_year,
               CASE {bands} ELSE '65+' END AS age_band,
               gender, city, country, segment, kyc_risk,
               {EPOCH} AS valid_from, CAST(NULL AS TIMESTAMPTZ) AS valid_to, true AS is_current
        FROM clients
        UNION ALL {unknown_row('client_key', 'client_id',
                               ['client_ref', 'birth_year', 'age_band', 'gender', 'city', 'country',
                                'segment', 'kyc_risk'],
                               ['VARCHAR', 'INTEGER'] + ['VARCHAR'] * 6)}""", {"hash_key": hash_key})
    con.execute(f"""CREATE TABLE dim_accounts AS
        SELECT row_number() OVER (ORDER BY account_id) AS account_key, account_id, client_id, product_id,
               currency, status, branch_code, opened_on, closed_on,
               {EPOCH} AS valid_from, CAST(NULL AS TIMESTAMPTZ) AS valid_to, true AS is_current
        FROM accounts
        UNION ALL {unknown_row('account_key', 'account_id',
                               ['client_id', 'product_id', 'currency', 'status', 'branch_code',
                                'opened_on', 'closed_on'],
                               ['VARCHAR'] * 5 + ['DATE', 'DATE'])}""")
    con.execute(f"""CREATE TABLE dim_satisfaction AS
        SELECT row_number() OVER (ORDER BY s.survey_id) AS satisfaction_key, s.survey_id,
               COALESCE(c.client_key, -1) AS client_key, COALESCE(p.product_key, -1) AS product_key,
               date_key(s.answered_at) AS date_key, CAST(s.answered_at AS DATE) AS answered_on,
               s.channel, s.csat, s.nps,
               CASE WHEN s.nps >= 9 THEN 'promoter' WHEN s.nps >= 7 THEN 'passive'
                    WHEN s.nps IS NOT NULL THEN 'detractor' END AS nps_category,
               COALESCE(trim(s.comment) <> '', false) AS has_comment,
               {as_of_ts} AS valid_from, CAST(NULL AS TIMESTAMPTZ) AS valid_to, true AS is_current
        FROM satisfaction s
        LEFT JOIN dim_clients c ON c.client_id = s.client_id AND {valid_at('c', 's.answered_at')}
        LEFT JOIN dim_products p ON p.product_id = s.product_id
        UNION ALL {unknown_row('satisfaction_key', 'survey_id',
                               ['client_key', 'product_key', 'date_key', 'answered_on', 'channel',
                                'csat', 'nps', 'nps_category', 'has_comment'],
                               ['BIGINT', 'BIGINT', 'INTEGER', 'DATE', 'VARCHAR', 'INTEGER', 'INTEGER',
                                'VARCHAR', 'BOOLEAN'])}""")


# ---------------------------------------------------------------------------------------
# Report window and daily FX (orchestration transform.rs, fx.rs, dates.rs)
# ---------------------------------------------------------------------------------------

def report_window(con, as_of):
    """From the first transaction day (or `as_of`) to `as_of` or the last transaction
    day, whichever is later; registers `report_months` over it."""
    first, last = con.execute("""SELECT min(d), max(d) FROM (
        SELECT CAST(booked_at AS DATE) AS d FROM transactions UNION ALL SELECT value_date FROM transactions)
        """).fetchone()
    window = (min(first, as_of), max(last, as_of)) if first is not None else (as_of, as_of)
    con.execute(f"""CREATE TABLE report_months AS
        SELECT CAST(m AS DATE) AS month_start, last_day(CAST(m AS DATE)) AS month_end
        FROM generate_series(date_trunc('month', DATE '{window[0]}'), DATE '{window[1]}', INTERVAL 1 MONTH) g(m)""")
    return window


def daily_fx(con, window):
    """`fx_daily`: each currency's rate on every day from its first rate to the window's
    last month end (a missing day takes the latest earlier rate), EUR = 1 from the
    earliest day a loan or payment is converted."""
    earliest = con.execute(
        "SELECT min(d) FROM (SELECT start_date AS d FROM loans UNION ALL SELECT due_date FROM payments)"
    ).fetchone()[0]
    earliest = min(earliest, window[0]) if earliest else window[0]
    last = con.execute(f"SELECT last_day(DATE '{window[1]}')").fetchone()[0]
    con.execute(f"""CREATE TABLE fx_daily AS
        WITH rates AS (SELECT date, currency, per_eur FROM fx_rates WHERE currency <> 'EUR'),
        days AS (SELECT currency, CAST(unnest(generate_series(min(date), greatest(DATE '{last}', min(date)),
                                                         INTERVAL 1 DAY)) AS DATE) AS date
                 FROM rates GROUP BY currency)
        SELECT d.date, d.currency, r.per_eur
        FROM days d ASOF JOIN rates r ON r.currency = d.currency AND r.date <= d.date
        UNION ALL
        SELECT CAST(d AS DATE), 'EUR', CAST(1 AS DECIMAL(18, 6))
        FROM generate_series(DATE '{earliest}', greatest(DATE '{last}', DATE '{earliest}'), INTERVAL 1 DAY) g(d)""")


# ---------------------------------------------------------------------------------------
# Facts (banking/facts.rs, fraud.rs, revenue.rs)
# ---------------------------------------------------------------------------------------

def transactions_eur(con):
    """`transactions_eur`: the processed transactions with `amount_eur` at the booking day's rate."""
    con.execute("""CREATE TABLE transactions_eur AS
        SELECT t.*, div_cents(t.amount, f.per_eur) AS amount_eur
        FROM transactions t
        LEFT JOIN fx_daily f ON f.currency = t.currency AND f.date = CAST(t.booked_at AS DATE)""")


def fraud_rule_selects():
    """The six rules of fraud.rs, each giving the alerted transactions with their rule_id."""
    cols = "transaction_id, account_id, booked_at, channel, amount_eur"
    day_us = 86_400_000_000
    la, ve, st = FRAUD["large_amount"], FRAUD["velocity"], FRAUD["structuring"]
    nc, dr, na = FRAUD["new_country"], FRAUD["dormant_reactivation"], FRAUD["night_atm"]
    window = ve["window_seconds"] * 1_000_000
    return [
        f"""SELECT {cols}, 'large_amount' AS rule_id FROM history
            WHERE direction = 'debit' AND prior_debits >= {la['min_prior_debits']}
              AND CAST(amount_eur AS DOUBLE) >= {la['min_factor']} * prior_debit_mean""",
        f"""SELECT {cols}, 'velocity' AS rule_id FROM (
              SELECT *, max(trailing_count) OVER (PARTITION BY account_id ORDER BY t
                         RANGE BETWEEN CURRENT ROW AND {window} FOLLOWING) AS peak FROM (
                SELECT *, count(*) OVER (PARTITION BY account_id ORDER BY t
                           RANGE BETWEEN {window} PRECEDING AND CURRENT ROW) AS trailing_count
                FROM (SELECT *, epoch_us(booked_at) AS t FROM transactions_eur
                      WHERE channel = {lit(ve['channel'])})))
            WHERE peak >= {ve['min_count']}""",
        f"""SELECT {cols}, 'structuring' AS rule_id FROM (
              SELECT *, count(*) OVER (PARTITION BY account_id, CAST(booked_at AS DATE)) AS n
              FROM transactions_eur
              WHERE direction = 'credit' AND channel IN {in_list(st['channels'])}
                AND CAST(amount_eur AS DOUBLE) >= {st['lower_bound_eur']}
                AND CAST(amount_eur AS DOUBLE) < {st['threshold_eur']})
            WHERE n >= {st['min_count']}""",
        f"""SELECT {cols}, 'new_country' AS rule_id FROM (
              SELECT h.*, c.first_in_country FROM history h
              JOIN (SELECT account_id, country, min(booked_at) AS first_in_country
                    FROM transactions_eur GROUP BY account_id, country) c
                ON c.account_id = h.account_id AND c.country = h.country)
            WHERE channel = {lit(nc['channel'])} AND booked_at = first_in_country
              AND epoch_us(booked_at) - epoch_us(first_at) >= {nc['min_history_days'] * day_us}""",
        f"""SELECT {cols}, 'dormant_reactivation' AS rule_id FROM history
            WHERE direction = 'debit' AND previous_at IS NOT NULL AND prior_debits > 0
              AND epoch_us(booked_at) - epoch_us(previous_at) >= {dr['min_gap_days'] * day_us}
              AND CAST(amount_eur AS DOUBLE) >= {dr['min_factor']} * prior_debit_mean""",
        f"""SELECT {cols}, 'night_atm' AS rule_id FROM (
              SELECT *, count(*) OVER (PARTITION BY account_id, CAST(booked_at AS DATE)) AS n
              FROM transactions_eur
              WHERE channel = 'atm' AND direction = 'debit'
                AND date_part('hour', booked_at) >= {na['from_hour_utc']}
                AND date_part('hour', booked_at) < {na['to_hour_utc']})
            WHERE n >= {na['min_count']}""",
    ]


def fact_fraudes(con):
    """`fact_fraudes`: one alert per rule and transaction, scored, with the latest fraud report."""
    weight = "CASE rule_id " + " ".join(f"WHEN '{r}' THEN {FRAUD[r]['weight']}" for r in FRAUD_RULES) + " ELSE 0 END"
    con.execute(f"""CREATE TABLE fact_fraudes AS
        WITH history AS (
          SELECT transaction_id, account_id, booked_at, direction, channel, country, amount_eur,
                 avg(CAST(CASE WHEN direction = 'debit' THEN amount_eur END AS DOUBLE)) OVER w_prior AS prior_debit_mean,
                 count(CASE WHEN direction = 'debit' THEN 1 END) OVER w_prior AS prior_debits,
                 lag(booked_at) OVER w AS previous_at,
                 min(booked_at) OVER w AS first_at
          FROM transactions_eur
          WINDOW w AS (PARTITION BY account_id ORDER BY booked_at, transaction_id),
                 w_prior AS (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)),
        alerts AS ({' UNION ALL '.join(fraud_rule_selects())}),
        scored AS (SELECT *, count(*) OVER (PARTITION BY transaction_id) AS rules_fired FROM alerts),
        reports AS (
          SELECT transaction_id, confirmed FROM (
            SELECT transaction_id, confirmed,
                   row_number() OVER (PARTITION BY transaction_id ORDER BY reported_at DESC, confirmed DESC) AS n
            FROM fraud_reports) WHERE n = 1)
        SELECT concat(s.transaction_id, ':', s.rule_id) AS alert_id, s.transaction_id,
               date_key(s.booked_at) AS date_key,
               COALESCE(c.client_key, -1) AS client_key, COALESCE(a.account_key, -1) AS account_key,
               s.rule_id,
               CAST(least(100, {weight} + {FRAUD['multi_rule_bonus']} * (s.rules_fired - 1)) AS INTEGER) AS risk_score,
               s.amount_eur, s.channel, r.confirmed, s.booked_at
        FROM scored s
        LEFT JOIN dim_accounts a ON a.account_id = s.account_id AND {valid_at('a', 's.booked_at')}
        LEFT JOIN dim_clients c ON c.client_id = a.client_id AND {valid_at('c', 's.booked_at')}
        LEFT JOIN reports r ON r.transaction_id = s.transaction_id""")


def fact_transactions(con):
    """`fact_transactions`: one row per processed transaction with keys, signed and EUR amounts."""
    con.execute(f"""CREATE TABLE fact_transactions AS
        SELECT t.transaction_id, date_key(t.booked_at) AS date_key,
               COALESCE(a.account_key, -1) AS account_key, COALESCE(c.client_key, -1) AS client_key,
               COALESCE(p.product_key, -1) AS product_key,
               t.amount, CASE WHEN t.direction = 'debit' THEN -t.amount ELSE t.amount END AS signed_amount,
               t.amount_eur, t.currency, t.direction, t.channel, t.status, t.mcc, t.country,
               t.country <> COALESCE(c.country, t.country) AS is_international,
               s.transaction_id IS NOT NULL AS is_suspicious,
               t.booked_at, t.value_date
        FROM transactions_eur t
        LEFT JOIN dim_accounts a ON a.account_id = t.account_id AND {valid_at('a', 't.booked_at')}
        LEFT JOIN dim_clients c ON c.client_id = a.client_id AND {valid_at('c', 't.booked_at')}
        LEFT JOIN dim_products p ON p.product_id = a.product_id
        LEFT JOIN (SELECT DISTINCT transaction_id FROM fact_fraudes) s ON s.transaction_id = t.transaction_id""")


INSTALLMENTS = """SELECT loan_id, due_date, CAST(paid_at AS DATE) AS paid_on, amount
    FROM payments WHERE loan_id IS NOT NULL AND kind = 'installment'"""


def fact_loans(con, as_of):
    """`fact_loans`: repaid amount, amortised outstanding principal, days past due at `as_of`."""
    d = f"DATE '{as_of}'"
    start = "CAST(l.start_date AS TIMESTAMPTZ)"
    con.execute(f"""CREATE TABLE fact_loans AS
        WITH installments AS ({INSTALLMENTS}),
        paid AS (
          SELECT loan_id,
                 sum(CASE WHEN paid_on IS NOT NULL THEN amount END) AS amount_repaid,
                 count(paid_on) AS paid_count,
                 max(CASE WHEN paid_on IS NOT NULL THEN greatest(paid_on - due_date, 0)
                          WHEN due_date < {d} THEN {d} - due_date ELSE 0 END) AS max_days_past_due,
                 min(CASE WHEN paid_on IS NULL AND due_date < {d} THEN due_date END) AS oldest_unpaid
          FROM installments GROUP BY loan_id),
        loans_due AS (
          SELECT l.*, COALESCE(p.amount_repaid, 0) AS amount_repaid, COALESCE(p.paid_count, 0) AS paid_count,
                 CAST(COALESCE(p.max_days_past_due, 0) AS INTEGER) AS max_days_past_due,
                 CAST(COALESCE({d} - p.oldest_unpaid, 0) AS INTEGER) AS days_past_due
          FROM loans l LEFT JOIN paid p ON p.loan_id = l.loan_id)
        SELECT l.loan_id,
               COALESCE(c.client_key, -1) AS client_key, COALESCE(a.account_key, -1) AS account_key,
               COALESCE(pr.product_key, -1) AS product_key,
               date_key(l.start_date) AS start_date_key, date_key(l.maturity_date) AS maturity_date_key,
               l.principal, div_cents(l.principal, f.per_eur) AS principal_eur,
               l.currency, l.annual_rate, l.term_months, l.status,
               CAST(l.amount_repaid AS DECIMAL(18, 2)) AS amount_repaid,
               CASE WHEN l.status = 'repaid' THEN CAST(0 AS DECIMAL(18, 2))
                    ELSE balance(l.principal, l.annual_rate, l.term_months, l.paid_count) END AS outstanding_principal,
               l.days_past_due, l.max_days_past_due,
               l.days_past_due > 90 OR l.status IN ('default', 'written_off') AS is_non_performing
        FROM loans_due l
        LEFT JOIN dim_clients c ON c.client_id = l.client_id AND {valid_at('c', start)}
        LEFT JOIN dim_accounts a ON a.account_id = l.account_id AND {valid_at('a', start)}
        LEFT JOIN dim_products pr ON pr.product_id = l.product_id
        LEFT JOIN fx_daily f ON f.currency = l.currency AND f.date = {d}""")


def loan_months(con):
    """`loan_months`: each loan in each report month it runs in, with the outstanding
    principal at the month's start and end and the days past due at its end."""
    con.execute(f"""CREATE TABLE loan_months AS
        WITH installments AS ({INSTALLMENTS}),
        states AS (
          SELECT l.loan_id, m.month_start, m.month_end,
                 count(CASE WHEN i.paid_on <= m.month_end THEN 1 END) AS paid_by_end,
                 count(CASE WHEN i.paid_on < m.month_start THEN 1 END) AS paid_by_start,
                 min(CASE WHEN i.due_date <= m.month_end AND (i.paid_on IS NULL OR i.paid_on > m.month_end)
                          THEN i.due_date END) AS oldest_unpaid
          FROM loans l
          JOIN report_months m ON l.start_date <= m.month_end
          LEFT JOIN installments i ON i.loan_id = l.loan_id
          GROUP BY l.loan_id, m.month_start, m.month_end)
        SELECT s.loan_id, s.month_start, s.month_end, l.currency,
               balance(l.principal, l.annual_rate, l.term_months, s.paid_by_start) AS outstanding_start,
               balance(l.principal, l.annual_rate, l.term_months, s.paid_by_end) AS outstanding_end,
               CAST(COALESCE(s.month_end - s.oldest_unpaid, 0) AS INTEGER) AS days_past_due
        FROM states s JOIN loans l ON l.loan_id = s.loan_id""")


def fact_payments(con, as_of):
    """`fact_payments`: keys valid at the due date, EUR amount at the due day's rate, days late."""
    d = f"DATE '{as_of}'"
    due = "CAST(p.due_date AS TIMESTAMPTZ)"
    con.execute(f"""CREATE TABLE fact_payments AS
        SELECT p.payment_id, p.loan_id,
               COALESCE(a.account_key, -1) AS account_key, COALESCE(c.client_key, -1) AS client_key,
               date_key(p.due_date) AS due_date_key, date_key(p.paid_at) AS paid_date_key,
               p.due_date, p.paid_at, p.amount, div_cents(p.amount, f.per_eur) AS amount_eur,
               p.currency, p.kind, p.status,
               CAST(CASE WHEN p.paid_at IS NOT NULL THEN greatest(CAST(p.paid_at AS DATE) - p.due_date, 0)
                         WHEN p.due_date < {d} THEN {d} - p.due_date ELSE 0 END AS INTEGER) AS days_late
        FROM payments p
        LEFT JOIN dim_accounts a ON a.account_id = p.account_id AND {valid_at('a', due)}
        LEFT JOIN dim_clients c ON c.client_id = a.client_id AND {valid_at('c', due)}
        LEFT JOIN fx_daily f ON f.currency = p.currency AND f.date = p.due_date""")


def fact_revenue(con):
    """`fact_revenue`: account fees, interest income, FX fees and late fees (revenue.rs defaults)."""
    month = "CAST(m.month_end AS TIMESTAMPTZ)"
    channels = in_list(REVENUE["fx_fee_channels"])
    con.execute(f"""CREATE TABLE fact_revenue AS
        SELECT date_key(m.month_end) AS date_key, COALESCE(c.client_key, -1) AS client_key, a.account_key,
               COALESCE(p.product_key, -1) AS product_key, 'account_fee' AS revenue_type,
               div_cents(p.monthly_fee, f.per_eur) AS amount_eur
        FROM dim_accounts a
        JOIN report_months m ON a.opened_on <= m.month_end AND (a.closed_on IS NULL OR a.closed_on >= m.month_start)
             AND {valid_at('a', month)}
        JOIN dim_products p ON p.product_id = a.product_id AND p.monthly_fee > 0
        LEFT JOIN dim_clients c ON c.client_id = a.client_id AND {valid_at('c', month)}
        LEFT JOIN fx_daily f ON f.currency = p.currency AND f.date = m.month_end
        WHERE a.account_key <> -1
        UNION ALL
        SELECT date_key(lm.month_end), l.client_key, l.account_key, l.product_key, 'interest_income',
               div_cents(lm.outstanding_start * l.annual_rate, 12 * f.per_eur)
        FROM loan_months lm
        JOIN fact_loans l ON l.loan_id = lm.loan_id
        LEFT JOIN fx_daily f ON f.currency = l.currency AND f.date = lm.month_end
        WHERE lm.outstanding_start > 0 AND l.annual_rate > 0
        UNION ALL
        SELECT month_end_key(t.booked_at), t.client_key, t.account_key, t.product_key, 'fx_fee',
               cents(sum(t.amount_eur) * {REVENUE['fx_fee_rate']})
        FROM fact_transactions t
        JOIN dim_accounts a ON a.account_key = t.account_key
        WHERE t.status = 'booked' AND t.channel IN {channels} AND t.currency <> a.currency
        GROUP BY 1, 2, 3, 4
        UNION ALL
        SELECT month_end_key(p.due_date), p.client_key, p.account_key, COALESCE(l.product_key, -1), 'late_fee',
               CAST(count(*) * {REVENUE['late_fee_eur']} AS DECIMAL(18, 2))
        FROM fact_payments p
        LEFT JOIN fact_loans l ON l.loan_id = p.loan_id
        WHERE p.kind = 'installment' AND p.status IN ('late', 'missed')
        GROUP BY 1, 2, 3, 4""")


def dim_dates(con, window):
    """`dim_dates`: every day from the earliest to the latest date key the facts and
    dimensions use, and over the report window."""
    first, last = con.execute("""SELECT min(k), max(k) FROM (
        SELECT date_key AS k FROM fact_transactions
        UNION ALL SELECT start_date_key FROM fact_loans UNION ALL SELECT maturity_date_key FROM fact_loans
        UNION ALL SELECT due_date_key FROM fact_payments UNION ALL SELECT paid_date_key FROM fact_payments
        UNION ALL SELECT date_key FROM fact_revenue UNION ALL SELECT date_key FROM dim_satisfaction)""").fetchone()

    def day(key):
        """The date of a yyyymmdd key."""
        return dt.date(key // 10000, key // 100 % 100, key % 100)

    if first is not None:
        window = (min(day(first), window[0]), max(day(last), window[1]))
    con.execute(f"""CREATE TABLE dim_dates AS
        SELECT date_key(d) AS date_key, d AS date, CAST(year(d) AS INTEGER) AS year,
               CAST(quarter(d) AS INTEGER) AS quarter, CAST(month(d) AS INTEGER) AS month,
               monthname(d) AS month_name, CAST(week(d) AS INTEGER) AS iso_week,
               CAST(day(d) AS INTEGER) AS day_of_month, CAST(isodow(d) AS INTEGER) AS day_of_week,
               isodow(d) >= 6 AS is_weekend, d = last_day(d) AS is_month_end
        FROM (SELECT CAST(g AS DATE) AS d
              FROM generate_series(DATE '{window[0]}', DATE '{window[1]}', INTERVAL 1 DAY) t(g))""")


# ---------------------------------------------------------------------------------------
# Marts (aggregation.rs)
# ---------------------------------------------------------------------------------------

MARTS = {
    "mart_client_monthly": """
        WITH parts AS (
          SELECT c.client_id, month_end_key(t.booked_at) AS month_key, 1 AS transactions,
                 CASE WHEN t.direction = 'credit' THEN t.amount_eur END AS inflow,
                 CASE WHEN t.direction = 'debit' THEN t.amount_eur END AS outflow,
                 CAST(NULL AS DECIMAL(18, 2)) AS revenue, 0 AS alerts
          FROM fact_transactions t JOIN dim_clients c ON c.client_key = t.client_key
          WHERE t.status = 'booked'
          UNION ALL
          SELECT c.client_id, r.date_key, 0, NULL, NULL, r.amount_eur, 0
          FROM fact_revenue r JOIN dim_clients c ON c.client_key = r.client_key
          UNION ALL
          SELECT c.client_id, month_end_key(f.booked_at), 0, NULL, NULL, NULL, 1
          FROM fact_fraudes f JOIN dim_clients c ON c.client_key = f.client_key)
        SELECT cur.client_key, p.client_id, p.month_key,
               CAST(sum(p.transactions) AS BIGINT) AS transaction_count,
               CAST(COALESCE(sum(p.inflow), 0) AS DECIMAL(18, 2)) AS inflow_eur,
               CAST(COALESCE(sum(p.outflow), 0) AS DECIMAL(18, 2)) AS outflow_eur,
               CAST(COALESCE(sum(p.revenue), 0) AS DECIMAL(18, 2)) AS revenue_eur,
               CAST(sum(p.alerts) AS BIGINT) AS alerts
        FROM parts p JOIN dim_clients cur ON cur.client_id = p.client_id AND cur.is_current
        GROUP BY cur.client_key, p.client_id, p.month_key""",
    "mart_product_performance": f"""
        WITH parts AS (
          SELECT a.product_id, date_key(m.month_end) AS month_key, 1 AS active_accounts,
                 CAST(NULL AS DECIMAL(18, 2)) AS revenue, CAST(NULL AS INTEGER) AS csat,
                 CAST(NULL AS INTEGER) AS nps
          FROM dim_accounts a
          JOIN report_months m ON a.status = 'active' AND a.opened_on <= m.month_end
               AND (a.closed_on IS NULL OR a.closed_on > m.month_end)
               AND {valid_at('a', 'CAST(m.month_end AS TIMESTAMPTZ)')}
          WHERE a.account_key <> -1
          UNION ALL
          SELECT p.product_id, r.date_key, 0, r.amount_eur, NULL, NULL
          FROM fact_revenue r JOIN dim_products p ON p.product_key = r.product_key
          UNION ALL
          SELECT p.product_id, month_end_key(s.answered_on), 0, NULL, s.csat, s.nps
          FROM dim_satisfaction s JOIN dim_products p ON p.product_key = s.product_key
          WHERE s.satisfaction_key <> -1)
        SELECT p.product_key, x.product_id, x.month_key,
               CAST(sum(x.active_accounts) AS BIGINT) AS active_accounts,
               CAST(COALESCE(sum(x.revenue), 0) AS DECIMAL(18, 2)) AS revenue_eur,
               round(avg(CAST(x.csat AS DOUBLE)), 2) AS avg_csat,
               count(x.nps) AS nps_answers,
               round(100.0::DOUBLE * (sum(CASE WHEN x.nps >= 9 THEN 1 ELSE 0 END)
                                      - sum(CASE WHEN x.nps <= 6 THEN 1 ELSE 0 END))
                     / NULLIF(count(x.nps), 0), 1) AS nps
        FROM parts x JOIN dim_products p ON p.product_id = x.product_id
        GROUP BY p.product_key, x.product_id, x.month_key""",
    "mart_loan_portfolio": """
        WITH running AS (
          SELECT lm.month_end, lm.days_past_due,
                 CAST(lm.outstanding_end AS DOUBLE) / CAST(f.per_eur AS DOUBLE) AS outstanding_eur
          FROM loan_months lm
          LEFT JOIN fx_daily f ON f.currency = lm.currency AND f.date = lm.month_end
          WHERE lm.outstanding_end > 0)
        SELECT date_key(month_end) AS month_key, count(*) AS loans,
               CAST(round(sum(outstanding_eur), 2) AS DECIMAL(18, 2)) AS outstanding_principal_eur,
               round(sum(CASE WHEN days_past_due > 30 THEN outstanding_eur ELSE 0 END)
                     / NULLIF(sum(outstanding_eur), 0), 4) AS par30,
               round(sum(CASE WHEN days_past_due > 90 THEN outstanding_eur ELSE 0 END)
                     / NULLIF(sum(outstanding_eur), 0), 4) AS par90,
               round(CAST(sum(CASE WHEN days_past_due > 90 THEN 1 ELSE 0 END) AS DOUBLE) / count(*), 4)
                 AS non_performing_ratio
        FROM running GROUP BY month_end""",
    "mart_fraud_daily": """
        SELECT date_key, channel, rule_id, count(*) AS alerts,
               CAST(COALESCE(sum(amount_eur), 0) AS DECIMAL(18, 2)) AS amount_eur,
               count(confirmed) AS reported,
               CAST(sum(CASE WHEN confirmed THEN 1 ELSE 0 END) AS BIGINT) AS confirmed,
               round(CAST(sum(CASE WHEN confirmed THEN 1 ELSE 0 END) AS DOUBLE)
                     / NULLIF(count(confirmed), 0), 4) AS confirmed_rate
        FROM fact_fraudes GROUP BY date_key, channel, rule_id""",
}


# ---------------------------------------------------------------------------------------
# The job
# ---------------------------------------------------------------------------------------

def write(con, table, path):
    """Writes `table` to the Parquet file `path`; returns its row count."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    con.execute(f"COPY {table} TO {lit(path)} (FORMAT parquet)")
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def transform(con, out, as_of, hash_key, counts):
    """Builds the star schema and the marts in bankpipe's order, writing each table."""
    def done(table, folder="transformed"):
        """Writes a built table and records its rows."""
        counts[f"{folder}/{table}"] = write(con, table, os.path.join(out, folder, f"{table}.parquet"))

    build_dimensions(con, as_of, hash_key)
    for table in ["dim_products", "dim_clients", "dim_accounts", "dim_satisfaction"]:
        done(table)
    window = report_window(con, as_of)
    daily_fx(con, window)
    transactions_eur(con)
    fact_fraudes(con)
    done("fact_fraudes")
    fact_transactions(con)
    done("fact_transactions")
    fact_loans(con, as_of)
    done("fact_loans")
    loan_months(con)
    fact_payments(con, as_of)
    done("fact_payments")
    fact_revenue(con)
    done("fact_revenue")
    dim_dates(con, window)
    done("dim_dates")
    for mart, sql in MARTS.items():
        con.execute(f"CREATE TABLE {mart} AS {sql}")
        done(mart, "transformed/marts")


def main():
    """Parses the arguments, runs the job, prints per-table row counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--as-of", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--hash-key", required=True)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--memory-limit")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET temp_directory = {lit(os.path.join(args.out, '.duckdb_tmp'))}")
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    if args.memory_limit:
        con.execute(f"SET memory_limit = {lit(args.memory_limit)}")
    con.execute(MACROS)
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-duckdb"
    counts = {}
    started = time.monotonic()
    for entity in ENTITIES:
        read, accepted, quarantined = ingest(con, entity, args.raw, run_id)
        if read != accepted + quarantined:
            sys.exit(f"{entity.name}: conservation fails: read {read} != "
                     f"{accepted} accepted + {quarantined} quarantined")
        print(f"{entity.name}: read {read}, accepted {accepted}, quarantined {quarantined}")
        counts[f"processed/{entity.name}"] = write(
            con, entity.name, os.path.join(args.out, "processed", f"{entity.name}.parquet"))
        counts[f"quarantine/{entity.name}"] = write(
            con, f"q_{entity.name}", os.path.join(args.out, "quarantine", f"{entity.name}.parquet"))
    ingested = time.monotonic()
    transform(con, args.out, args.as_of, args.hash_key, counts)
    finished = time.monotonic()
    print(f"ingest {ingested - started:.2f} s, transform {finished - ingested:.2f} s")
    for table, rows in counts.items():
        print(f"{table}\t{rows}")


if __name__ == "__main__":
    main()

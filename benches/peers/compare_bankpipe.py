"""Compares a peer's Parquet output with bankpipe's Delta tables, table by table.

Usage: compare_bankpipe.py REFERENCE PEER_OUT_DIR

REFERENCE is bankpipe's data folder (Delta tables under processed/, quarantine/,
transformed/) or another peer's output folder (Parquet files). For every reference
table, prints both row counts and how many rows differ, comparing the columns both
have as text (rows as a multiset; source files by name). Not compared: `client_ref` (it depends on the hash
key), `run_id` and `reason` (free text), and `raw` (the DuckDB peer rebuilds it).
"""

import os
import sys

import polars as pl
from deltalake import DeltaTable

SKIP = {"client_ref", "run_id", "reason", "raw"}


FILE_COLUMNS = {"_source_file", "source_file"}


def as_text(frame, columns):
    """`frame`'s `columns` as text (nulls as a marker; source files by their name, as the
    raw folder may be reached by another path), sorted, for a multiset comparison."""
    def text(c):
        """One column as text."""
        value = pl.col(c).cast(pl.String)
        if c in FILE_COLUMNS:
            value = value.str.extract(r"([^/]*)$", 1)
        return value.fill_null("<null>").alias(c)
    return frame.select([text(c) for c in columns]).sort(columns)


def read_reference(path):
    """A reference table: a Delta table folder, or a Parquet file."""
    if os.path.isdir(path):
        return pl.from_arrow(DeltaTable(path).to_pyarrow_table())
    return pl.read_parquet(path)


def compare(reference_path, peer_path):
    """(reference rows, peer rows, rows of each side missing from the other, an example)."""
    theirs = read_reference(reference_path)
    ours = pl.read_parquet(peer_path) if os.path.exists(peer_path) else None
    if ours is None:
        return theirs.height, None, None, "no peer table"
    columns = [c for c in theirs.columns if c in ours.columns and c not in SKIP]
    a, b = as_text(theirs, columns), as_text(ours, columns)
    only_theirs = a.join(b, on=columns, how="anti", nulls_equal=True)
    only_ours = b.join(a, on=columns, how="anti", nulls_equal=True)
    example = ""
    if only_theirs.height or only_ours.height:
        example = (f"reference-only e.g. {only_theirs.head(1).to_dicts()} / "
                   f"peer-only e.g. {only_ours.head(1).to_dicts()}")
    missing = [c for c in theirs.columns if c not in ours.columns and c not in SKIP]
    if missing:
        example += f" (peer lacks columns {missing})"
    return theirs.height, ours.height, (only_theirs.height, only_ours.height), example


def reference_tables(reference):
    """The reference's tables as (name, path): Delta folders, or Parquet files."""
    tables = []
    for layer in ["processed", "quarantine", "transformed", "transformed/marts"]:
        folder = os.path.join(reference, layer)
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isdir(os.path.join(path, "_delta_log")):
                tables.append((f"{layer}/{name}", path))
            elif name.endswith(".parquet"):
                tables.append((f"{layer}/{name[:-len('.parquet')]}", path))
    return tables


def main():
    """Prints one line per table: name, reference rows, peer rows, differing rows."""
    reference, peer = sys.argv[1], sys.argv[2]
    print("table\treference\tpeer\tdiffering rows (reference-only, peer-only)")
    for table, path in reference_tables(reference):
        rows, peer_rows, differing, example = compare(path, os.path.join(peer, f"{table}.parquet"))
        print(f"{table}\t{rows}\t{peer_rows}\t{differing}\t{example}")


if __name__ == "__main__":
    main()

"""Digest every table of a DuckDB file, so two builds can be compared table by table (a refactoring must not change
any mart or serving table).

    .venv/bin/python tests/support/table_digests.py WAREHOUSE.duckdb > digests.json

Per table: row count and an order-independent md5 of its rows. Columns that differ between two runs of the same
code are left out: run ids, timestamps (``*_at``, TIMESTAMPTZ), load ids, durations and model versions. Doubles are
rounded to 9 decimals (a random forest fitted on 2 threads sums in a different order from run to run).
"""

from __future__ import annotations

import json
import re
import sys

import duckdb

VOLATILE = re.compile(
    r"(run_id|_at$|timestamp|^generated|^model_version$|^seconds|duration|git_|^version$|_ms$|^load_id$)", re.I
)


def digests(path: str) -> dict[str, str]:
    out = {}
    with duckdb.connect(path, read_only=True) as con:
        tables = con.execute("select schema_name, table_name from duckdb_tables() order by 1, 2").fetchall()
        for schema, table in tables:
            cols = con.execute(
                "select column_name, data_type from duckdb_columns() "
                "where schema_name = ? and table_name = ? order by column_index",
                [schema, table],
            ).fetchall()
            types = dict(cols)
            keep = [c for c, t in cols if not VOLATILE.search(c) and "TIME ZONE" not in t]
            if not keep:
                out[f"{schema}.{table}"] = "no stable columns"
                continue
            select = ", ".join(f'round("{c}", 9)' if types[c] in ("DOUBLE", "FLOAT") else f'"{c}"' for c in keep)
            n, digest = con.execute(
                f"select count(*), md5(coalesce(string_agg(r, '' order by r), '')) "
                f'from (select md5(cast(row({select}) as varchar)) as r from {schema}."{table}")'
            ).fetchall()[0]
            out[f"{schema}.{table}"] = f"{n} rows {digest} ({len(cols) - len(keep)} volatile columns left out)"
    return out


if __name__ == "__main__":
    json.dump(digests(sys.argv[1]), sys.stdout, indent=1, sort_keys=True)
    print()

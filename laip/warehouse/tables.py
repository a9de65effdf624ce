"""Atomic writes of derived tables into the working warehouse (the ML serving tables of schema ``ml``).

All tables of one step are replaced in ONE DuckDB transaction: readers and ``laip publish`` see either the
previous set or the new set, and a failure anywhere (a bad frame, a full disk) rolls back to the previous set.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb
import pandas as pd

from laip.ingest.load import ML_SCHEMA


def _select_sql(name: str, frame: pd.DataFrame, schemas: Mapping[str, Mapping[str, str]]) -> str:
    """``select`` casting the frame to the table's declared schema (all declared columns, in order)."""
    schema = schemas.get(name)
    if schema is None:
        return "select * from _frame"
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise ValueError(f"{name}: missing columns {missing}")
    return "select " + ", ".join(f'cast("{c}" as {t}) as "{c}"' for c, t in schema.items()) + " from _frame"


def replace_tables(
    warehouse: Path,
    tables: Mapping[str, pd.DataFrame],
    schemas: Mapping[str, Mapping[str, str]],
    schema: str = ML_SCHEMA,
) -> dict[str, int]:
    """Replace ``schema.<name>`` with each frame in one transaction; returns row counts. Nothing changes on error.

    Tables declared in ``schemas`` (e.g. :data:`laip.ml.tables.SCHEMAS`) get exactly their declared columns and
    types; others keep the frame's.
    """
    if not warehouse.is_file():
        raise FileNotFoundError(f"no warehouse at {warehouse}; run `laip load` and `laip build` first")
    counts: dict[str, int] = {}
    with duckdb.connect(str(warehouse)) as con:
        con.execute("begin transaction").fetchall()
        try:
            con.execute(f"create schema if not exists {schema}").fetchall()
            for name, frame in tables.items():
                con.register("_frame", frame)
                select = _select_sql(name, frame, schemas)
                con.execute(f'create or replace table {schema}."{name}" as {select}').fetchall()
                con.unregister("_frame")
                counts[name] = con.execute(f'select count(*) from {schema}."{name}"').fetchall()[0][0]
            con.execute("commit").fetchall()
        except BaseException:
            con.execute("rollback").fetchall()
            raise
    return counts

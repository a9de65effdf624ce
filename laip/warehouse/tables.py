"""Atomic writes of derived tables into the working warehouse (the ML serving tables of schema ``ml``).

All tables of one step are replaced in ONE DuckDB transaction: readers and ``laip publish`` see either the
previous set or the new set, and a failure anywhere (a bad frame, a full disk) rolls back to the previous set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


Write = Callable[[duckdb.DuckDBPyConnection, str, pd.DataFrame], None]


def _write_all(warehouse: Path, tables: Mapping[str, pd.DataFrame], schema: str, write: Write) -> dict[str, int]:
    """``write(con, name, frame)`` for each table (the frame registered as ``_frame``) in one transaction; returns
    the row counts after it. Nothing changes on error."""
    if not warehouse.is_file():
        raise FileNotFoundError(f"no warehouse at {warehouse}; run `laip load` and `laip build` first")
    counts: dict[str, int] = {}
    with duckdb.connect(str(warehouse)) as con:
        con.execute("begin transaction").fetchall()
        try:
            con.execute(f"create schema if not exists {schema}").fetchall()
            for name, frame in tables.items():
                con.register("_frame", frame)
                write(con, name, frame)
                con.unregister("_frame")
                counts[name] = con.execute(f'select count(*) from {schema}."{name}"').fetchall()[0][0]
            con.execute("commit").fetchall()
        except BaseException:
            con.execute("rollback").fetchall()
            raise
    return counts


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

    def write(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
        con.execute(f'create or replace table {schema}."{name}" as {_select_sql(name, frame, schemas)}').fetchall()

    return _write_all(warehouse, tables, schema, write)


def replace_checkpoint_rows(
    warehouse: Path,
    tables: Mapping[str, pd.DataFrame],
    schemas: Mapping[str, Mapping[str, str]],
    prediction_day: int,
    schema: str = ML_SCHEMA,
) -> dict[str, int]:
    """Replace the rows of checkpoint ``prediction_day`` of each ``schema.<name>`` with the frame (whose rows all
    belong to that checkpoint), keeping the other checkpoints' rows; in one transaction, as :func:`replace_tables`.

    Rows of a table written before it had the declared columns (e.g. no ``prediction_day``) are dropped: they
    cannot be told apart. Returns the tables' row counts after the write."""
    return write_tables(
        warehouse,
        {},
        schemas,
        {name: (frame, "prediction_day", prediction_day) for name, frame in tables.items()},
        schema,
    )


def write_tables(
    warehouse: Path,
    tables: Mapping[str, pd.DataFrame],
    schemas: Mapping[str, Mapping[str, str]],
    partitions: Mapping[str, tuple[pd.DataFrame, str, object]],
    schema: str = ML_SCHEMA,
) -> dict[str, int]:
    """In one transaction: replace each table of ``tables`` whole (as :func:`replace_tables`), and in each table of
    ``partitions`` (name: (frame, column, value)) replace only the rows whose ``column`` is ``value`` (NULL matches
    NULL) with the frame, all of whose rows have that value, keeping the others. A table written before it had the
    declared columns is replaced whole (its rows cannot be told apart). Returns the row counts after the write."""
    for name, (frame, column, value) in partitions.items():
        values = frame[column] if column in frame.columns else None
        same = values is not None and (values.isna().all() if value is None else (values == value).all())
        if not same:
            raise ValueError(f"{name}: every row must have {column} {value}")
    frames = {**tables, **{name: frame for name, (frame, _, _) in partitions.items()}}

    def write(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
        select = _select_sql(name, frame, schemas)
        if name not in partitions:
            con.execute(f'create or replace table {schema}."{name}" as {select}').fetchall()
            return
        _, column, value = partitions[name]
        declared = list(schemas.get(name, frame.columns))
        existing = {
            r[0]
            for r in con.execute(
                "select column_name from duckdb_columns() where schema_name = ? and table_name = ?", [schema, name]
            ).fetchall()
        }
        if set(declared) <= existing:
            cols = ", ".join(f'"{c}"' for c in declared)
            con.execute(
                f'create or replace table {schema}."{name}" as '
                f'select {cols} from {schema}."{name}" where "{column}" is distinct from ? '
                f"union all by name {select}",
                [value],
            ).fetchall()
        else:
            con.execute(f'create or replace table {schema}."{name}" as {select}').fetchall()

    return _write_all(warehouse, frames, schema, write)

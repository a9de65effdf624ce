"""Publish a read-only serving snapshot of the warehouse for dashboards and the API.

Only the governed schemas are copied (``marts``, ``ml`` when present, ``meta``); raw and staging data stay
in the working warehouse. The snapshot is written to a new file and swapped in with an atomic rename, so
a reader (Superset through duckdb-engine, the API) sees the old or the new snapshot, never a half-written
one, and never holds a lock the pipeline needs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from laip.durable import atomic_replace, staging_path
from laip.ingest.load import MANIFEST
from laip.warehouse.build import BUILD_STATUS

PUBLISHED_SCHEMAS = ("marts", "ml", "meta")


class PublishError(RuntimeError):
    pass


@dataclass
class PublishResult:
    path: Path
    seconds: float
    tables: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"Published {len(self.tables)} tables to {self.path} in {self.seconds:.1f} s"]
        lines += [f"  {t:<48} {n:>10,} rows" for t, n in self.tables.items()]
        return "\n".join(lines)

    def as_xcom(self) -> dict[str, Any]:
        """What the Airflow task keeps (JSON)."""
        return {"serving": str(self.path), "tables": self.tables, "seconds": round(self.seconds, 2)}


def check_publishable(con: duckdb.DuckDBPyConnection) -> None:
    """Refuse unless the latest full dbt build succeeded after the latest load, on that load (its load id)."""
    try:
        loaded_at, load_id = con.execute(f"select max(loaded_at), max(load_id) from {MANIFEST}").fetchall()[0]
        last = con.execute(
            f"select success, finished_at, load_id from {BUILD_STATUS} order by finished_at desc limit 1"
        ).fetchone()
    except duckdb.BinderException:  # a warehouse built before builds recorded their load
        last = con.execute(
            f"select success, finished_at, null from {BUILD_STATUS} order by finished_at desc limit 1"
        ).fetchone()
    except duckdb.CatalogException as exc:
        raise PublishError("the warehouse has no dbt build yet; run `laip build` first") from exc
    if last is None or last[1] < loaded_at:
        raise PublishError("warehouse was loaded after its last dbt build; run `laip build` first")
    if last[2] is not None and last[2] != load_id:
        raise PublishError(f"the last dbt build ran on load {last[2]}, the warehouse holds load {load_id}; build it")
    if not last[0]:
        raise PublishError("the last dbt build failed; fix it and run `laip build` before publishing")


def publish(warehouse: Path, serving: Path) -> PublishResult:
    """Copy the governed schemas of ``warehouse`` into a new snapshot and swap it in at ``serving``."""
    start = time.perf_counter()
    if not warehouse.is_file():
        raise PublishError(f"no warehouse at {warehouse}; run the pipeline first")
    serving.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(serving, "publishing")
    staging.unlink(missing_ok=True)
    tables: dict[str, int] = {}
    with duckdb.connect(str(staging)) as con:
        snap = con.execute("select current_database()").fetchall()[0][0]
        con.execute(f"attach '{warehouse}' as wh (read_only)")
        con.execute("use wh")
        check_publishable(con)
        listed = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'wh' "
            f"and schema_name in {PUBLISHED_SCHEMAS!r} order by 1, 2"
        ).fetchall()
        con.execute(f'use "{snap}"')
        for schema in sorted({s for s, _ in listed}):
            con.execute(f"create schema {schema}")
        for schema, table in listed:
            con.execute(f'create table {schema}."{table}" as select * from wh.{schema}."{table}"')
            tables[f"{schema}.{table}"] = con.execute(f'select count(*) from {schema}."{table}"').fetchall()[0][0]
        con.execute("detach wh")
        con.execute("checkpoint")
    atomic_replace(staging, serving)
    return PublishResult(serving, time.perf_counter() - start, tables)

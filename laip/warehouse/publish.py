"""Publish a read-only serving snapshot of the warehouse for dashboards and the API.

Only the governed schemas are copied (``marts``, ``ml`` when present, ``meta``); raw and staging data stay
in the working warehouse. ``meta.publication`` records what the snapshot holds (data, load, model version, when it
was published) and the one line of freshness every dashboard tab shows. The snapshot is written to a new file and
swapped in with an atomic rename, so a reader (Superset through duckdb-engine, the API) sees the old or the new
snapshot, never a half-written one, and never holds a lock the pipeline needs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from laip.durable import new_duckdb_file
from laip.ingest.load import MANIFEST
from laip.ingest.source_guard import SourceFamily, family_of_warehouse
from laip.profile import is_production, redis_url
from laip.warehouse.build import BUILD_STATUS

PUBLISHED_SCHEMAS = ("marts", "ml", "meta")
PUBLICATION = "meta.publication"  # written into the snapshot only
RISK_HISTORY = "ml.ml_withdrawal_risk_history"  # laip.ml.risk_history writes it (ml imports this package, not back)


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


def _newest_risk_date(con: duckdb.DuckDBPyConnection) -> date | None:
    """The newest export date in the risk history (what ``ml_withdrawal_risk_current`` shows), None without one."""
    try:
        return con.execute(f"select max(as_of_date) from {RISK_HISTORY}").fetchall()[0][0]
    except duckdb.CatalogException:
        return None


def _record_publication(con: duckdb.DuckDBPyConnection, family: SourceFamily | None) -> int:
    """``meta.publication``: when this snapshot was published, the load and the model it holds, and the line every
    dashboard tab shows ("Data: ..., loaded ... · Model version N ... · Published ...")."""
    loaded_at, load_id, source_dir, as_of = con.execute(
        f"select max(loaded_at), max(load_id), max(source_dir), max(as_of_date) from {MANIFEST}"
    ).fetchall()[0]
    model = (None, None, None)
    if con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'ml' and table_name = 'ml_withdrawal_predictions'"
    ).fetchall()[0][0]:
        model = con.execute(
            "select max(model_version), max(model_name), max(scored_at) from ml.ml_withdrawal_predictions"
        ).fetchall()[0]
    published_at = datetime.now(UTC).replace(microsecond=0)
    data = family.describe() if family else f"data from {source_dir}"
    scored = (
        f"model version {model[0]} ({model[1]}), scored {model[2]:%Y-%m-%d %H:%M} UTC"
        if model[0] is not None
        else "no model scores yet"
    )
    known = f" as of {as_of} (a live term's export)" if as_of else ", a finished history"
    newest = _newest_risk_date(con)
    if as_of and newest and newest > as_of:  # an older date re-run: its data, yet the newest date's risk list
        known += f"; risk list as of {newest} (the newest run)"
    line = (
        f"Data: {data.split(' (')[0]}{known}, loaded {loaded_at:%Y-%m-%d %H:%M} UTC · {scored} · "
        f"published {published_at:%Y-%m-%d %H:%M} UTC"
    )
    con.execute(
        f"""create table {PUBLICATION} (published_at timestamptz, load_id varchar, loaded_at timestamptz,
            data_source varchar, model_version integer, model_name varchar, scored_at timestamptz, freshness varchar,
            as_of_date date)"""
    )
    con.execute(
        f"insert into {PUBLICATION} values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [published_at, load_id, loaded_at, data, model[0], model[1], model[2], line, as_of],
    )
    return 1


def publish(warehouse: Path, serving: Path, sample_dir: Path | None = None) -> PublishResult:
    """Copy the governed schemas of ``warehouse`` into a new snapshot and swap it in at ``serving``, with the
    snapshot's one-line freshness in ``meta.publication`` (``sample_dir``: tells the bundled sample from real data)."""
    start = time.perf_counter()
    if not warehouse.is_file():
        raise PublishError(f"no warehouse at {warehouse}; run the pipeline first")
    family = family_of_warehouse(warehouse, sample_dir) if sample_dir else None
    tables: dict[str, int] = {}
    with new_duckdb_file(serving, "publishing") as con:
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
        tables[PUBLICATION] = _record_publication(con, family)
    clear_chart_cache()
    return PublishResult(serving, time.perf_counter() - start, tables)


def clear_chart_cache() -> None:
    """Production profile: empty Superset's chart-data cache (its own Redis database, ``laip.profile.REDIS_DB``), so
    that no dashboard serves the previous snapshot; the embedded profile caches no chart data. PublishError when
    Redis cannot be reached (the snapshot is swapped in; publishing again empties the cache)."""
    if not is_production():
        return
    import redis

    url = redis_url("superset_data_cache")
    try:
        redis.Redis.from_url(url, socket_timeout=10).flushdb()
    except redis.RedisError as exc:
        where = url.rpartition("@")[2]  # no password in the message
        raise PublishError(f"published, but Superset's chart cache at {where} could not be emptied: {exc}") from exc

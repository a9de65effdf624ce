"""The bridge between a Spark build and the ML steps: what they read, copied into the DuckDB working warehouse; what
they write, copied back into the Spark warehouse.

The ML steps (train, score, insights, monitor) and publish read and write the DuckDB working warehouse
(``settings.warehouse``) on either engine. On Spark, once a dbt build has succeeded, :func:`copy_serving_tables`
reads through Spark (each table collected to the driver as one Arrow table: no Python per row) what those steps
read: the build's ``marts`` models (the feature mart is one row per attempt and checkpoint), the load manifest,
``raw.courses`` (the data's family, checked by the next load: :mod:`laip.ingest.source_guard`) and
``intermediate.int_student_attempts_joined`` (earlier attempts, :mod:`laip.ml.features`). It writes them into a new
DuckDB file with the current file's ``ml`` schema carried over and the build's record added (``before_swap``), then
swaps that file in atomically, as a load does on DuckDB: the steps after it never see half a copy. It copies only marts
that record the Spark warehouse's current load as the one they were built on (:data:`LOAD_ID_PROPERTY`).

After publish, :func:`write_ml_tables_back` writes the ``ml`` schema into the Spark warehouse (Parquet tables
``ml.<table>``, each staged and renamed into place), so that the lakehouse holds the risk scores beside the marts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from laip.config import Settings
from laip.durable import new_duckdb_file
from laip.ingest.load import MANIFEST, ML_SCHEMA, carry_model_tables
from laip.ingest.source_guard import COURSES
from laip.spark.raw_load import STAGING_SUFFIX as LOAD_STAGING_SUFFIX
from laip.spark.session import quoted, rename_into_place, spark_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

MARTS = "marts"  # the schema of the models the ML steps and publish read
COPIED_TABLES = (MANIFEST, COURSES, "intermediate.int_student_attempts_joined")
STAGING_SUFFIX = "__writing"
LOAD_ID_PROPERTY = "laip.load_id"  # a table property of marts: the load built on (dbt/macros/build_load_id.sql)


class StaleBuild(RuntimeError):
    """The Spark warehouse's marts or load are not those of the DuckDB copy the ML steps would use."""


def copy_serving_tables(
    settings: Settings, marts: list[str], before_swap: Callable[[duckdb.DuckDBPyConnection], None]
) -> dict[str, int]:
    """Copy the Spark build's tables the ML steps read (``marts``: the build's ``marts.<model>``) into a new DuckDB
    working warehouse and swap it in; rows per table. ``before_swap`` writes into the new file last (the build's
    record). Raises :class:`StaleBuild` when a mart was built on another load than the Spark warehouse's (it was
    loaded after the build), or while a load into it is unfinished."""
    warehouse = settings.warehouse
    counts: dict[str, int] = {}
    with spark_session(settings, "laip-serving-copy") as spark:
        _check_no_unfinished_load(spark)
        _check_built_on_current_load(spark, marts)
        with new_duckdb_file(warehouse, "serving") as con:
            for table in [*COPIED_TABLES, *marts]:
                frame = spark.table(quoted(table)).toArrow()
                schema, name = (quoted(part, quote='"') for part in table.split("."))
                con.execute(f"create schema if not exists {schema}")
                con.register("spark_frame", frame)
                con.execute(f"create table {schema}.{name} as select * from spark_frame")
                con.unregister("spark_frame")
                counts[table] = frame.num_rows
            carry_model_tables(con, warehouse, (ML_SCHEMA,))
            before_swap(con)
    log.info("copied %d tables of the Spark build into %s", len(counts), warehouse)
    return counts


def _check_no_unfinished_load(spark: SparkSession) -> None:
    """A load stopped during its swap may have replaced some raw tables and not the manifest: nothing built on that
    is certified or published until the next load finishes it (:func:`laip.spark.raw_load.finish_interrupted_load`)."""
    if spark.catalog.tableExists(f"{MANIFEST}{LOAD_STAGING_SUFFIX}"):
        raise StaleBuild("a load into the Spark warehouse was interrupted: run `laip load` again, then `laip build`")


def _check_built_on_current_load(spark: SparkSession, marts: list[str]) -> None:
    """Every mart records the Spark warehouse's current load as the load it was built on (:data:`LOAD_ID_PROPERTY`,
    set by the marts' post-hook, dbt/macros/build_load_id.sql)."""
    if not marts:
        raise StaleBuild("the dbt build has no marts: run `laip build`")
    current = current_load_id(spark)
    if current is None:
        raise StaleBuild("the Spark warehouse holds no load: run `laip load`, then `laip build`")
    for table in marts:
        built_on = built_on_load(spark, table) if spark.catalog.tableExists(table) else None
        if built_on != current:
            raise StaleBuild(
                f"{table} was built on load {built_on}, the Spark warehouse holds load {current}: build it again"
            )


def current_load_id(spark: SparkSession) -> str | None:
    """The load id of the Spark warehouse's last completed load (None before the first)."""
    if not spark.catalog.tableExists(MANIFEST):
        return None
    return spark.table(MANIFEST).agg({"load_id": "max"}).collect()[0][0]


def built_on_load(spark: SparkSession, table: str) -> str | None:
    """The load id ``table`` records as the one it was built on (None when it records none)."""
    properties = {row["key"]: row["value"] for row in spark.sql(f"show tblproperties {quoted(table)}").collect()}
    return properties.get(LOAD_ID_PROPERTY)


def check_same_load(spark: SparkSession, warehouse: Path) -> str:
    """The load id of both warehouses; raises :class:`StaleBuild` when the Spark warehouse was loaded after the
    build the DuckDB copy holds."""
    _check_no_unfinished_load(spark)
    if not warehouse.is_file():
        raise StaleBuild(f"no copy of a Spark build at {warehouse}: run `laip build`")
    spark_load = current_load_id(spark)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        copied = con.execute(f"select max(load_id) from {MANIFEST}").fetchall()[0][0]
    if spark_load != copied:
        raise StaleBuild(
            f"the Spark warehouse holds load {spark_load}, its last build copied for the ML steps load {copied}: "
            "run `laip build`"
        )
    return str(spark_load)


def write_ml_tables_back(spark: SparkSession, warehouse: Path) -> list[str]:
    """Write the ``ml`` schema of the DuckDB working warehouse into the Spark warehouse (tables it no longer has are
    dropped there); the tables written."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where schema_name = ? order by 1", [ML_SCHEMA]
            ).fetchall()
        ]
        frames = {name: con.table(quoted(f"{ML_SCHEMA}.{name}", quote='"')).to_arrow_table() for name in names}
    spark.sql(f"create database if not exists {quoted(ML_SCHEMA)}")
    for name, frame in frames.items():
        table = f"{ML_SCHEMA}.{name}"
        staged = quoted(table + STAGING_SUFFIX)
        spark.createDataFrame(frame).write.format("parquet").mode("overwrite").saveAsTable(staged)
        rename_into_place(spark, table + STAGING_SUFFIX, table)
    for gone in {t.name for t in spark.catalog.listTables(ML_SCHEMA)} - set(names):
        spark.sql(f"drop table if exists {quoted(f'{ML_SCHEMA}.{gone}')}")
    log.info("wrote %d ml tables back into the Spark warehouse", len(names))
    return names

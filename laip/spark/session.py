"""One local ``SparkSession`` configured exactly as dbt's ``spark`` target (``dbt/profiles.yml``).

dbt-spark's ``method: session`` starts a ``SparkSession`` with Hive support inside the dbt process, configured by
the target's ``server_side_parameters``: the master, the warehouse directory (Parquet files) and the metastore (an
embedded Derby database) under ``$LAIP_HOME/spark``. The platform's own Spark steps read those same parameters from
the profile, so they see the tables dbt builds. Derby admits one process at a time: the steps run one after the
other under the warehouse's writer lock (:mod:`laip.locks`), as on DuckDB.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import yaml

from laip.config import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SPARK_TARGET = "spark"


def spark_conf(settings: Settings, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``server_side_parameters`` of the profile's ``spark`` target, rendered as dbt renders them."""
    profile = yaml.safe_load((settings.dbt_project_dir / "profiles.yml").read_text())
    params: dict[str, Any] = profile["laip"]["outputs"][SPARK_TARGET]["server_side_parameters"]
    environ = {**os.environ, "LAIP_SPARK_DIR": str(settings.spark_dir), **(env or {})}

    def env_var(name: str, default: str | None = None) -> str:
        if name in environ:
            return environ[name]
        if default is None:
            raise KeyError(f"dbt/profiles.yml: env var {name} is not set")
        return default

    jinja = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return {str(k): jinja.from_string(str(v)).render(env_var=env_var) for k, v in params.items()}


def warehouse_dir(settings: Settings) -> Path:
    """The Spark warehouse's directory (``spark.sql.warehouse.dir`` of the dbt profile)."""
    return Path(spark_conf(settings)["spark.sql.warehouse.dir"])


def table_dir(warehouse: Path, table: str) -> Path:
    """Where the Parquet files of the managed table ``schema.table`` are in the Spark warehouse directory
    ``warehouse`` (:func:`warehouse_dir`; Spark's layout: ``<warehouse>/<schema>.db/<table>``), for a read without a
    JVM."""
    schema, name = table.split(".")
    return warehouse / f"{schema}.db" / name


@contextmanager
def spark_session(settings: Settings, app_name: str = "laip") -> Iterator[SparkSession]:
    """A ``SparkSession`` on the platform's Spark warehouse, stopped (JVM and metastore released) afterwards."""
    from pyspark.sql import SparkSession

    settings.spark_dir.mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.appName(app_name).enableHiveSupport()
    for key, value in spark_conf(settings).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    try:
        yield session
    finally:
        try:
            session.stop()
        finally:
            _stop_jvm()


def _stop_jvm() -> None:
    """End this process's JVM, so that it releases the metastore: a ``SparkSession`` stopped in a JVM that lives on
    keeps the embedded Derby database booted, and the next process (dbt) could not open it."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    if gateway is None:
        return
    SparkContext._gateway = None
    SparkContext._jvm = None
    proc = getattr(gateway, "proc", None)
    try:
        gateway.shutdown()
    finally:
        if proc is not None:  # the JVM exits when its stdin closes (pyspark.java_gateway)
            proc.stdin.close()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def quoted(table: str, quote: str = "`") -> str:
    """``schema.table`` as a quoted identifier: Spark SQL's backticks, or DuckDB's double quotes (``quote='"'``)."""
    return ".".join(quote + part.replace(quote, quote * 2) + quote for part in table.split("."))


def rename_into_place(spark: SparkSession, staged: str, table: str) -> None:
    """``table`` replaced by the staged table ``staged`` (dropped, then a metastore rename): repeatable after a crash
    between the two, while ``staged`` exists."""
    spark.sql(f"drop table if exists {quoted(table)}")
    spark.sql(f"alter table {quoted(staged)} rename to {quoted(table)}")

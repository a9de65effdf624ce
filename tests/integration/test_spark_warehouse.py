"""The same dbt project on Apache Spark (``warehouse.engine: spark``; dbt-spark ``method: session``, pyspark, Java 17).

On the committed sample, ``laip run`` on the Spark engine: the load reads the validated files with Spark's CSV reader
into Parquet tables, the build runs ``dbt build --target spark`` (every model, data test and unit test; the feature
families' unit tests put events on both sides of day P) and copies what the ML steps read into their DuckDB working
warehouse, the ML steps train and score, and publish writes their ``ml`` tables back into the Spark warehouse. Then:
every mart has the DuckDB build's columns, types and rows (doubles within 1e-9); the scores are in Spark; and the
leakage proof holds on Spark: rewriting every event after day 30 changes no feature of checkpoint 30
(tests/support/leakage.py).

The Spark tables are read back with DuckDB from their Parquet files: no second JVM, and what is compared is what
Spark wrote.
"""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from support.data import SAMPLE_DIR
from support.leakage import TARGET, changed_features, rewritten_raw_tables

from laip.config import Settings, load_settings
from laip.spark.raw_load import finish_interrupted_load
from laip.spark.session import spark_session, table_dir, warehouse_dir
from laip.warehouse.build import BuildResult, run_dbt
from laip.warehouse.engine import NotCertified, certify, last_load_family
from laip.warehouse.status import status

pytestmark = [pytest.mark.integration, pytest.mark.spark, pytest.mark.xdist_group("spark")]  # support/workers.py

MART = "mart_withdrawal_prediction_features"
SPARK_ENV = {"LAIP_WAREHOUSE_ENGINE": "spark"}


def laip(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``laip ARGS`` on the Spark engine in its own process (its own JVM), as ops run it (quick ML profile)."""
    env = {**os.environ, **SPARK_ENV, "LAIP_HOME": str(home), "LAIP_ML_PROFILE": "quick"}
    env.pop("LAIP_DATA_DIR", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("laip")), *args], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, (
        f"laip {' '.join(args)}: exit {proc.returncode}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    )
    return proc


def parquet(settings: Settings, schema: str, table: str) -> str:
    """DuckDB's reader of a Spark table's Parquet files (where Spark lays out a managed table)."""
    return f"read_parquet('{table_dir(warehouse_dir(settings), f'{schema}.{table}')}/*.parquet')"


@pytest.fixture(scope="module")
def spark_run(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """``laip run data/sample`` on the Spark engine: validate, load, build, train, score, insights, publish."""
    home = tmp_path_factory.mktemp("spark") / "home"
    ran = laip(home, "run", str(SAMPLE_DIR))
    out = ran.stdout + ran.stderr
    assert "raw.student_vle" in out and "dbt build: OK" in out and "model:success 40" in out, out[-3000:]
    settings = load_settings(home=home)
    return dataclasses.replace(settings, raw={**settings.raw, "warehouse": {"engine": "spark"}})


def marts(duck: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in duck.execute("select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()]


def _rows(con: duckdb.DuckDBPyConnection, relation: str, where: str = "true") -> tuple[list[tuple], list[tuple]]:
    """(column name, type) and the rows (ordered by every column) of ``relation``."""
    cols = con.execute(f"select column_name, column_type from (describe select * from {relation})").fetchall()
    return cols, con.execute(f"select * from {relation} where {where} order by all").fetchall()


def _same(a: object, b: object) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isclose(a, b, rel_tol=0, abs_tol=1e-9))


def _instant(value: object) -> object:
    """A timestamp as its UTC instant, without a zone: Spark writes instants (session zone UTC) that DuckDB reads
    back without a zone, while the published tables hold ``timestamptz`` values."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def test_every_mart_equals_duckdbs_column_by_column(spark_run: Settings, built_sample: Settings) -> None:
    """Same columns, types and rows as the DuckDB build of the same files (doubles within 1e-9)."""
    with duckdb.connect(str(built_sample.warehouse), read_only=True) as duck:
        names = marts(duck)
        assert len(names) >= 12 and MART in names
        for name in names:
            cols, expected = _rows(duck, f"marts.{name}")
            spark_cols, got = _rows(duck, parquet(spark_run, "marts", name))
            assert spark_cols == cols, f"marts.{name}: columns or types differ"
            assert len(got) == len(expected) > 0, f"marts.{name}: {len(got)} rows on Spark, {len(expected)} on DuckDB"
            differ = [
                (row[:2], col, a, b)
                for row, other in zip(expected, got, strict=True)
                for (col, _), a, b in zip(cols, row, other, strict=True)
                if not _same(a, b)
            ]
            assert not differ, f"marts.{name}: {len(differ)} values differ, e.g. {differ[:5]}"


def test_the_ml_steps_score_the_spark_build_and_write_their_tables_back(spark_run: Settings) -> None:
    """The ML steps ran on the Spark build's copy (its build recorded there, so publish shipped it), and the published
    ``ml`` tables are in the Spark warehouse, row for row."""
    with duckdb.connect(str(spark_run.serving_warehouse), read_only=True) as served:
        loads = served.execute("select distinct load_id from meta.load_manifest").fetchall()
        build = served.execute("select success, load_id from meta.build_status order by finished_at desc").fetchone()
        assert build == (True, loads[0][0]) and len(loads) == 1
        ml = [
            r[0] for r in served.execute("select table_name from duckdb_tables() where schema_name = 'ml'").fetchall()
        ]
        assert {"ml_withdrawal_predictions", "ml_withdrawal_risk_history"} <= set(ml), ml
        scored = served.execute("select count(*) from ml.ml_withdrawal_predictions").fetchall()[0][0]
        assert scored > 100
        for name in ml:  # the same columns and rows, timestamps as the same UTC instants
            cols, expected = _rows(served, f"ml.{name}")
            spark_cols, got = _rows(served, parquet(spark_run, "ml", name))
            assert [c for c, _ in spark_cols] == [c for c, _ in cols], f"ml.{name}: columns differ"
            assert len(got) == len(expected), f"ml.{name}: {len(got)} rows in Spark, {len(expected)} published"
            assert [list(map(_instant, r)) for r in got] == [list(map(_instant, r)) for r in expected], name
    with duckdb.connect() as duck:
        spark_manifest = duck.execute(f"select distinct load_id from {parquet(spark_run, 'meta', 'load_manifest')}")
        assert spark_manifest.fetchall() == loads


def test_after_a_new_load_neither_certify_nor_publish_ships_the_older_build(spark_run: Settings) -> None:
    """A load between the build and certify or publish: the marts record the older load, so certify refuses them, and
    publish refuses the ML steps' copy of the older load. A load cut short in its swap is refused too, and the next
    load's start finishes it. The published snapshot stays as it was."""
    before = spark_run.serving_warehouse.read_bytes()
    laip(spark_run.home, "load", "--force", str(SAMPLE_DIR))
    env = {**os.environ, **SPARK_ENV, "LAIP_HOME": str(spark_run.home)}
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("laip")), "publish"], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode != 0 and "run `laip build`" in proc.stdout + proc.stderr, proc.stderr[-2000:]
    # `laip info` and the source guard see the Spark warehouse's new load, not the ML steps' copy of the older one
    with duckdb.connect() as duck:
        manifest_files = parquet(spark_run, "meta", "load_manifest")
        spark_load = duck.execute(f"select max(load_id) from {manifest_files}").fetchall()[0][0]
    with duckdb.connect(str(spark_run.warehouse), read_only=True) as copy:
        assert copy.execute("select max(load_id) from meta.load_manifest").fetchall()[0][0] != spark_load
    last = status(spark_run)["last_load"]
    family = last_load_family(spark_run)
    assert last is not None and last["load_id"] == spark_load and family is not None and family.is_sample
    manifest = spark_run.dbt_target_dir / "manifest.json"  # the build's
    with pytest.raises(NotCertified, match=r"built on load .+, the Spark warehouse holds load"):
        certify(spark_run, BuildResult(True, "test", 0.0), manifest)
    # a load cut short in its swap (its manifest staged): nothing is certified until the next load finishes it
    with spark_session(spark_run, "laip-test-interrupt") as spark:
        spark.sql("create table meta.load_manifest__loading using parquet as select * from meta.load_manifest")
    with pytest.raises(NotCertified, match="interrupted"):
        certify(spark_run, BuildResult(True, "test", 0.0), manifest)
    with spark_session(spark_run, "laip-test-finish") as spark:
        finish_interrupted_load(spark)
        assert not spark.catalog.tableExists("meta.load_manifest__loading")
        assert spark.table("meta.load_manifest").count() == 7
    assert spark_run.serving_warehouse.read_bytes() == before


def test_events_after_day_30_change_no_feature_of_day_30_on_spark(spark_run: Settings) -> None:
    """The module's last test: it rewrites the future in the fixture's Spark warehouse and rebuilds the feature mart
    there (the build's tests ran before)."""
    day = 30
    settings = dataclasses.replace(spark_run, checkpoints=(day,), prediction_day=day)
    where = f"prediction_day = {day}"
    with duckdb.connect() as duck:
        cols, original = _rows(duck, parquet(settings, "marts", MART), where)
    with spark_session(settings, "laip-test-rewrite") as spark:
        for table, select in rewritten_raw_tables(day).items():
            spark.sql(f"create table raw.{table}__rewritten using parquet as {select}")
            spark.sql(f"drop table raw.{table}")
            spark.sql(f"alter table raw.{table}__rewritten rename to raw.{table}")
        assert spark.sql(f"select count(*) from raw.student_vle where date > {day}").collect()[0][0] == 0
    result = run_dbt(settings, "run", "--select", f"+{MART}")
    assert result.success, result.summary()
    with duckdb.connect() as duck:
        cols2, rewritten = _rows(duck, parquet(settings, "marts", MART), where)
    assert cols == cols2
    keep = [i for i, (c, _) in enumerate(cols) if c != TARGET]
    diffs = changed_features(
        [cols[i][0] for i in keep],
        [tuple(r[i] for i in keep) for r in original],
        [tuple(r[i] for i in keep) for r in rewritten],
        day,
    )
    assert not diffs, f"{len(diffs)} feature values of day {day} changed on Spark, e.g. {diffs[:5]}"

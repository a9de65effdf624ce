"""On Spark, the source guard and ``laip info`` read the Spark warehouse's own last load (its Parquet files, without a
JVM), not the ML steps' DuckDB copy, which holds the last build's."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from laip.config import Settings, load_settings
from laip.ingest.load import MANIFEST, MANIFEST_COLUMNS
from laip.ingest.source_guard import COURSES
from laip.spark.raw_load import STAGING_SUFFIX as STAGED
from laip.spark.session import table_dir, warehouse_dir
from laip.warehouse.engine import last_load_family
from laip.warehouse.status import status


@pytest.fixture
def spark_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LAIP_WAREHOUSE_ENGINE", "spark")
    return load_settings(home=tmp_path / "home")


def write_load(
    settings: Settings,
    load_id: str,
    presentations: list[tuple[str, str]],
    tables: tuple[str, ...] = (MANIFEST, COURSES),
    suffix: str = "",
) -> None:
    """A load's manifest and courses (``tables`` of them, named ``<table><suffix>``) as Spark lays out managed Parquet
    tables."""
    columns = ", ".join(f"null::{kind} as {name}" for name, kind in MANIFEST_COLUMNS)
    with duckdb.connect() as con:
        for table, sql in {
            MANIFEST: f"""select * replace ('{load_id}' as load_id, 'courses.csv' as file_name, 'real' as source,
                '/data/x' as source_dir, 'ab' as sha256, 22 as row_count) from (select {columns})""",
            COURSES: "select * from (values "
            + ", ".join(f"('{m}', '{p}')" for m, p in presentations)
            + ") t(code_module, code_presentation)",
        }.items():
            if table not in tables:
                continue
            target = table_dir(warehouse_dir(settings), table + suffix)
            target.mkdir(parents=True)
            con.execute(f"copy ({sql}) to '{target}/part-00000.parquet' (format parquet)")


def test_the_spark_tables_are_where_spark_lays_them_out(spark_settings: Settings) -> None:
    warehouse = spark_settings.spark_dir / "warehouse"
    assert table_dir(warehouse_dir(spark_settings), MANIFEST) == warehouse / "meta.db" / "load_manifest"


def test_the_spark_warehouses_load_not_the_copys_is_the_last_load(spark_settings: Settings) -> None:
    assert last_load_family(spark_settings) is None and status(spark_settings)["last_load"] is None
    write_load(spark_settings, "20261205T000000Z", [("AAA", "2013J"), ("BBB", "2014B")])
    spark_settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(spark_settings.warehouse)) as copy:  # the ML steps' copy of an older build
        copy.execute("create schema meta")
        copy.execute(f"create table {MANIFEST} as select '20261201T000000Z' as load_id")

    family = last_load_family(spark_settings)
    assert family is not None and not family.is_sample
    assert family.presentations == {"AAA 2013J", "BBB 2014B"}
    last = status(spark_settings)["last_load"]
    assert last is not None and last["load_id"] == "20261205T000000Z" and last["raw_rows"] == 22


def test_a_load_cut_short_in_its_swap_is_still_the_last_load(spark_settings: Settings) -> None:
    """Once a load has staged its manifest, the next load finishes its swap (raw_load.finish_interrupted_load): its
    staged tables are the last load, also while the current ones are half replaced. Before that, the next load drops
    what it staged: the current tables are the last load."""
    write_load(spark_settings, "20261201T000000Z", [("AAA", "2013J")])
    write_load(spark_settings, "20261205T000000Z", [("BBB", "2014B")], tables=(COURSES,), suffix=STAGED)
    family = last_load_family(spark_settings)
    assert family is not None and family.presentations == {"AAA 2013J"}
    assert (status(spark_settings)["last_load"] or {}).get("load_id") == "20261201T000000Z"

    write_load(spark_settings, "20261205T000000Z", [("BBB", "2014B")], tables=(MANIFEST,), suffix=STAGED)
    shutil.rmtree(table_dir(warehouse_dir(spark_settings), COURSES))  # the swap dropped raw.courses, then stopped
    family = last_load_family(spark_settings)
    assert family is not None and family.presentations == {"BBB 2014B"}
    assert (status(spark_settings)["last_load"] or {}).get("load_id") == "20261205T000000Z"

    table_dir(warehouse_dir(spark_settings), COURSES + STAGED).rename(
        table_dir(warehouse_dir(spark_settings), COURSES)
    )  # renamed, manifest not
    assert last_load_family(spark_settings) == family


def test_an_unreadable_last_load_does_not_break_laip_info(spark_settings: Settings) -> None:
    write_load(spark_settings, "20261205T000000Z", [("AAA", "2013J")])
    for part in table_dir(warehouse_dir(spark_settings), MANIFEST).iterdir():
        part.unlink()  # the directory without its files, as during a rename
    assert status(spark_settings)["last_load"] is None
    assert last_load_family(spark_settings) is None

"""Run the dbt project (dbt-duckdb) against the warehouse and record the outcome in ``meta.build_status``.

``publish`` only ships a warehouse whose latest build succeeded after its latest load, so a failing dbt
test can never reach the dashboards.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from laip.config import Settings
from laip.ingest.load import MANIFEST
from laip.warehouse.engine import is_spark
from laip.warehouse.rule_failures import COLUMN_RULES, broken_rules, node_name

log = logging.getLogger(__name__)

BUILD_STATUS = "meta.build_status"


@dataclass
class BuildResult:
    success: bool
    command: str
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)  # e.g. {"model:success": 20, "test:pass": 150}
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        head = f"dbt {self.command}: {'OK' if self.success else 'FAILED'} in {self.seconds:.1f} s ({parts})"
        return "\n".join([head, *("  " + f for f in self.failures)])

    def as_xcom(self) -> dict[str, Any]:
        """What the Airflow task keeps (JSON)."""
        return {"counts": self.counts, "seconds": round(self.seconds, 2)}


def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment dbt needs: what ``dbt/profiles.yml`` reads (the target, i.e. the warehouse engine, the DuckDB
    file, the Spark warehouse's directory)."""
    return {
        "LAIP_WAREHOUSE_ENGINE": settings.warehouse_engine,
        "LAIP_WAREHOUSE": str(settings.warehouse),
        "LAIP_SPARK_DIR": str(settings.spark_dir),
        "DBT_PROFILES_DIR": str(settings.dbt_project_dir),
    }


def dbt_args_tail(settings: Settings, *extra: str, target_path: Path | None = None) -> list[str]:
    """Flags every dbt call of the platform gets: project, profile, target/log dirs under LAIP_HOME, vars."""
    return [
        "--project-dir",
        str(settings.dbt_project_dir),
        "--profiles-dir",
        str(settings.dbt_project_dir),
        "--target-path",
        str(target_path or settings.dbt_target_dir),
        "--log-path",
        str(settings.dbt_log_dir),
        "--vars",
        json.dumps(settings.dbt_vars()),
        *extra,
    ]


def dbt_executable() -> str:
    """The ``dbt`` installed beside the running interpreter (the project's venv)."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def run_dbt(settings: Settings, command: str, *extra: str, target_path: Path | None = None) -> BuildResult:
    """Run dbt in its own process (so it holds no DuckDB handle afterwards) and summarise run_results.json."""
    start = time.perf_counter()
    results_file = (target_path or settings.dbt_target_dir) / "run_results.json"
    results_file.unlink(missing_ok=True)
    proc = subprocess.run(
        [dbt_executable(), *command.split(), *dbt_args_tail(settings, *extra, target_path=target_path)],
        env={**os.environ, **dbt_env(settings)},
        check=False,
    )
    counts: Counter[str] = Counter()
    failures: list[str] = []
    if results_file.is_file():
        for r in json.loads(results_file.read_text()).get("results", []):
            kind = r["unique_id"].split(".")[0]
            counts[f"{kind}:{r['status']}"] += 1
            if r["status"] in {"error", "fail", "runtime error"}:
                name = node_name(r["unique_id"])
                found = (r.get("message") or "").strip()[:300]
                if r["status"] == "fail" and name.startswith(COLUMN_RULES) and r.get("compiled_code"):
                    if not is_spark(settings):  # which rules, which columns: the test's rows
                        found = broken_rules(settings.warehouse, r["compiled_code"]) or found
                failures.append(f"{kind} {name}: {r['status']}: {found}")
    if proc.returncode and not failures:
        failures.append(f"dbt exited with code {proc.returncode}")
    return BuildResult(proc.returncode == 0, command, time.perf_counter() - start, dict(counts), failures)


def built_models(manifest: Path) -> list[tuple[str, str]]:
    """(schema, relation) of every enabled model of the dbt manifest that the build materialises."""
    nodes = json.loads(Path(manifest).read_text())["nodes"].values()
    return sorted(
        (n["schema"], n.get("alias") or n["name"])
        for n in nodes
        if n["resource_type"] == "model"
        and n["config"].get("enabled", True)
        and n["config"].get("materialized") not in ("ephemeral",)
    )


def missing_models(warehouse: Path, manifest: Path) -> list[str]:
    """The models of ``manifest`` that are not in ``warehouse``: a warehouse that was replaced after its build (a
    load swaps in a file with raw data only) lacks them all."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        present = set(
            con.execute(
                "select schema_name, table_name from duckdb_tables() "
                "union select schema_name, view_name from duckdb_views() where not internal"
            ).fetchall()
        )
    return [f"{schema}.{name}" for schema, name in built_models(manifest) if (schema, name) not in present]


def stale_build(settings: Settings, manifest: Path) -> str | None:
    """Why the DuckDB warehouse no longer holds the build of ``manifest`` (models missing: a load replaced the file
    after it), or None when it does."""
    missing = missing_models(settings.warehouse, manifest)
    if not missing:
        return None
    return (
        f"{len(missing)} models of the dbt build are not in {settings.warehouse} (e.g. {', '.join(missing[:3])}); "
        "it was replaced after the build (a load in between?): build it again"
    )


def record_build_status(warehouse: Path, result: BuildResult) -> None:
    """Append the build outcome to ``meta.build_status`` in the warehouse, with the load it was built on."""
    with duckdb.connect(str(warehouse)) as con:
        write_build_status(con, result)


def write_build_status(con: duckdb.DuckDBPyConnection, result: BuildResult) -> None:
    """:func:`record_build_status` on an open connection."""
    con.execute("create schema if not exists meta")
    con.execute(f"""create table if not exists {BUILD_STATUS} (
        finished_at timestamptz, command varchar, success boolean, seconds double, counts json)""")
    con.execute(f"alter table {BUILD_STATUS} add column if not exists load_id varchar")
    load_id = con.execute(f"select max(load_id) from {MANIFEST}").fetchall()[0][0]
    con.execute(
        f"insert into {BUILD_STATUS} (finished_at, command, success, seconds, counts, load_id) "
        "values (?, ?, ?, ?, ?, ?)",
        [
            datetime.now(UTC),
            result.command,
            result.success,
            round(result.seconds, 3),
            json.dumps(result.counts),
            load_id,
        ],
    )


def certify_spark_build(settings: Settings, result: BuildResult, manifest: Path) -> None:
    """After a full Spark build: the ML steps' copy of it (:mod:`laip.spark.serving_copy`) with the build's record
    (``meta.build_status``, what ``publish`` checks). A failed build is recorded in the current copy, so that publish
    refuses. Raises :class:`~laip.spark.serving_copy.StaleBuild` for marts built on another load than the
    Spark warehouse's."""
    from laip.spark.serving_copy import MARTS, copy_serving_tables

    if result.success:
        marts = [f"{schema}.{name}" for schema, name in built_models(manifest) if schema == MARTS]
        copy_serving_tables(settings, marts, lambda con: write_build_status(con, result))
    elif settings.warehouse.is_file():
        record_build_status(settings.warehouse, result)


#: dbt's flag that leaves the unit tests out of a build (``unit_tests=False``: a scheduled run, laip.yaml live_term).
NO_UNIT_TESTS = ("--exclude-resource-type", "unit_test")


def build(
    settings: Settings, *, select: str | None = None, full_refresh: bool = False, unit_tests: bool = True
) -> BuildResult:
    """``dbt build`` (models, seeds, snapshots and all tests) on the warehouse; raises nothing, check ``success``.
    ``unit_tests=False``: without dbt's unit tests, which test the project's SQL on fixed rows, not the data (a
    scheduled run's build: CI and ``make run`` run them; dbt advises the same).

    On Spark (``warehouse.engine: spark``) the same project builds with the ``spark`` target, and a full build is then
    copied for the ML steps with its record (:func:`certify_spark_build`)."""
    spark = is_spark(settings)
    if not spark and not settings.warehouse.is_file():
        raise FileNotFoundError(f"no warehouse at {settings.warehouse}; run `laip load` first")
    extra = [
        *(["--select", select] if select else []),
        *(["--full-refresh"] if full_refresh else []),
        *(NO_UNIT_TESTS if not unit_tests else []),
    ]
    result = run_dbt(settings, "build", *extra)
    if spark:
        if not select:
            try:
                certify_spark_build(settings, result, settings.dbt_target_dir / "manifest.json")
            except Exception as exc:  # e.g. StaleBuild: the build certifies nothing
                result.success = False
                result.failures.append(f"the ML steps' copy of the Spark build failed: {exc}")
        log.info(result.summary())
        return result
    manifest = settings.dbt_target_dir / "manifest.json"
    stale = stale_build(settings, manifest) if result.success and not select else None
    if stale:  # the file was replaced while dbt ran: this build certifies nothing
        result.success = False
        result.failures.append(stale)
    if not select:  # a partial build does not certify the warehouse for publishing
        record_build_status(settings.warehouse, result)
    log.info(result.summary())
    return result


def parse(settings: Settings) -> Path:
    """``dbt parse`` into ``settings.dbt_manifest_dir``; returns the manifest the Airflow DAG renders from.

    Parsing needs no warehouse, so the DAG can be rendered before the first load.
    """
    result = run_dbt(settings, "parse", target_path=settings.dbt_manifest_dir)
    manifest = settings.dbt_manifest_dir / "manifest.json"
    if not result.success or not manifest.is_file():
        raise RuntimeError(f"dbt parse failed: {result.summary()}")
    return manifest


def docs(settings: Settings) -> BuildResult:
    """``dbt docs generate`` into the dbt target dir (catalog + static site)."""
    return run_dbt(settings, "docs generate")

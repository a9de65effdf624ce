"""Run the dbt project (dbt-duckdb) against the warehouse and record the outcome in ``meta.build_status``.

``publish`` only ships a warehouse whose latest build succeeded after its latest load, so a failing dbt
test can never reach the dashboards.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import duckdb

from laip.config import Settings

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


def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment dbt needs: the warehouse path read by ``dbt/profiles.yml``."""
    return {"LAIP_WAREHOUSE": str(settings.warehouse), "DBT_PROFILES_DIR": str(settings.dbt_project_dir)}


def dbt_args(settings: Settings, command: str, *extra: str) -> list[str]:
    return [
        command,
        "--project-dir", str(settings.dbt_project_dir),
        "--profiles-dir", str(settings.dbt_project_dir),
        "--target-path", str(settings.dbt_target_dir),
        "--log-path", str(settings.dbt_log_dir),
        "--vars", json.dumps(settings.dbt_vars()),
        *extra,
    ]


@contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_dbt(settings: Settings, command: str, *extra: str) -> BuildResult:
    """Invoke dbt in-process (``dbtRunner``) and summarise node results."""
    from dbt.cli.main import dbtRunner  # heavy import, only when dbt actually runs

    start = time.perf_counter()
    with _env(dbt_env(settings)):
        res = dbtRunner().invoke(dbt_args(settings, command, *extra))
    counts: Counter[str] = Counter()
    failures: list[str] = []
    for r in getattr(res.result, "results", None) or []:
        node = getattr(r, "node", None)
        kind = getattr(node, "resource_type", "node")
        status = str(getattr(r, "status", "unknown"))
        counts[f"{kind}:{status}"] += 1
        if status in {"error", "fail", "runtime error"}:
            failures.append(f"{kind} {getattr(node, 'name', '?')}: {status}: {(r.message or '').strip()[:300]}")
    if res.exception is not None:
        failures.append(f"dbt raised: {res.exception}")
    return BuildResult(bool(res.success), command, time.perf_counter() - start, dict(counts), failures)


def record_build_status(warehouse: Path, result: BuildResult) -> None:
    """Append the build outcome to ``meta.build_status`` in the warehouse."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists meta")
        con.execute(f"""create table if not exists {BUILD_STATUS} (
            finished_at timestamptz, command varchar, success boolean, seconds double, counts json)""")
        con.execute(f"insert into {BUILD_STATUS} values (?, ?, ?, ?, ?)",
                    [datetime.now(timezone.utc), result.command, result.success, round(result.seconds, 3),
                     json.dumps(result.counts)])


def build(settings: Settings, *, select: str | None = None, full_refresh: bool = False) -> BuildResult:
    """``dbt build`` (models, seeds, snapshots and all tests) on the warehouse; raises nothing, check ``success``."""
    if not settings.warehouse.is_file():
        raise FileNotFoundError(f"no warehouse at {settings.warehouse}; run `laip load` first")
    extra = [*(["--select", select] if select else []), *(["--full-refresh"] if full_refresh else [])]
    result = run_dbt(settings, "build", *extra)
    if not select:  # a partial build does not certify the warehouse for publishing
        record_build_status(settings.warehouse, result)
    log.info(result.summary())
    return result


def docs(settings: Settings) -> BuildResult:
    """``dbt docs generate`` into the dbt target dir (catalog + static site)."""
    return run_dbt(settings, "docs", "generate")

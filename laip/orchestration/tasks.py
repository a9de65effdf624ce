"""The pipeline's steps as plain functions: what each Airflow task (and ``laip run``) calls.

Every function takes the resolved :class:`~laip.config.Settings`, logs its progress, raises on failure
and returns a small JSON-serialisable summary (Airflow keeps it as the task's XCom). Each one is
idempotent: running it again on the same inputs gives the same warehouse.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from laip.config import Settings

log = logging.getLogger(__name__)


class StepFailed(RuntimeError):
    """A step failed for a reason a retry cannot fix (bad input, failing data test)."""


def data_source(settings: Settings, data_dir: str | Path | None):
    """Where the raw files come from (``data_dir``, LAIP_DATA_DIR, a download, or the bundled sample), logged."""
    from laip.ingest.acquire import resolve_data_dir

    source = resolve_data_dir(settings, Path(data_dir) if data_dir else None)
    log.info(source.message)
    return source


def run_validation(settings: Settings, data_dir: str | Path | None = None):
    """Validate the raw OULAD files and write the report: (data source, report, report path)."""
    from laip.ingest.validate import validate, write_report

    source = data_source(settings, data_dir)
    report = validate(
        source.path,
        max_examples=settings.max_examples_per_rule,
        tolerance_days=settings.click_log_complete_tolerance_days,
    )
    return source, report, write_report(report, settings.reports_dir)


def validate_raw(settings: Settings, data_dir: str | Path | None = None) -> dict[str, Any]:
    """Validate the raw OULAD files; raise :class:`StepFailed` naming every problem (file, column, row)."""
    source, report, path = run_validation(settings, data_dir)
    for line in report.summary().splitlines():
        log.info(line)
    if not report.ok:
        raise StepFailed(
            f"raw data in {source.path} is invalid ({len(report.errors)} problems, report: {path}):\n"
            + report.summary()
        )
    return {
        "data_dir": str(source.path),
        "source": source.kind,
        "report": str(path),
        "rows": {f.stem: f.rows for f in report.files},
        "warnings": len(report.warnings),
    }


def run_load(settings: Settings, data_dir: str | Path | None = None, *, force: bool = False):
    """Load the (validated) raw files into the warehouse atomically (a no-op when they are unchanged, unless
    ``force``); raises :class:`StepFailed` with the validation report when they are invalid (warehouse unchanged)."""
    from laip.ingest.load import load
    from laip.ingest.validate import ValidationError

    source = data_source(settings, data_dir)
    try:
        return load(
            source.path,
            settings.warehouse,
            settings.reports_dir,
            source=source.kind,
            force=force,
            max_examples=settings.max_examples_per_rule,
            tolerance_days=settings.click_log_complete_tolerance_days,
        )
    except ValidationError as exc:
        raise StepFailed(f"load refused, {settings.warehouse} is unchanged:\n{exc.report.summary()}") from exc


def load_raw(settings: Settings, data_dir: str | Path | None = None) -> dict[str, Any]:
    """Load the (validated) raw files into the warehouse atomically; a no-op when the files are unchanged."""
    result = run_load(settings, data_dir)
    for line in result.summary().splitlines():
        log.info(line)
    return {
        "warehouse": str(result.warehouse),
        "changed": result.changed,
        "rows": result.rows,
        "seconds": round(result.seconds, 2),
    }


def build_warehouse(settings: Settings, *, full_refresh: bool = False) -> dict[str, Any]:
    """``dbt build`` of the whole project (models and their tests) in one dbt process."""
    from laip.warehouse.build import build

    result = build(settings, full_refresh=full_refresh)
    for line in result.summary().splitlines():
        log.info(line)
    if not result.success:
        raise StepFailed(result.summary())
    return {"counts": result.counts, "seconds": round(result.seconds, 2)}


def certify_build(settings: Settings, command: str = "dbt build (airflow/cosmos)") -> dict[str, Any]:
    """Record a successful full dbt build in ``meta.build_status`` (what ``publish`` checks).

    The Airflow DAG calls this once every task of the Cosmos dbt group has succeeded.
    """
    from laip.warehouse.build import BuildResult, record_build_status

    result = BuildResult(True, command, 0.0)
    record_build_status(settings.warehouse, result)
    log.info(result.summary())
    return {"command": command}


def train_model(settings: Settings, models: Sequence[str] | None = None) -> dict[str, Any]:
    """Train the baseline and challengers, log them to MLflow, register the champion."""
    from laip.ml.train import train

    result = train(settings, models=list(models) if models else None)
    for line in result.summary().splitlines():
        log.info(line)
    return json.loads(json.dumps(getattr(result, "as_dict", lambda: {"summary": result.summary()})(), default=str))


def score(settings: Settings) -> dict[str, Any]:
    """Score the day-30 population with ``models:/…@champion`` into the ML serving tables."""
    from laip.ml.score import score as run_score

    result = run_score(settings)
    for line in result.summary().splitlines():
        log.info(line)
    return {"summary": result.summary()}


def insight_cards(settings: Settings) -> dict[str, Any]:
    """Write the governed insight cards (small groups suppressed, caveats attached)."""
    from laip.ml.insights import build_insight_cards

    result = build_insight_cards(settings)
    for line in result.summary().splitlines():
        log.info(line)
    return {"summary": result.summary()}


def run_publish(settings: Settings):
    """Swap in a new read-only serving snapshot; raises :class:`StepFailed` when the warehouse is not publishable."""
    from laip.warehouse.publish import PublishError
    from laip.warehouse.publish import publish as publish_snapshot

    try:
        return publish_snapshot(settings.warehouse, settings.serving_warehouse)
    except PublishError as exc:
        raise StepFailed(f"publish refused: {exc}") from exc


def publish(settings: Settings) -> dict[str, Any]:
    """Swap in a new read-only serving snapshot for dashboards and the API."""
    result = run_publish(settings)
    for line in result.summary().splitlines():
        log.info(line)
    return {"serving": str(result.path), "tables": result.tables, "seconds": round(result.seconds, 2)}


# --- monitoring and the retraining trigger (laip.ml.monitoring.monitor) ---


def monitor(settings: Settings, retrain: str = "auto") -> dict[str, Any]:
    """Drift, performance decay and API health against the champion, written to the ``ml_monitoring_*`` tables;
    returns the retraining decision (``retrain``: auto = the configured rule, always, never)."""
    from laip.ml.monitoring.monitor import monitor as run_monitor

    result = run_monitor(settings, retrain or "auto")
    for line in result.summary().splitlines():
        log.info(line)
    return result.decision.as_dict()


def branch_after_monitor(decision: dict[str, Any]) -> str:
    """The DAG task the decision leads to: ``train_model`` (retrain) or ``keep_champion``."""
    return "train_model" if decision["retrain"] else "keep_champion"


def retrain(settings: Settings, decision: dict[str, Any], models: Sequence[str] | None = None) -> dict[str, Any]:
    """Train and register a new champion, then refresh the monitoring tables against it (the decision row keeps
    why it was retrained)."""
    from dataclasses import fields

    from laip.ml.monitoring.decision import Decision
    from laip.ml.monitoring.monitor import monitor as run_monitor

    for reason in decision.get("reasons", []):
        log.info("retraining: %s", reason)
    summary = train_model(settings, models)
    version = summary.get("model_version")
    kept = Decision(**{f.name: decision[f.name] for f in fields(Decision) if f.name in decision})
    run_monitor(
        settings,
        kept.mode,
        decision=kept,
        outcome=f"retrained: champion is now version {version}",
        new_model_version=version,
    )
    return summary


def keep_champion(settings: Settings, decision: dict[str, Any]) -> dict[str, Any]:
    """No retraining: log why the champion stays."""
    log.info("keeping champion version %s", decision.get("champion_version"))
    for reason in decision.get("reasons", []):
        log.info("  %s", reason)
    return {"kept_model_version": decision.get("champion_version"), "reasons": decision.get("reasons", [])}


def train_or_keep(settings: Settings, decision: dict[str, Any], models: Sequence[str] | None = None) -> dict[str, Any]:
    """What the DAG's branch does, in one call (``laip run``)."""
    if branch_after_monitor(decision) == "train_model":
        return retrain(settings, decision, models)
    return keep_champion(settings, decision)

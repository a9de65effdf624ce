"""The pipeline's steps as plain functions: what each Airflow task, ``laip run`` and the step commands call.

Every step takes the resolved :class:`~laip.config.Settings`, raises :class:`StepFailed` for a failure a retry cannot
fix, and returns its result object: ``result.summary()`` for people, ``result.as_xcom()`` for what the Airflow task
keeps (:func:`report` logs the one and returns the other). Each step is idempotent: running it again on the same
inputs gives the same warehouse.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from laip.config import Settings
from laip.locks import warehouse_writer

if TYPE_CHECKING:
    from laip.ingest.acquire import DataSource
    from laip.ingest.load import LoadResult
    from laip.ingest.report import ValidationResult
    from laip.ingest.rules import Checks
    from laip.ml.insights import InsightResult
    from laip.ml.monitoring.monitor import MonitorResult
    from laip.ml.score import ScoreResult
    from laip.ml.train_result import TrainResult
    from laip.warehouse.build import BuildResult
    from laip.warehouse.publish import PublishResult

log = logging.getLogger(__name__)


class StepFailed(RuntimeError):
    """A step failed for a reason a retry cannot fix (bad input, failing data test)."""


class StepResult(Protocol):
    def summary(self) -> str: ...

    def as_xcom(self) -> dict[str, Any]: ...


def writing(settings: Settings, step: str) -> AbstractContextManager[None]:
    """The warehouse's writer lock for ``step`` (:mod:`laip.locks`): every step that writes the warehouse holds it."""
    return warehouse_writer(settings.warehouse, step, settings.writer_wait_seconds)


def report(result: StepResult) -> dict[str, Any]:
    """Log the step's summary and return what the Airflow task keeps."""
    for line in result.summary().splitlines():
        log.info(line)
    return result.as_xcom()


def data_source(
    settings: Settings,
    data_dir: str | Path | None,
    *,
    allow_sample: bool = False,
    confirm_change: bool = False,
    warn_only: bool = False,
) -> DataSource:
    """Where the raw files come from (``data_dir``, LAIP_DATA_DIR, a download, or the bundled sample), logged.

    The bundled sample is a fallback only with ``allow_sample`` (the interactive first ``make run``) and only while
    nothing was ever loaded into this LAIP_HOME. Data of another family than the last load's (sample vs real data,
    fewer module-presentations: :mod:`laip.ingest.source_guard`) fails unless ``confirm_change`` (``warn_only``: only
    logged, for ``laip validate``)."""
    from laip.ingest.acquire import DataDirError, resolve_data_dir
    from laip.ingest.source_guard import SourceChanged, check_source
    from laip.warehouse.engine import last_load_family

    before = last_load_family(settings)  # None: nothing loaded here yet
    try:
        source = resolve_data_dir(
            settings, Path(data_dir) if data_dir else None, allow_sample=allow_sample and before is None
        )
        change = (
            None
            if before is None
            else check_source(before, source.path, settings.sample_dir, confirmed=confirm_change or warn_only)
        )
    except (DataDirError, SourceChanged) as exc:
        raise StepFailed(str(exc)) from exc
    log.info(source.message)
    if change:
        log.warning(
            "%s (%s)", change, "confirmed" if confirm_change else "a load refuses it without --confirm-source-change"
        )
    return source


def validation_checks(settings: Settings, as_of: date | None = None) -> Checks:
    """The limits validation applies, from ``laip.yaml``; ``as_of``: the files are an export as of that date."""
    from laip.ingest.rules import Checks

    return Checks(
        max_examples=settings.max_examples_per_rule,
        click_complete_tolerance_days=settings.click_log_complete_tolerance_days,
        days_before_start=settings.event_days_before_start,
        days_after_end=settings.event_days_after_end,
        as_of=as_of,
        presentation_start_day=settings.presentation_start_day,
    )


def validate_raw(
    settings: Settings,
    data_dir: str | Path | None = None,
    *,
    require_valid: bool = True,
    allow_sample: bool = False,
    confirm_change: bool = False,
    as_of: date | None = None,
) -> ValidationResult:
    """Validate the raw OULAD files and write the report; with ``require_valid``, raise :class:`StepFailed` naming
    every problem (file, column, row) when they are invalid, or when they would change the data source unconfirmed
    (:func:`data_source`). ``as_of``: the files are an export as of that date (:mod:`laip.ingest.live_export`)."""
    from laip.ingest.report import ValidationResult, write_report
    from laip.ingest.validate import validate

    # the standalone `laip validate` (not require_valid) reports a change of source as a warning only
    source = data_source(
        settings, data_dir, allow_sample=allow_sample, confirm_change=confirm_change, warn_only=not require_valid
    )
    checked = validate(source.path, validation_checks(settings, as_of))
    result = ValidationResult(source, checked, write_report(checked, settings.reports_dir))
    if require_valid and not checked.ok:
        raise StepFailed(
            f"raw data in {source.path} is invalid ({len(checked.errors)} problems, report: "
            f"{result.path}):\n" + checked.summary()
        )
    return result


def load_raw(
    settings: Settings,
    data_dir: str | Path | None = None,
    *,
    force: bool = False,
    allow_sample: bool = False,
    confirm_change: bool = False,
    as_of: date | None = None,
) -> LoadResult:
    """Load the (validated) raw files into the warehouse atomically (a no-op when they are unchanged, unless
    ``force``); raises :class:`StepFailed` with the validation report when they are invalid, or when they would
    change the data source unconfirmed (warehouse unchanged either way). ``as_of``: an export as of that date."""
    from laip.ingest.report import FilesChangedDuringLoad, ValidationError
    from laip.warehouse.engine import load_raw_files, location

    try:
        with writing(settings, "load"):
            source = data_source(settings, data_dir, allow_sample=allow_sample, confirm_change=confirm_change)
            checks = validation_checks(settings, as_of)
            return load_raw_files(settings, source.path, source=source.kind, force=force, checks=checks)
    except ValidationError as exc:
        raise StepFailed(f"load refused, {location(settings)} is unchanged:\n{exc.report.summary()}") from exc
    except FilesChangedDuringLoad as exc:
        raise StepFailed(f"load refused: {exc}") from exc


def build_warehouse(settings: Settings, *, full_refresh: bool = False, unit_tests: bool = True) -> BuildResult:
    """``dbt build`` of the whole project (models and their tests) in one dbt process (``unit_tests=False``: without
    dbt's unit tests, as a scheduled run's build)."""
    from laip.warehouse.build import build

    with writing(settings, "dbt build"):
        result = build(settings, full_refresh=full_refresh, unit_tests=unit_tests)
    if not result.success:
        raise StepFailed(result.summary())
    return result


def certify_build(settings: Settings, command: str = "dbt build (airflow/cosmos)") -> dict[str, Any]:
    """Record a successful full dbt build in ``meta.build_status`` (what ``publish`` checks).

    The Airflow DAG calls this once every task of the Cosmos dbt group has succeeded. It refuses when the warehouse
    lacks any model of the dbt project: then the file was replaced after the build (a load in between), and
    certifying it would let ``publish`` ship a snapshot without marts.
    """
    from laip.warehouse.build import BuildResult
    from laip.warehouse.engine import NotCertified, certify

    manifest = settings.dbt_manifest_dir / "manifest.json"
    if not manifest.is_file():
        raise StepFailed(f"certify refused: no dbt manifest at {manifest}; run `laip parse`")
    result = BuildResult(True, command, 0.0)
    with writing(settings, "certify_build"):
        try:
            certify(settings, result, manifest)
        except NotCertified as exc:
            raise StepFailed(f"certify refused: {exc}") from exc
    log.info(result.summary())
    return {"command": command}


def train_model(
    settings: Settings, models: Sequence[str] | None = None, checkpoints: Sequence[int] | None = None
) -> TrainResult:
    """At every checkpoint (or ``checkpoints``): train the baseline and challengers, log them to MLflow, register
    the checkpoint's champion."""
    from laip.ml.train import train

    with writing(settings, "train"):
        return train(settings, models=list(models) if models else None, checkpoints=checkpoints)


def score(settings: Settings) -> ScoreResult:
    """Score every checkpoint's population with its ``models:/…@champion`` into the ML serving tables."""
    from laip.ml.score import score as score_population

    with writing(settings, "score"):
        return score_population(settings)


def insight_cards(settings: Settings) -> InsightResult:
    """Write the governed insight cards (small groups suppressed, caveats attached)."""
    from laip.ml.insights import build_insight_cards

    with writing(settings, "insights"):
        return build_insight_cards(settings)


def publish(settings: Settings) -> PublishResult:
    """Swap in a new read-only serving snapshot; raises :class:`StepFailed` when the warehouse is not publishable."""
    from laip.warehouse.engine import publish as publish_snapshot
    from laip.warehouse.publish import PublishError

    try:
        with writing(settings, "publish"):
            return publish_snapshot(settings)
    except PublishError as exc:
        raise StepFailed(f"publish refused: {exc}") from exc


# --- monitoring and the retraining trigger (laip.ml.monitoring) ---


def monitor(settings: Settings, retrain: str = "auto") -> MonitorResult:
    """Drift, performance decay and API health against the champion, written to the ``ml_monitoring_*`` tables;
    the result carries the retraining decision (``retrain``: auto = the configured rule, always, never)."""
    from laip.ml.monitoring.monitor import monitor as run_monitor

    with writing(settings, "monitor"):
        return run_monitor(settings, retrain or "auto")


def branch_after_monitor(decision: dict[str, Any]) -> str:
    """The DAG task the decision leads to: ``train_model`` (retrain) or ``keep_champion``."""
    return "train_model" if decision["retrain"] else "keep_champion"


def retrain(settings: Settings, decision: dict[str, Any], models: Sequence[str] | None = None) -> dict[str, Any]:
    """Train and register a new champion, then refresh the monitoring tables against it (the decision row keeps
    why it was retrained)."""
    from laip.ml.features import FeatureError
    from laip.ml.monitoring.decision import Decision
    from laip.ml.monitoring.monitor import monitor as run_monitor
    from laip.ml.train_result import retraining_outcome

    for reason in decision.get("reasons", []):
        log.info("retraining: %s", reason)
    with writing(settings, "train"):
        checkpoints = decision.get("checkpoints") or None  # the ones that triggered (None: every checkpoint)
        try:
            summary = report(train_model(settings, models, checkpoints))
            outcome, version = retraining_outcome(summary, settings.prediction_day)
        except FeatureError as exc:  # a live term's early weeks: only checkpoints nothing can be trained for yet
            if checkpoints is None or settings.prediction_day in checkpoints:
                raise StepFailed(f"train: {exc}") from exc
            log.warning("not retrained: %s", exc)
            summary, outcome, version = {"not_trained": str(exc)}, f"not retrained: {exc}", None
        if "not promoted" in outcome:
            log.warning(outcome)
        kept = Decision(**{f.name: decision[f.name] for f in fields(Decision) if f.name in decision})
        run_monitor(settings, kept.mode, decision=kept, outcome=outcome, new_model_version=version)
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

"""Score the population of every checkpoint with its champion (``laip score``).

At each checkpoint P, loads ``models:/<P's registered model>@champion`` (e.g. ``laip-withdrawal-day60``). Each row
gets the calibrated withdrawal probability, a risk band from the thresholds in ``ml/config.yaml`` (separate from the
rule-based bands of the marts), the flag at the model's operating threshold and the top 3 reasons in plain words
(:mod:`laip.ml.reasons`). Writes, in one transaction:

* ``ml.ml_withdrawal_risk_history``: one row per attempt and checkpoint reached (column ``prediction_day``) and
  export date (``as_of_date``: NULL for a finished history; in an export as of a date, the attempts of the
  presentations still running); only this run's date's rows are replaced;
* ``ml.ml_withdrawal_risk_current``: each attempt's latest checkpoint, with the change since the one before and since
  the previous export (:mod:`laip.ml.risk_history`);
* ``ml.ml_withdrawal_predictions``: the day-30 rows (its meaning since the first version), and the risk list (in an
  export as of a date: the running presentations' students).

The last three are the newest date's view: scoring an export older than the newest one scored (a re-run of an earlier
week) replaces only that date's history rows.

A checkpoint without a champion yet (never trained) is left out with a warning; the default one must have one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from laip.config import Settings
from laip.ml.config import MLConfig, load_ml_config
from laip.ml.features import FeatureData, FeatureError, load_feature_data, make_splits
from laip.ml.reasons import explain, module_context, reference_values, top_reasons
from laip.ml.risk_history import (
    CURRENT,
    HISTORY,
    export_date,
    previous_export,
    risk_current,
    since_previous_export,
    stored_dates,
)
from laip.ml.risk_list import RISK_LIST, risk_list

PREDICTIONS = "ml_withdrawal_predictions"

log = logging.getLogger(__name__)


@dataclass
class ScoreResult:
    rows: int
    model_name: str
    model_version: int
    mlflow_run_id: str
    bands: dict[str, int] = field(default_factory=dict)
    flagged: int = 0
    seconds: float = 0.0
    checkpoints: dict[int, int] = field(default_factory=dict)  # rows scored per checkpoint
    skipped: dict[int, str] = field(default_factory=dict)  # checkpoints without a champion: why

    def summary(self) -> str:
        bands = ", ".join(f"{b} {n:,}" for b, n in self.bands.items())
        return (
            f"Scored {self.rows:,} day-30 attempts with {self.model_name} (model version {self.model_version}, "
            f"run {self.mlflow_run_id}) in {self.seconds:.1f} s\n"
            f"  risk bands: {bands}; flagged at the model threshold: {self.flagged:,}\n"
            f"  wrote ml.{PREDICTIONS} and ml.{RISK_LIST} (latest held-out presentation of each module)\n"
            f"  every checkpoint: {', '.join(f'day {d} {n:,}' for d, n in sorted(self.checkpoints.items()))} rows in "
            f"ml.{HISTORY}; latest checkpoint per attempt in ml.{CURRENT}"
            + "".join(f"\n  day {d} not scored: {why}" for d, why in sorted(self.skipped.items()))
        )

    def as_xcom(self) -> dict[str, Any]:
        """What the Airflow task keeps (JSON)."""
        return {"summary": self.summary()}


def risk_band(proba: np.ndarray, config: MLConfig) -> np.ndarray:
    """high / medium / low from the configured probability thresholds."""
    return np.where(proba >= config.risk_high, "high", np.where(proba >= config.risk_medium, "medium", "low"))


def score_checkpoint(settings: Settings, config: MLConfig, version: Any) -> pd.DataFrame:
    """The population of checkpoint ``config.prediction_day`` scored by champion ``version``."""
    model = version.load()
    data = load_feature_data(settings.warehouse, config, unlabelled=True)  # running presentations too
    proba, contributions = explain(model, data.X, config.reasons, reference_values(data.X, config))
    reasons = top_reasons(contributions, config.reasons, k=3)
    context = module_context(contributions, config)
    training_rows = _training_rows(data, config)
    model_name = version.tags.get("model_name", getattr(model, "model_name", ""))
    frame = data.frame
    out = pd.DataFrame(
        {
            "student_module_id": frame.student_module_id,
            "code_module": frame.code_module,
            "code_presentation": frame.code_presentation,
            "id_student": frame.id_student,
            "module_presentation_id": frame.module_presentation_id,
            "prediction_day": config.prediction_day,
            "has_click_data": frame.has_click_data,
            "withdrawal_probability": np.round(proba, 6),
            "risk_band": risk_band(proba, config),
            "is_flagged": proba >= model.threshold,
            "decision_threshold": model.threshold,
        }
    )
    return pd.concat([out, reasons.reset_index(drop=True), context.reset_index(drop=True)], axis=1).assign(
        observed_withdrew_after_prediction_day=pd.Series(data.y).astype("Int64").array,  # <NA>: not ended yet
        is_training_row=training_rows,
        model_name=model_name,
        registered_model_name=config.registered_model_name,
        model_version=version.version,
        mlflow_run_id=version.run_id,
        scored_at=datetime.now(UTC),
    )


def _training_rows(data: FeatureData, config: MLConfig) -> np.ndarray:
    """Rows the champion may have trained on (in-sample scores): the primary split's training rows of the labelled
    rows; every labelled row when that split cannot be made (an export as of a date before the test presentations
    ended). Rows without a label (running presentations) never are."""
    labelled = data.labelled_only()
    try:
        ids = labelled.frame.student_module_id.iloc[make_splits(labelled, config)[0].train]
    except FeatureError:
        ids = labelled.frame.student_module_id
    return data.frame.student_module_id.isin(ids).to_numpy()


def score(settings: Settings) -> ScoreResult:
    """Score every checkpoint's population with its champion; replace the history, current and day-30 tables."""
    from laip.ml.registry import NoChampion, get_champion
    from laip.ml.tables import SCHEMAS
    from laip.warehouse.tables import write_tables

    start = time.perf_counter()
    base = load_ml_config(settings)
    as_of = export_date(settings.warehouse)
    parts: dict[int, pd.DataFrame] = {}
    versions: dict[int, Any] = {}
    skipped: dict[int, str] = {}
    for day in base.checkpoints:
        config = base.at_checkpoint(day)
        try:
            version = get_champion(settings, config)
        except NoChampion as exc:
            if day == base.prediction_day:
                raise
            skipped[day] = str(exc)
            log.warning("day %s not scored: %s", day, exc)
            continue
        versions[day] = version
        parts[day] = score_checkpoint(settings, config, version)
    main_version = versions[base.prediction_day]
    history = pd.concat(parts.values(), ignore_index=True).assign(as_of_date=as_of)
    out = parts[base.prediction_day].assign(as_of_date=as_of)
    out = out.rename(columns={"observed_withdrew_after_prediction_day": "observed_withdrew_after_day_30"})
    listed = out
    if as_of is not None:  # a live term: the week's history and list are the students of running presentations
        history = history[history.observed_withdrew_after_prediction_day.isna()].reset_index(drop=True)
        listed = out[out.observed_withdrew_after_day_30.isna()]
    newer = [d for d in stored_dates(settings.warehouse) if d is not None and as_of is not None and d > as_of]
    views: dict[str, pd.DataFrame] = {}
    if newer:  # a re-run of an earlier week: its history rows only, the newest date's view stays
        log.info("scored the export as of %s; the current view stays the one as of %s", as_of, max(newer))
    else:
        previous = previous_export(settings.warehouse, as_of) if as_of is not None else pd.DataFrame()
        current = since_previous_export(risk_current(history, base), previous)
        views = {PREDICTIONS: out, RISK_LIST: risk_list(listed, base), CURRENT: current}
    write_tables(settings.warehouse, views, SCHEMAS, {HISTORY: (history, "as_of_date", as_of)})
    bands = {b: int((out.risk_band == b).sum()) for b in ("high", "medium", "low")}
    return ScoreResult(
        len(out),
        str(out.model_name.iloc[0]) if len(out) else "",
        main_version.version,
        main_version.run_id,
        bands,
        int(out.is_flagged.sum()),
        time.perf_counter() - start,
        {d: int((history.prediction_day == d).sum()) for d in parts},
        skipped,
    )

"""Score the day-P population with the champion model (``laip score``) into ``ml.ml_withdrawal_predictions``.

Always loads ``models:/<registered name>@champion``. Each row gets the calibrated withdrawal probability, a risk
band from the thresholds in ``ml/config.yaml`` (separate from the rule-based bands of the marts), the flag at the
model's operating threshold and the top 3 reasons in plain words (:mod:`laip.ml.reasons`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from laip.config import Settings
from laip.ml.config import MLConfig, load_ml_config
from laip.ml.features import load_feature_data, make_splits
from laip.ml.reasons import explain, module_context, reference_values, top_reasons
from laip.ml.risk_list import RISK_LIST, risk_list

PREDICTIONS = "ml_withdrawal_predictions"


@dataclass
class ScoreResult:
    rows: int
    model_name: str
    model_version: int
    mlflow_run_id: str
    bands: dict[str, int] = field(default_factory=dict)
    flagged: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        bands = ", ".join(f"{b} {n:,}" for b, n in self.bands.items())
        return (
            f"Scored {self.rows:,} day-30 attempts with {self.model_name} (model version {self.model_version}, "
            f"run {self.mlflow_run_id}) in {self.seconds:.1f} s\n"
            f"  risk bands: {bands}; flagged at the model threshold: {self.flagged:,}\n"
            f"  wrote ml.{PREDICTIONS} and ml.{RISK_LIST} (latest held-out presentation of each module)"
        )

    def as_xcom(self) -> dict[str, Any]:
        """What the Airflow task keeps (JSON)."""
        return {"summary": self.summary()}


def risk_band(proba: np.ndarray, config: MLConfig) -> np.ndarray:
    """high / medium / low from the configured probability thresholds."""
    return np.where(proba >= config.risk_high, "high", np.where(proba >= config.risk_medium, "medium", "low"))


def score(settings: Settings) -> ScoreResult:
    """Score every attempt of the feature mart with the champion and replace ``ml.ml_withdrawal_predictions``."""
    from laip.ml.registry import get_champion
    from laip.ml.tables import SCHEMAS
    from laip.warehouse.tables import replace_tables

    start = time.perf_counter()
    config = load_ml_config(settings)
    data = load_feature_data(settings.warehouse, config)
    version = get_champion(settings, config)
    model = version.load()
    proba, contributions = explain(model, data.X, config.reasons, reference_values(data.X, config))
    reasons = top_reasons(contributions, config.reasons, k=3)
    context = module_context(contributions, config)
    training_rows = np.zeros(len(data), dtype=bool)
    training_rows[make_splits(data, config)[0].train] = True
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
    out = pd.concat([out, reasons.reset_index(drop=True), context.reset_index(drop=True)], axis=1).assign(
        observed_withdrew_after_day_30=data.y,
        is_training_row=training_rows,
        model_name=model_name,
        registered_model_name=config.registered_model_name,
        model_version=version.version,
        mlflow_run_id=version.run_id,
        scored_at=datetime.now(UTC),
    )
    replace_tables(settings.warehouse, {PREDICTIONS: out, RISK_LIST: risk_list(out, config)}, SCHEMAS)
    bands = {b: int((out.risk_band == b).sum()) for b in ("high", "medium", "low")}
    return ScoreResult(
        len(out),
        model_name,
        version.version,
        version.run_id,
        bands,
        int(out.is_flagged.sum()),
        time.perf_counter() - start,
    )

"""What a training returns (:func:`laip.ml.train.train`): per checkpoint the selected model, its registered version,
the champion gate's decision and the tables written; summaries for the CLI and the Airflow task."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from laip.ml.champion_gate import GateDecision

# the columns of the model comparison that the summaries show
COMPARISON_COLUMNS = ("model_name", "split", "roc_auc", "average_precision", "precision", "recall", "f1", "brier")


@dataclass
class TrainResult:
    """One checkpoint's training; the result of :func:`train` is the default checkpoint's, with every checkpoint's
    in ``checkpoints`` and the whole training's MLflow run in ``training_run_id``."""

    selected_model: str
    model_version: int
    registered_model_name: str
    parent_run_id: str
    experiment_id: str
    comparison: pd.DataFrame
    tables: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    profile: str = "full"
    data_digest: str = ""
    gate: GateDecision | None = None
    prediction_day: int = 30
    checkpoints: dict[int, TrainResult] = field(default_factory=dict)
    training_run_id: str = ""

    @property
    def promoted(self) -> bool:
        return self.gate is None or self.gate.promote

    @property
    def champion_version(self) -> int | None:
        """The version that carries the champion alias after this training."""
        return self.model_version if self.promoted else (self.gate.champion_version if self.gate else None)

    def as_xcom(self) -> dict[str, Any]:
        """What the Airflow task keeps (JSON)."""
        cols = [*COMPARISON_COLUMNS, "is_selected"]
        return json.loads(
            json.dumps(
                {
                    "selected_model": self.selected_model,
                    "model_version": self.model_version,
                    "promoted": self.promoted,
                    "champion_version": self.champion_version,
                    "champion_gate": self.gate.reason if self.gate else None,
                    "registered_model_name": self.registered_model_name,
                    "mlflow_run_id": self.parent_run_id,
                    "profile": self.profile,
                    "data_digest": self.data_digest,
                    "seconds": round(self.seconds, 1),
                    "tables": self.tables,
                    "comparison": json.loads(self.comparison[cols].to_json(orient="records", double_precision=4)),
                    "checkpoints": {
                        str(day): {
                            "selected_model": r.selected_model,
                            "model_version": r.model_version,
                            "promoted": r.promoted,
                            "registered_model_name": r.registered_model_name,
                        }
                        for day, r in self.checkpoints.items()
                    },
                    "training_run_id": self.training_run_id,
                },
                default=str,
            )
        )

    def summary(self) -> str:
        """The default checkpoint in detail, then one line per checkpoint."""
        lines = [self.checkpoint_summary()]
        if len(self.checkpoints) > 1:
            lines.append(f"Every checkpoint (MLflow training run {self.training_run_id}):")
            for day, r in sorted(self.checkpoints.items()):
                auc = r.comparison[(r.comparison.is_selected)].roc_auc.iloc[0]
                state = "alias champion" if r.promoted else f"NOT promoted, champion stays {r.champion_version}"
                lines.append(
                    f"  day {day:>3}: {r.selected_model} -> models:/{r.registered_model_name}/{r.model_version} "
                    f"({state}); ROC AUC {auc:.3f}"
                )
        return "\n".join(lines)

    def checkpoint_summary(self) -> str:
        cols = [*COMPARISON_COLUMNS, "threshold", "is_selected"]
        table = self.comparison[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}")
        return "\n".join(
            [
                f"Day {self.prediction_day}: trained {self.comparison.model_name.nunique()} models x "
                f"{self.comparison.split.nunique()} splits in {self.seconds:.1f} s (profile {self.profile}, "
                f"data {self.data_digest})",
                table,
                f"Selected: {self.selected_model} -> models:/{self.registered_model_name}/{self.model_version} "
                + (
                    "(alias champion)"
                    if self.promoted
                    else f"NOT promoted, champion stays version {self.champion_version}"
                )
                + f"; MLflow run {self.parent_run_id}",
                f"Champion gate: {self.gate.reason if self.gate else '-'}",
                f"Wrote {', '.join(f'ml.{t} ({n:,})' for t, n in self.tables.items())}"
                if self.tables
                else "ML tables left as they are (they describe the champion)",
            ]
        )


def retraining_outcome(summary: dict[str, Any], default_day: int) -> tuple[str, int | None]:
    """What a retraining did, for the monitoring decision row, from :meth:`TrainResult.as_xcom`: the sentence and
    the default checkpoint's champion version after it (None when that checkpoint was not retrained)."""
    trained = summary.get("checkpoints", {})
    others = {d: r for d, r in trained.items() if d != str(default_day)}
    also = ", ".join(
        f"day {d} v{r['model_version']}{'' if r['promoted'] else ' not promoted'}" for d, r in others.items()
    )
    if trained and len(others) == len(trained):  # the default checkpoint was not retrained
        return f"retrained {also}", None
    version = summary.get("champion_version")  # the summary is the default checkpoint's
    if summary.get("promoted", True):
        outcome = f"retrained: champion is now version {version}"
    else:
        outcome = (
            f"retrained: version {summary.get('model_version')} not promoted, champion stays version {version} "
            f"({summary.get('champion_gate')})"
        )
    return outcome + (f"; also {also}" if also else ""), version

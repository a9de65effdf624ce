"""What a training logs to MLflow: the parent run's parameters and dataset, each model's nested run (parameters,
metrics, curves, importance, fairness, the model itself)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from laip.config import Settings
from laip.ml.config import MLConfig
from laip.ml.evaluate import Evaluation
from laip.ml.features import FeatureData, Split
from laip.ml.metrics import METRICS


def clean_metric(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def log_model_run(
    name: str,
    evals: list[Evaluation],
    importance: pd.DataFrame,
    data: FeatureData,
    config: MLConfig,
    tags: dict[str, str],
):
    """Inside an active nested run: params, metrics, curves (PNG + CSV), importance, fairness and the model."""
    import mlflow

    from laip.ml.plots import curve_figure
    from laip.ml.tracking import log_sklearn_model

    primary = evals[0]
    mlflow.set_tags(
        {
            **tags,
            "model_name": name,
            "split": "+".join(e.split.name for e in evals),
            "primary_split": primary.split.name,
        }
    )
    params: dict[str, Any] = {
        "model_name": name,
        "model_label": config.model_labels.get(name, name),
        "cv_folds": config.cv_folds,
        "n_features": len(config.features),
    }
    for ev in evals:
        s = ev.split.name
        params.update({f"{s}.{k}": v for k, v in ev.outcome.best_params.items()})
        params.update(
            {
                f"{s}.threshold": round(ev.outcome.threshold, 6),
                f"{s}.calibration_slope": round(ev.outcome.model.slope, 6),
                f"{s}.calibration_intercept": round(ev.outcome.model.intercept, 6),
                f"{s}.n_train": len(ev.split.train),
                f"{s}.n_test": len(ev.split.test),
            }
        )
        params[f"{s}.grid"] = json.dumps(config.model_params.get(name, {}), sort_keys=True)[:500]
    mlflow.log_params(params)
    metrics: dict[str, float] = {}
    for ev in evals:
        s = ev.split.name
        metrics[f"{s}_cv_roc_auc"] = ev.outcome.cv_roc_auc
        for sub in ev.subsets:
            if sub["subset"] == "module_presentation":
                continue
            prefix = s if sub["subset"] == "all" else f"{s}_{sub['subset']}"
            metrics.update({f"{prefix}_{m}": sub[m] for m in (*METRICS, "n")})
    mlflow.log_metrics({k: v for k, v in metrics.items() if clean_metric(v) is not None})
    for kind, attr in (("roc", "roc"), ("pr", "pr"), ("calibration", "calibration")):
        curves = {ev.split.name: getattr(ev, attr) for ev in evals}
        mlflow.log_figure(
            curve_figure(kind, curves, f"{name}: {kind.upper() if kind != 'calibration' else kind}"),
            f"plots/{kind}.png",
        )
        for split_name, frame in curves.items():
            mlflow.log_table(frame, f"curves/{split_name}_{kind}.json")
    mlflow.log_table(importance, "importance/feature_importance.json")
    for ev in evals:
        mlflow.log_table(ev.fairness, f"fairness/{ev.split.name}.json")
        mlflow.log_dict(ev.outcome.cv_scores, f"cv/{ev.split.name}_grid_scores.json")
    Xtr = data.X.iloc[primary.split.train]
    return log_sklearn_model(primary.outcome.model, Xtr.head(5))


def parent_params(config: MLConfig, names: Sequence[str], splits: Sequence[Split]) -> dict[str, Any]:
    return {
        "prediction_day": config.prediction_day,
        "source_table": config.source_table,
        "target": config.target,
        "population": " ".join(config.raw["problem"]["population"].split())[:500],
        "profile": config.profile,
        "models": ",".join(names),
        "seed": config.seed,
        "cv_folds": config.cv_folds,
        "temporal.train_presentations": ",".join(config.temporal_train),
        "temporal.test_presentations": ",".join(config.temporal_test),
        "grouped_random.test_size": config.random_test_size,
        "selection.primary_split": config.primary_split,
        "selection.metric": config.selection_metric,
        "selection.baseline": config.baseline,
        "selection.tie_tolerance": config.tie_tolerance,
        "threshold.strategy": config.threshold_strategy,
        "n_features": len(config.features),
        "feature_families": ",".join(f"{k}:{len(v)}" for k, v in config.families.items()),
        **{f"{s.name}.n_train": len(s.train) for s in splits},
        **{f"{s.name}.n_test": len(s.test) for s in splits},
    }


def log_dataset(data: FeatureData, settings: Settings, config: MLConfig) -> None:
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas

    frame = pd.concat([data.frame, data.X.drop(columns=[c for c in data.X.columns if c in data.frame.columns])], axis=1)
    dataset = from_pandas(
        frame,
        source=settings.warehouse.resolve().as_uri(),
        targets=config.target,
        name=f"{config.source_table}",
        digest=data.digest,
    )
    mlflow.log_input(
        dataset,
        context="training",
        tags={"load_manifest_digest": data.digest, "raw_files": ",".join(str(m["file_name"]) for m in data.manifest)},
    )
    mlflow.log_dict({"digest": data.digest, "files": data.manifest}, "dataset/load_manifest.json")

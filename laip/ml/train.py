"""Train, compare and register the day-30 withdrawal-risk model (``laip train``).

For each configured model (LR baseline, RF and HGB challengers) and each split (primary: temporal; secondary:
grouped random by student): tune on grouped k-fold CV inside the training rows, calibrate and pick the threshold on
out-of-fold predictions, evaluate on the held-out rows. Everything goes to MLflow (a parent run per training, a
nested run per model); the model with the best primary-split ROC AUC (LR wins ties within the tolerance) is
registered and gets the alias ``champion``; the evaluation tables are written to schema ``ml`` in one transaction.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from laip.config import Settings
from laip.ml.config import MODEL_NAMES, MLConfig, load_ml_config
from laip.ml.features import FeatureData, Split, load_feature_data, make_splits
from laip.ml.metrics import METRICS, binary_metrics, calibration_table, fairness_table, pr_points, roc_points
from laip.ml.modeling import FitOutcome, fit_model, select_model
from laip.ml.monitoring.profile import log_reference_profile

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    """One model fitted and evaluated on one split."""

    model_name: str
    split: Split
    outcome: FitOutcome
    test_proba: np.ndarray
    metrics: dict[str, float]
    subsets: list[dict[str, Any]]
    roc: pd.DataFrame
    pr: pd.DataFrame
    calibration: pd.DataFrame
    fairness: pd.DataFrame


@dataclass
class TrainResult:
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

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (the Airflow task's XCom)."""
        cols = [
            "model_name",
            "split",
            "roc_auc",
            "average_precision",
            "precision",
            "recall",
            "f1",
            "brier",
            "is_selected",
        ]
        return {
            "selected_model": self.selected_model,
            "model_version": self.model_version,
            "registered_model_name": self.registered_model_name,
            "mlflow_run_id": self.parent_run_id,
            "profile": self.profile,
            "data_digest": self.data_digest,
            "seconds": round(self.seconds, 1),
            "tables": self.tables,
            "comparison": json.loads(self.comparison[cols].to_json(orient="records", double_precision=4)),
        }

    def summary(self) -> str:
        cols = [
            "model_name",
            "split",
            "roc_auc",
            "average_precision",
            "precision",
            "recall",
            "f1",
            "brier",
            "threshold",
            "is_selected",
        ]
        table = self.comparison[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}")
        return "\n".join(
            [
                f"Trained {self.comparison.model_name.nunique()} models x {self.comparison.split.nunique()} splits "
                f"in {self.seconds:.1f} s (profile {self.profile}, data {self.data_digest})",
                table,
                f"Selected: {self.selected_model} -> models:/{self.registered_model_name}/{self.model_version} "
                f"(alias champion); MLflow run {self.parent_run_id}",
                f"Wrote {', '.join(f'ml.{t} ({n:,})' for t, n in self.tables.items())}",
            ]
        )


# ---------------------------------------------------------------------------------------------- evaluation


def evaluate(
    name: str,
    data: FeatureData,
    split: Split,
    config: MLConfig,
    settings: Settings,
    grid: dict[str, list[Any]] | None = None,
    folds: int | None = None,
) -> Evaluation:
    """Fit ``name`` on the split's training rows and evaluate it on its test rows."""
    Xtr, ytr = data.X.iloc[split.train], data.y[split.train]
    outcome = fit_model(name, Xtr, ytr, data.groups[split.train], config, grid=grid, folds=folds)
    Xte, yte = data.X.iloc[split.test], data.y[split.test]
    proba = outcome.model.predict_proba(Xte)[:, 1]
    thr = outcome.threshold
    metrics = binary_metrics(yte, proba, thr)
    clicks = data.has_click_data[split.test]
    subsets: list[dict[str, Any]] = [{"subset": "all", **metrics}]
    for label, mask in (("with_click_data", clicks), ("without_click_data", ~clicks)):
        if mask.sum():
            subsets.append({"subset": label, **binary_metrics(yte[mask], proba[mask], thr)})
    test_frame = data.frame.iloc[split.test]
    for (module, pres), idx in test_frame.groupby(["code_module", "code_presentation"]).indices.items():
        if len(idx) >= settings.min_group_size:
            subsets.append(
                {
                    "subset": "module_presentation",
                    "code_module": module,
                    "code_presentation": pres,
                    **binary_metrics(yte[idx], proba[idx], thr),
                }
            )
    fairness = fairness_table(Xte, yte, proba, thr, config.fairness_attributes, settings.min_group_size)
    return Evaluation(
        name,
        split,
        outcome,
        proba,
        metrics,
        subsets,
        roc_points(yte, proba, config.curve_max_points),
        pr_points(yte, proba, config.curve_max_points),
        calibration_table(yte, proba, config.calibration_bins),
        fairness,
    )


def feature_importance(ev: Evaluation, data: FeatureData, config: MLConfig) -> pd.DataFrame:
    """Permutation importance (drop in held-out ROC AUC) for every model, plus LR coefficients."""
    from sklearn.inspection import permutation_importance

    Xte, yte = data.X.iloc[ev.split.test], data.y[ev.split.test]
    rows: list[dict[str, Any]] = []
    if 0 < yte.sum() < len(yte):
        perm = permutation_importance(
            ev.outcome.model,
            Xte,
            yte,
            scoring="roc_auc",
            n_repeats=config.permutation_repeats,
            random_state=config.seed,
        )
        for f, mean, std in zip(Xte.columns, perm.importances_mean, perm.importances_std, strict=False):
            rows.append(
                {
                    "feature": f,
                    "term": f,
                    "importance_type": "permutation_roc_auc",
                    "importance": float(mean),
                    "importance_std": float(std),
                }
            )
    if ev.model_name == "lr":
        pipe = ev.outcome.model.pipeline
        names = pipe.named_steps["pre"].get_feature_names_out()
        coefs = pipe.named_steps["clf"].coef_[0] * ev.outcome.model.slope
        for term, coef in zip(names, coefs, strict=False):
            rows.append(
                {
                    "feature": _term_feature(term, config),
                    "term": term,
                    "importance_type": "lr_coefficient",
                    "importance": float(coef),
                    "importance_std": math.nan,
                }
            )
    frame = pd.DataFrame(rows, columns=["feature", "term", "importance_type", "importance", "importance_std"])
    frame["feature_label"] = frame.feature.map(config.label)
    frame["family"] = frame.feature.map(config.family_of)
    frame["rank"] = (
        frame.assign(key=frame.importance.abs())
        .groupby("importance_type")["key"]
        .rank(ascending=False, method="first")
        .astype(int)
    )
    return frame.sort_values(["importance_type", "rank"]).reset_index(drop=True)


def _term_feature(term: str, config: MLConfig) -> str:
    """Original feature of a transformed column name (``num__x``, ``num__missingindicator_x``, ``cat__x_value``)."""
    name = term.split("__", 1)[-1].removeprefix("missingindicator_")
    if name in config.features:
        return name
    return max((f for f in config.categorical_features if name.startswith(f + "_")), key=len, default=name)


# ---------------------------------------------------------------------------------------------- MLflow


def _clean(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _log_model_run(
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
    mlflow.log_metrics({k: v for k, v in metrics.items() if _clean(v) is not None})
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


def _parent_params(config: MLConfig, names: Sequence[str], splits: Sequence[Split]) -> dict[str, Any]:
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


def _log_dataset(data: FeatureData, settings: Settings, config: MLConfig) -> None:
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


# ---------------------------------------------------------------------------------------------- tables


def _run_columns(
    frame: pd.DataFrame,
    name: str,
    selected: str,
    run_ids: dict[str, str],
    parent: str,
    config: MLConfig,
    version: int,
    trained_at: datetime,
) -> pd.DataFrame:
    return frame.assign(
        model_name=name,
        is_selected=name == selected,
        mlflow_run_id=run_ids[name],
        mlflow_parent_run_id=parent,
        registered_model_name=config.registered_model_name,
        model_version=version,
        trained_at=trained_at,
    )


def build_tables(
    evals: dict[str, list[Evaluation]],
    importances: dict[str, pd.DataFrame],
    selected: str,
    run_ids: dict[str, str],
    parent: str,
    config: MLConfig,
    version: int,
    trained_at: datetime,
) -> dict[str, pd.DataFrame]:
    """The model-evaluation serving tables (see :mod:`laip.ml.tables`)."""
    parts: dict[str, list[pd.DataFrame]] = {
        k: [] for k in ("comparison", "metrics", "importance", "roc", "pr", "calibration", "fairness")
    }
    for name, model_evals in evals.items():

        def tag(frame: pd.DataFrame, name: str = name) -> pd.DataFrame:
            return _run_columns(frame, name, selected, run_ids, parent, config, version, trained_at)

        for ev in model_evals:
            s = ev.split.name
            m = ev.metrics
            parts["comparison"].append(
                tag(
                    pd.DataFrame(
                        [
                            {
                                "split": s,
                                "model_label": config.model_labels.get(name, name),
                                **{k: m[k] for k in METRICS},
                                "threshold": ev.outcome.threshold,
                                "n_train": len(ev.split.train),
                                "n_test": int(m["n"]),
                                "n_test_positive": int(m["n_positive"]),
                                "cv_roc_auc": ev.outcome.cv_roc_auc,
                                "best_params": json.dumps(ev.outcome.best_params, sort_keys=True),
                            }
                        ]
                    )
                )
            )
            long = [
                {
                    "split": s,
                    "subset": sub["subset"],
                    "code_module": sub.get("code_module"),
                    "code_presentation": sub.get("code_presentation"),
                    "metric": metric,
                    "value": sub[metric],
                    "n": int(sub["n"]),
                    "n_positive": int(sub["n_positive"]),
                }
                for sub in ev.subsets
                for metric in METRICS
            ]
            parts["metrics"].append(tag(pd.DataFrame(long)))
            for key, frame in (("roc", ev.roc), ("pr", ev.pr)):
                parts[key].append(tag(frame.assign(split=s, point=np.arange(len(frame)))))
            parts["calibration"].append(tag(ev.calibration.assign(split=s)))
            parts["fairness"].append(
                tag(ev.fairness.assign(split=s, attribute_label=ev.fairness.attribute.map(config.label)))
            )
        parts["importance"].append(tag(importances[name].assign(split=evals[name][0].split.name)))
    names = {
        "comparison": "ml_withdrawal_model_comparison",
        "metrics": "ml_withdrawal_metrics",
        "importance": "ml_withdrawal_feature_importance",
        "roc": "ml_withdrawal_roc_curve",
        "pr": "ml_withdrawal_pr_curve",
        "calibration": "ml_withdrawal_calibration",
        "fairness": "ml_withdrawal_fairness",
    }
    return {names[k]: pd.concat(v, ignore_index=True) for k, v in parts.items()}


# ---------------------------------------------------------------------------------------------- train


def resolve_models(models: Sequence[str] | None, config: MLConfig) -> list[str]:
    names = list(models) if models else [m for m in MODEL_NAMES if m in config.model_params]
    unknown = [m for m in names if m not in config.model_params]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; configured: {sorted(config.model_params)}")
    return list(dict.fromkeys(names))


def train(settings: Settings, models: Sequence[str] | None = None, *, profile: str | None = None) -> TrainResult:
    """Train the configured models (or the subset ``models``), log to MLflow, register the champion, write tables."""
    from threadpoolctl import threadpool_limits

    # One BLAS thread: faster for these small dense problems and no oversubscription on a busy 2-core machine.
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        # MLflow's own deprecation / pandas-3 notices and its integer-schema hint are not actionable here
        warnings.filterwarnings("ignore", module=r"mlflow(\..*)?")
        warnings.filterwarnings("ignore", message=".*Inferred schema contains integer.*")
        return _train(settings, models, profile)


def _train(settings: Settings, models: Sequence[str] | None, profile: str | None) -> TrainResult:
    import mlflow
    from mlflow import MlflowClient

    from laip.ml.plots import curve_figure
    from laip.ml.tables import SCHEMAS
    from laip.ml.tracking import git_tags, setup_tracking
    from laip.warehouse.tables import replace_tables

    start = time.perf_counter()
    config = load_ml_config(settings, profile=profile)
    names = resolve_models(models, config)
    data = load_feature_data(settings.warehouse, config)
    splits = make_splits(data, config)
    for s in splits:
        log.info(s.summary())
    experiment_id = setup_tracking(settings, config)
    tags = {**git_tags(settings.repo_root), "data_digest": data.digest, "profile": config.profile}
    trained_at = datetime.now(UTC)
    evals: dict[str, list[Evaluation]] = {}
    importances: dict[str, pd.DataFrame] = {}
    run_ids: dict[str, str] = {}
    model_infos = {}
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"train-{trained_at:%Y%m%d-%H%M%S}") as parent:
        mlflow.set_tags({**tags, "split": "+".join(s.name for s in splits), "run_type": "training"})
        mlflow.log_params(_parent_params(config, names, splits))
        _log_dataset(data, settings, config)
        with tempfile.TemporaryDirectory() as tmp:
            cfg_path = Path(tmp) / "ml_config.yaml"
            cfg_path.write_text(yaml.safe_dump(config.raw, sort_keys=False))
            mlflow.log_artifact(str(cfg_path), "config")
        for name in names:
            with mlflow.start_run(run_name=name, nested=True, experiment_id=experiment_id) as child:
                t0 = time.perf_counter()
                evals[name] = [evaluate(name, data, s, config, settings) for s in splits]
                importances[name] = feature_importance(evals[name][0], data, config)
                model_infos[name] = _log_model_run(name, evals[name], importances[name], data, config, tags)
                run_ids[name] = child.info.run_id
                log.info(
                    "%s: %s ROC AUC %.3f, AP %.3f (%.1f s)",
                    name,
                    splits[0].name,
                    evals[name][0].metrics["roc_auc"],
                    evals[name][0].metrics["average_precision"],
                    time.perf_counter() - t0,
                )
        scores = {n: evals[n][0].metrics[config.selection_metric] for n in names}
        selected = select_model(scores, config.baseline, config.tie_tolerance)
        mlflow.set_tag("selected_model", selected)
        # monitoring reference: feature distributions of the champion's training rows (laip.ml.monitoring.monitor)
        log_reference_profile(data, splits[0], config, evals[selected][0].metrics, selected)
        mlflow.log_metrics(
            {
                f"selected_{splits[0].name}_{k}": v
                for k, v in evals[selected][0].metrics.items()
                if _clean(v) is not None
            }
        )
        mlflow.log_figure(
            curve_figure("roc", {n: evals[n][0].roc for n in names}, f"ROC, {splits[0].name} split"),
            "plots/roc_all_models.png",
        )
        mlflow.log_figure(
            curve_figure("pr", {n: evals[n][0].pr for n in names}, f"Precision-recall, {splits[0].name} split"),
            "plots/pr_all_models.png",
        )
        client = MlflowClient()
        version = mlflow.register_model(
            model_infos[selected].model_uri,
            config.registered_model_name,
            tags={
                "model_name": selected,
                "training_run_id": parent.info.run_id,
                "model_run_id": run_ids[selected],
                "data_digest": data.digest,
                f"{splits[0].name}_roc_auc": f"{scores[selected]:.4f}",
            },
        )
        version_number = int(version.version)
        tables = build_tables(
            evals, importances, selected, run_ids, parent.info.run_id, config, version_number, trained_at
        )
        mlflow.log_table(tables["ml_withdrawal_model_comparison"], "comparison/model_comparison.json")
        counts = replace_tables(settings.warehouse, tables, SCHEMAS)
        client.set_registered_model_alias(config.registered_model_name, config.alias, str(version_number))
        mlflow.set_tag("registered_model_version", str(version_number))
    return TrainResult(
        selected,
        version_number,
        config.registered_model_name,
        parent.info.run_id,
        experiment_id,
        tables["ml_withdrawal_model_comparison"],
        counts,
        time.perf_counter() - start,
        config.profile,
        data.digest,
    )

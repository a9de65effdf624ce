"""Train, compare and register the day-30 withdrawal-risk model (``laip train``).

For each configured model (LR baseline, RF and HGB challengers) and each split (primary: temporal; secondary:
grouped random by student): tune on grouped k-fold CV inside the training rows, calibrate and pick the threshold on
out-of-fold predictions, evaluate on the held-out rows. Everything goes to MLflow (a parent run per training, a
nested run per model); the model with the best primary-split ROC AUC (LR wins ties within the tolerance) is
registered; it gets the alias ``champion`` only through the champion gate (:mod:`laip.ml.champion_gate`: at least as
good as the current champion on the same held-out rows), and then its evaluation tables are written to schema ``ml``
in one transaction.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from laip.config import Settings
from laip.ml import champion_gate
from laip.ml.champion_gate import GateDecision
from laip.ml.config import MODEL_NAMES, MLConfig, load_ml_config
from laip.ml.evaluate import Evaluation, evaluate, feature_importance
from laip.ml.features import load_feature_data, make_splits
from laip.ml.modeling import select_model
from laip.ml.monitoring.profile import log_reference_profile
from laip.ml.provenance import signature_tags
from laip.ml.registry import describe_version
from laip.ml.run_logging import clean_metric, log_dataset, log_model_run, parent_params

log = logging.getLogger(__name__)

# the columns of the model comparison that the summaries show
COMPARISON_COLUMNS = ("model_name", "split", "roc_auc", "average_precision", "precision", "recall", "f1", "brier")


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
    gate: GateDecision | None = None

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
                },
                default=str,
            )
        )

    def summary(self) -> str:
        cols = [*COMPARISON_COLUMNS, "threshold", "is_selected"]
        table = self.comparison[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}")
        return "\n".join(
            [
                f"Trained {self.comparison.model_name.nunique()} models x {self.comparison.split.nunique()} splits "
                f"in {self.seconds:.1f} s (profile {self.profile}, data {self.data_digest})",
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
    from laip.ml.tables import SCHEMAS, build_tables
    from laip.ml.tracking import fail_orphaned_runs, git_tags, setup_tracking
    from laip.warehouse.tables import replace_tables

    start = time.perf_counter()
    config = load_ml_config(settings, profile=profile)
    names = resolve_models(models, config)
    data = load_feature_data(settings.warehouse, config)
    splits = make_splits(data, config)
    for s in splits:
        log.info(s.summary())
    experiment_id = setup_tracking(settings, config)
    # runs a killed training left RUNNING (a version it registered, if any, never got the alias: it stays unused)
    for run_id in fail_orphaned_runs(experiment_id):
        log.warning("marked run %s FAILED: its training ended without closing it", run_id)
    tags = {**git_tags(settings.repo_root), "data_digest": data.digest, "profile": config.profile}
    trained_at = datetime.now(UTC)
    evals: dict[str, list[Evaluation]] = {}
    importances: dict[str, pd.DataFrame] = {}
    run_ids: dict[str, str] = {}
    model_infos = {}
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"train-{trained_at:%Y%m%d-%H%M%S}") as parent:
        mlflow.set_tags({**tags, "split": "+".join(s.name for s in splits), "run_type": "training"})
        mlflow.log_params(parent_params(config, names, splits))
        log_dataset(data, settings, config)
        with tempfile.TemporaryDirectory() as tmp:
            cfg_path = Path(tmp) / "ml_config.yaml"
            cfg_path.write_text(yaml.safe_dump(config.raw, sort_keys=False))
            mlflow.log_artifact(str(cfg_path), "config")
        for name in names:
            # named after the model and the splits it is evaluated on (the MLflow UI lists runs by name)
            run_name = f"{name}: {config.model_labels.get(name, name)}, {' + '.join(s.name for s in splits)}"
            with mlflow.start_run(run_name=run_name, nested=True, experiment_id=experiment_id) as child:
                t0 = time.perf_counter()
                evals[name] = [evaluate(name, data, s, config, settings) for s in splits]
                importances[name] = feature_importance(evals[name][0], data, config)
                model_infos[name] = log_model_run(name, evals[name], importances[name], data, config, tags)
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
                if clean_metric(v) is not None
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
        # what vouches for the model at every later load (laip.ml.provenance)
        with tempfile.TemporaryDirectory() as tmp:
            logged = mlflow.artifacts.download_artifacts(artifact_uri=model_infos[selected].model_uri, dst_path=tmp)
            provenance = signature_tags(Path(logged), settings.home)
        gate = champion_gate.decide(settings, config, data, splits[0], selected, scores[selected])
        log.info("champion gate: %s", gate.reason)
        mlflow.set_tags(gate.as_tags())
        version = mlflow.register_model(
            model_infos[selected].model_uri,
            config.registered_model_name,
            tags={
                "model_name": selected,
                "training_run_id": parent.info.run_id,
                "model_run_id": run_ids[selected],
                "data_digest": data.digest,
                f"{splits[0].name}_roc_auc": f"{scores[selected]:.4f}",
                **provenance,
                **({} if gate.promote else {champion_gate.NOT_PROMOTED_TAG: gate.reason}),
            },
        )
        version_number = int(version.version)
        describe_version(
            config.registered_model_name,
            version_number,
            f"{selected} ({config.model_labels.get(selected, selected)}), trained {trained_at:%Y-%m-%d %H:%M} UTC on "
            f"data {data.digest}: {splits[0].name} held-out ROC AUC {scores[selected]:.3f}. Champion gate: "
            f"{gate.reason}. Training run {parent.info.run_id}.",
        )
        tables = build_tables(
            evals, importances, selected, run_ids, parent.info.run_id, config, version_number, trained_at
        )
        mlflow.log_table(tables["ml_withdrawal_model_comparison"], "comparison/model_comparison.json")
        counts: dict[str, int] = {}
        if gate.promote:
            # the ml tables describe the champion: a version the gate kept out leaves the champion's in place
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
        gate,
    )

"""Train, compare and register the withdrawal-risk model of every checkpoint of the term (``laip train``).

At each checkpoint P (``problem.checkpoints``; the day-30 one first), for each configured model (LR baseline, RF and
HGB challengers) and each split (primary: temporal; secondary: grouped random by student): tune on grouped k-fold CV
inside the training rows, calibrate and pick the threshold on out-of-fold predictions, evaluate on the held-out rows.
Everything goes to MLflow: a run per training, in it a nested run per checkpoint ("day 60"), in that a nested run
per model. At each checkpoint the model with the best primary-split ROC AUC (LR wins ties within the tolerance) is
registered as a version of that checkpoint's registered model (``laip-withdrawal-day60``); it gets the alias
``champion`` only through the champion gate (:mod:`laip.ml.champion_gate`: at least as good as that checkpoint's
current champion on the same held-out rows), and then its evaluation tables replace that checkpoint's rows of the
tables in schema ``ml`` (column ``prediction_day``) in one transaction.
"""

from __future__ import annotations

import logging
import tempfile
import time
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import yaml

from laip.config import Settings
from laip.ml import champion_gate
from laip.ml.config import MODEL_NAMES, MLConfig, load_ml_config
from laip.ml.evaluate import Evaluation, evaluate, feature_importance
from laip.ml.features import FeatureError, load_feature_data, make_splits
from laip.ml.modeling import select_model
from laip.ml.monitoring.profile import log_reference_profile
from laip.ml.provenance import signature_tags
from laip.ml.registry import describe_version
from laip.ml.run_logging import clean_metric, log_dataset, log_model_run, parent_params
from laip.ml.train_result import TrainResult

log = logging.getLogger(__name__)


def resolve_models(models: Sequence[str] | None, config: MLConfig) -> list[str]:
    names = list(models) if models else [m for m in MODEL_NAMES if m in config.model_params]
    unknown = [m for m in names if m not in config.model_params]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; configured: {sorted(config.model_params)}")
    return list(dict.fromkeys(names))


def resolve_checkpoints(checkpoints: Sequence[int] | None, config: MLConfig) -> list[int]:
    """The checkpoints to train (default: all), the default checkpoint first."""
    days = [int(d) for d in checkpoints] if checkpoints else list(config.checkpoints)
    unknown = [d for d in days if d not in config.checkpoints]
    if unknown:
        raise ValueError(f"unknown checkpoint(s) {unknown}; configured: {list(config.checkpoints)}")
    return sorted(dict.fromkeys(days), key=lambda d: (d != config.prediction_day, d))


def train(
    settings: Settings,
    models: Sequence[str] | None = None,
    *,
    profile: str | None = None,
    checkpoints: Sequence[int] | None = None,
) -> TrainResult:
    """Train the configured models (or the subset ``models``) at every checkpoint (or the subset ``checkpoints``),
    log to MLflow, register each checkpoint's champion, write its tables."""
    from threadpoolctl import threadpool_limits

    # One BLAS thread: faster for these small dense problems and no oversubscription on a busy 2-core machine.
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        # MLflow's own deprecation / pandas-3 notices and its integer-schema hint are not actionable here
        warnings.filterwarnings("ignore", module=r"mlflow(\..*)?")
        warnings.filterwarnings("ignore", message=".*Inferred schema contains integer.*")
        return _train(settings, models, profile, checkpoints)


def _train(
    settings: Settings, models: Sequence[str] | None, profile: str | None, checkpoints: Sequence[int] | None
) -> TrainResult:
    import mlflow

    from laip.ml.tracking import fail_orphaned_runs, git_tags, setup_tracking

    start = time.perf_counter()
    base = load_ml_config(settings, profile=profile)
    names = resolve_models(models, base)
    days = resolve_checkpoints(checkpoints, base)
    experiment_id = setup_tracking(settings, base)
    # runs a killed training left RUNNING (a version it registered, if any, never got the alias: it stays unused)
    for run_id in fail_orphaned_runs(experiment_id):
        log.warning("marked run %s FAILED: its training ended without closing it", run_id)
    tags = {**git_tags(settings.repo_root), "profile": base.profile}
    trained_at = datetime.now(UTC)
    results: dict[int, TrainResult] = {}
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"train-{trained_at:%Y%m%d-%H%M%S}") as training:
        mlflow.set_tags({**tags, "run_type": "training", "checkpoints": ",".join(map(str, days))})
        mlflow.log_params({"checkpoints": ",".join(map(str, days)), "models": ",".join(names)})
        for day in days:
            try:
                results[day] = _train_checkpoint(
                    settings, base.at_checkpoint(day), names, experiment_id, tags, trained_at
                )
            except FeatureError as exc:  # a live term's early weeks: no held-out presentation with labels yet
                if day == base.prediction_day:
                    raise
                log.warning("day %s not trained: %s", day, exc)
                continue
            log.info(results[day].checkpoint_summary())
        mlflow.log_metrics(
            {
                f"day{day}_selected_{base.primary_split}_roc_auc": float(
                    r.comparison[r.comparison.is_selected & (r.comparison.split == base.primary_split)].roc_auc.iloc[0]
                )
                for day, r in results.items()
            }
        )
    if not results:
        raise FeatureError(f"no checkpoint of {days} could be trained (no held-out presentation with labels yet)")
    main = results.get(base.prediction_day) or next(iter(results.values()))
    main.checkpoints = results
    main.training_run_id = training.info.run_id
    main.seconds = time.perf_counter() - start
    return main


def _train_checkpoint(
    settings: Settings,
    config: MLConfig,
    names: list[str],
    experiment_id: str,
    base_tags: dict[str, str],
    trained_at: datetime,
) -> TrainResult:
    """Train, select, gate, register and tabulate the models of one checkpoint (``config.prediction_day``), in a run
    nested in the training run."""
    import mlflow
    from mlflow import MlflowClient

    from laip.ml.plots import curve_figure
    from laip.ml.tables import SCHEMAS, build_tables
    from laip.warehouse.tables import replace_checkpoint_rows

    start = time.perf_counter()
    day = config.prediction_day
    data = load_feature_data(settings.warehouse, config)
    splits = make_splits(data, config)
    for s in splits:
        log.info("day %s: %s", day, s.summary())
    tags = {**base_tags, "data_digest": data.digest, "prediction_day": str(day)}
    evals: dict[str, list[Evaluation]] = {}
    importances: dict[str, pd.DataFrame] = {}
    run_ids: dict[str, str] = {}
    model_infos = {}
    with mlflow.start_run(run_name=f"day {day}", nested=True, experiment_id=experiment_id) as parent:
        mlflow.set_tags({**tags, "split": "+".join(s.name for s in splits), "run_type": "checkpoint"})
        mlflow.log_params(parent_params(config, names, splits))
        log_dataset(data, settings, config)
        with tempfile.TemporaryDirectory() as tmp:
            cfg_path = Path(tmp) / "ml_config.yaml"
            cfg_path.write_text(yaml.safe_dump(config.raw, sort_keys=False))
            mlflow.log_artifact(str(cfg_path), "config")
        for name in names:
            # named after the checkpoint, the model and the splits it is evaluated on (the MLflow UI lists runs by name)
            run_name = f"day {day} {name}: {config.model_labels.get(name, name)}, {' + '.join(s.name for s in splits)}"
            with mlflow.start_run(run_name=run_name, nested=True, experiment_id=experiment_id) as child:
                t0 = time.perf_counter()
                evals[name] = [evaluate(name, data, s, config, settings) for s in splits]
                importances[name] = feature_importance(evals[name][0], data, config)
                model_infos[name] = log_model_run(name, evals[name], importances[name], data, config, tags)
                run_ids[name] = child.info.run_id
                log.info(
                    "day %s %s: %s ROC AUC %.3f, AP %.3f (%.1f s)",
                    day,
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
            counts = replace_checkpoint_rows(settings.warehouse, tables, SCHEMAS, day)
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
        day,
    )

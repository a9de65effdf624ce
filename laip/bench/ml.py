"""ML benchmark (not a test): quality figures of the day-30 withdrawal model on real data; asserts nothing.

    python -m laip.bench.ml [DATA_DIR]            load + dbt build + train in a fresh temporary LAIP_HOME
    python -m laip.bench.ml --home DIR            reuse the warehouse already built in LAIP_HOME=DIR
                                                  (its MLflow store gets the training run)
    python -m laip.bench.ml --home DIR --checkpoints-only
                                                  only the table of every checkpoint (no training run)

Prints (1) the metrics table per model and split, (2) held-out metrics for test rows with and without click data,
(3) the within-course ROC AUC (inside each test module-presentation, row-weighted: how tutors rank students) per model,
(4) the unseen-module ROC AUC (the selected model refitted without one module, tested on it), (5) the ablation table:
the selected model type with its tuned hyper-parameters refitted on the temporal split without one feature family at a
time (what each family adds), (6) per checkpoint of the term: untuned LR and HGB fitted at that checkpoint and the
day-30 HGB applied to it (:func:`checkpoint_table`). Default DATA_DIR: the full OULAD beside the repo.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from laip.bench.ml_checkpoints import checkpoint_table, day30_champion_auc
from laip.config import REPO_ROOT, Settings, load_settings


def _build(settings: Settings, data_dir: Path) -> None:
    from laip.ingest.load import load
    from laip.warehouse.build import build

    load(data_dir, settings.warehouse, settings.reports_dir, source="given")
    result = build(settings)
    if not result.success:
        raise SystemExit(result.summary())


def _temporal_data(settings: Settings, day: int | None = None):
    """The ML config of checkpoint ``day`` (default: the day-30 one), its rows of the feature mart as model input
    and its temporal split (read once per report)."""
    from laip.ml.config import load_ml_config
    from laip.ml.features import load_feature_data, temporal_split

    config = load_ml_config(settings)
    config = config.at_checkpoint(day) if day is not None else config
    data = load_feature_data(settings.warehouse, config)
    return config, data, temporal_split(data, config)


def _held_out_scores(model_name: str, config, params: dict, data, train: np.ndarray, test: np.ndarray) -> dict:
    """``model_name`` with ``params`` fitted on the ``train`` rows (``config``'s features), ROC AUC / AP on ``test``."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from laip.ml.modeling import build_pipeline

    cols = config.features
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pipe = build_pipeline(model_name, config, params).fit(data.X.iloc[train][cols], data.y[train])
        p = pipe.predict_proba(data.X.iloc[test][cols])[:, 1]
    y = data.y[test]
    return {"roc_auc": roc_auc_score(y, p), "average_precision": average_precision_score(y, p)}


def ablation(settings: Settings, model_name: str, params: dict, temporal=None) -> pd.DataFrame:
    """Temporal-split ROC AUC / AP of ``model_name`` with all features and without each family."""
    config, data, split = temporal or _temporal_data(settings)
    rows = []
    variants = [("all families", None), *((f"without {fam}", fam) for fam in config.families)]
    for label, drop in variants:
        cfg = (
            config
            if drop is None
            else dataclasses.replace(config, families={k: v for k, v in config.families.items() if k != drop})
        )
        scores = _held_out_scores(model_name, cfg, params, data, split.train, split.test)
        rows.append({"variant": label, "n_features": len(cfg.features), **scores})
    frame = pd.DataFrame(rows)
    frame["roc_auc_lost"] = frame.roc_auc.iloc[0] - frame.roc_auc
    frame["ap_lost"] = frame.average_precision.iloc[0] - frame.average_precision
    return frame


def unseen_module(settings: Settings, model_name: str, params: dict, temporal=None) -> pd.DataFrame:
    """AUC on a module the model never saw: for each module of the temporal test rows, ``model_name`` (its tuned
    parameters) refitted on the temporal training rows of every other module, tested on that module's rows (new
    modules appear every year). Returns per module: n, base rate, ROC AUC, AP."""
    config, data, split = temporal or _temporal_data(settings)
    module = data.frame["code_module"].astype(str).to_numpy()
    rows = []
    for held_out in sorted(set(module[split.test])):
        train = split.train[module[split.train] != held_out]
        test = split.test[module[split.test] == held_out]
        y = data.y[test]
        if len(train) == 0 or len(set(y)) < 2:
            continue
        scores = _held_out_scores(model_name, config, params, data, train, test)
        rows.append({"module": held_out, "n": len(test), "base_rate": float(y.mean()), **scores})
    return pd.DataFrame(rows)


def per_course_frame(settings: Settings, split: str) -> pd.DataFrame:
    """ROC AUC and n per checkpoint, model and module-presentation of ``split`` (``ml.ml_withdrawal_metrics``)."""
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(
            """select prediction_day, model_name, code_module, code_presentation, value as roc_auc, n
               from ml.ml_withdrawal_metrics
               where subset = 'module_presentation' and metric = 'roc_auc' and split = ?
               order by prediction_day, model_name, code_module, code_presentation""",
            [split],
        ).df()


def report(settings: Settings, skip_ablation: bool = False) -> None:
    import json

    from laip.ml.train import train
    from laip.ml.train_result import COMPARISON_COLUMNS

    start = time.perf_counter()
    result = train(settings)
    fmt = {"float_format": lambda v: f"{v:.3f}", "index": False}
    print(
        f"\n== Checkpoints x models x splits (training {result.seconds:.0f} s, profile {result.profile}, "
        f"data {result.data_digest})"
    )
    cols = [*COMPARISON_COLUMNS, "base_rate", "threshold", "cv_roc_auc", "n_train", "n_test", "is_selected"]
    comparison = pd.concat([r.comparison.assign(day=d) for d, r in sorted(result.checkpoints.items())])
    print(comparison[["day", *cols]].to_string(**fmt))
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        subsets = con.execute("""
            pivot (select prediction_day, model_name, split, subset, metric, value, n from ml.ml_withdrawal_metrics
                   where subset in ('all', 'with_click_data', 'without_click_data')
                     and metric in ('roc_auc', 'average_precision', 'base_rate'))
            on metric using first(value) order by prediction_day, split, model_name, subset""").df()
    print("\n== Held-out rows with / without click data, per checkpoint")
    cols = ["prediction_day", "split", "model_name", "subset", "n", "roc_auc", "average_precision", "base_rate"]
    print(subsets[cols].to_string(**fmt))
    from laip.ml.metrics import within_course_auc

    per_course = per_course_frame(settings, "temporal")
    within = within_course_auc(per_course)
    print("\n== Within-course ROC AUC (temporal split): inside each test module-presentation, weighted by its rows")
    print(within.to_string(**fmt))
    day30 = per_course[per_course.prediction_day == result.prediction_day]
    print(
        day30.pivot(index=["code_module", "code_presentation"], columns="model_name", values="roc_auc")
        .reset_index()
        .to_string(**fmt)
    )
    summary = []
    for day, r in sorted(result.checkpoints.items()):
        sel = r.comparison[(r.comparison.is_selected) & (r.comparison.split == "temporal")].iloc[0]
        lr = r.comparison[(r.comparison.model_name == "lr") & (r.comparison.split == "temporal")]
        temporal = _temporal_data(settings, day)
        unseen = unseen_module(settings, sel.model_name, json.loads(sel.best_params), temporal)
        weighted = float(np.average(unseen.roc_auc, weights=unseen.n)) if len(unseen) else float("nan")
        w = within[(within.prediction_day == day) & (within.model_name == sel.model_name)].iloc[0]
        summary.append(
            {
                "day": day,
                "selected": sel.model_name,
                "n_test": int(sel.n_test),
                "base_rate": sel.base_rate,
                "roc_auc": sel.roc_auc,
                "average_precision": sel.average_precision,
                "lr_roc_auc": float(lr.roc_auc.iloc[0]) if len(lr) else float("nan"),
                "day30_champion_roc_auc": day30_champion_auc(settings, temporal),
                "within_course_auc": w.within_course_auc,
                "lowest_course": f"{w.lowest_course} {w.lowest_course_auc:.3f}",
                "unseen_module_auc": weighted,
            }
        )
        if day == result.prediction_day:
            print(
                f"\n== Unseen-module ROC AUC, day {day}: {sel.model_name} refitted without the module, tested on it "
                f"(temporal split); row-weighted mean {weighted:.3f}"
            )
            print(unseen.to_string(**fmt))
    print("\n== Every checkpoint: the selected model, its LR baseline and the day-30 champion on the same rows")
    print(pd.DataFrame(summary).to_string(**fmt))
    sel = result.comparison[(result.comparison.is_selected) & (result.comparison.split == "temporal")].iloc[0]
    temporal = _temporal_data(settings)
    if not skip_ablation:
        print(
            f"\n== Ablation: {sel.model_name} with its tuned temporal-split parameters {sel.best_params}, "
            "refitted without one feature family (temporal split)"
        )
        print(ablation(settings, sel.model_name, json.loads(sel.best_params), temporal).to_string(**fmt))
    print(f"\nTotal {time.perf_counter() - start:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", nargs="?", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "oulad")
    parser.add_argument("--home", type=Path, help="use the warehouse already built in this LAIP_HOME")
    parser.add_argument("--skip-ablation", action="store_true")
    parser.add_argument(
        "--checkpoints-only", action="store_true", help="print only the per-checkpoint table (no training run)"
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    if args.home and args.checkpoints_only:
        print(checkpoint_table(load_settings(home=args.home)).to_string(float_format=lambda v: f"{v:.3f}", index=False))
        return 0
    if args.home:
        report(load_settings(home=args.home), args.skip_ablation)
        return 0
    with tempfile.TemporaryDirectory(prefix="laip-mlbench-") as tmp:
        settings = load_settings(home=Path(tmp) / "home")
        _build(settings, args.data_dir)
        report(settings, args.skip_ablation)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())

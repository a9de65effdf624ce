"""Fit one model on one split and evaluate it on the held-out rows: metrics (overall, by click-log coverage and by
module-presentation), curves, calibration, fairness and feature importance."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from laip.config import Settings
from laip.ml.config import MLConfig
from laip.ml.features import FeatureData, Split
from laip.ml.metrics import binary_metrics, calibration_table, fairness_table, pr_points, roc_points
from laip.ml.modeling import FitOutcome, fit_model


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

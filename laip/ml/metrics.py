"""Evaluation of predicted probabilities: threshold choice, metrics, curves, calibration and fairness tables."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, precision_recall_curve, roc_auc_score, roc_curve

METRICS = ("roc_auc", "average_precision", "precision", "recall", "f1", "brier", "base_rate", "flag_rate")


def choose_threshold(y: np.ndarray, proba: np.ndarray) -> float:
    """The probability threshold with the highest F1 (ties: the higher threshold). Use training-CV predictions."""
    precision, recall, thresholds = precision_recall_curve(y, proba)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)[:-1]
    if len(thresholds) == 0:
        return 0.5
    best = np.flatnonzero(f1 == f1.max())[-1]
    return float(thresholds[best])


def binary_metrics(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    """ROC AUC, AP, precision/recall/F1 at ``threshold``, Brier score, base rate, flag rate (NaN when undefined)."""
    y = np.asarray(y, dtype=int)
    proba = np.asarray(proba, dtype=float)
    flagged = proba >= threshold
    tp = int((flagged & (y == 1)).sum())
    n_flag, n_pos = int(flagged.sum()), int(y.sum())
    precision = tp / n_flag if n_flag else math.nan
    recall = tp / n_pos if n_pos else math.nan
    f1 = (
        2 * precision * recall / (precision + recall)
        if n_flag and n_pos and (precision + recall) > 0
        else (0.0 if n_pos else math.nan)
    )
    both = 0 < n_pos < len(y)
    return {
        "roc_auc": float(roc_auc_score(y, proba)) if both else math.nan,
        "average_precision": float(average_precision_score(y, proba)) if n_pos else math.nan,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "brier": float(brier_score_loss(y, proba, labels=[0, 1])) if len(y) else math.nan,
        "base_rate": n_pos / len(y) if len(y) else math.nan,
        "flag_rate": n_flag / len(y) if len(y) else math.nan,
        "n": float(len(y)),
        "n_positive": float(n_pos),
    }


def _thin(frame: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """Keep at most ``max_points`` rows, always the first and the last."""
    if len(frame) <= max_points:
        return frame.reset_index(drop=True)
    idx = np.unique(np.linspace(0, len(frame) - 1, max_points).round().astype(int))
    return frame.iloc[idx].reset_index(drop=True)


def roc_points(y: np.ndarray, proba: np.ndarray, max_points: int = 300) -> pd.DataFrame:
    """ROC curve (fpr, tpr, threshold), thinned; the first point's infinite threshold is stored as NULL."""
    fpr, tpr, thr = roc_curve(y, proba)
    thr = np.where(np.isfinite(thr), thr, np.nan)
    return _thin(pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": thr}), max_points)


def pr_points(y: np.ndarray, proba: np.ndarray, max_points: int = 300) -> pd.DataFrame:
    """Precision-recall curve (recall, precision, threshold), thinned; the end point has a NULL threshold."""
    precision, recall, thr = precision_recall_curve(y, proba)
    thr = np.append(thr, np.nan)
    return _thin(pd.DataFrame({"recall": recall, "precision": precision, "threshold": thr}), max_points)


def calibration_table(y: np.ndarray, proba: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Quantile bins of the predicted probability: mean predicted vs observed rate, with counts."""
    frame = pd.DataFrame({"y": np.asarray(y, dtype=int), "p": np.asarray(proba, dtype=float)})
    ranks = frame["p"].rank(method="first")
    frame["bin"] = np.minimum((ranks - 1) * bins // len(frame), bins - 1).astype(int) + 1 if len(frame) else []
    out = frame.groupby("bin").agg(mean_predicted=("p", "mean"), observed_rate=("y", "mean"), n=("y", "size"))
    return out.reset_index()


def fairness_table(
    groups: pd.DataFrame,
    y: np.ndarray,
    proba: np.ndarray,
    threshold: float,
    attributes: Sequence[str],
    min_group_size: int,
) -> pd.DataFrame:
    """AUC, precision, recall and flag rate per group of each attribute; groups below ``min_group_size`` dropped."""
    rows = []
    for attr in attributes:
        values = groups[attr].astype(str).to_numpy()
        for value in sorted(set(values)):
            mask = values == value
            if mask.sum() < min_group_size:
                continue
            m = binary_metrics(y[mask], proba[mask], threshold)
            rows.append(
                {
                    "attribute": attr,
                    "group_value": value,
                    "n": int(m["n"]),
                    "n_positive": int(m["n_positive"]),
                    "base_rate": m["base_rate"],
                    "roc_auc": m["roc_auc"],
                    "precision": m["precision"],
                    "recall": m["recall"],
                    "flag_rate": m["flag_rate"],
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "attribute",
            "group_value",
            "n",
            "n_positive",
            "base_rate",
            "roc_auc",
            "precision",
            "recall",
            "flag_rate",
        ],
    )


def within_course_auc(per_course: pd.DataFrame) -> pd.DataFrame:
    """ROC AUC as tutors meet it: computed inside each module-presentation (a tutor ranks the students of one
    course), then averaged weighted by the course's rows. A pooled AUC is inflated by the base-rate differences
    between modules, which rank whole courses rather than students.

    ``per_course``: one row per group key (e.g. model and split) and module-presentation with ``roc_auc`` and ``n``
    (the ``module_presentation`` subset of ``ml_withdrawal_metrics``, pivoted). Courses whose AUC is undefined (one
    class only) are left out. Returns per group key: ``within_course_auc``, ``lowest_course_auc``, ``lowest_course``,
    ``courses``, ``n``."""
    keys = [c for c in per_course.columns if c not in ("code_module", "code_presentation", "roc_auc", "n")]
    rows = []
    for key, group in per_course.dropna(subset=["roc_auc"]).groupby(keys, sort=True):
        low = group.loc[group.roc_auc.idxmin()]
        rows.append(
            {
                **dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)),
                "within_course_auc": float(np.average(group.roc_auc, weights=group.n)),
                "lowest_course_auc": float(low.roc_auc),
                "lowest_course": f"{low.code_module} {low.code_presentation}",
                "courses": len(group),
                "n": int(group.n.sum()),
            }
        )
    return pd.DataFrame(rows)

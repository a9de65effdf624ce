"""Performance decay: the champion's ROC AUC per labelled presentation against its recorded held-out AUC."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from laip.ml.monitoring.config import MonitoringConfig
from laip.ml.monitoring.tables import PERFORMANCE, columns


def relative_auc_drop(auc: float, champion_auc: float) -> float:
    """(champion AUC - AUC) / champion AUC, rounded to 12 decimals so that a drop of exactly 5 % is 0.05."""
    if auc is None or champion_auc is None or math.isnan(auc) or math.isnan(champion_auc) or champion_auc <= 0:
        return math.nan
    return round((champion_auc - auc) / champion_auc, 12)


def performance_table(
    y: np.ndarray,
    proba: np.ndarray,
    populations: pd.Series,
    champion_auc: float,
    mcfg: MonitoringConfig,
    training_populations: Sequence[str] = (),
    seen: Sequence[str] = (),
    min_group_size: int = 10,
) -> pd.DataFrame:
    """ROC AUC / AP / base rate per population vs the champion's recorded AUC. Populations smaller than
    ``min_group_size`` are left out (BI suppression); AUC needs ``min_rows`` rows and ``min_positives`` of each class.
    A decayed population triggers retraining unless it is in ``seen``
    (see :func:`~laip.ml.monitoring.drift.drift_table`).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    rows = []
    labels = populations.astype(str).to_numpy()
    y = np.asarray(y, dtype=int)
    for population in sorted(set(labels)):
        mask = labels == population
        n, n_pos = int(mask.sum()), int(y[mask].sum())
        if n < min_group_size:
            continue
        enough = n >= mcfg.min_rows and min(n_pos, n - n_pos) >= mcfg.min_positives
        auc = float(roc_auc_score(y[mask], proba[mask])) if enough else math.nan
        ap = float(average_precision_score(y[mask], proba[mask])) if enough else math.nan
        drop = relative_auc_drop(auc, champion_auc)
        decayed = bool(not math.isnan(drop) and drop >= mcfg.auc_drop_threshold)
        in_training, was_seen = population in set(training_populations), population in set(seen)
        rows.append(
            {
                "population": population,
                "in_training": in_training,
                "seen_at_training": was_seen,
                "n": n,
                "n_positive": n_pos,
                "auc": auc,
                "average_precision": ap,
                "base_rate": n_pos / n,
                "champion_auc": champion_auc,
                "relative_drop": drop,
                "auc_drop_threshold": mcfg.auc_drop_threshold,
                "decayed": decayed,
                "triggers_retrain": decayed and not was_seen,
            }
        )
    return pd.DataFrame(rows, columns=columns(PERFORMANCE))

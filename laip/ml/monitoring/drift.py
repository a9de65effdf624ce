"""Drift of the model inputs against the reference profile: PSI per feature and population, KS for numeric ones.

Drift is descriptive: it says the inputs changed, not why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from laip.ml.config import MLConfig
from laip.ml.monitoring.config import MonitoringConfig
from laip.ml.monitoring.profile import bucket_shares, category_shares
from laip.ml.monitoring.tables import DRIFT, columns


def psi(expected: Sequence[float], actual: Sequence[float], epsilon: float = 1e-4) -> float:
    """Population stability index: sum (a - e) * ln(a / e), shares floored at ``epsilon`` (empty buckets)."""
    e = np.maximum(np.asarray(expected, dtype=float), epsilon)
    a = np.maximum(np.asarray(actual, dtype=float), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def ks_test(feature_profile: dict[str, Any], values: np.ndarray) -> tuple[float, float]:
    """Two-sample KS (statistic, p-value) of the reference values against the non-missing ``values``."""
    from scipy.stats import ks_2samp

    current = np.asarray(values, dtype=float)
    current = current[~np.isnan(current)]
    reference = np.repeat(
        np.asarray(feature_profile["ks_values"], dtype=float), np.asarray(feature_profile["ks_counts"], dtype=int)
    )
    if len(current) == 0 or len(reference) == 0:
        return math.nan, math.nan
    result = ks_2samp(reference, current)
    return float(result.statistic), float(result.pvalue)


def feature_drift(feature_profile: dict[str, Any], values: np.ndarray, epsilon: float) -> dict[str, float]:
    """PSI (and KS for numeric features) of ``values`` against one feature's reference profile."""
    if feature_profile["kind"] == "categorical":
        expected, actual = category_shares(values, feature_profile["shares"])
        missing = float(np.mean(pd.Series(values, dtype=object).astype(str) == "unknown")) if len(values) else math.nan
        return {
            "psi": psi(expected, actual, epsilon),
            "ks_stat": math.nan,
            "ks_pvalue": math.nan,
            "missing_share": missing,
            "reference_missing_share": feature_profile["shares"].get("unknown", 0.0),
        }
    values = np.asarray(values, dtype=float)
    actual = bucket_shares(values, feature_profile["edges"])
    stat, pvalue = ks_test(feature_profile, values)
    return {
        "psi": psi(feature_profile["shares"], actual, epsilon),
        "ks_stat": stat,
        "ks_pvalue": pvalue,
        "missing_share": actual[-1],
        "reference_missing_share": feature_profile["shares"][-1],
    }


def drift_table(
    profile: dict[str, Any],
    X: pd.DataFrame,
    populations: pd.Series,
    population_type: str,
    config: MLConfig,
    mcfg: MonitoringConfig,
    training_populations: Sequence[str] = (),
    seen: Sequence[str] = (),
    can_trigger: bool = True,
) -> pd.DataFrame:
    """One row per (feature, population) of ``X`` (``populations`` labels each row) against ``profile``.

    ``triggers_retrain``: a key feature whose PSI exceeds the threshold, in a population of at least ``min_rows``
    rows that is new or changed since the champion was trained (not in ``seen``: populations whose rows were
    already in the mart, unchanged, when the champion was trained and selected). Never for a population that
    ``can_trigger`` is false for: the API's logged inputs, which anyone who reaches the API can write.
    """
    rows = []
    labels = populations.astype(str).to_numpy()
    for population in sorted(set(labels)):
        mask = labels == population
        in_training = population in set(training_populations)
        was_seen = population in set(seen)
        for f in config.features:
            if f not in profile["features"] or f not in X.columns:
                continue
            stats = feature_drift(profile["features"][f], X.loc[mask, f].to_numpy(), mcfg.epsilon)
            is_key = f in mcfg.key_features
            drifted = bool(stats["psi"] > mcfg.psi_threshold)
            rows.append(
                {
                    "feature": f,
                    "feature_label": config.label(f),
                    "family": config.family_of(f),
                    "kind": profile["features"][f]["kind"],
                    "population": population,
                    "population_type": population_type,
                    "in_training": in_training,
                    "seen_at_training": was_seen,
                    "n_rows": int(mask.sum()),
                    **stats,
                    "is_key_feature": is_key,
                    "psi_threshold": mcfg.psi_threshold,
                    "drifted": drifted,
                    "triggers_retrain": can_trigger
                    and drifted
                    and is_key
                    and not was_seen
                    and mask.sum() >= mcfg.min_rows,
                }
            )
    return pd.DataFrame(rows, columns=[c for c in columns(DRIFT) if c != "profile_source"])

"""The reference profile: each feature's distribution over the champion's training rows (what drift compares to).

At training time :func:`log_reference_profile` stores it as the MLflow artifact ``monitoring/reference_profile.json``
of the training run: numeric features as quantile bins (edges from the training data, open-ended first and last
bin, a separate missing bucket) plus the distinct values and counts for the KS test; categorical features as
category shares (NULL is the category ``unknown``). An older champion without the artifact gets a profile
recomputed from the warehouse training rows (:func:`load_reference_profile` says so).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from laip.config import Settings
from laip.ml.config import MLConfig
from laip.ml.monitoring.config import MonitoringConfig, monitoring_config
from laip.ml.registry import ChampionVersion

log = logging.getLogger(__name__)

PROFILE_ARTIFACT = "monitoring/reference_profile.json"
PROFILE_VERSION = 1
MISSING = "__missing__"  # the NULL bucket of a numeric feature
OTHER = "__other__"  # categories never seen in training


def populations(data: Any) -> pd.Series:
    """The population of each row of a :class:`laip.ml.features.FeatureData`: its presentation."""
    return data.frame["code_presentation"].astype(str)


def _round(values: np.ndarray) -> np.ndarray:
    """6 significant digits: JSON-stable and enough for binning and KS."""
    return np.array([float(f"{v:.6g}") for v in values], dtype=float)


def numeric_profile(values: np.ndarray, bins: int = 10, ks_max_points: int = 2000) -> dict[str, Any]:
    """Quantile bin edges (interior only: the first and last bin are open-ended), bucket shares incl. missing,
    and the distinct non-missing values with their counts (for KS)."""
    values = np.asarray(values, dtype=float)
    present = values[~np.isnan(values)]
    edges = (
        np.unique(_round(np.quantile(present, np.arange(1, bins) / bins)))
        if len(present)
        else np.array([], dtype=float)
    )
    shares = bucket_shares(values, edges)
    if len(present):
        uniq, counts = np.unique(_round(present), return_counts=True)
        exact = len(uniq) <= ks_max_points
        if not exact:
            uniq = _round(np.quantile(present, (np.arange(ks_max_points) + 0.5) / ks_max_points))
            counts = np.full(len(uniq), max(1, round(len(present) / ks_max_points)))
    else:
        uniq, counts, exact = np.array([]), np.array([], dtype=int), True
    return {
        "kind": "numeric",
        "n": len(values),
        "edges": edges.tolist(),
        "shares": shares,
        "ks_values": uniq.tolist(),
        "ks_counts": [int(c) for c in counts],
        "ks_exact": bool(exact),
    }


def bucket_shares(values: np.ndarray, edges: Sequence[float] | np.ndarray) -> list[float]:
    """Shares of the buckets ``(-inf, e1], (e1, e2], ..., (ek, inf), missing`` (sum 1; all 0 when empty)."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    nan = np.isnan(values)
    idx = np.searchsorted(np.asarray(edges, dtype=float), values[~nan], side="left")
    counts = [*np.bincount(idx, minlength=len(edges) + 1).tolist(), int(nan.sum())]
    return [c / n if n else 0.0 for c in counts]


def categorical_profile(values: Sequence[Any]) -> dict[str, Any]:
    """Category shares (NULL is already the category ``unknown`` in the model input)."""
    s = pd.Series(values, dtype=object).astype(str)
    shares = s.value_counts(normalize=True).sort_index()
    return {"kind": "categorical", "n": len(s), "shares": {str(k): float(v) for k, v in shares.items()}}


def category_shares(values: Sequence[Any] | np.ndarray, reference: dict[str, float]) -> tuple[list[float], list[float]]:
    """(expected, actual) shares over the reference categories plus one bucket for unseen categories."""
    s = pd.Series(values, dtype=object).astype(str)
    cats = sorted(reference)
    actual = s.where(s.isin(cats), OTHER).value_counts(normalize=True) if len(s) else pd.Series(dtype=float)
    expected = [reference[c] for c in cats] + [0.0]
    return expected, [float(actual.get(c, 0.0)) for c in [*cats, OTHER]]


def build_reference_profile(X: pd.DataFrame, config: MLConfig, mcfg: MonitoringConfig, **meta: Any) -> dict[str, Any]:
    """Reference distributions of every model feature over ``X`` (the champion's training rows)."""
    features: dict[str, Any] = {}
    for f in config.features:
        if f in config.categorical:
            features[f] = categorical_profile(X[f].to_numpy())
        else:
            features[f] = numeric_profile(X[f].to_numpy(dtype=float), mcfg.bins, mcfg.ks_max_points)
    return {"version": PROFILE_VERSION, "n_rows": len(X), "bins": mcfg.bins, **meta, "features": features}


def population_digests(X: pd.DataFrame, y: np.ndarray, populations: pd.Series) -> dict[str, str]:
    """Short sha256 of each population's model inputs and labels (floats rounded to 6 decimals), in row order."""
    rounded = X.apply(lambda c: c.round(6) if c.dtype.kind == "f" else c.astype(str)).assign(_y=np.asarray(y))
    labels = populations.astype(str).to_numpy()
    out = {}
    for population in sorted(set(labels)):
        hashed = pd.util.hash_pandas_object(rounded.iloc[np.flatnonzero(labels == population)], index=False)
        out[population] = hashlib.sha256(hashed.to_numpy().tobytes()).hexdigest()[:16]
    return out


def training_profile(data: Any, split: Any, config: MLConfig, **meta: Any) -> dict[str, Any]:
    """The reference profile of ``split``'s training rows of ``data`` (a :class:`laip.ml.features.FeatureData`), with
    the digest of every presentation in the mart at that time (what the champion was judged on)."""
    train_frame = data.frame.iloc[split.train]
    return build_reference_profile(
        data.X.iloc[split.train],
        config,
        monitoring_config(config),
        split=split.name,
        source_table=config.source_table,
        data_digest=data.digest,
        train_presentations=sorted(train_frame["code_presentation"].astype(str).unique().tolist()),
        population_digests=population_digests(data.X, data.y, populations(data)),
        **meta,
    )


def log_reference_profile(
    data: Any, split: Any, config: MLConfig, metrics: dict[str, float], model_name: str
) -> dict[str, Any]:
    """Inside the active training run: log the reference profile artifact and the metrics the trigger reads."""
    import mlflow

    clean = {k: (None if v is None or math.isnan(v) else float(v)) for k, v in metrics.items()}
    profile = training_profile(data, split, config, model_name=model_name, metrics=clean)
    mlflow.log_dict(profile, PROFILE_ARTIFACT)
    mlflow.log_metrics(
        {
            "reference_n_rows": float(len(split.train)),
            **({"reference_roc_auc": float(auc)} if (auc := clean.get("roc_auc")) is not None else {}),
        }
    )
    mlflow.set_tag("reference_profile", PROFILE_ARTIFACT)
    return profile


def load_reference_profile(
    settings: Settings, config: MLConfig, champion: ChampionVersion, recorded_auc: float, data: Any = None
) -> tuple[dict[str, Any], str]:
    """(profile, source): the training run's artifact, or recomputed from the warehouse training rows when an
    older champion has none (``source`` says which)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        profile = mlflow.artifacts.load_dict(f"runs:/{champion.training_run_id}/{PROFILE_ARTIFACT}")
        return profile, "artifact"
    except (MlflowException, OSError) as exc:
        log.warning(
            "champion run %s has no %s (%s); recomputing the reference from the warehouse training rows",
            champion.training_run_id,
            PROFILE_ARTIFACT,
            type(exc).__name__,
        )
    from laip.ml.features import load_feature_data, make_splits

    data = data if data is not None else load_feature_data(settings.warehouse, config)
    profile = training_profile(data, make_splits(data, config)[0], config, metrics={"roc_auc": recorded_auc})
    # what the old champion was judged on is unknown: every population it did not train on counts as new
    profile["population_digests"] = {}
    return profile, "recomputed from the warehouse (no profile artifact on the training run)"

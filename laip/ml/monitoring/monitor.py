"""Model monitoring (``laip monitor``): data drift, performance decay, API health and the retraining decision.

* **Reference profile.** At training time :func:`log_reference_profile` stores, as the MLflow artifact
  ``monitoring/reference_profile.json`` of the training run, the distribution of every feature over the champion's
  training rows: numeric features as 10 quantile bins (edges from the training data, open-ended first and last
  bin, a separate missing bucket) plus the distinct values and counts for the KS test; categorical features as
  category shares (NULL is the category ``unknown``). An older champion without the artifact gets a profile
  recomputed from the warehouse training rows (the summary says so).
* **Drift.** Per feature and population (each presentation of the feature mart, and the inputs of the API
  prediction log): PSI over the reference buckets (``epsilon`` for empty buckets) and, for numeric features, the
  two-sample KS statistic and p-value (scipy) on the non-missing values.
* **Performance.** The champion scores the feature mart; ROC AUC, average precision and base rate per
  presentation (labels are known for past presentations) against the champion's recorded held-out ROC AUC.
* **API health.** Requests, errors and latency percentiles per hour and per day from the prediction log.
* **Decision.** Retrain when there is no champion, when a labelled presentation the champion did not train on
  has a ROC AUC at least ``auc_drop_threshold`` (relative) below the recorded one, or when a key feature's PSI
  exceeds ``psi_threshold`` in such a population or in the API inputs (``monitoring:`` in ``ml/config.yaml``).

Everything goes to the ``ml_monitoring_*`` tables of schema ``ml`` in one transaction; ``laip publish`` ships them.
Drift is descriptive: it says the inputs changed, not why, and the model is not causal.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from laip.ml.monitoring.prediction_log import read_prediction_log
from laip.config import Settings
from laip.ml.config import MLConfig, MLConfigError

log = logging.getLogger(__name__)

PROFILE_ARTIFACT = "monitoring/reference_profile.json"
PROFILE_VERSION = 1
MISSING = "__missing__"       # the NULL bucket of a numeric feature
OTHER = "__other__"           # categories never seen in training
RETRAIN_MODES = ("auto", "always", "never")

DRIFT = "ml_monitoring_feature_drift"
PERFORMANCE = "ml_monitoring_performance"
API = "ml_monitoring_api"
DECISION = "ml_monitoring_decision"

_CHAMPION = {"registered_model_name": "VARCHAR", "model_version": "INTEGER", "mlflow_run_id": "VARCHAR",
             "computed_at": "TIMESTAMPTZ"}
SCHEMAS: dict[str, dict[str, str]] = {
    DRIFT: {
        "feature": "VARCHAR", "feature_label": "VARCHAR", "family": "VARCHAR", "kind": "VARCHAR",
        "population": "VARCHAR", "population_type": "VARCHAR", "in_training": "BOOLEAN",
        "seen_at_training": "BOOLEAN", "n_rows": "BIGINT", "missing_share": "DOUBLE",
        "reference_missing_share": "DOUBLE", "psi": "DOUBLE", "ks_stat": "DOUBLE", "ks_pvalue": "DOUBLE",
        "is_key_feature": "BOOLEAN", "psi_threshold": "DOUBLE", "drifted": "BOOLEAN",
        "triggers_retrain": "BOOLEAN", "profile_source": "VARCHAR", **_CHAMPION,
    },
    PERFORMANCE: {
        "population": "VARCHAR", "in_training": "BOOLEAN", "seen_at_training": "BOOLEAN", "n": "BIGINT",
        "n_positive": "BIGINT", "auc": "DOUBLE", "average_precision": "DOUBLE", "base_rate": "DOUBLE",
        "champion_auc": "DOUBLE", "relative_drop": "DOUBLE", "auc_drop_threshold": "DOUBLE", "decayed": "BOOLEAN",
        "triggers_retrain": "BOOLEAN", **_CHAMPION,
    },
    API: {
        "period_type": "VARCHAR", "period_start": "TIMESTAMPTZ", "requests": "BIGINT", "records": "BIGINT",
        "errors": "BIGINT", "client_errors": "BIGINT", "server_errors": "BIGINT", "error_rate": "DOUBLE",
        "latency_p50_ms": "DOUBLE", "latency_p95_ms": "DOUBLE", "latency_p99_ms": "DOUBLE", **_CHAMPION,
    },
    DECISION: {
        "retrain": "BOOLEAN", "mode": "VARCHAR", "decision": "VARCHAR", "reasons": "VARCHAR",
        "n_triggers": "INTEGER", "max_key_feature_psi": "DOUBLE", "max_relative_auc_drop": "DOUBLE",
        "psi_threshold": "DOUBLE", "auc_drop_threshold": "DOUBLE", "key_features": "VARCHAR",
        "champion_auc": "DOUBLE", "profile_source": "VARCHAR", "outcome": "VARCHAR", "new_model_version": "INTEGER",
        **_CHAMPION,
    },
}


# ---------------------------------------------------------------------------------------------- config

@dataclass(frozen=True)
class MonitoringConfig:
    """The ``monitoring:`` section of ``ml/config.yaml``."""

    key_features: tuple[str, ...]
    psi_threshold: float = 0.2
    auc_drop_threshold: float = 0.05     # relative: (champion AUC - AUC) / champion AUC
    min_rows: int = 100                  # drift and AUC need at least this many rows in a population
    min_positives: int = 10              # ... and AUC this many of each class
    bins: int = 10
    epsilon: float = 1e-4
    ks_max_points: int = 2000            # distinct reference values kept for KS (quantiles beyond that)


def monitoring_config(config: MLConfig) -> MonitoringConfig:
    """Read and check ``monitoring:`` (key features must be model features, thresholds positive)."""
    raw = dict(config.raw.get("monitoring") or {})
    known = {f.name for f in MonitoringConfig.__dataclass_fields__.values()}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise MLConfigError(f"monitoring: unknown settings {unknown}; known: {sorted(known)}")
    cfg = MonitoringConfig(**{**raw, "key_features": tuple(raw.get("key_features", ()))})
    missing = [f for f in cfg.key_features if f not in config.features]
    if missing:
        raise MLConfigError(f"monitoring.key_features are not model features: {missing}")
    if not (cfg.psi_threshold > 0 and 0 < cfg.auc_drop_threshold < 1 and cfg.bins >= 2 and cfg.epsilon > 0):
        raise MLConfigError("monitoring: psi_threshold > 0, 0 < auc_drop_threshold < 1, bins >= 2, epsilon > 0")
    return cfg


# ---------------------------------------------------------------------------------------------- reference profile

def _round(values: np.ndarray) -> np.ndarray:
    """6 significant digits: JSON-stable and enough for binning and KS."""
    return np.array([float(f"{v:.6g}") for v in values], dtype=float)


def numeric_profile(values: np.ndarray, bins: int = 10, ks_max_points: int = 2000) -> dict[str, Any]:
    """Quantile bin edges (interior only: the first and last bin are open-ended), bucket shares incl. missing,
    and the distinct non-missing values with their counts (for KS)."""
    values = np.asarray(values, dtype=float)
    present = values[~np.isnan(values)]
    edges = (np.unique(_round(np.quantile(present, np.arange(1, bins) / bins))) if len(present)
             else np.array([], dtype=float))
    shares = bucket_shares(values, edges)
    if len(present):
        uniq, counts = np.unique(_round(present), return_counts=True)
        exact = len(uniq) <= ks_max_points
        if not exact:
            uniq = _round(np.quantile(present, (np.arange(ks_max_points) + 0.5) / ks_max_points))
            counts = np.full(len(uniq), max(1, round(len(present) / ks_max_points)))
    else:
        uniq, counts, exact = np.array([]), np.array([], dtype=int), True
    return {"kind": "numeric", "n": int(len(values)), "edges": edges.tolist(), "shares": shares,
            "ks_values": uniq.tolist(), "ks_counts": [int(c) for c in counts], "ks_exact": bool(exact)}


def bucket_shares(values: np.ndarray, edges: Sequence[float]) -> list[float]:
    """Shares of the buckets ``(-inf, e1], (e1, e2], ..., (ek, inf), missing`` (sum 1; all 0 when empty)."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    nan = np.isnan(values)
    idx = np.searchsorted(np.asarray(edges, dtype=float), values[~nan], side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1).tolist() + [int(nan.sum())]
    return [c / n if n else 0.0 for c in counts]


def categorical_profile(values: Sequence[Any]) -> dict[str, Any]:
    """Category shares (NULL is already the category ``unknown`` in the model input)."""
    s = pd.Series(values, dtype=object).astype(str)
    shares = s.value_counts(normalize=True).sort_index()
    return {"kind": "categorical", "n": int(len(s)), "shares": {str(k): float(v) for k, v in shares.items()}}


def category_shares(values: Sequence[Any], reference: dict[str, float]) -> tuple[list[float], list[float]]:
    """(expected, actual) shares over the reference categories plus one bucket for unseen categories."""
    s = pd.Series(values, dtype=object).astype(str)
    cats = sorted(reference)
    actual = s.where(s.isin(cats), OTHER).value_counts(normalize=True) if len(s) else pd.Series(dtype=float)
    expected = [reference[c] for c in cats] + [0.0]
    return expected, [float(actual.get(c, 0.0)) for c in [*cats, OTHER]]


def build_reference_profile(X: pd.DataFrame, config: MLConfig, mcfg: MonitoringConfig,
                            **meta: Any) -> dict[str, Any]:
    """Reference distributions of every model feature over ``X`` (the champion's training rows)."""
    features: dict[str, Any] = {}
    for f in config.features:
        if f in config.categorical:
            features[f] = categorical_profile(X[f].to_numpy())
        else:
            features[f] = numeric_profile(X[f].to_numpy(dtype=float), mcfg.bins, mcfg.ks_max_points)
    return {"version": PROFILE_VERSION, "n_rows": int(len(X)), "bins": mcfg.bins, **meta, "features": features}


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
        data.X.iloc[split.train], config, monitoring_config(config), split=split.name,
        source_table=config.source_table, data_digest=data.digest,
        train_presentations=sorted(train_frame["code_presentation"].astype(str).unique().tolist()),
        population_digests=population_digests(data.X, data.y, _populations(data)), **meta)


def log_reference_profile(data: Any, split: Any, config: MLConfig, metrics: dict[str, float],
                          model_name: str) -> dict[str, Any]:
    """Inside the active training run: log the reference profile artifact and the metrics the trigger reads."""
    import mlflow

    clean = {k: (None if v is None or math.isnan(v) else float(v)) for k, v in metrics.items()}
    profile = training_profile(data, split, config, model_name=model_name, metrics=clean)
    mlflow.log_dict(profile, PROFILE_ARTIFACT)
    mlflow.log_metrics({"reference_n_rows": float(len(split.train)),
                        **({"reference_roc_auc": clean["roc_auc"]} if clean.get("roc_auc") is not None else {})})
    mlflow.set_tag("reference_profile", PROFILE_ARTIFACT)
    return profile


# ---------------------------------------------------------------------------------------------- drift statistics

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
    reference = np.repeat(np.asarray(feature_profile["ks_values"], dtype=float),
                          np.asarray(feature_profile["ks_counts"], dtype=int))
    if len(current) == 0 or len(reference) == 0:
        return math.nan, math.nan
    result = ks_2samp(reference, current)
    return float(result.statistic), float(result.pvalue)


def feature_drift(feature_profile: dict[str, Any], values: np.ndarray, epsilon: float) -> dict[str, float]:
    """PSI (and KS for numeric features) of ``values`` against one feature's reference profile."""
    if feature_profile["kind"] == "categorical":
        expected, actual = category_shares(values, feature_profile["shares"])
        missing = float(np.mean(pd.Series(values, dtype=object).astype(str) == "unknown")) if len(values) else math.nan
        return {"psi": psi(expected, actual, epsilon), "ks_stat": math.nan, "ks_pvalue": math.nan,
                "missing_share": missing, "reference_missing_share": feature_profile["shares"].get("unknown", 0.0)}
    values = np.asarray(values, dtype=float)
    actual = bucket_shares(values, feature_profile["edges"])
    stat, pvalue = ks_test(feature_profile, values)
    return {"psi": psi(feature_profile["shares"], actual, epsilon), "ks_stat": stat, "ks_pvalue": pvalue,
            "missing_share": actual[-1], "reference_missing_share": feature_profile["shares"][-1]}


def drift_table(profile: dict[str, Any], X: pd.DataFrame, populations: pd.Series, population_type: str,
                config: MLConfig, mcfg: MonitoringConfig, training_populations: Sequence[str] = (),
                seen: Sequence[str] = ()) -> pd.DataFrame:
    """One row per (feature, population) of ``X`` (``populations`` labels each row) against ``profile``.

    ``triggers_retrain``: a key feature whose PSI exceeds the threshold, in a population of at least ``min_rows``
    rows that is new or changed since the champion was trained (not in ``seen``: populations whose rows were
    already in the mart, unchanged, when the champion was trained and selected).
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
            rows.append({"feature": f, "feature_label": config.label(f), "family": config.family_of(f),
                         "kind": profile["features"][f]["kind"], "population": population,
                         "population_type": population_type, "in_training": in_training,
                         "seen_at_training": was_seen, "n_rows": int(mask.sum()),
                         **stats, "is_key_feature": is_key, "psi_threshold": mcfg.psi_threshold, "drifted": drifted,
                         "triggers_retrain": drifted and is_key and not was_seen and mask.sum() >= mcfg.min_rows})
    return pd.DataFrame(rows, columns=[c for c in SCHEMAS[DRIFT] if c not in _CHAMPION and c != "profile_source"])


# ---------------------------------------------------------------------------------------------- performance

def relative_auc_drop(auc: float, champion_auc: float) -> float:
    """(champion AUC - AUC) / champion AUC, rounded to 12 decimals so that a drop of exactly 5 % is 0.05."""
    if auc is None or champion_auc is None or math.isnan(auc) or math.isnan(champion_auc) or champion_auc <= 0:
        return math.nan
    return round((champion_auc - auc) / champion_auc, 12)


def performance_table(y: np.ndarray, proba: np.ndarray, populations: pd.Series, champion_auc: float,
                      mcfg: MonitoringConfig, training_populations: Sequence[str] = (), seen: Sequence[str] = (),
                      min_group_size: int = 10) -> pd.DataFrame:
    """ROC AUC / AP / base rate per population vs the champion's recorded AUC. Populations smaller than
    ``min_group_size`` are left out (BI suppression); AUC needs ``min_rows`` rows and ``min_positives`` of each class.
    A decayed population triggers retraining unless it is in ``seen`` (see :func:`drift_table`).
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
        rows.append({"population": population, "in_training": in_training, "seen_at_training": was_seen,
                     "n": n, "n_positive": n_pos,
                     "auc": auc, "average_precision": ap, "base_rate": n_pos / n, "champion_auc": champion_auc,
                     "relative_drop": drop, "auc_drop_threshold": mcfg.auc_drop_threshold, "decayed": decayed,
                     "triggers_retrain": decayed and not was_seen})
    return pd.DataFrame(rows, columns=[c for c in SCHEMAS[PERFORMANCE] if c not in _CHAMPION])


# ---------------------------------------------------------------------------------------------- decision

@dataclass
class Decision:
    """Whether to retrain, and why (JSON-serialisable: the Airflow XCom the branch reads)."""

    retrain: bool
    mode: str
    reasons: list[str]
    n_triggers: int = 0
    max_key_feature_psi: float | None = None
    max_relative_auc_drop: float | None = None
    champion_version: int | None = None
    champion_run_id: str | None = None
    champion_auc: float | None = None
    profile_source: str | None = None

    @property
    def branch(self) -> str:
        return "retrain" if self.retrain else "keep_champion"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "branch": self.branch}

    def summary(self) -> str:
        head = (f"Decision: {'RETRAIN' if self.retrain else 'keep the champion'} (mode {self.mode}; champion "
                f"version {self.champion_version or '-'}, recorded AUC "
                f"{'-' if self.champion_auc is None else f'{self.champion_auc:.3f}'})")
        return "\n".join([head, *(f"  - {r}" for r in self.reasons)])


def _max(series: pd.Series) -> float | None:
    s = pd.to_numeric(series, errors="coerce").dropna()
    return float(s.max()) if len(s) else None


def decide(drift: pd.DataFrame, performance: pd.DataFrame, mcfg: MonitoringConfig, *, has_champion: bool,
           mode: str = "auto", feature_change: str | None = None) -> Decision:
    """The retraining rule. ``mode``: ``auto`` (the rule), ``always`` (force), ``never`` (keep unless there is no
    champion at all: nothing could score otherwise). ``feature_change``: the configured features differ from the
    champion's (it cannot score the mart any more), which always retrains."""
    if mode not in RETRAIN_MODES:
        raise ValueError(f"retrain mode must be one of {RETRAIN_MODES}, not {mode!r}")
    reasons: list[str] = []
    if not has_champion:
        reasons.append("no champion model is registered yet")
    if feature_change:
        reasons.append(feature_change)
    decayed = performance[performance.triggers_retrain.astype(bool)] if len(performance) else performance
    for r in decayed.itertuples():
        reasons.append(f"ROC AUC on {r.population} is {r.auc:.3f}, {r.relative_drop:.1%} below the champion's "
                       f"{r.champion_auc:.3f} (threshold {mcfg.auc_drop_threshold:.0%})")
    drifted = drift[drift.triggers_retrain.astype(bool)] if len(drift) else drift
    for r in drifted.sort_values(["population", "psi"], ascending=[True, False]).itertuples():
        reasons.append(f"key feature {r.feature} drifted in {r.population}: PSI {r.psi:.3f} > {mcfg.psi_threshold}")
    n_triggers = len(reasons)
    key = (drift[drift.is_key_feature.astype(bool) & ~drift.seen_at_training.astype(bool)
                 & (drift.n_rows >= mcfg.min_rows)] if len(drift) else drift)
    unseen_perf = performance[~performance.seen_at_training.astype(bool)] if len(performance) else performance
    retrain = n_triggers > 0
    if mode == "always":
        retrain = True
        reasons.insert(0, "forced: retrain=always")
    elif mode == "never" and has_champion and not feature_change:
        if retrain:
            reasons.insert(0, "retraining suppressed: retrain=never")
        retrain = False
    if not reasons:
        reasons.append(f"no trigger: in the data new or changed since the champion was trained, no key feature has "
                       f"PSI > {mcfg.psi_threshold} and no labelled presentation a ROC AUC >= "
                       f"{mcfg.auc_drop_threshold:.0%} below the champion's")
    return Decision(retrain, mode, reasons, n_triggers,
                    _max(key.psi) if len(key) else None,
                    _max(unseen_perf.relative_drop) if len(unseen_perf) else None)


# ---------------------------------------------------------------------------------------------- prediction log

def api_inputs(log: pd.DataFrame, config: MLConfig) -> pd.DataFrame:
    """Model inputs of the successful prediction records, as the model sees them (NULL clicks stay NaN)."""
    from laip.ml.features import prepare_X

    if not len(log):
        return pd.DataFrame(columns=config.features)
    ok = log[(log.status < 400).fillna(False).astype(bool)]
    frame = ok.reindex(columns=config.features).reset_index(drop=True)
    return prepare_X(frame, config) if len(frame) else pd.DataFrame(columns=config.features)


def api_health(log: pd.DataFrame) -> pd.DataFrame:
    """Requests, errors and latency percentiles per hour and per day (one request = one ``request_id``)."""
    import duckdb

    cols = [c for c in SCHEMAS[API] if c not in _CHAMPION]
    if not len(log):
        return pd.DataFrame(columns=cols)
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        con.register("log", log[["request_id", "ts", "status", "latency_ms"]])
        parts = [con.execute(f"""
            with requests as (
                select request_id, min(ts) as ts, max(status) as status, max(latency_ms) as latency_ms,
                       count(*) as records
                from log where ts is not null group by request_id)
            select '{period}' as period_type, date_trunc('{period}', ts) as period_start,
                   count(*) as requests, sum(records) as records,
                   count(*) filter (where status >= 400) as errors,
                   count(*) filter (where status between 400 and 499) as client_errors,
                   count(*) filter (where status >= 500) as server_errors,
                   count(*) filter (where status >= 400) / count(*) as error_rate,
                   quantile_cont(latency_ms, 0.5) as latency_p50_ms,
                   quantile_cont(latency_ms, 0.95) as latency_p95_ms,
                   quantile_cont(latency_ms, 0.99) as latency_p99_ms
            from requests group by all order by period_start""").df() for period in ("hour", "day")]
    return pd.concat(parts, ignore_index=True)[cols]


# ---------------------------------------------------------------------------------------------- champion

@dataclass
class Champion:
    model: Any
    version: int
    model_run_id: str
    training_run_id: str
    recorded_auc: float
    registered_model_name: str


def find_champion(settings: Settings, config: MLConfig, *, load_model: bool = True) -> Champion | None:
    """The registered champion (None when there is none yet) and its recorded held-out ROC AUC."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from laip.ml.tracking import allow_model_loading, setup_tracking

    setup_tracking(settings, config)
    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(config.registered_model_name, config.alias)
    except MlflowException:
        return None
    training_run_id = version.tags.get("training_run_id") or version.run_id
    metrics = client.get_run(training_run_id).data.metrics
    auc = metrics.get(f"selected_{config.primary_split}_roc_auc")
    if auc is None:
        tag = version.tags.get(f"{config.primary_split}_roc_auc")
        auc = float(tag) if tag else math.nan
    model = None
    if load_model:
        with allow_model_loading():
            model = mlflow.sklearn.load_model(f"models:/{config.registered_model_name}/{version.version}")
    return Champion(model, int(version.version), version.run_id, training_run_id, float(auc),
                    config.registered_model_name)


def load_reference_profile(settings: Settings, config: MLConfig, champion: Champion,
                           data: Any = None) -> tuple[dict[str, Any], str]:
    """(profile, source): the training run's artifact, or recomputed from the warehouse training rows when an
    older champion has none (``source`` says which)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        profile = mlflow.artifacts.load_dict(f"runs:/{champion.training_run_id}/{PROFILE_ARTIFACT}")
        return profile, "artifact"
    except (MlflowException, OSError) as exc:
        log.warning("champion run %s has no %s (%s); recomputing the reference from the warehouse training rows",
                    champion.training_run_id, PROFILE_ARTIFACT, type(exc).__name__)
    from laip.ml.features import load_feature_data, make_splits

    data = data if data is not None else load_feature_data(settings.warehouse, config)
    profile = training_profile(data, make_splits(data, config)[0], config, metrics={"roc_auc": champion.recorded_auc})
    # what the old champion was judged on is unknown: every population it did not train on counts as new
    profile["population_digests"] = {}
    return profile, "recomputed from the warehouse (no profile artifact on the training run)"


# ---------------------------------------------------------------------------------------------- the step

@dataclass
class MonitorResult:
    decision: Decision
    tables: dict[str, pd.DataFrame]
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        drift, perf, api = self.tables[DRIFT], self.tables[PERFORMANCE], self.tables[API]
        lines = [self.decision.summary()]
        if len(perf):
            lines.append("  ROC AUC by presentation: " + ", ".join(
                f"{r.population} {r.auc:.3f}{' (train)' if r.in_training else ''}"
                for r in perf.itertuples() if not (isinstance(r.auc, float) and math.isnan(r.auc))))
        if len(drift):
            lines.append(f"  drift: {int(drift.drifted.sum())} of {len(drift)} feature x population pairs with PSI "
                         f"above the threshold ({int(drift.triggers_retrain.sum())} key-feature triggers in new or "
                         "changed data)")
        day = api[api.period_type == "day"] if len(api) else api
        lines.append(f"  API: {int(day.requests.sum()) if len(day) else 0} requests in the prediction log")
        lines.append(f"  wrote {', '.join(f'ml.{t} ({n:,})' for t, n in self.counts.items())} in "
                     f"{self.seconds:.1f} s")
        return "\n".join(lines)


def _feature_change(trained_features: Any, config: MLConfig) -> str | None:
    """Why the champion cannot score the current feature mart (its features differ from the configured ones)."""
    trained, now = {str(f) for f in trained_features}, set(config.features)
    if trained == now:
        return None
    added, removed = sorted(now - trained), sorted(trained - now)
    return (f"the model features changed since the champion was trained (added {added or 'none'}, removed "
            f"{removed or 'none'}): the champion cannot score the current feature mart")


def _populations(data: Any) -> pd.Series:
    return data.frame["code_presentation"].astype(str)


def monitor(settings: Settings, mode: str = "auto", *, write: bool = True, outcome: str | None = None,
            new_model_version: int | None = None, decision: Decision | None = None) -> MonitorResult:
    """Compute drift, performance and API health against the champion, decide, and write the monitoring tables.

    ``decision`` (with ``outcome``/``new_model_version``) re-records an earlier decision after retraining: the
    tables then describe the new champion while the decision row keeps why it was trained.
    """
    from laip.ml.features import load_feature_data
    from laip.ml.config import load_ml_config
    from laip.warehouse.tables import replace_tables

    start = time.perf_counter()
    config = load_ml_config(settings)
    mcfg = monitoring_config(config)
    champion = find_champion(settings, config)
    log_frame = read_prediction_log(settings)
    drift = pd.DataFrame(columns=[c for c in SCHEMAS[DRIFT] if c not in _CHAMPION])
    perf = pd.DataFrame(columns=[c for c in SCHEMAS[PERFORMANCE] if c not in _CHAMPION])
    source = feature_change = None
    if champion is not None:
        data = load_feature_data(settings.warehouse, config)
        profile, source = load_reference_profile(settings, config, champion, data)
        model_inputs = getattr(getattr(champion.model, "pipeline", None), "feature_names_in_", None)
        feature_change = _feature_change(model_inputs if model_inputs is not None else profile["features"], config)
        trained_on = profile.get("train_presentations", [])
        known = profile.get("population_digests", {})
        seen = [p for p, d in population_digests(data.X, data.y, _populations(data)).items() if known.get(p) == d]
        if source != "artifact":
            seen = sorted(set(seen) | set(trained_on))
        drift_parts = [drift_table(profile, data.X, _populations(data), "presentation", config, mcfg, trained_on,
                                   seen)]
        inputs = api_inputs(log_frame, config)
        if len(inputs):
            drift_parts.append(drift_table(profile, inputs, pd.Series(["api"] * len(inputs)), "api", config, mcfg))
        drift = pd.concat(drift_parts, ignore_index=True).assign(profile_source=source)
        proba = None if feature_change else champion.model.predict_proba(data.X)[:, 1]
        if proba is not None:
            perf = performance_table(data.y, proba, _populations(data), champion.recorded_auc, mcfg, trained_on,
                                     seen, settings.min_group_size)
    if decision is None:
        decision = decide(drift, perf, mcfg, has_champion=champion is not None, mode=mode,
                          feature_change=feature_change)
        if champion is not None:
            decision.champion_version, decision.champion_run_id = champion.version, champion.training_run_id
            decision.champion_auc = None if math.isnan(champion.recorded_auc) else champion.recorded_auc
        decision.profile_source = source
    computed_at = datetime.now(timezone.utc)
    champ_cols = {"registered_model_name": config.registered_model_name,
                  "model_version": champion.version if champion else None,
                  "mlflow_run_id": champion.training_run_id if champion else None, "computed_at": computed_at}
    decision_row = pd.DataFrame([{
        "retrain": decision.retrain, "mode": decision.mode, "decision": decision.branch,
        "reasons": "; ".join(decision.reasons), "n_triggers": decision.n_triggers,
        "max_key_feature_psi": decision.max_key_feature_psi, "max_relative_auc_drop": decision.max_relative_auc_drop,
        "psi_threshold": mcfg.psi_threshold, "auc_drop_threshold": mcfg.auc_drop_threshold,
        "key_features": ",".join(mcfg.key_features), "champion_auc": decision.champion_auc,
        "profile_source": decision.profile_source,
        "outcome": outcome or ("retrain pending" if decision.retrain else
                               f"kept champion version {decision.champion_version}"),
        "new_model_version": new_model_version, **champ_cols,
        "model_version": decision.champion_version, "mlflow_run_id": decision.champion_run_id}])
    tables = {DRIFT: drift.assign(**champ_cols), PERFORMANCE: perf.assign(**champ_cols),
              API: api_health(log_frame).assign(**champ_cols), DECISION: decision_row}
    tables = {k: _typed(v, k) for k, v in tables.items()}
    counts = replace_tables(settings.warehouse, tables, SCHEMAS) if write else {}
    return MonitorResult(decision, tables, counts, time.perf_counter() - start)


def _typed(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Columns in schema order; empty frames get typed columns so DuckDB creates the declared types."""
    frame = frame.reset_index(drop=True)
    if len(frame):
        return frame
    dtypes = {"DOUBLE": "float64", "BIGINT": "Int64", "INTEGER": "Int64", "BOOLEAN": "boolean",
              "TIMESTAMPTZ": "datetime64[ns, UTC]"}
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(t, "object")) for c, t in SCHEMAS[name].items()})

"""The ``monitoring:`` section of ``ml/config.yaml``: thresholds of the retraining rule."""

from __future__ import annotations

from dataclasses import dataclass

from laip.ml.config import MLConfig, MLConfigError

# DAG param `retrain`, `laip run --retrain`: auto = the configured rule, always, never
RETRAIN_MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class MonitoringConfig:
    """The ``monitoring:`` section of ``ml/config.yaml``."""

    key_features: tuple[str, ...]
    psi_threshold: float = 0.2
    auc_drop_threshold: float = 0.05  # relative: (champion AUC - AUC) / champion AUC
    min_rows: int = 100  # drift and AUC need at least this many rows in a population
    min_positives: int = 10  # ... and AUC this many of each class
    bins: int = 10
    epsilon: float = 1e-4
    ks_max_points: int = 2000  # distinct reference values kept for KS (quantiles beyond that)


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

"""Monitoring of one checkpoint's champion: drift of its inputs and decay of its ROC AUC on that checkpoint's rows.

:func:`laip.ml.monitoring.monitor.monitor` runs it for every checkpoint of the term; each checkpoint's champion is
compared with its own reference profile (its training rows) and its own recorded held-out ROC AUC.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from laip.config import Settings
from laip.ml.config import MLConfig
from laip.ml.monitoring.api_health import api_inputs
from laip.ml.monitoring.config import MonitoringConfig
from laip.ml.monitoring.drift import drift_table
from laip.ml.monitoring.performance import performance_table
from laip.ml.monitoring.profile import load_reference_profile, population_digests, populations
from laip.ml.monitoring.tables import DRIFT, PERFORMANCE, columns
from laip.ml.provenance import UntrustedModel
from laip.ml.registry import ChampionVersion, find_champion

log = logging.getLogger(__name__)


@dataclass
class CheckpointCheck:
    """What monitoring found for one checkpoint (``drift`` / ``performance`` rows carry ``prediction_day``)."""

    day: int
    champion: ChampionVersion | None
    recorded_auc: float
    drift: pd.DataFrame
    performance: pd.DataFrame
    profile_source: str | None = None
    feature_change: str | None = None  # why the champion cannot score this checkpoint's rows

    @property
    def unusable(self) -> bool:
        """No champion, or one that cannot score this checkpoint's rows: retrained whatever the mode."""
        return self.champion is None or bool(self.feature_change)

    @property
    def triggered(self) -> bool:
        """Whether this checkpoint's data call for retraining its model (under the ``auto`` rule)."""
        flagged = [t for t in (self.drift, self.performance) if len(t) and t.triggers_retrain.astype(bool).any()]
        return self.unusable or bool(flagged)


def feature_change(trained_features: Any, config: MLConfig) -> str | None:
    """Why the champion cannot score the current feature mart (its features differ from the configured ones)."""
    trained, now = {str(f) for f in trained_features}, set(config.features)
    if trained == now:
        return None
    added, removed = sorted(now - trained), sorted(trained - now)
    return (
        f"the model features changed since the champion was trained (added {added or 'none'}, removed "
        f"{removed or 'none'}): the champion cannot score the current feature mart"
    )


def check_checkpoint(
    settings: Settings, config: MLConfig, mcfg: MonitoringConfig, log_frame: pd.DataFrame, *, tolerant: bool = False
) -> CheckpointCheck:
    """Drift and performance of ``config``'s checkpoint (``config.at_checkpoint(day)``) against its champion.
    ``tolerant``: a champion that cannot be loaded or scored for any reason is reported as unusable (retrained)
    instead of failing the whole monitoring run (the other checkpoints')."""
    champion = find_champion(settings, config)
    drift = pd.DataFrame(columns=columns(DRIFT))
    perf = pd.DataFrame(columns=columns(PERFORMANCE))
    check = CheckpointCheck(config.prediction_day, champion, math.nan, drift, perf)
    if champion is None:
        return check
    try:
        _judge(check, champion, settings, config, mcfg, log_frame)
    except Exception as exc:
        if not tolerant:
            raise
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        check.feature_change = f"the champion could not be monitored: {first}"
        check.drift, check.performance = drift, perf
        log.warning("day %s: %s", config.prediction_day, check.feature_change)
    return check


def _judge(
    check: CheckpointCheck,
    champion: ChampionVersion,
    settings: Settings,
    config: MLConfig,
    mcfg: MonitoringConfig,
    log_frame: pd.DataFrame,
) -> None:
    from laip.ml.features import load_feature_data

    recorded_auc = check.recorded_auc = champion.recorded_auc(config.primary_split)
    try:
        model = champion.load()
    except UntrustedModel as exc:  # it must not score anything: replace it like a champion that cannot score
        check.feature_change = f"the champion cannot be used: {exc}"
        log.warning("day %s: %s", config.prediction_day, check.feature_change)
        return
    data = load_feature_data(settings.warehouse, config)
    profile, source = load_reference_profile(settings, config, champion, recorded_auc, data)
    model_inputs = getattr(getattr(model, "pipeline", None), "feature_names_in_", None)
    check.feature_change = feature_change(model_inputs if model_inputs is not None else profile["features"], config)
    check.profile_source = source
    trained_on = profile.get("train_presentations", [])
    known = profile.get("population_digests", {})
    seen = [p for p, d in population_digests(data.X, data.y, populations(data)).items() if known.get(p) == d]
    if source != "artifact":
        seen = sorted(set(seen) | set(trained_on))
    drift_parts = [drift_table(profile, data.X, populations(data), "presentation", config, mcfg, trained_on, seen)]
    inputs = api_inputs(log_frame, config)
    if len(inputs):
        # reported, never a trigger: anyone who reaches the prediction API can write its log
        api = pd.Series(["api"] * len(inputs))
        drift_parts.append(drift_table(profile, inputs, api, "api", config, mcfg, can_trigger=False))
    check.drift = pd.concat(drift_parts, ignore_index=True).assign(profile_source=source)
    if not check.feature_change:
        proba = model.predict_proba(data.X)[:, 1]
        check.performance = performance_table(
            data.y, proba, populations(data), recorded_auc, mcfg, trained_on, seen, settings.min_group_size
        )

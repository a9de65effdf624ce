"""Model monitoring (``laip monitor``): data drift, performance decay, API health and the retraining decision.

* **Reference profile** (:mod:`~laip.ml.monitoring.profile`): each feature's distribution over the champion's
  training rows, logged to MLflow at training time.
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

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from laip.config import Settings
from laip.ml.config import MLConfig
from laip.ml.monitoring.api_health import api_health, api_inputs
from laip.ml.monitoring.config import monitoring_config
from laip.ml.monitoring.decision import Decision, decide
from laip.ml.monitoring.drift import drift_table
from laip.ml.monitoring.performance import performance_table
from laip.ml.monitoring.prediction_log import read_prediction_log
from laip.ml.monitoring.profile import load_reference_profile, population_digests, populations
from laip.ml.monitoring.tables import API, DECISION, DRIFT, PERFORMANCE, SCHEMAS, columns, typed
from laip.ml.provenance import UntrustedModel
from laip.ml.registry import find_champion

log = logging.getLogger(__name__)


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
            lines.append(
                "  ROC AUC by presentation: "
                + ", ".join(
                    f"{r.population} {r.auc:.3f}{' (train)' if r.in_training else ''}"
                    for r in perf.itertuples()
                    if not (isinstance(r.auc, float) and math.isnan(r.auc))
                )
            )
        if len(drift):
            lines.append(
                f"  drift: {int(drift.drifted.sum())} of {len(drift)} feature x population pairs with PSI "
                f"above the threshold ({int(drift.triggers_retrain.sum())} key-feature triggers in new or "
                "changed data)"
            )
        day = api[api.period_type == "day"] if len(api) else api
        lines.append(f"  API: {int(day.requests.sum()) if len(day) else 0} requests in the prediction log")
        lines.append(f"  wrote {', '.join(f'ml.{t} ({n:,})' for t, n in self.counts.items())} in {self.seconds:.1f} s")
        return "\n".join(lines)

    def as_xcom(self) -> dict[str, Any]:
        """What the Airflow task keeps (JSON): the decision the branch reads."""
        return self.decision.as_xcom()


def _feature_change(trained_features: Any, config: MLConfig) -> str | None:
    """Why the champion cannot score the current feature mart (its features differ from the configured ones)."""
    trained, now = {str(f) for f in trained_features}, set(config.features)
    if trained == now:
        return None
    added, removed = sorted(now - trained), sorted(trained - now)
    return (
        f"the model features changed since the champion was trained (added {added or 'none'}, removed "
        f"{removed or 'none'}): the champion cannot score the current feature mart"
    )


def monitor(
    settings: Settings,
    mode: str = "auto",
    *,
    write: bool = True,
    outcome: str | None = None,
    new_model_version: int | None = None,
    decision: Decision | None = None,
) -> MonitorResult:
    """Compute drift, performance and API health against the champion, decide, and write the monitoring tables.

    ``decision`` (with ``outcome``/``new_model_version``) re-records an earlier decision after retraining: the
    tables then describe the new champion while the decision row keeps why it was trained.
    """
    from laip.ml.config import load_ml_config
    from laip.ml.features import load_feature_data
    from laip.warehouse.tables import replace_tables

    start = time.perf_counter()
    config = load_ml_config(settings)
    mcfg = monitoring_config(config)
    champion = find_champion(settings, config)
    recorded_auc = champion.recorded_auc(config.primary_split) if champion is not None else math.nan
    log_frame = read_prediction_log(settings)
    drift = pd.DataFrame(columns=columns(DRIFT))
    perf = pd.DataFrame(columns=columns(PERFORMANCE))
    source = feature_change = None
    model = None
    if champion is not None:
        try:
            model = champion.load()
        except UntrustedModel as exc:  # it must not score anything: replace it like a champion that cannot score
            feature_change = f"the champion cannot be used: {exc}"
            log.warning("%s", feature_change)
    if champion is not None and model is not None:
        data = load_feature_data(settings.warehouse, config)
        profile, source = load_reference_profile(settings, config, champion, recorded_auc, data)
        model_inputs = getattr(getattr(model, "pipeline", None), "feature_names_in_", None)
        feature_change = _feature_change(model_inputs if model_inputs is not None else profile["features"], config)
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
        drift = pd.concat(drift_parts, ignore_index=True).assign(profile_source=source)
        proba = None if feature_change or model is None else model.predict_proba(data.X)[:, 1]
        if proba is not None:
            perf = performance_table(
                data.y, proba, populations(data), recorded_auc, mcfg, trained_on, seen, settings.min_group_size
            )
    if decision is None:
        decision = decide(
            drift, perf, mcfg, has_champion=champion is not None, mode=mode, feature_change=feature_change
        )
        if champion is not None:
            decision.champion_version, decision.champion_run_id = champion.version, champion.training_run_id
            decision.champion_auc = None if math.isnan(recorded_auc) else recorded_auc
        decision.profile_source = source
    computed_at = datetime.now(UTC)
    champ_cols = {
        "registered_model_name": config.registered_model_name,
        "model_version": champion.version if champion else None,
        "mlflow_run_id": champion.training_run_id if champion else None,
        "computed_at": computed_at,
    }
    decision_row = pd.DataFrame(
        [
            {
                "retrain": decision.retrain,
                "mode": decision.mode,
                "decision": decision.branch,
                "reasons": "; ".join(decision.reasons),
                "n_triggers": decision.n_triggers,
                "max_key_feature_psi": decision.max_key_feature_psi,
                "max_relative_auc_drop": decision.max_relative_auc_drop,
                "psi_threshold": mcfg.psi_threshold,
                "auc_drop_threshold": mcfg.auc_drop_threshold,
                "key_features": ",".join(mcfg.key_features),
                "champion_auc": decision.champion_auc,
                "profile_source": decision.profile_source,
                "outcome": outcome
                or ("retrain pending" if decision.retrain else f"kept champion version {decision.champion_version}"),
                "new_model_version": new_model_version,
                **champ_cols,
                "model_version": decision.champion_version,
                "mlflow_run_id": decision.champion_run_id,
            }
        ]
    )
    tables = {
        DRIFT: drift.assign(**champ_cols),
        PERFORMANCE: perf.assign(**champ_cols),
        API: api_health(log_frame).assign(**champ_cols),
        DECISION: decision_row,
    }
    tables = {k: typed(v, k) for k, v in tables.items()}
    counts = replace_tables(settings.warehouse, tables, SCHEMAS) if write else {}
    return MonitorResult(decision, tables, counts, time.perf_counter() - start)

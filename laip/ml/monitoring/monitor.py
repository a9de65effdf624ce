"""Model monitoring (``laip monitor``): data drift, performance decay, API health and the retraining decision.

* **Reference profile** (:mod:`~laip.ml.monitoring.profile`): each feature's distribution over the champion's
  training rows, logged to MLflow at training time.
* **Drift.** Per feature and population (each presentation of the feature mart, and the inputs of the API
  prediction log): PSI over the reference buckets (``epsilon`` for empty buckets) and, for numeric features, the
  two-sample KS statistic and p-value (scipy) on the non-missing values.
* **Performance.** The champion scores the feature mart; ROC AUC, average precision and base rate per
  presentation (labels are known for past presentations) against the champion's recorded held-out ROC AUC.
* **API health.** Requests, errors and latency percentiles per hour and per day from the prediction log.
* **Checkpoints.** Each checkpoint of the term is monitored on its own rows against its own champion
  (:mod:`~laip.ml.monitoring.checkpoint`); the drift and performance rows carry ``prediction_day``.
* **Decision.** Retrain when there is no champion, when a labelled presentation the champion did not train on
  has a ROC AUC at least ``auc_drop_threshold`` (relative) below the recorded one, or when a key feature's PSI
  exceeds ``psi_threshold`` in such a population (``monitoring:`` in ``ml/config.yaml``), at any checkpoint;
  the retraining trains the checkpoints that triggered (``Decision.checkpoints``).

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
from laip.ml.monitoring.api_health import api_health
from laip.ml.monitoring.checkpoint import CheckpointCheck, check_checkpoint
from laip.ml.monitoring.config import monitoring_config
from laip.ml.monitoring.decision import Decision, decide
from laip.ml.monitoring.prediction_log import read_prediction_log
from laip.ml.monitoring.tables import API, DECISION, DRIFT, PERFORMANCE, SCHEMAS, typed

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
        for day, rows in perf.groupby("prediction_day", sort=True) if len(perf) else []:
            lines.append(
                f"  day {day} ROC AUC by presentation: "
                + ", ".join(
                    f"{r.population} {r.auc:.3f}{' (train)' if r.in_training else ''}"
                    for r in rows.itertuples()
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


def _champion_columns(check: CheckpointCheck, config: MLConfig, computed_at: datetime) -> dict[str, Any]:
    """The checkpoint and its champion, on every row of that checkpoint's monitoring tables."""
    return {
        "prediction_day": check.day,
        "registered_model_name": config.at_checkpoint(check.day).registered_model_name,
        "model_version": check.champion.version if check.champion else None,
        "mlflow_run_id": check.champion.training_run_id if check.champion else None,
        "computed_at": computed_at,
    }


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
    from laip.warehouse.tables import replace_tables

    start = time.perf_counter()
    config = load_ml_config(settings)
    mcfg = monitoring_config(config)
    log_frame = read_prediction_log(settings)
    computed_at = datetime.now(UTC)
    checks = [
        check_checkpoint(settings, config.at_checkpoint(day), mcfg, log_frame, tolerant=day != config.prediction_day)
        for day in config.checkpoints
    ]
    default = next(c for c in checks if c.day == config.prediction_day)
    champion = default.champion
    drift = pd.concat([c.drift.assign(**_champion_columns(c, config, computed_at)) for c in checks], ignore_index=True)
    perf = pd.concat(
        [c.performance.assign(**_champion_columns(c, config, computed_at)) for c in checks], ignore_index=True
    )
    if decision is None:
        changes = [
            c.feature_change if c is default else f"day {c.day}: {c.feature_change}" for c in checks if c.feature_change
        ]
        decision = decide(
            drift,
            perf,
            mcfg,
            has_champion=champion is not None,
            mode=mode,
            feature_change="; ".join(changes) or None,
            missing_checkpoints=[c.day for c in checks if c.champion is None and c is not default]
            if champion is not None
            else (),
        )
        if decision.retrain:  # which checkpoints: all (forced, or no day-30 champion), else those that call for it
            everything = decision.mode == "always" or champion is None
            needed = (lambda c: c.unusable) if decision.mode == "never" else (lambda c: c.triggered)
            decision.checkpoints = [c.day for c in checks if everything or needed(c)] or [default.day]
        if champion is not None:
            decision.champion_version, decision.champion_run_id = champion.version, champion.training_run_id
            decision.champion_auc = None if math.isnan(default.recorded_auc) else default.recorded_auc
        decision.profile_source = default.profile_source
    champ_cols = _champion_columns(default, config, computed_at)
    champ_cols.pop("prediction_day")
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
                "checkpoints_to_retrain": ",".join(str(d) for d in decision.checkpoints),
                **champ_cols,
                "model_version": decision.champion_version,
                "mlflow_run_id": decision.champion_run_id,
            }
        ]
    )
    tables = {
        DRIFT: drift,
        PERFORMANCE: perf,
        API: api_health(log_frame).assign(**champ_cols),
        DECISION: decision_row,
    }
    tables = {k: typed(v, k) for k, v in tables.items()}
    counts = replace_tables(settings.warehouse, tables, SCHEMAS) if write else {}
    return MonitorResult(decision, tables, counts, time.perf_counter() - start)

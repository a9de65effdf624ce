"""The retraining rule: retrain or keep the champion, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from laip.ml.monitoring.config import RETRAIN_MODES, MonitoringConfig


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
    checkpoints: list[int] = field(default_factory=list)  # the checkpoints whose models a retraining trains

    @property
    def branch(self) -> str:
        return "retrain" if self.retrain else "keep_champion"

    def as_xcom(self) -> dict[str, Any]:
        """JSON: what the Airflow task keeps and the branch reads."""
        return {**asdict(self), "branch": self.branch}

    def summary(self) -> str:
        head = (
            f"Decision: {'RETRAIN' if self.retrain else 'keep the champion'} (mode {self.mode}; champion "
            f"version {self.champion_version or '-'}, recorded AUC "
            f"{'-' if self.champion_auc is None else f'{self.champion_auc:.3f}'})"
        )
        days = (
            f"  checkpoints to retrain: day {', '.join(str(d) for d in self.checkpoints)}" if self.checkpoints else ""
        )
        return "\n".join([head, *(f"  - {r}" for r in self.reasons), *([days] if days else [])])


def _at(row: Any) -> str:
    """``day P: `` for a row of a checkpoint's table (nothing for a table without checkpoints)."""
    day = getattr(row, "prediction_day", None)
    return "" if day is None or pd.isna(day) else f"day {int(day)}: "


def _max(series: pd.Series) -> float | None:
    s = pd.to_numeric(series, errors="coerce").dropna()
    return float(s.max()) if len(s) else None


def decide(
    drift: pd.DataFrame,
    performance: pd.DataFrame,
    mcfg: MonitoringConfig,
    *,
    has_champion: bool,
    mode: str = "auto",
    feature_change: str | None = None,
    missing_checkpoints: Sequence[int] = (),
) -> Decision:
    """The retraining rule. ``mode``: ``auto`` (the rule), ``always`` (force), ``never`` (keep unless there is no
    champion at all: nothing could score otherwise). ``feature_change``: the configured features differ from the
    champion's (it cannot score the mart any more), which always retrains. ``missing_checkpoints``: other
    checkpoints of the term without a champion yet (a trigger: they are trained with the retraining)."""
    if mode not in RETRAIN_MODES:
        raise ValueError(f"retrain mode must be one of {RETRAIN_MODES}, not {mode!r}")
    reasons: list[str] = []
    if not has_champion:
        reasons.append("no champion model is registered yet")
    if feature_change:
        reasons.append(feature_change)
    if missing_checkpoints:
        days = ", ".join(str(d) for d in missing_checkpoints)
        reasons.append(f"no champion model yet for checkpoint(s) day {days}")
    decayed = performance[performance.triggers_retrain.astype(bool)] if len(performance) else performance
    for r in decayed.itertuples():
        reasons.append(
            f"{_at(r)}ROC AUC on {r.population} is {r.auc:.3f}, {r.relative_drop:.1%} below the champion's "
            f"{r.champion_auc:.3f} (threshold {mcfg.auc_drop_threshold:.0%})"
        )
    drifted = drift[drift.triggers_retrain.astype(bool)] if len(drift) else drift
    order = [c for c in ("prediction_day", "population", "psi") if c in drifted.columns]
    for r in drifted.sort_values(order, ascending=[c != "psi" for c in order]).itertuples():
        reasons.append(
            f"{_at(r)}key feature {r.feature} drifted in {r.population}: PSI {r.psi:.3f} > {mcfg.psi_threshold}"
        )
    n_triggers = len(reasons)
    key = (
        drift[
            drift.is_key_feature.astype(bool) & ~drift.seen_at_training.astype(bool) & (drift.n_rows >= mcfg.min_rows)
        ]
        if len(drift)
        else drift
    )
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
        reasons.append(
            f"no trigger: in the data new or changed since the champion was trained, no key feature has "
            f"PSI > {mcfg.psi_threshold} and no labelled presentation a ROC AUC >= "
            f"{mcfg.auc_drop_threshold:.0%} below the champion's"
        )
    return Decision(
        retrain,
        mode,
        reasons,
        n_triggers,
        _max(key.psi) if len(key) else None,
        _max(unseen_perf.relative_drop) if len(unseen_perf) else None,
    )

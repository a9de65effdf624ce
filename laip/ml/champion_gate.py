"""The champion gate: a newly trained model takes the ``champion`` alias only if it is at least as good as the
current champion on the same held-out rows.

Both are scored in the same training run on the current primary split's test rows (the champion as registered,
loaded and verified like every other reader does): the new model is promoted when there is no champion, when the
champion cannot score the current feature mart (features changed), or when its ROC AUC is at least the champion's
minus the selection's tie tolerance. Otherwise the new version is registered but not aliased, with the tag
``laip.not_promoted`` saying why, and the training reports it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np

from laip.config import Settings
from laip.ml.config import MLConfig
from laip.ml.features import FeatureData, Split, prepare_X
from laip.ml.modeling import auc_or_nan
from laip.ml.registry import find_champion

NOT_PROMOTED_TAG = "laip.not_promoted"


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    challenger_auc: float
    champion_version: int | None = None
    champion_auc: float | None = None  # on the same held-out rows, this run

    def as_tags(self) -> dict[str, str]:
        """What the training run records about the gate (MLflow tags)."""
        tags = {"champion_gate": "promoted" if self.promote else "not promoted", "champion_gate_reason": self.reason}
        if self.champion_version is not None:
            tags["previous_champion_version"] = str(self.champion_version)
        if self.champion_auc is not None:
            tags["previous_champion_roc_auc_same_rows"] = f"{self.champion_auc:.4f}"
        return tags


def champion_scores(model: Any, settings: Settings, config: MLConfig, data: FeatureData, split: Split) -> np.ndarray:
    """The champion's probabilities on the split's test rows, from the features it was fitted on (read again from
    the mart when the configured features changed since); raises FeatureError when the mart lacks one of them."""
    fitted = list(getattr(getattr(model, "pipeline", model), "feature_names_in_", data.X.columns))
    if set(fitted) <= set(data.X.columns):
        X = data.X
    else:
        with duckdb.connect(str(settings.warehouse), read_only=True) as con:
            frame = con.execute(config.mart_query()).df()
        own = dataclasses.replace(
            config, families={"champion": tuple(fitted)}, categorical=config.categorical & set(fitted)
        )
        X = prepare_X(frame, own)
    return np.asarray(model.predict_proba(X.iloc[split.test][fitted])[:, 1])


def decide(
    settings: Settings, config: MLConfig, data: FeatureData, split: Split, challenger: str, challenger_auc: float
) -> GateDecision:
    """Promote ``challenger`` (ROC AUC ``challenger_auc`` on ``split``'s test rows) or keep the current champion."""
    current = find_champion(settings, config)
    if current is None:
        return GateDecision(True, "no champion yet", challenger_auc)
    try:
        proba = champion_scores(current.load(), settings, config, data, split)
    except Exception as exc:  # untrusted, unloadable, or fitted on features the mart lacks
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return GateDecision(
            True,
            f"champion version {current.version} cannot score the current data ({first})",
            challenger_auc,
            current.version,
        )
    champion_auc = auc_or_nan(data.y[split.test], proba)
    versus = (
        f"{challenger} ROC AUC {challenger_auc:.4f} vs champion version {current.version} {champion_auc:.4f} on the "
        f"same {len(split.test):,} held-out rows ({split.name}; tie tolerance {config.tie_tolerance})"
    )
    if math.isnan(champion_auc) or challenger_auc >= champion_auc - config.tie_tolerance:
        return GateDecision(True, f"at least as good: {versus}", challenger_auc, current.version, champion_auc)
    return GateDecision(False, f"worse than the champion: {versus}", challenger_auc, current.version, champion_auc)

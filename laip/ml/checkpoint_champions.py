"""Every checkpoint's champion at a glance (the model card's table): version, model, held-out figures, threshold.

Read from the registry and each champion's model run (nothing is trained or loaded); a checkpoint without a
champion yet gets a row saying so.
"""

from __future__ import annotations

from typing import Any

from laip.config import Settings
from laip.ml.config import MLConfig
from laip.ml.registry import NoChampion, get_champion

HEADER = [
    "checkpoint",
    "registered model",
    "version",
    "model",
    "test rows",
    "base rate",
    "ROC AUC",
    "average precision",
    "threshold",
]


def checkpoint_rows(settings: Settings, config: MLConfig) -> list[list[Any]]:
    """One row per checkpoint of ``config`` (columns of :data:`HEADER`), figures on the primary split."""
    rows: list[list[Any]] = []
    for day in config.checkpoints:
        at_day = config.at_checkpoint(day)
        try:
            version = get_champion(settings, at_day)
        except NoChampion:
            rows.append([f"day {day}", at_day.registered_model_name, "no champion yet", "", "", "", "", "", ""])
            continue
        run = version.client().get_run(version.run_id)
        split = run.data.tags.get("primary_split", config.primary_split)
        m, p = run.data.metrics, run.data.params
        threshold = p.get(f"{split}.threshold")
        rows.append(
            [
                f"day {day}",
                at_day.registered_model_name,
                version.version,
                version.tags.get("model_name", p.get("model_name", "")),
                m.get(f"{split}_n"),
                m.get(f"{split}_base_rate"),
                m.get(f"{split}_roc_auc"),
                m.get(f"{split}_average_precision"),
                float(threshold) if threshold else None,
            ]
        )
    return rows

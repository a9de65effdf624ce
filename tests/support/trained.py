"""A trained copy of a built sample warehouse, for integration tests that need their own champion."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from laip.config import Settings, load_settings
from laip.ml.train import train
from laip.ml.train_result import TrainResult


def trained_copy(
    built: Settings, home: Path, models: list[str] | None = None, checkpoints: list[int] | None = None
) -> tuple[Settings, TrainResult]:
    """(settings, TrainResult): the built sample warehouse copied into ``home`` and trained there (quick profile,
    the MLflow store of ``home``), at every checkpoint or only ``checkpoints``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAIP_ML_PROFILE", "quick")
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        settings = load_settings(home=home)
        settings.warehouse.parent.mkdir(parents=True)
        shutil.copy2(built.warehouse, settings.warehouse)
        return settings, train(settings, models, checkpoints=checkpoints)

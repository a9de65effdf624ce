"""The ML configuration (``ml/config.yaml``): problem, features, reasons, splits, grids, thresholds, MLflow names.

``load_ml_config(settings)`` reads the file, applies a profile (``LAIP_ML_PROFILE`` or the ``profile`` argument,
e.g. ``quick`` for the sample and tests) and checks it against the platform settings.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from laip.config import REPO_ROOT, ConfigError, Settings, parse_checkpoints

ML_CONFIG_FILE = REPO_ROOT / "ml" / "config.yaml"
MODEL_NAMES = ("lr", "rf", "hgb")


class MLConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Reason:
    code: str
    label: str
    features: tuple[str, ...]
    show: bool = True  # False: never shown as a student's reason (background characteristics, module context)
    context: bool = False  # about the module run, not the student: shown apart, as module context


@dataclass(frozen=True)
class MLConfig:
    """Typed view of ``ml/config.yaml`` after the profile was applied."""

    profile: str
    prediction_day: int  # the checkpoint this config trains and scores (default: the day-30 checkpoint)
    source_table: str
    target: str
    key_columns: tuple[str, ...]
    group_column: str
    families: dict[str, tuple[str, ...]]
    categorical: frozenset[str]
    labels: dict[str, str]
    reasons: tuple[Reason, ...]
    temporal_train: tuple[str, ...]
    temporal_test: tuple[str, ...]
    random_test_size: float
    cv_folds: int
    model_params: dict[str, dict[str, list[Any]]]
    model_labels: dict[str, str]
    primary_split: str
    selection_metric: str
    baseline: str
    tie_tolerance: float
    threshold_strategy: str
    calibration_bins: int
    permutation_repeats: int
    curve_max_points: int
    risk_high: float
    risk_medium: float
    fairness_attributes: tuple[str, ...]
    seed: int
    experiment_name: str
    registered_model_name: str
    alias: str
    relative_high: float = 0.10  # share of a module-presentation in the relative band "top"
    relative_medium: float = 0.20  # the next share: "next"
    risk_change: float = 0.05  # probability move since the previous checkpoint that counts as risen / fallen
    checkpoints: tuple[int, ...] = (30,)  # every checkpoint of the term (problem.checkpoints)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def at_checkpoint(self, day: int) -> MLConfig:
        """This config for checkpoint ``day`` (one of ``self.checkpoints``): its population, target and split rules."""
        if day not in self.checkpoints:
            raise MLConfigError(f"{day} is not a checkpoint; checkpoints: {list(self.checkpoints)}")
        return dataclasses.replace(
            self,
            prediction_day=day,
            labels=_labels(self.raw, day),
            reasons=_reasons(self.raw, day),
            registered_model_name=fill_day(self.raw["mlflow"]["registered_model_name"], day),
        )

    def mart_query(self, columns: str = "*") -> str:
        """SQL reading ``columns`` of this checkpoint's rows of the feature mart, in key order."""
        return (
            f"select {columns} from {self.source_table} where prediction_day = {int(self.prediction_day)} "
            f"order by {', '.join(self.key_columns)}"
        )

    @property
    def features(self) -> list[str]:
        """All model features, in family order."""
        return [f for cols in self.families.values() for f in cols]

    @property
    def numeric_features(self) -> list[str]:
        return [f for f in self.features if f not in self.categorical]

    @property
    def categorical_features(self) -> list[str]:
        return [f for f in self.features if f in self.categorical]

    def family_of(self, feature: str) -> str:
        return next(fam for fam, cols in self.families.items() if feature in cols)

    def label(self, feature: str) -> str:
        return self.labels.get(feature, feature)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; lists and scalars of ``override`` replace those of ``base``."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def fill_day(text: str, day: int) -> str:
    """``text`` with ``{day}``, ``{half}`` (floor(day / 2)) and ``{half_next}`` filled in for checkpoint ``day``."""
    return text.format(day=day, half=day // 2, half_next=day // 2 + 1)


def _labels(cfg: dict[str, Any], day: int) -> dict[str, str]:
    return {f: fill_day(text, day) for f, text in cfg["features"].get("labels", {}).items()}


def _reasons(cfg: dict[str, Any], day: int) -> tuple[Reason, ...]:
    return tuple(
        Reason(
            code,
            fill_day(r["label"], day),
            tuple(r["features"]),
            bool(r.get("show", True)),
            bool(r.get("context", False)),
        )
        for code, r in cfg["reasons"].items()
    )


def _checkpoints(problem: dict[str, Any]) -> tuple[int, ...]:
    day = int(problem["prediction_day"])
    try:
        return parse_checkpoints(problem.get("checkpoints", [day]), day, "ml/config.yaml problem.checkpoints")
    except ConfigError as exc:
        raise MLConfigError(str(exc)) from exc


def load_ml_config(
    settings: Settings | None = None, *, profile: str | None = None, path: Path | None = None
) -> MLConfig:
    """Read ``ml/config.yaml`` (or ``LAIP_ML_CONFIG``), apply the profile and validate it."""
    path = path or Path(os.environ.get("LAIP_ML_CONFIG", ML_CONFIG_FILE))
    raw: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    profile = profile or os.environ.get("LAIP_ML_PROFILE") or "full"
    cfg = raw
    if profile != "full":
        profiles = raw.get("profiles", {})
        if profile not in profiles:
            raise MLConfigError(f"unknown ML profile {profile!r}; known: full, {', '.join(profiles)}")
        cfg = _merge(raw, profiles[profile])
    problem, feats, sel = cfg["problem"], cfg["features"], cfg["selection"]
    day = int(problem["prediction_day"])
    config = MLConfig(
        profile=profile,
        prediction_day=int(problem["prediction_day"]),
        checkpoints=_checkpoints(problem),
        source_table=problem["source_table"],
        target=problem["target"],
        key_columns=tuple(problem["key_columns"]),
        group_column=problem["group_column"],
        families={k: tuple(v) for k, v in feats["families"].items()},
        categorical=frozenset(feats.get("categorical", [])),
        labels=_labels(cfg, day),
        reasons=_reasons(cfg, day),
        temporal_train=tuple(str(p) for p in cfg["splits"]["temporal"]["train_presentations"]),
        temporal_test=tuple(str(p) for p in cfg["splits"]["temporal"]["test_presentations"]),
        random_test_size=float(cfg["splits"]["grouped_random"]["test_size"]),
        cv_folds=int(cfg["cv_folds"]),
        model_params={k: dict(v.get("params", {})) for k, v in cfg["models"].items()},
        model_labels={k: v.get("label", k) for k, v in cfg["models"].items()},
        primary_split=sel["primary_split"],
        selection_metric=sel["metric"],
        baseline=sel["baseline"],
        tie_tolerance=float(sel["tie_tolerance"]),
        threshold_strategy=cfg["threshold"]["strategy"],
        calibration_bins=int(cfg["calibration_bins"]),
        permutation_repeats=int(cfg["permutation_repeats"]),
        curve_max_points=int(cfg["curve_max_points"]),
        risk_high=float(cfg["risk_bands"]["high"]),
        risk_medium=float(cfg["risk_bands"]["medium"]),
        relative_high=float(cfg["risk_bands"].get("relative", {}).get("top", 0.10)),
        relative_medium=float(cfg["risk_bands"].get("relative", {}).get("next", 0.20)),
        risk_change=float(cfg["risk_bands"].get("change", 0.05)),
        fairness_attributes=tuple(cfg["fairness_attributes"]),
        seed=int(cfg["seed"]),
        experiment_name=cfg["mlflow"]["experiment_name"],
        registered_model_name=fill_day(cfg["mlflow"]["registered_model_name"], day),
        alias=cfg["mlflow"]["alias"],
        raw=cfg,
    )
    validate_ml_config(config, settings)
    return config


def validate_ml_config(config: MLConfig, settings: Settings | None = None) -> None:
    """Refuse inconsistent configs: duplicate features, reasons that do not partition them, bad thresholds."""
    feats = config.features
    problems: list[str] = []
    if len(set(feats)) != len(feats):
        problems.append("a feature is listed in more than one family")
    reason_feats = [f for r in config.reasons for f in r.features]
    if sorted(reason_feats) != sorted(feats):
        missing = sorted(set(feats) - set(reason_feats))
        extra = sorted(set(reason_feats) - set(feats))
        dup = sorted({f for f in reason_feats if reason_feats.count(f) > 1})
        problems.append(
            f"reasons must cover every feature exactly once (missing {missing}, unknown {extra}, repeated {dup})"
        )
    if not config.categorical <= set(feats):
        problems.append(f"categorical features not in any family: {sorted(config.categorical - set(feats))}")
    unknown_models = set(config.model_params) - set(MODEL_NAMES)
    if unknown_models:
        problems.append(f"unknown models {sorted(unknown_models)}; known: {MODEL_NAMES}")
    if config.baseline not in config.model_params:
        problems.append(f"baseline {config.baseline!r} is not a configured model")
    if not 0 < config.risk_medium < config.risk_high < 1:
        problems.append("risk_bands need 0 < medium < high < 1")
    if not (
        config.relative_high > 0 and config.relative_medium >= 0 and config.relative_high + config.relative_medium <= 1
    ):
        problems.append("risk_bands.relative needs top > 0, next >= 0 and top + next <= 1")
    if not 0 < config.risk_change < 1:
        problems.append("risk_bands.change needs 0 < change < 1")
    if config.primary_split not in ("temporal", "grouped_random"):
        problems.append("selection.primary_split must be temporal or grouped_random")
    if config.selection_metric not in ("roc_auc", "average_precision"):
        problems.append("selection.metric must be roc_auc or average_precision")
    if config.tie_tolerance < 0 or config.cv_folds < 2:
        problems.append("tie_tolerance must be >= 0 and cv_folds >= 2")
    if set(config.temporal_train) & set(config.temporal_test):
        problems.append("a presentation is on both sides of the temporal split")
    if not set(config.fairness_attributes) <= set(feats):
        problems.append("fairness attributes must be features")
    if settings is not None and settings.prediction_day != config.prediction_day:
        problems.append(
            f"ml/config.yaml prediction_day {config.prediction_day} != laip.yaml "
            f"domain.prediction_day {settings.prediction_day}"
        )
    name = config.raw.get("mlflow", {}).get("registered_model_name", config.registered_model_name)
    names = {fill_day(name, d) for d in config.checkpoints}
    if len(names) < len(config.checkpoints):
        problems.append(
            "mlflow.registered_model_name must contain {day}: each checkpoint registers its own model and champion"
        )
    if settings is not None and not set(config.checkpoints) <= set(settings.checkpoints):
        problems.append(
            f"ml/config.yaml problem.checkpoints {list(config.checkpoints)}: "
            f"{sorted(set(config.checkpoints) - set(settings.checkpoints))} not in laip.yaml domain.checkpoints "
            f"{list(settings.checkpoints)} (the feature mart's)"
        )
    if problems:
        raise MLConfigError("invalid ML config: " + "; ".join(problems))

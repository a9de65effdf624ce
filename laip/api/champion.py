"""One checkpoint's champion as the API serves it: ``models:/<name>@champion`` plus what scoring and the request
schema need (:mod:`laip.api.checkpoints` loads every checkpoint's).

Loaded with :meth:`laip.ml.registry.ChampionVersion.load` (never trains). The reason reference values are computed
exactly as ``laip score`` does (:func:`laip.ml.reasons.reference_values` over the checkpoint's rows of the feature
mart), read from the published serving snapshot (else the working warehouse). Allowed categories are the ones the
champion's encoder was fitted on; integer / boolean / nullable kinds of the numeric features come from the mart's
column types. Requests are scored through :mod:`laip.api.fastpath` once it reproduced the pipeline on rows of the
mart. The served features are those of ``ml/config.yaml`` the champion was fitted on (a retrained champion with
added features brings them into the request schema on reload).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from laip.api.fastpath import fast_decision
from laip.config import Settings
from laip.ml.config import MLConfig, load_ml_config
from laip.ml.features import UNKNOWN, prepare_X
from laip.ml.reasons import explain, reference_values, top_reason_lists
from laip.ml.registry import ChampionVersion, NoChampion, get_champion
from laip.ml.score import risk_band

log = logging.getLogger(__name__)

VERIFY_ROWS = 2000  # rows of the mart on which the fast path must reproduce the pipeline before it is used


class ChampionUnavailable(RuntimeError):
    """No champion registered yet, or its inputs (warehouse) are missing."""


@dataclass(frozen=True)
class FieldSpec:
    """How one feature is accepted in a request."""

    name: str
    kind: str  # "int" | "float" | "bool" | "category"
    nullable: bool
    categories: tuple[str, ...] = ()


@dataclass
class Champion:
    model: Any
    config: MLConfig
    version: ChampionVersion
    reference: dict[str, object]
    fields: dict[str, FieldSpec]
    loaded_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)
    decision: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None  # verified fast path, else pipeline

    @property
    def model_name(self) -> str:
        return self.version.tags.get("model_name", getattr(self.model, "model_name", ""))

    @property
    def prediction_day(self) -> int:
        return self.config.prediction_day

    @property
    def model_version(self) -> int:
        return int(self.version.version)

    @property
    def threshold(self) -> float:
        return float(self.model.threshold)

    def columns(self, records: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        """Model input of validated records as column arrays, typed like :func:`laip.ml.features.prepare_X`
        (numeric float64 with NaN = unknown; categorical str with NULL = ``unknown``)."""
        cols: dict[str, np.ndarray] = {}
        for f, spec in self.fields.items():
            values = [r.get(f) for r in records]
            if spec.kind == "category":
                cols[f] = np.array([UNKNOWN if v is None else str(v) for v in values], dtype=object)
            else:
                cols[f] = np.array([np.nan if v is None else float(v) for v in values], dtype="float64")
        return cols

    def predict(self, records: list[dict[str, Any]], k: int = 3) -> list[dict[str, Any]]:
        """Probability, risk band, flag and top ``k`` reasons of each record (one batched model call)."""
        proba, contributions = explain(
            self.model, self.columns(records), self.config.reasons, self.reference, decision=self.decision
        )
        bands = risk_band(proba, self.config)
        reasons = top_reason_lists(contributions.to_numpy(), self.config.reasons, k)
        thr = self.threshold
        return [
            {
                "probability": round(float(p), 6),
                "risk_band": str(b),
                "is_flagged": bool(p >= thr),
                "reasons": [{"code": c, "label": lbl, "contribution": v} for c, lbl, v in rs],
            }
            for p, b, rs in zip(proba, bands, reasons, strict=False)
        ]


def mart_path(settings: Settings) -> Path:
    """The published snapshot when there is one (read-only, never locked by a writer), else the warehouse."""
    return settings.serving_warehouse if settings.serving_warehouse.is_file() else settings.warehouse


def champion_config(model: Any, config: MLConfig) -> MLConfig:
    """The config restricted to the features the champion was fitted on (config order): ``ml/config.yaml`` may
    already list features a newer training run will use; a champion with features the config lacks is refused."""
    fitted = list(getattr(model.pipeline, "feature_names_in_", config.features))
    unknown = sorted(set(fitted) - set(config.features))
    if unknown:
        raise ChampionUnavailable(f"the champion uses features not in ml/config.yaml: {unknown}")
    families = {fam: tuple(f for f in cols if f in fitted) for fam, cols in config.families.items()}
    return dataclasses.replace(
        config,
        families={k: v for k, v in families.items() if v},
        categorical=frozenset(config.categorical & set(fitted)),
    )


def read_mart_features(settings: Settings, config: MLConfig) -> pd.DataFrame:
    path = mart_path(settings)
    if not path.is_file():
        raise ChampionUnavailable(f"no warehouse at {path}; run the pipeline first (make run)")
    cols = ", ".join(config.features)
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(config.mart_query(cols)).df()
    except duckdb.Error as exc:
        raise ChampionUnavailable(f"cannot read {config.source_table} from {path}: {exc}") from exc


def trained_categories(model: Any, config: MLConfig) -> dict[str, tuple[str, ...]]:
    """Categories the champion's categorical encoder was fitted on ({} when the pipeline has no such step)."""
    try:
        pre = model.pipeline.named_steps["pre"]
        for _name, encoder, columns in pre.transformers_:
            if hasattr(encoder, "categories_") and set(columns) <= config.categorical:
                return {c: tuple(str(v) for v in cats) for c, cats in zip(columns, encoder.categories_, strict=False)}
    except (AttributeError, KeyError, TypeError):
        pass
    return {}


def field_specs(mart: pd.DataFrame, config: MLConfig, categories: dict[str, tuple[str, ...]]) -> dict[str, FieldSpec]:
    """Request field of each feature: kind from the mart dtype, nullable when the mart has NULLs (click features
    and categoricals are always nullable: no click log / unknown category)."""
    clicks = set(config.families.get("clicks", ()))
    specs = {}
    for f in config.features:
        col = mart[f]
        nullable = bool(col.isna().any()) or f in clicks or f in config.categorical
        if f in config.categorical:
            cats = categories.get(f) or tuple(sorted(col.dropna().astype(str).unique()))
            specs[f] = FieldSpec(f, "category", nullable, tuple(c for c in cats if c != UNKNOWN))
        elif pd.api.types.is_bool_dtype(col.dtype):
            specs[f] = FieldSpec(f, "bool", nullable)
        elif pd.api.types.is_integer_dtype(col.dtype):
            specs[f] = FieldSpec(f, "int", nullable)
        else:
            specs[f] = FieldSpec(f, "float", nullable)
    return specs


def _run_metadata(version: ChampionVersion) -> dict[str, Any]:
    """Training metrics of the champion's run and the dataset input of its training run (from MLflow)."""
    meta: dict[str, Any] = {
        "run_id": version.run_id,
        "training_run_id": version.tags.get("training_run_id"),
        "data_digest": version.tags.get("data_digest"),
        "metrics": {},
        "datasets": [],
    }
    try:
        meta["metrics"] = version.model_metrics()
        meta["datasets"] = version.training_datasets()
    except Exception as exc:
        log.warning("champion run metadata unavailable: %s", exc)
    return meta


def load(settings: Settings, day: int | None = None) -> Champion:
    """Load checkpoint ``day``'s ``models:/<registered name>@champion`` (default: the default checkpoint) and
    everything serving needs; raises ChampionUnavailable."""
    config = load_ml_config(settings)
    config = config.at_checkpoint(config.prediction_day if day is None else day)
    try:
        version = get_champion(settings, config)
        model = version.load()
    except Exception as exc:
        raise ChampionUnavailable(
            str(exc)
            if isinstance(exc, NoChampion)
            else f"champion models:/{config.registered_model_name}@{config.alias} could not be "
            f"loaded: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from exc
    config = champion_config(model, config)
    mart = read_mart_features(settings, config)
    X = prepare_X(mart, config)
    fields = field_specs(mart, config, trained_categories(model, config))
    champion = Champion(model, config, version, reference_values(X, config), fields, datetime.now(UTC))
    champion.metadata = _run_metadata(version)
    check = X.sample(min(len(X), VERIFY_ROWS), random_state=0) if len(X) else X
    champion.decision = fast_decision(model, config.categorical, check)
    return champion

"""Request / response models of the prediction API (pydantic v2), generated from the configuration.

The request record has one field per model feature of ``ml/config.yaml`` (added features appear automatically,
built with :func:`pydantic.create_model`). Every feature must be present (no silent defaults); ``null`` means
unknown and is accepted where the feature mart itself has NULLs, for every click feature (no click log for the
presentation: never 0) and for every categorical (-> the model's ``unknown`` category). Categoricals are enums of
the categories the champion was trained on; numeric ranges come from ``api.feature_bounds`` in ``laip.yaml``;
NaN / infinity are refused. Unknown fields are rejected (``extra="forbid"``).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from laip.api.champion import FieldSpec
from laip.config import Settings
from laip.ml.config import MLConfig

# extra fields refused, no NaN / infinity, and strict types: `true` or "5" is not a number (an int is a float)
STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


@dataclass(frozen=True)
class ApiLimits:
    max_batch_records: int
    max_body_bytes: int
    bounds: tuple[tuple[str, float | None, float | None], ...]

    def bounds_of(self, feature: str) -> tuple[float | None, float | None]:
        return next(
            ((lo, hi) for pattern, lo, hi in self.bounds if fnmatch.fnmatchcase(feature, pattern)), (None, None)
        )


def api_limits(settings: Settings) -> ApiLimits:
    cfg = settings.raw.get("api", {}) or {}
    bounds = tuple((str(p), lo, hi) for p, lo, hi in cfg.get("feature_bounds", []))
    return ApiLimits(int(cfg.get("max_batch_records", 1000)), int(cfg.get("max_body_bytes", 4_000_000)), bounds)


def _unicode_text(value: str) -> str:
    """Refuse a lone surrogate (JSON can escape one; UTF-8 cannot hold it)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("not valid Unicode text (a lone surrogate)") from exc
    return value


def _field(spec: FieldSpec, config: MLConfig, limits: ApiLimits) -> tuple[Any, Any]:
    description = config.label(spec.name)
    if spec.kind == "category":
        typ: Any = Literal[spec.categories] if spec.categories else Annotated[str, AfterValidator(_unicode_text)]
        extra: dict[str, Any] = {} if spec.categories else {"max_length": 200}
        if spec.nullable:
            description += " (null = unknown)"
    else:
        typ = {"int": int, "bool": bool, "float": float}[spec.kind]
        lo, hi = limits.bounds_of(spec.name) if spec.kind != "bool" else (None, None)
        extra = {k: v for k, v in (("ge", lo), ("le", hi)) if v is not None}
        if spec.nullable:
            description += " (null = unknown" + (", e.g. no click log)" if spec.name.startswith("clicks_") else ")")
    if spec.nullable:
        typ = typ | None
    return typ, Field(..., description=description, **extra)


@dataclass(frozen=True)
class Schemas:
    Record: type[BaseModel]
    Batch: type[BaseModel]
    fields: dict[str, FieldSpec]

    @property
    def feature_names(self) -> list[str]:
        return list(self.fields)


def build_schemas(fields: dict[str, FieldSpec], config: MLConfig, limits: ApiLimits) -> Schemas:
    """The request models for these field specs (one field per feature, in config order)."""
    definitions: dict[str, Any] = {name: _field(spec, config, limits) for name, spec in fields.items()}
    definitions["student_module_id"] = (
        str | None,
        Field(
            None,
            max_length=64,
            pattern=r"^[A-Za-z0-9_.:-]+$",
            description="Optional id of the student-module attempt; logged so outcomes can be joined later, "
            "not used by the model",
        ),
    )
    record = create_model(
        "PredictionRecord",
        __config__=STRICT,
        __doc__="Day-30 features of one student-module attempt (every feature is required; "
        "null = unknown where allowed).",
        **definitions,
    )
    batch = create_model(
        "PredictionBatch",
        __config__=STRICT,
        __doc__="Records to score in one request.",
        records=(
            list[record],  # type: ignore[valid-type]  # a model built at run time from the champion's features
            Field(
                ...,
                min_length=1,
                max_length=limits.max_batch_records,
                description="At most max_batch_records records (413 above)",
            ),
        ),
    )
    return Schemas(record, batch, dict(fields))


class Reason(BaseModel):
    code: str = Field(description="Reason code (ml/config.yaml reasons)")
    label: str = Field(description="The reason in plain words")
    contribution: float = Field(description="Calibrated log-odds this reason adds compared with typical values")


class RecordPrediction(BaseModel):
    probability: float = Field(ge=0, le=1, description="Calibrated probability of withdrawing after day 30")
    risk_band: Literal["high", "medium", "low"]
    is_flagged: bool = Field(description="probability >= the model's operating threshold")
    reasons: list[Reason] = Field(description="Up to 3 reasons pushing the risk up, strongest first")


class ModelRef(BaseModel):
    request_id: str
    model_name: str = Field(description="Algorithm of the champion (lr / rf / hgb)")
    registered_model_name: str
    model_version: int
    threshold: float


class Prediction(RecordPrediction, ModelRef):
    pass


class BatchPrediction(ModelRef):
    predictions: list[RecordPrediction]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    model_loaded: bool
    model_version: int | None = None
    detail: str | None = None


class ModelInfo(BaseModel):
    registered_model_name: str
    alias: str
    model_version: int
    model_name: str
    run_id: str
    training_run_id: str | None
    data_digest: str | None
    datasets: list[dict[str, Any]]
    metrics: dict[str, float]
    threshold: float
    risk_bands: dict[str, float]
    features: list[str]
    loaded_at: str
    alias_checked_at: str | None = None  # when this worker last asked the registry where the alias points
    alias_check_seconds: float = 0.0  # how often it asks (0 = never: POST /model/reload only)
    load_error: str | None = None  # the last failed load (the version above keeps serving)


class ErrorBody(BaseModel):
    detail: Any
    request_id: str | None = None

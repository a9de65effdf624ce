"""Request / response models of the prediction API (pydantic v2), generated from the configuration.

The request record has one field per model feature of ``ml/config.yaml`` (added features appear automatically,
built with :func:`pydantic.create_model`). Every feature must be present (no silent defaults); ``null`` means
unknown and is accepted where the feature mart itself has NULLs, for every click feature (no click log for the
presentation: never 0) and for every categorical (-> the model's ``unknown`` category). Categoricals are enums of
the categories the champion was trained on; numeric ranges come from ``api.feature_bounds`` in ``laip.yaml``;
NaN / infinity are refused. Unknown fields are rejected (``extra="forbid"``). ``prediction_day`` (of a record, or
of a batch) is one of the checkpoints served, default the config's (day 30); a feature bounded by ``day`` is at
most that checkpoint (:func:`day_bound_errors`, checked in the route).
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


DAY = "day"  # an upper bound of api.feature_bounds that is the request's checkpoint (e.g. a first active day)
Bound = float | str | None


@dataclass(frozen=True)
class ApiLimits:
    max_batch_records: int
    max_body_bytes: int
    bounds: tuple[tuple[str, Bound, Bound], ...]

    def bounds_of(self, feature: str) -> tuple[Bound, Bound]:
        return next(
            ((lo, hi) for pattern, lo, hi in self.bounds if fnmatch.fnmatchcase(feature, pattern)), (None, None)
        )

    def day_bounded(self, fields: dict[str, FieldSpec]) -> tuple[str, ...]:
        """The numeric features whose upper bound is the checkpoint day (``day`` in api.feature_bounds)."""
        return tuple(f for f, s in fields.items() if s.kind in ("int", "float") and self.bounds_of(f)[1] == DAY)


def _bound(value: Any, pattern: Any, upper: bool) -> Bound:
    """A number, null, or (as an upper bound) ``day``; anything else is a configuration error naming the rule."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    if upper and value == DAY:
        return DAY
    side = "max" if upper else "min"
    allowed = "a number, null or day" if upper else "a number or null"
    raise ValueError(f"laip.yaml api.feature_bounds [{pattern}, ...]: {side} must be {allowed}, not {value!r}")


def api_limits(settings: Settings) -> ApiLimits:
    cfg = settings.raw.get("api", {}) or {}
    bounds = tuple(
        (str(p), _bound(lo, p, upper=False), _bound(hi, p, upper=True)) for p, lo, hi in cfg.get("feature_bounds", [])
    )
    return ApiLimits(int(cfg.get("max_batch_records", 1000)), int(cfg.get("max_body_bytes", 4_000_000)), bounds)


def day_bound_errors(values: dict[str, Any], day: int, features: tuple[str, ...], loc: tuple) -> list[dict]:
    """Validation errors (FastAPI's 422 format) of the values above the checkpoint ``day``: nothing dated after
    the checkpoint can be known at it."""
    return [
        {
            "type": "less_than_equal",
            "loc": ("body", *loc, f),
            "msg": f"Input should be less than or equal to {day} (the prediction_day: nothing after it is known)",
            "input": values[f],
            "ctx": {"le": day},
        }
        for f in features
        if values.get(f) is not None and values[f] > day
    ]


def _unicode_text(value: str) -> str:
    """Refuse a lone surrogate (JSON can escape one; UTF-8 cannot hold it)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("not valid Unicode text (a lone surrogate)") from exc
    return value


def _field(spec: FieldSpec, config: MLConfig, limits: ApiLimits, last_day: int) -> tuple[Any, Any]:
    description = config.label(spec.name)
    if spec.kind == "category":
        typ: Any = Literal[spec.categories] if spec.categories else Annotated[str, AfterValidator(_unicode_text)]
        extra: dict[str, Any] = {} if spec.categories else {"max_length": 200}
        if spec.nullable:
            description += " (null = unknown)"
    else:
        typ = {"int": int, "bool": bool, "float": float}[spec.kind]
        lo, hi = limits.bounds_of(spec.name) if spec.kind != "bool" else (None, None)
        if hi == DAY:
            hi = last_day  # and at most the request's prediction_day (day_bound_errors)
            description += " (at most the prediction_day)"
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
    days: tuple[int, ...] = ()  # the checkpoints served
    day_bounded: tuple[str, ...] = ()  # features at most the request's prediction_day

    @property
    def feature_names(self) -> list[str]:
        return list(self.fields)


def _day_field(days: tuple[int, ...], default: int) -> tuple[Any, Any]:
    return (
        Literal[days],  # an unknown checkpoint: 422 naming prediction_day and the checkpoints served
        Field(
            default,
            description=f"Course day of the checkpoint to score at: one of the configured checkpoints (GET /model "
            f"lists their champions; one without a champion answers 503); default {default}. The features are the "
            "ones known on that day.",
        ),
    )


def build_schemas(
    fields: dict[str, FieldSpec], config: MLConfig, limits: ApiLimits, days: tuple[int, ...] = ()
) -> Schemas:
    """The request models for these field specs (one field per feature, in config order) and checkpoint ``days``
    (default: the config's checkpoint only)."""
    days = tuple(sorted(days or (config.prediction_day,)))
    definitions: dict[str, Any] = {name: _field(spec, config, limits, max(days)) for name, spec in fields.items()}
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
    doc = "Features of one student-module attempt at the prediction_day (every feature is required; null = unknown"
    item = create_model("BatchRecord", __config__=STRICT, __doc__=doc + " where allowed).", **definitions)
    record = create_model(
        "PredictionRecord",
        __config__=STRICT,
        __doc__=doc + " where allowed).",
        prediction_day=_day_field(days, config.prediction_day),
        **definitions,
    )
    batch = create_model(
        "PredictionBatch",
        __config__=STRICT,
        __doc__="Records to score in one request, all at one checkpoint.",
        prediction_day=_day_field(days, config.prediction_day),
        records=(
            list[item],  # type: ignore[valid-type]  # a model built at run time from the champion's features
            Field(
                ...,
                min_length=1,
                max_length=limits.max_batch_records,
                description="At most max_batch_records records (413 above)",
            ),
        ),
    )
    return Schemas(record, batch, dict(fields), days, limits.day_bounded(fields))


class Reason(BaseModel):
    code: str = Field(description="Reason code (ml/config.yaml reasons)")
    label: str = Field(description="The reason in plain words")
    contribution: float = Field(description="Calibrated log-odds this reason adds compared with typical values")


class RecordPrediction(BaseModel):
    probability: float = Field(ge=0, le=1, description="Calibrated probability of withdrawing after the prediction_day")
    risk_band: Literal["high", "medium", "low"]
    is_flagged: bool = Field(description="probability >= the model's operating threshold")
    reasons: list[Reason] = Field(description="Up to 3 reasons pushing the risk up, strongest first")


class ModelRef(BaseModel):
    request_id: str
    prediction_day: int = Field(description="The checkpoint scored at (course day)")
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


class CheckpointModel(BaseModel):
    prediction_day: int
    registered_model_name: str
    model_version: int
    model_name: str
    run_id: str
    training_run_id: str | None
    threshold: float
    metrics: dict[str, float]
    loaded_at: str


class ModelInfo(BaseModel):
    """The default checkpoint's champion (the top-level fields) and every checkpoint's (``checkpoints``)."""

    prediction_day: int
    checkpoints: list[CheckpointModel]
    unavailable_checkpoints: dict[int, str] = Field(description="Checkpoints without a served champion, and why")
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

"""The API's routes: the two prediction routes (rebuilt when the champion's schema changes) and the service routes
(health, model, reload).

No ``from __future__ import annotations`` here: FastAPI must see the generated request models of the route closures.
"""

import asyncio
import logging
import time
from collections.abc import Collection
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from laip.api import champion as champion_mod
from laip.api.checkpoints import field_errors, load_all, merged_fields, stricter_fields
from laip.api.predlog import now_iso
from laip.api.schemas import (
    BatchPrediction,
    ErrorBody,
    Health,
    ModelInfo,
    Prediction,
    Schemas,
    build_schemas,
    day_bound_errors,
)
from laip.api.state import ERRORS, PREDICT_PATHS, UNAUTHORIZED, ApiState, unauthorized
from laip.api.state import unavailable as unavailable_response
from laip.credentials import same_secret

log = logging.getLogger(__name__)

# Every state-changing endpoint takes the API token (laip.credentials.api_token) as a bearer token.
BEARER = HTTPBearer(auto_error=False, description="The API token: LAIP_API_TOKEN, else LAIP_HOME/secrets/api_token")
Token = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


def _checkpoint_info(ch: champion_mod.Champion) -> dict[str, Any]:
    return {
        "prediction_day": ch.prediction_day,
        "registered_model_name": ch.config.registered_model_name,
        "model_version": ch.model_version,
        "model_name": ch.model_name,
        "run_id": ch.version.run_id,
        "training_run_id": ch.metadata.get("training_run_id"),
        "threshold": ch.threshold,
        "metrics": ch.metadata.get("metrics", {}),
        "loaded_at": ch.loaded_at.isoformat(),
    }


def _model_info(state: ApiState) -> dict[str, Any]:
    served = state.served  # one snapshot: a reload swaps it whole
    assert served is not None
    ch = served.default
    cfg, meta = ch.config, ch.metadata
    return {
        "prediction_day": ch.prediction_day,
        "checkpoints": [_checkpoint_info(served.champions[d]) for d in served.days],
        "unavailable_checkpoints": dict(sorted(served.unavailable.items())),
        "registered_model_name": cfg.registered_model_name,
        "alias": cfg.alias,
        "model_version": ch.model_version,
        "model_name": ch.model_name,
        "run_id": ch.version.run_id,
        "training_run_id": meta.get("training_run_id"),
        "data_digest": meta.get("data_digest"),
        "datasets": meta.get("datasets", []),
        "metrics": meta.get("metrics", {}),
        "threshold": ch.threshold,
        "risk_bands": {"high": cfg.risk_high, "medium": cfg.risk_medium},
        "features": cfg.features,
        "loaded_at": ch.loaded_at.isoformat(),
        "alias_checked_at": state.alias_checked_at.isoformat() if state.alias_checked_at else None,
        "alias_check_seconds": state.alias_check_seconds,
        "load_error": state.load_error,
    }


def _record_lines(
    ch: champion_mod.Champion, request: Request, records: list[dict], outputs: list[dict], smids: list
) -> list[dict]:
    ts, latency = now_iso(), round((time.perf_counter() - request.state.start) * 1000, 3)
    base = {
        "ts": ts,
        "request_id": request.state.request_id,
        "endpoint": request.url.path,
        "status": 200,
        "latency_ms": latency,
        "model_name": ch.model_name,
        "registered_model_name": ch.config.registered_model_name,
        "model_version": ch.model_version,
        "prediction_day": ch.prediction_day,
    }
    return [
        {**base, "record_index": i, "student_module_id": smid, "inputs": rec, "output": out, "error": None}
        for i, (rec, out, smid) in enumerate(zip(records, outputs, smids, strict=False))
    ]


def _swap_prediction_routes(app: FastAPI, router: APIRouter) -> None:
    """Replace the prediction routes with ``router``'s in one assignment (a request arriving during a reload sees
    either the old or the new routes) and drop the cached OpenAPI document."""
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) not in PREDICT_PATHS] + router.routes
    app.openapi_schema = None


def install_prediction_routes(app: FastAPI, state: ApiState, schemas: Schemas) -> None:
    """(Re)declare the two prediction routes for ``schemas`` and invalidate the cached OpenAPI document."""
    Record, Batch = schemas.Record, schemas.Batch

    async def score(request: Request, records: list[dict], day: int, loc: tuple = ()) -> JSONResponse:
        served = state.served
        stricter = served.stricter.get(day, ()) if served else ()
        errors = [
            e
            for i, r in enumerate(records)
            for e in (
                *day_bound_errors(r, day, schemas.day_bounded, (*loc, i) if loc else ()),
                *field_errors(r, stricter, (*loc, i) if loc else ()),
            )
        ]
        if errors:
            raise RequestValidationError(errors)
        ch = served.champions.get(day) if served else None
        if ch is None:
            if served is None or day == served.default_day:
                return unavailable_response(state, request)
            why = served.unavailable.get(day, "not loaded yet")
            detail = f"no champion served for checkpoint day {day}: {why}"
            return JSONResponse({"detail": detail, "request_id": request.state.request_id}, status_code=503)
        smids = [r.pop("student_module_id", None) for r in records]
        outputs = await state.batcher.predict(
            ch, records, lambda outs: _record_lines(ch, request, records, outs, smids)
        )  # logged durably
        ref = {
            "request_id": request.state.request_id,
            "prediction_day": day,
            "model_name": ch.model_name,
            "registered_model_name": ch.config.registered_model_name,
            "model_version": ch.model_version,
            "threshold": ch.threshold,
        }
        if request.url.path == "/predict":
            return JSONResponse({**ref, **outputs[0]})
        return JSONResponse({**ref, "predictions": outputs})

    # Record and Batch are pydantic models built at run time from the champion's features: a static checker cannot
    # know them, hence the two ignores; FastAPI validates requests with them and documents response_model.
    async def predict(request: Request, record: Record) -> JSONResponse:  # type: ignore[valid-type]
        """Withdrawal risk of one student-module attempt at a checkpoint (prediction_day, default day 30)."""
        values = cast(BaseModel, record).model_dump()
        return await score(request, [values], values.pop("prediction_day"))

    async def predict_batch(request: Request, batch: Batch) -> JSONResponse:  # type: ignore[valid-type]
        """Withdrawal risk of several attempts at one checkpoint (at most api.max_batch_records; 413 above)."""
        body = cast(Any, batch)
        return await score(request, [r.model_dump() for r in body.records], body.prediction_day, ("records",))

    router = APIRouter()
    router.add_api_route(
        "/predict",
        predict,
        methods=["POST"],
        response_model=Prediction,
        responses=ERRORS,
        tags=["predict"],
        summary="Score one record",
    )
    router.add_api_route(
        "/predict/batch",
        predict_batch,
        methods=["POST"],
        response_model=BatchPrediction,
        responses=ERRORS,
        tags=["predict"],
        summary="Score a batch of records",
    )
    _swap_prediction_routes(app, router)
    state.schemas = schemas


def install_unavailable_routes(app: FastAPI, state: ApiState) -> None:
    """Without a champion there is no schema to validate against (its features and categories define it): the
    prediction routes answer 503 until a reload finds one."""

    async def unavailable(request: Request) -> JSONResponse:
        return unavailable_response(state, request)

    router = APIRouter()
    for path in PREDICT_PATHS:
        router.add_api_route(
            path,
            unavailable,
            methods=["POST"],
            responses={503: ERRORS[503]},
            tags=["predict"],
            summary="No champion loaded yet (503)",
        )
    _swap_prediction_routes(app, router)


def load_into(app: FastAPI, state: ApiState, reuse: Collection[int] = ()) -> bool:
    """Load every checkpoint's champion into ``state`` (those in ``reuse`` are kept as served; a checkpoint whose
    load fails keeps its previous champion); rebuild the routes when the schema changed. False when the default
    checkpoint's could not be loaded (``state.load_error`` says why)."""
    try:
        served = load_all(state.settings, state.served, reuse)
    except champion_mod.ChampionUnavailable as exc:
        state.load_error = str(exc)
        log.warning("%s", exc)
        if state.schemas is None:
            install_unavailable_routes(app, state)
        return False
    fields, ch = merged_fields(served), served.default
    served.stricter.update({day: stricter_fields(c, fields) for day, c in served.champions.items()})
    if state.schemas is None or state.schemas.fields != fields or state.schemas.days != served.checkpoints:
        install_prediction_routes(app, state, build_schemas(fields, ch.config, state.limits, served.checkpoints))
    state.served, state.load_error = served, served.default_error
    for day, reason in served.unavailable.items():
        log.warning("checkpoint day %s not served: %s", day, reason)
    if served.default_error:
        log.warning("%s (the previous version keeps serving)", served.default_error)
        return False
    log.info(
        "serving %s",
        ", ".join(
            f"{c.config.registered_model_name} v{c.model_version} ({c.model_name})" for c in served.champions.values()
        ),
    )
    return True


def install_service_routes(app: FastAPI, state: ApiState) -> None:
    """GET /health, GET /model, POST /model/reload."""

    @app.get("/health", response_model=Health, responses={503: {"model": Health}}, tags=["service"])
    async def health() -> JSONResponse:
        ch = state.champion
        if ch is None:
            return JSONResponse(
                {"status": "unavailable", "model_loaded": False, "model_version": None, "detail": state.load_error},
                status_code=503,
            )
        return JSONResponse({"status": "ok", "model_loaded": True, "model_version": ch.model_version, "detail": None})

    @app.get("/model", response_model=ModelInfo, responses={503: {"model": ErrorBody}}, tags=["service"])
    async def model(request: Request) -> JSONResponse:
        if state.champion is None:
            return unavailable_response(state, request)
        return JSONResponse(jsonable_encoder(_model_info(state)))

    @app.post(
        "/model/reload",
        response_model=ModelInfo,
        responses={**UNAUTHORIZED, 503: {"model": ErrorBody}},
        tags=["service"],
    )
    async def reload(request: Request, token: Token) -> JSONResponse:
        """Load models:/<name>@champion again (after a new training run); never trains. Needs the API token."""
        if not same_secret(token.credentials if token else None, state.api_token):
            return unauthorized(request)
        async with state.reload_lock:
            ok = await asyncio.to_thread(load_into, app, state)
        if not ok and state.champion is None:
            return unavailable_response(state, request)
        if not ok and state.champion is not None:
            return JSONResponse(
                {
                    "detail": f"reload failed, still serving version "
                    f"{state.champion.model_version}: {state.load_error}",
                    "request_id": request.state.request_id,
                },
                status_code=503,
            )
        return JSONResponse(jsonable_encoder(_model_info(state)))

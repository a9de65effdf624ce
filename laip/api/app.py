"""The prediction API (FastAPI): day-30 withdrawal risk of one record or a batch, from the MLflow champion.

    POST /predict          one record  -> probability, risk band, flag, top 3 reasons, model name / version
    POST /predict/batch    {"records": [...]} (at most api.max_batch_records, else 413)
    GET  /health           200 when a champion is loaded, else 503
    GET  /model            the champion: version, runs, training metrics, data digest, threshold, loaded_at
    POST /model/reload     load models:/<name>@champion again (never trains)

Start with ``laip serve`` (uvicorn). The champion is loaded when the app is created and on an explicit reload;
the request schema is rebuilt from it (its features of ml/config.yaml, its categories). Every prediction and every
rejected request is appended to the prediction log (:mod:`laip.api.predlog`) and fsync'ed before the response is
sent. Concurrent requests are scored together (:mod:`laip.api.batcher`). Bad input gets 422 (field and reason) or
413 (too large), never a 500. A client may pass its own ``X-Request-ID`` (1-64 of ``[A-Za-z0-9._-]``).
"""

# No `from __future__ import annotations`: FastAPI must see the generated request models of the route closures.
import asyncio
import logging
import math
import re
import time
import uuid
from contextlib import asynccontextmanager
from typing import Any, cast

from fastapi import APIRouter, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from laip.api import champion as champion_mod
from laip.api.batcher import Batcher
from laip.api.predlog import PredictionLog, now_iso
from laip.api.schemas import (
    ApiLimits,
    BatchPrediction,
    ErrorBody,
    Health,
    ModelInfo,
    Prediction,
    Schemas,
    api_limits,
    build_schemas,
)
from laip.config import Settings, load_settings

log = logging.getLogger(__name__)

PREDICT_PATHS = ("/predict", "/predict/batch")
DRAIN_CAP = 64_000_000  # a larger rejected body is not read: the connection is closed
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": "Body or batch too large"},
    422: {"description": "Invalid input: the field and the reason"},
    503: {"model": ErrorBody, "description": "No champion model loaded"},
}


class ApiState:
    """What the app serves: the champion (or None), the request schemas built for it, the log, the limits."""

    def __init__(self, settings: Settings, predlog: PredictionLog):
        self.settings = settings
        self.limits: ApiLimits = api_limits(settings)
        self.predlog = predlog
        self.champion: champion_mod.Champion | None = None
        self.load_error: str | None = None
        self.schemas: Schemas | None = None
        self.reload_lock = asyncio.Lock()
        self.batcher = Batcher(predlog.submit, max_records=max(2000, self.limits.max_batch_records))


def _client_request_id(scope: dict) -> str:
    for key, value in scope.get("headers", ()):
        if key == b"x-request-id":
            text = value.decode("latin-1")
            if REQUEST_ID.match(text):
                return text
    return uuid.uuid4().hex


def rejection(request_id: str, endpoint: str, status: int, error: str, start: float) -> dict[str, Any]:
    return {
        "ts": now_iso(),
        "request_id": request_id,
        "endpoint": endpoint,
        "status": status,
        "latency_ms": round((time.perf_counter() - start) * 1000, 3),
        "model_name": None,
        "registered_model_name": None,
        "model_version": None,
        "record_index": None,
        "student_module_id": None,
        "inputs": None,
        "output": None,
        "error": error[:1000],
    }


class RequestContext:
    """ASGI middleware: request id + start time in ``request.state``, ``X-Request-ID`` on every response, and the
    body size limit (413, logged) enforced while reading, before anything parses the body."""

    def __init__(self, app, state: ApiState):
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        rid = _client_request_id(scope)
        scope.setdefault("state", {}).update(request_id=rid, start=start)

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        if scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send_with_id)
        limit = self.state.limits.max_body_bytes
        declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        if declared is not None and not declared.isdigit():
            return await self._reject(scope, send_with_id, rid, start, 400, "invalid content-length")
        if declared is not None and int(declared) > limit:
            await _drain(receive, DRAIN_CAP)
            return await self._reject(
                scope, send_with_id, rid, start, 413, f"body of {int(declared)} bytes; at most {limit}"
            )
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body = message.get("body", b"")
            total += len(body)
            if total > limit:
                if message.get("more_body", False):
                    await _drain(receive, DRAIN_CAP - total)
                return await self._reject(scope, send_with_id, rid, start, 413, f"body larger than {limit} bytes")
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send_with_id)

    async def _reject(self, scope, send, rid: str, start: float, status: int, error: str) -> None:
        if scope["path"] in PREDICT_PATHS:
            await self.state.predlog.append([rejection(rid, scope["path"], status, error, start)])
        response = JSONResponse(
            {"detail": error, "request_id": rid}, status_code=status, headers={"connection": "close"}
        )
        await response(scope, _drain_nothing, send)


async def _drain_nothing():  # the rejected body is not read
    return {"type": "http.disconnect"}


async def _drain(receive, cap: int) -> None:
    """Read and drop a rejected body (up to ``cap`` bytes) so the client gets the 413 instead of a reset."""
    seen = 0
    while seen < cap:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _json_safe(obj: Any) -> Any:
    """Echoed inputs may hold NaN / infinity (valid in Python's JSON parser, not in a JSON response)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def _model_info(state: ApiState) -> dict[str, Any]:
    ch = state.champion
    assert ch is not None
    cfg, meta = ch.config, ch.metadata
    return {
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
    }


def _unavailable(state: ApiState, request: Request) -> JSONResponse:
    return JSONResponse(
        {"detail": f"no champion model loaded: {state.load_error}", "request_id": request.state.request_id},
        status_code=503,
    )


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
    }
    return [
        {**base, "record_index": i, "student_module_id": smid, "inputs": rec, "output": out, "error": None}
        for i, (rec, out, smid) in enumerate(zip(records, outputs, smids, strict=False))
    ]


def install_prediction_routes(app: FastAPI, state: ApiState, schemas: Schemas) -> None:
    """(Re)declare the two prediction routes for ``schemas`` and invalidate the cached OpenAPI document."""
    Record, Batch = schemas.Record, schemas.Batch

    async def score(request: Request, records: list[dict]) -> JSONResponse:
        ch = state.champion
        if ch is None:
            return _unavailable(state, request)
        smids = [r.pop("student_module_id", None) for r in records]
        outputs = await state.batcher.predict(
            ch, records, lambda outs: _record_lines(ch, request, records, outs, smids)
        )  # logged durably
        ref = {
            "request_id": request.state.request_id,
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
        """Withdrawal risk of one student-module attempt at course day 30."""
        return await score(request, [cast(BaseModel, record).model_dump()])

    async def predict_batch(request: Request, batch: Batch) -> JSONResponse:  # type: ignore[valid-type]
        """Withdrawal risk of several attempts (at most api.max_batch_records; 413 above)."""
        return await score(request, [r.model_dump() for r in cast(Any, batch).records])

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
    # one assignment: a request arriving during a reload sees either the old or the new routes
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) not in PREDICT_PATHS] + router.routes
    app.openapi_schema = None
    state.schemas = schemas


def install_unavailable_routes(app: FastAPI, state: ApiState) -> None:
    """Without a champion there is no schema to validate against (its features and categories define it): the
    prediction routes answer 503 until a reload finds one."""

    async def unavailable(request: Request) -> JSONResponse:
        return _unavailable(state, request)

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
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) not in PREDICT_PATHS] + router.routes
    app.openapi_schema = None


def load_into(app: FastAPI, state: ApiState) -> bool:
    """Load the champion into ``state`` (keeps the previous one on failure); rebuild routes if the schema changed."""
    try:
        ch = champion_mod.load(state.settings)
    except champion_mod.ChampionUnavailable as exc:
        state.load_error = str(exc)
        log.warning("%s", exc)
        if state.schemas is None:
            install_unavailable_routes(app, state)
        return False
    if state.schemas is None or state.schemas.fields != ch.fields:
        install_prediction_routes(app, state, build_schemas(ch.fields, ch.config, state.limits))
    state.champion, state.load_error = ch, None
    log.info("serving %s version %s (%s)", ch.config.registered_model_name, ch.model_version, ch.model_name)
    return True


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app, with the champion loaded (or 503 on the prediction routes until a reload finds one)."""
    settings = settings or load_settings()
    predlog = PredictionLog(settings.prediction_log_dir)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        predlog.close()

    app = FastAPI(
        title="LAIP withdrawal-risk API",
        version="1.0",
        lifespan=lifespan,
        description=__doc__.split("\n\n", 1)[0] + " Course day 30; see laip/api/app.py.",
    )
    state = ApiState(settings, predlog)
    app.state.api = state

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
            return _unavailable(state, request)
        return JSONResponse(jsonable_encoder(_model_info(state)))

    @app.post("/model/reload", response_model=ModelInfo, responses={503: {"model": ErrorBody}}, tags=["service"])
    async def reload(request: Request) -> JSONResponse:
        """Load models:/<name>@champion again (after a new training run); never trains."""
        async with state.reload_lock:
            ok = await asyncio.to_thread(load_into, app, state)
        if not ok and state.champion is None:
            return _unavailable(state, request)
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

    @app.exception_handler(RequestValidationError)
    async def invalid_input(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        too_long = any(
            e.get("type") == "too_long" and tuple(e.get("loc", ()))[:2] == ("body", "records") for e in errors
        )
        status = 413 if too_long else 422
        summary = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors[:20])
        if request.url.path in PREDICT_PATHS:
            await state.predlog.append(
                [rejection(request.state.request_id, request.url.path, status, summary, request.state.start)]
            )
        if too_long:
            return JSONResponse(
                {
                    "detail": f"batch larger than {state.limits.max_batch_records} records",
                    "request_id": request.state.request_id,
                },
                status_code=413,
            )
        detail = [{k: v for k, v in e.items() if k != "url"} for e in errors]
        return JSONResponse(
            {"detail": _json_safe(jsonable_encoder(detail)), "request_id": request.state.request_id}, status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        rid = getattr(request.state, "request_id", None)
        if rid is not None and request.url.path in PREDICT_PATHS and 400 <= exc.status_code < 500:
            await state.predlog.append(
                [rejection(rid, request.url.path, exc.status_code, str(exc.detail), request.state.start)]
            )
        return JSONResponse(
            {"detail": exc.detail, "request_id": rid},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        rid = getattr(request.state, "request_id", None)
        log.exception("unexpected error in request %s %s (request_id %s)", request.method, request.url.path, rid)
        return JSONResponse({"detail": "internal error", "request_id": rid}, status_code=500)

    load_into(app, state)
    app.add_middleware(RequestContext, state=state)
    return app


def openapi_document(settings: Settings | None = None) -> dict[str, Any]:
    """The OpenAPI document of the app as it serves the current champion (for ``docs/openapi.json``)."""
    app = create_app(settings)
    try:
        return app.openapi()
    finally:
        app.state.api.predlog.close()

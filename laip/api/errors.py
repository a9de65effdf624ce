"""Error answers of the API: 422 naming the field and reason, 413 for a too-large batch, the HTTP errors, and a
logged 500 that never leaks internals. Rejections of prediction requests go to the prediction log."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from laip.api.state import PREDICT_PATHS, ApiState, rejection

log = logging.getLogger(__name__)


MAX_ERRORS = 20  # a 422 lists at most this many errors ...
MAX_ECHO_CHARS = 200  # ... and echoes at most this much of each offending value


def _json_safe(obj: Any) -> Any:
    """Echoed inputs may hold NaN / infinity (valid in Python's JSON parser, not in a JSON response) and lone
    surrogates (valid in a JSON string escape, not in UTF-8): both are shown as text."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, str):
        return obj.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def _echo(value: Any) -> Any:
    """An offending value as the answer shows it: small values as they are, large ones cut (never the whole body)."""
    safe = _json_safe(jsonable_encoder(value))
    text = json.dumps(safe, allow_nan=False)
    if len(text) <= MAX_ECHO_CHARS:
        return safe
    return f"{text[:MAX_ECHO_CHARS]}... ({len(text):,} characters, cut)"


def bounded_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """The validation errors a 422 shows: at most MAX_ERRORS, each offending value cut to MAX_ECHO_CHARS."""
    shown = []
    for e in errors[:MAX_ERRORS]:
        item = {k: _json_safe(jsonable_encoder(v)) for k, v in e.items() if k not in ("url", "input", "ctx")}
        if "input" in e:
            item["input"] = _echo(e["input"])
        shown.append(item)
    if len(errors) > MAX_ERRORS:
        shown.append({"type": "more_errors", "loc": [], "msg": f"{len(errors) - MAX_ERRORS} more errors not shown"})
    return shown


def install_error_handlers(app: FastAPI, state: ApiState) -> None:
    """The exception handlers of the app."""

    @app.exception_handler(RequestValidationError)
    async def invalid_input(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        too_long = any(
            e.get("type") == "too_long" and tuple(e.get("loc", ()))[:2] == ("body", "records") for e in errors
        )
        status = 413 if too_long else 422
        summary = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors[:MAX_ERRORS]
        )
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
        return JSONResponse({"detail": bounded_errors(errors), "request_id": request.state.request_id}, status_code=422)

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

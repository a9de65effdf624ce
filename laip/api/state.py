"""What the API serves (the checkpoints' champions, their request schemas, the prediction log, the limits) and the
answers every part of the app shares: the log line of a rejected request and the 503 without a champion."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from laip.api import champion as champion_mod
from laip.api.batcher import Batcher
from laip.api.checkpoints import Served
from laip.api.predlog import PredictionLog, now_iso
from laip.api.schemas import ApiLimits, ErrorBody, Schemas, api_limits
from laip.config import Settings
from laip.credentials import api_token

PREDICT_PATHS = ("/predict", "/predict/batch")
ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": "Body or batch too large"},
    422: {"description": "Invalid input: the field and the reason"},
    429: {"model": ErrorBody, "description": "Too many requests from this client (api.rate_limit_per_second)"},
    503: {"model": ErrorBody, "description": "No champion model loaded"},
}
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong token (Authorization: Bearer <token>)"},
}


class ApiState:
    """What the app serves: every checkpoint's champion (none yet: 503), the request schemas built for them, the
    log, the limits."""

    def __init__(self, settings: Settings, predlog: PredictionLog):
        self.settings = settings
        self.limits: ApiLimits = api_limits(settings)
        self.predlog = predlog
        self.api_token = api_token(settings.home)  # authorizes the state-changing endpoints
        self.served: Served | None = None  # every checkpoint's champion (laip.api.checkpoints), swapped whole
        self.load_error: str | None = None  # why the default checkpoint's alias target is not served
        self.schemas: Schemas | None = None
        self.reload_lock = asyncio.Lock()
        self.alias_checked_at: datetime | None = None  # laip.api.alias_watch
        self.alias_check_seconds = 0.0
        self.failed_versions: dict[int, int] = {}  # checkpoint -> alias version that could not be loaded (not retried)
        self.batcher = Batcher(predlog.submit, max_records=max(2000, self.limits.max_batch_records))

    @property
    def champions(self) -> dict[int, champion_mod.Champion]:
        """The champions served, by checkpoint day."""
        return self.served.champions if self.served else {}

    @property
    def champion(self) -> champion_mod.Champion | None:
        """The default checkpoint's champion (None until one is loaded)."""
        return self.served.default if self.served else None


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


def unavailable(state: ApiState, request: Request) -> JSONResponse:
    return JSONResponse(
        {"detail": f"no champion model loaded: {state.load_error}", "request_id": request.state.request_id},
        status_code=503,
    )


def unauthorized(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "detail": "authentication required: send Authorization: Bearer <token> (the token is LAIP_API_TOKEN, "
            "else the file secrets/api_token under LAIP_HOME)",
            "request_id": request.state.request_id,
        },
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )

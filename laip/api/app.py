"""The prediction API (FastAPI): withdrawal risk at a checkpoint of one record or a batch, from the MLflow champions.

    POST /predict          one record (optional prediction_day, default 30) -> probability, risk band, flag, top 3
                           reasons, checkpoint, model name / version
    POST /predict/batch    {"records": [...], "prediction_day": 30} (at most api.max_batch_records, else 413)
    GET  /health           200 when the day-30 champion is loaded, else 503
    GET  /model            the champions: version, runs, training metrics, data digest, threshold, loaded_at
    POST /model/reload     load every checkpoint's models:/<name>@champion again (never trains)

Start with ``laip serve`` (uvicorn). The champion is loaded when the app is created, when the champion alias moves
(checked every ``api.champion_check_seconds``: :mod:`laip.api.alias_watch`) and on an explicit reload;
the request schema is rebuilt from it (its features of ml/config.yaml, its categories). Every prediction and every
rejected request is appended to the prediction log (:mod:`laip.api.predlog`) and fsync'ed before the response is
sent. Concurrent requests are scored together (:mod:`laip.api.batcher`). Bad input gets 422 (field and reason) or
413 (too large), never a 500. A client may pass its own ``X-Request-ID`` (1-64 of ``[A-Za-z0-9._-]``).
"""

import asyncio
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from laip.api.alias_watch import check_interval, follow_alias
from laip.api.errors import install_error_handlers
from laip.api.middleware import RequestContext
from laip.api.predlog import PredictionLog
from laip.api.routes import install_service_routes, load_into
from laip.api.state import ApiState
from laip.config import Settings, load_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app, with the champion loaded (or 503 on the prediction routes until a reload finds one)."""
    settings = settings or load_settings()
    predlog = PredictionLog(settings.prediction_log_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state: ApiState = app.state.api
        watch = (
            asyncio.create_task(follow_alias(app, state, state.alias_check_seconds))
            if state.alias_check_seconds
            else None
        )
        yield
        if watch is not None:
            watch.cancel()
        predlog.close()

    # FastAPIOffline: the /docs and /redoc pages load Swagger UI / ReDoc from the installation, not from a CDN
    app = FastAPIOffline(
        title="LAIP withdrawal-risk API",
        version="1.0",
        lifespan=lifespan,
        description=__doc__.split("\n\n", 1)[0] + " Default checkpoint: course day 30; see laip/api/app.py.",
    )
    state = ApiState(settings, predlog)
    state.alias_check_seconds = check_interval(settings)
    app.state.api = state

    install_service_routes(app, state)
    install_error_handlers(app, state)
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

"""``laip serve``: run the prediction API with uvicorn, or export its OpenAPI document."""

from __future__ import annotations

import json
import os
from pathlib import Path

from laip.config import Settings

HOST = "127.0.0.1"


def export_openapi(settings: Settings, path: Path) -> Path:
    """Write the OpenAPI document of the API as it serves the current champion (enums of its categories)."""
    from laip.api.app import openapi_document

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(openapi_document(settings), indent=2) + "\n")
    return path


def serve(settings: Settings, host: str = HOST, port: int = 8000, workers: int = 1) -> None:
    """uvicorn with uvloop + httptools, no access log (every prediction is in the prediction log instead).
    Each worker process loads the champion and writes its own prediction-log part file."""
    # One OpenMP thread per process, set before scikit-learn loads it: a request is far too small to parallelise
    # (threads only contend for the cores); throughput comes from uvicorn workers and batched scoring.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import uvicorn

    os.environ["LAIP_HOME"] = str(settings.home)   # the factory (and every worker) resolves the same settings
    uvicorn.run("laip.api.app:create_app", factory=True, host=host, port=port, workers=workers, loop="uvloop",
                http="httptools", access_log=False, log_level="info", timeout_keep_alive=30)

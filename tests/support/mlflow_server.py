"""The authenticated MLflow tracking server (``python -m laip.services.mlflow_server --auth``) started for a test
on a loopback port, with only the environment it is given (no ``MLFLOW_*`` variable of the test process)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def auth_server(home: Path, port: int, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run the server for ``home`` on ``port`` (its log beside ``home``); yields its URL, stops it after."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    home.parent.mkdir(parents=True, exist_ok=True)
    log_path = home.parent / "mlflow.log"
    url = f"http://127.0.0.1:{port}"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "laip.services.mlflow_server", "--port", str(port), "--auth"],
            env={**clean, **(env or {}), "LAIP_HOME": str(home)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(url + "/health", timeout=5):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(log_path.read_text()[-3000:]) from None
                    time.sleep(0.5)
            yield url
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)

"""``laip serve`` started for a test on a free loopback port, and a small HTTP client for it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from laip.config import Settings
from laip.credentials import api_token
from laip.services.net import free_port


class Server:
    """``laip serve`` in its own process group on a free loopback port."""

    def __init__(self, home: Path, workers: int = 1, port: int | None = None, env: dict[str, str] | None = None):
        self.home = home
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "LAIP_HOME": str(home), "LAIP_ML_PROFILE": "quick", "OMP_NUM_THREADS": "1", **(env or {})}
        env.pop("MLFLOW_TRACKING_URI", None)
        self.log_path = home / f"api-test-{self.port}.log"
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "laip", "serve", "--port", str(self.port), "--workers", str(workers)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while True:
            try:
                if (
                    request(self, "GET", "/health")[0] in (200, 503)
                    and self.log_path.read_text().count("Application startup complete") >= workers
                ):
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"laip serve did not start: {self.log_path.read_text()[-3000:]}")
            time.sleep(0.5)

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(30)
        self.log.close()


def request(
    server: Server, method: str, path: str, body: object = None, raw: bytes | None = None, headers: dict | None = None
) -> tuple[int, dict]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(
        server.url + path, data=data, method=method, headers={"content-type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        text = err.read()
        try:
            return err.code, json.loads(text)
        except ValueError:
            return err.code, {"raw": text.decode(errors="replace")}


def auth(home: Settings | Path) -> dict[str, str]:
    """The header that authorizes state-changing calls to the API of ``home``."""
    return {"Authorization": f"Bearer {api_token(home.home if isinstance(home, Settings) else home)}"}

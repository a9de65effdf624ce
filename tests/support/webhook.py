"""A webhook receiver on loopback: collects the JSON bodies POSTed to it (failure alerts)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, url: str):
        self.url = url
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []

    def wait_for(self, count: int = 1, timeout_s: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while len(self.bodies) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        return list(self.bodies)


@contextmanager
def webhook_receiver(path: str = "/hooks/secret-token") -> Iterator[Receiver]:
    """A receiver at ``http://127.0.0.1:<free port><path>``, running until the block ends."""
    received: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            received.paths.append(self.path)
            received.bodies.append(json.loads(self.rfile.read(length) or b"null"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    received = Receiver(f"http://127.0.0.1:{server.server_address[1]}{path}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()

"""Loopback helpers for the services the platform starts itself: a free port, waiting for one to listen."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free on ``host`` now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_listening(host: str, port: int, timeout_s: float, alive: subprocess.Popen[bytes] | None = None) -> None:
    """Return once ``host:port`` accepts a connection; TimeoutError after ``timeout_s`` seconds. ``alive``: a
    ``subprocess.Popen`` whose early exit ends the wait with RuntimeError (its exit code)."""
    deadline = time.monotonic() + timeout_s
    while True:
        code = alive.poll() if alive is not None else None
        if code is not None:
            raise RuntimeError(f"the process meant to listen on {host}:{port} exited with code {code}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s:.0f} s") from None
            time.sleep(0.1)

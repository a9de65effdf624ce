"""``laip serve``: run the prediction API with uvicorn, or export its OpenAPI document."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from laip.config import Settings, load_settings

HOST = "127.0.0.1"
APP = "laip.api.server:worker_app"  # the uvicorn factory of a worker process

log = logging.getLogger(__name__)
_cpu_claim: IO[Any] | None = None  # this worker's claim on its CPU, held for the life of the process


def pin_to_free_cpu() -> int | None:
    """Pin this process (all its threads, and those it starts later) to a CPU that no other API worker on this
    machine holds: one ``flock``ed file per CPU in the temp directory, released when the process exits. The event
    loop, the scoring thread and the log writer of a worker then share one core's caches instead of migrating
    between cores (measured on 2 cores at 500 req/s: a one-record batch costs 0.9 ms of CPU pinned, 1.5-2.7 ms
    not). Returns the CPU, or None when every CPU is taken, there is only one, or the OS cannot pin."""
    global _cpu_claim
    import fcntl

    if _cpu_claim is not None or not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    for cpu in cpus:
        claim = open(Path(tempfile.gettempdir()) / f"laip-api-cpu{cpu}.lock", "a")
        try:
            fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            claim.close()
            continue
        for tid in os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else ["0"]:
            try:
                os.sched_setaffinity(int(tid), {cpu})
            except OSError:
                pass  # a thread that just ended
        _cpu_claim = claim
        return cpu
    return None


def worker_app():
    """The app of one ``laip serve`` worker process (the uvicorn factory): pinned to a free CPU when laip.yaml
    ``api.pin_workers`` is on, then :func:`laip.api.app.create_app`."""
    from laip.api.app import create_app
    from laip.api.protocol import configure, connection_limits
    from laip.durable import keep_private

    settings = load_settings()
    keep_private(settings.home)  # the prediction log holds student-level inputs
    configure(connection_limits(settings))
    if (settings.raw.get("api", {}) or {}).get("pin_workers", True):
        cpu = pin_to_free_cpu()
        log.info("API worker %d pinned to CPU %s", os.getpid(), cpu)
    return create_app(settings)


def export_openapi(settings: Settings, path: Path) -> Path:
    """Write the OpenAPI document of the API as it serves the current champion (enums of its categories)."""
    from laip.api.app import openapi_document

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(openapi_document(settings), indent=2) + "\n")
    return path


def bound_socket(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to (host, port). With ``reuse_port`` (SO_REUSEPORT) every ``laip serve`` process of a
    group binds its own and the kernel spreads new connections over them; without it the bind fails while anything
    listens on the port."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _port_free(host: str, port: int) -> bool:
    try:
        bound_socket(host, port).close()
        return True
    except OSError:
        return False


def supervise(host: str, port: int, workers: int, grace_s: float = 20.0) -> int:
    """``laip serve --workers N`` on Linux: N single-process servers sharing the port with SO_REUSEPORT, so the
    kernel spreads connections evenly. (uvicorn's own workers share one listening socket and the first to wake
    accepts a whole burst: 32 keep-alive clients opened together all landed on one of two workers.) A worker that
    dies is restarted; one that cannot start stops the group; SIGTERM / SIGINT stop every worker."""
    if not _port_free(host, port):
        log.error("%s:%d is already in use", host, port)
        return 1
    argv = [sys.executable, "-m", "laip", "serve", "--host", host, "--port", str(port), "--reuse-port"]
    children = [subprocess.Popen(argv) for _ in range(workers)]
    stop: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: stop.append(signum))
    status, restarts = 0, 0
    while not stop:
        time.sleep(0.2)
        for i, child in enumerate(children):
            code = child.poll()
            if code is None or stop:
                continue
            if code == 3 or restarts >= 5 * workers:  # uvicorn's STARTUP_FAILURE, or crashing in a loop
                log.error("API worker %d exited with %d; stopping the API", child.pid, code)
                stop.append(0)
                status = code or 1
                break
            log.warning("API worker %d exited with %d; starting another", child.pid, code)
            children[i] = subprocess.Popen(argv)
            restarts += 1
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return status


def serve(settings: Settings, host: str = HOST, port: int = 8000, workers: int = 1, reuse_port: bool = False) -> int:
    """uvicorn with uvloop + httptools (bounded: :mod:`laip.api.protocol`), no access log (every prediction is in the
    prediction log instead).
    Each worker process loads the champion and writes its own prediction-log part file. Several workers are
    separate processes on one SO_REUSEPORT port (:func:`supervise`) where the OS has it."""
    # One OpenMP thread per process, set before scikit-learn loads it: a request is far too small to parallelise
    # (threads only contend for the cores); throughput comes from uvicorn workers and batched scoring.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ["LAIP_HOME"] = str(settings.home)  # the factory (and every worker) resolves the same settings
    if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
        return supervise(host, port, workers)
    import uvicorn

    from laip.api.protocol import BoundedHttpToolsProtocol

    options: dict[str, Any] = dict(
        factory=True,
        host=host,
        port=port,
        loop="uvloop",
        http=BoundedHttpToolsProtocol,  # httptools, with deadlines for the request head and body, a cap on the head
        access_log=False,
        log_level="info",
        timeout_keep_alive=30,
    )
    if workers > 1:
        uvicorn.run(APP, workers=workers, **options)
        return 0
    config = uvicorn.Config(APP, **options)
    sockets = [bound_socket(host, port, reuse_port=True)] if reuse_port else None
    if sockets:
        logging.getLogger("uvicorn.error").info("Serving on http://%s:%d (shared port)", host, port)
    uvicorn.Server(config).run(sockets=sockets)
    return 0

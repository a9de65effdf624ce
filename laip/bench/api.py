"""Load benchmark of the prediction API (``make bench-api``): bounded, loopback only.

    python -m laip.bench.api [--home LAIP_HOME] [--workers 2] [--concurrency 8] [--seconds 10] [--rate 500]

Needs a LAIP_HOME with a champion and a serving snapshot (``laip run <data>``). Starts ``laip serve`` on a free
127.0.0.1 port with its own prediction log (a scratch home linking the MLflow store and the snapshot, so the
benchmark's requests never reach the real log), then prints:

* single-record ``POST /predict`` at a fixed offered rate (``--rate``, open loop): p50 / p95 / p99 latency
  measured from each request's due time, against the goal (p99 <= 15 ms at >= 500 req/s);
* single-record ``POST /predict`` with ``--concurrency`` keep-alive clients back to back (closed loop): the maximum
  throughput, where latency includes queueing behind the other clients (a minimal asyncio HTTP/1.1 client, so
  the load generator costs little CPU next to the server);
* the whole day-30 population scored through ``POST /predict/batch`` in chunks of ``api.max_batch_records``;
* the same population scored in-process (``Champion.predict``: the API's scoring code without HTTP).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy / scikit-learn load OpenMP (as `laip serve` does)

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import duckdb
import numpy as np

from laip.bench.http_load import closed_loop, http_request, open_loop, sequential
from laip.config import Settings, load_settings
from laip.services.net import free_port

GOAL_P99_MS, GOAL_RPS = 15.0, 500  # the latency goal: single-record /predict on 2 cores


def population(settings: Settings, features: list[str]) -> list[dict]:
    """Every day-30 record of the serving snapshot as a request body (``student_module_id`` + the served features)."""
    from laip.ml.config import load_ml_config

    config = load_ml_config(settings)
    with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
        df = con.execute(config.mart_query(", ".join(["student_module_id", *features]))).df()
    return json.loads(df.to_json(orient="records"))


def scratch_home(settings: Settings) -> Path:
    """A temporary LAIP_HOME sharing the champion's MLflow store and the snapshot, with its own prediction log."""
    home = Path(tempfile.mkdtemp(prefix="laip-api-bench-"))
    (home / "mlflow").symlink_to(settings.mlflow_dir.resolve())
    (home / "serving").symlink_to(settings.serving_warehouse.parent.resolve())
    if (settings.home / "secrets").is_dir():  # the key that signed the champion, and the API token
        (home / "secrets").symlink_to((settings.home / "secrets").resolve())
    return home


def start_server(home: Path, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "LAIP_HOME": str(home), "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "laip", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=(home / "serve.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                # every worker up (each loads the champion), else the clients' connections all go to the first
                if (
                    resp.status == 200
                    and (home / "serve.log").read_text().count("Application startup complete") >= workers
                ):
                    return proc
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    stop_server(proc)
    raise RuntimeError(f"the API did not start: {(home / 'serve.log').read_text()[-3000:]}")


def stop_server(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run(settings: Settings, workers: int, concurrency: int, seconds: float, rate: float) -> dict:
    import uvloop

    from laip.api.schemas import api_limits

    home = scratch_home(settings)
    port = free_port()
    proc = start_server(home, port, workers)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/model", timeout=30) as resp:
            features = json.loads(resp.read())["features"]
        records = population(settings, features)
        single = [http_request("/predict", json.dumps(r).encode()) for r in records]
        chunk = api_limits(settings).max_batch_records
        batches = [
            http_request("/predict/batch", json.dumps({"records": records[i : i + chunk]}).encode())
            for i in range(0, len(records), chunk)
        ]
        lat, errors, secs = uvloop.run(closed_loop(port, single, concurrency, warmup_s=2.0, seconds=seconds))
        paced, paced_errors, paced_secs = uvloop.run(open_loop(port, single, rate, warmup_s=2.0, seconds=seconds))
        batch_s = uvloop.run(sequential(port, batches))
    finally:
        stop_server(proc)
        per_worker = sorted(
            (sum(1 for _ in p.open("rb")) for p in (home / "predictions").glob("date=*/part-*.jsonl")), reverse=True
        )
        shutil.rmtree(home, ignore_errors=True)
    inproc_s = in_process(settings, records, chunk)
    return {
        "records": len(records),
        "workers": workers,
        "concurrency": concurrency,
        "seconds": secs,
        "requests": len(lat),
        "errors": errors,
        "rps": len(lat) / secs,
        "p50_ms": float(np.percentile(lat, 50)),
        "p95_ms": float(np.percentile(lat, 95)),
        "p99_ms": float(np.percentile(lat, 99)),
        "max_ms": float(lat.max()),
        "rate": rate,
        "paced_requests": len(paced),
        "paced_errors": paced_errors,
        "paced_rps": len(paced) / paced_secs,
        "paced_p50_ms": float(np.percentile(paced, 50)),
        "paced_p95_ms": float(np.percentile(paced, 95)),
        "paced_p99_ms": float(np.percentile(paced, 99)),
        "paced_max_ms": float(paced.max()),
        "batch_chunk": chunk,
        "batch_http_s": batch_s,
        "in_process_s": inproc_s,
        "log_lines": sum(per_worker),
        "per_worker": per_worker,
    }


def in_process(settings: Settings, records: list[dict], chunk: int) -> float:
    """The population scored with the API's scoring code, without HTTP (same chunking)."""
    from laip.api import champion

    ch = champion.load(settings)
    rows = [{k: v for k, v in r.items() if k != "student_module_id"} for r in records]
    start = time.perf_counter()
    for i in range(0, len(rows), chunk):
        ch.predict(rows[i : i + chunk])
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", help="LAIP_HOME with a champion (default: LAIP_HOME / laip.yaml)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=500.0, help="offered load of the open-loop phase (req/s)")
    args = parser.parse_args(argv)
    settings = load_settings(home=args.home) if args.home else load_settings()
    if not settings.serving_warehouse.is_file():
        print(f"No serving snapshot in {settings.home}; run `laip run <data>` first.", file=sys.stderr)
        return 1
    r = run(settings, args.workers, args.concurrency, args.seconds, args.rate)
    print(
        f"Prediction API on 127.0.0.1, {r['workers']} worker processes, {os.cpu_count()} CPUs "
        f"(day-30 population: {r['records']:,} records)"
    )
    met = r["paced_p99_ms"] <= GOAL_P99_MS and r["paced_rps"] >= GOAL_RPS * 0.99 and r["paced_errors"] == 0
    verdict = "not tested, offered rate below it" if r["rate"] < GOAL_RPS else "met" if met else "MISSED"
    print(
        f"  POST /predict, open loop at {r['rate']:,.0f} req/s offered, {r['seconds']:.0f} s: "
        f"{r['paced_requests']:,} requests, {r['paced_rps']:,.0f} req/s served, errors {r['paced_errors']}"
    )
    print(
        f"    latency from the due time p50 {r['paced_p50_ms']:.1f} ms, p95 {r['paced_p95_ms']:.1f} ms, "
        f"p99 {r['paced_p99_ms']:.1f} ms, max {r['paced_max_ms']:.1f} ms   "
        f"(goal p99 <= {GOAL_P99_MS:g} ms at >= {GOAL_RPS} req/s: {verdict})"
    )
    print(
        f"  POST /predict, {r['concurrency']} keep-alive clients back to back (closed loop), {r['seconds']:.0f} s: "
        f"{r['requests']:,} requests, {r['rps']:,.0f} req/s, errors {r['errors']}"
    )
    print(
        f"    latency p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
        f"max {r['max_ms']:.1f} ms (includes queueing behind the other clients)"
    )
    print(
        f"  whole population via POST /predict/batch ({r['batch_chunk']} records per request): "
        f"{r['batch_http_s']:.2f} s ({r['records'] / r['batch_http_s']:,.0f} records/s)"
    )
    print(
        f"  whole population in-process (Champion.predict, same chunks): {r['in_process_s']:.2f} s "
        f"({r['records'] / r['in_process_s']:,.0f} records/s)"
    )
    print(
        f"  prediction log lines written and fsync'ed during the run: {r['log_lines']:,} "
        f"(per worker: {' / '.join(f'{n:,}' for n in r['per_worker'])})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

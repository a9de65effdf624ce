"""Superset speed figures (a benchmark, not a test): per-chart query time and dashboard load time.

    .venv/bin/python -m laip.bench.superset [DATA_DIR] [--home DIR] [--runs N] [--browser-runs N]
    make bench-superset                       (DATA_DIR = BENCH_DATA, default the full OULAD beside the repo)

Builds the warehouse with `laip run DATA_DIR` (quick ML profile unless LAIP_ML_PROFILE is set) into --home
(default .laip/bench-superset) unless that home already has a serving snapshot, provisions Superset there,
starts it on a free loopback port, then
  * for every chart of the dashboard: N timed chart-data API calls (force=true: no cache) -> median, p95;
  * in headless Chromium: time from navigation to "every chart of the first tab rendered" -> runs, median.
Runs in the main environment (it drives Superset in .venv-superset through laip.services.superset).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

from laip.config import REPO_ROOT, load_settings
from laip.services.net import free_port
from laip.services.superset import (
    SUPERSET_DIR,
    health_url,
    prepare,
    server_command,
    venv_python,
    wait_healthy,
)
from laip.services.superset_api import SupersetAPI


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", nargs="?", default=str(REPO_ROOT.parent / "shared" / "data" / "oulad"))
    parser.add_argument("--home", default=str(REPO_ROOT / ".laip" / "bench-superset"))
    parser.add_argument("--runs", type=int, default=10, help="chart-data calls per chart")
    parser.add_argument("--browser-runs", type=int, default=5)
    args = parser.parse_args(argv)

    settings = load_settings(home=args.home)
    if not settings.serving_warehouse.is_file():
        print(f"building the warehouse from {args.data_dir} into {settings.home} (laip run) ...", flush=True)
        # the quick ML profile: the serving tables have the same shape and size, training takes minutes less
        env = {"LAIP_ML_PROFILE": "quick", **os.environ, "LAIP_HOME": str(settings.home)}
        subprocess.run([sys.executable, "-m", "laip", "run", args.data_dir], env=env, check=True)
    size_mb = settings.serving_warehouse.stat().st_size / 1e6
    info = prepare(settings)
    port = free_port()
    argv_, env = server_command(settings, port=port)
    log = (settings.home / "superset-bench-server.log").open("w")
    proc = subprocess.Popen(argv_, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(health_url("127.0.0.1", port), timeout=180, proc=proc)
        api = SupersetAPI(url, info["username"], info["password"])
        status, body = api.get("/api/v1/dashboard/learning-analytics/charts")
        charts = sorted((c["id"], c["slice_name"]) for c in body["result"])
        print(
            f"\nSnapshot {settings.serving_warehouse} ({size_mb:.0f} MB); {len(charts)} charts; "
            f"{args.runs} chart-data calls each (force=true, no cache), 2 gunicorn workers\n"
        )
        print(f"{'chart':<78} {'median ms':>9} {'p95 ms':>8} {'rows':>6}")
        all_times: list[float] = []
        for chart_id, name in charts:
            api.get(f"/api/v1/chart/{chart_id}/data/?force=true")  # warm-up (imports, first connection)
            times, rows = [], 0
            for _ in range(args.runs):
                start = time.perf_counter()
                status, body = api.get(f"/api/v1/chart/{chart_id}/data/?force=true")
                times.append((time.perf_counter() - start) * 1000)
                if status != 200:
                    raise SystemExit(f"chart {name}: {status} {str(body)[:300]}")
                rows = sum(len(r["data"]) for r in body["result"])
            all_times += times
            print(f"{name[:78]:<78} {statistics.median(times):9.0f} {_p95(times):8.0f} {rows:6d}")
        print(f"{'all charts':<78} {statistics.median(all_times):9.0f} {_p95(all_times):8.0f}")

        browser_env = {**os.environ, "SUPERSET_USER": info["username"], "SUPERSET_PASSWORD": info["password"]}
        out = subprocess.run(
            [
                str(venv_python()),
                str(SUPERSET_DIR / "browser.py"),
                "load-time",
                "--url",
                url,
                "--runs",
                str(args.browser_runs),
            ],
            env=browser_env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if out.returncode:
            raise SystemExit(f"browser: {out.stderr[-2000:]}")
        load = json.loads(out.stdout)
        print(
            f"\nDashboard load in headless Chromium (navigation -> every chart of the Overview tab rendered, "
            f"logged in, {args.browser_runs} runs): median {load['median_s']:.2f} s, max {load['max_s']:.2f} s, "
            f"runs {load['runs_s']}"
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: the same load + dbt build on DuckDB and on Spark ``local[2]``, side by side; prints, asserts nothing.

    python -m laip.bench.engines DATA_DIR [DATA_DIR ...] [--engines duckdb,spark]     (make bench-engines)

For each data directory and engine, in a fresh LAIP_HOME: ``laip load DIR`` (validation, then the engine's raw load)
and ``laip build`` (``dbt build``: every model and test), each its own process, timed from outside (what ops wait for),
with the peak memory of its whole process tree (dbt, and on Spark its JVM) sampled every 0.1 s. Use
``../shared/tools/make_scale_dataset.py OUT [--copies K]`` for full-size inputs (synthetic clicks: speed figures
only). docs/scaling.md has the figures and what they mean.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from laip.config import WAREHOUSE_ENGINES


def tree_rss(root: psutil.Process) -> int:
    """Resident bytes of ``root`` and every process under it now."""
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak MiB of the process tree) of one ``laip`` sub-command; exits on failure."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "laip", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    root, peak, done = psutil.Process(proc.pid), 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.1):
            peak = max(peak, tree_rss(root))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = proc.communicate()
    done.set()
    sampler.join()
    elapsed = time.perf_counter() - start
    if proc.returncode:
        sys.stderr.write(stderr.decode(errors="replace")[-3000:])
        raise SystemExit(f"laip {' '.join(args)} failed (exit {proc.returncode})")
    return elapsed, peak / 2**20


def bench(data_dir: Path, engine: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"laip-bench-{engine}-") as tmp:
        env = {**os.environ, "LAIP_HOME": str(Path(tmp) / "home"), "LAIP_WAREHOUSE_ENGINE": engine}
        load_s, load_mib = run_measured(["load", str(data_dir)], env)
        build_s, build_mib = run_measured(["build"], env)
    return {"load s": load_s, "load peak MiB": load_mib, "dbt build s": build_s, "dbt build peak MiB": build_mib}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dirs", nargs="+", type=Path)
    parser.add_argument("--engines", default=",".join(WAREHOUSE_ENGINES))
    args = parser.parse_args(argv)
    engines = args.engines.split(",")
    for data_dir in args.data_dirs:
        figures = {engine: bench(data_dir.resolve(), engine) for engine in engines}
        print(f"\n{data_dir}")
        print(f"{'figure':<22}" + "".join(f"{e:>12}" for e in engines))
        for name in next(iter(figures.values())):
            print(f"{name:<22}" + "".join(f"{figures[e][name]:>12.1f}" for e in engines))
        if "duckdb" in figures and "spark" in figures:
            ratio = figures["spark"]["dbt build s"] / figures["duckdb"]["dbt build s"]
            print(f"{'dbt build spark/duckdb':<22}{ratio:>24.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

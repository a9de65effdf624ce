"""Benchmark: validate, load and dbt build on the data directories given; prints figures, asserts nothing.

    python -m laip.bench.pipeline DATA_DIR [DATA_DIR ...]      (make bench BENCH_DATA=dir)
    python -m laip.bench.pipeline --pipeline DATA_DIR          whole pipeline: Airflow DAG vs direct, same run

Each step runs as its own ``laip`` process in a fresh temporary LAIP_HOME, so its wall time includes what a
user waits for, and its peak memory (max RSS) is that process's own. ``laip load`` validates while it loads (each
file is read once), so its time is validate + load. In the same run, a bare DuckDB ``read_csv`` of the same seven
files into a new database file (the faster of one run before and one after the steps) gives the reference for
the ratio ``validate+load / bare`` (goal: at most 1.5).
Use ``../shared/tools/make_scale_dataset.py OUT [--copies K]`` for full-size inputs (synthetic clicks:
speed figures only).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from laip.ingest.acquire import find_file
from laip.ingest.schema import TABLES

#: ``laip load`` validates in the same pass (each file read once): its time is validate + load.
STEPS = (("validate only", ["validate"]), ("validate+load", ["load"]), ("dbt build", ["build"]))


def run_step(args: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit code) of one ``laip`` sub-command in its own process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "laip", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.stderr.write(proc.stderr.read().decode(errors="replace")[-3000:] if proc.stderr else "")
    return elapsed, usage.ru_maxrss / 1024, proc.returncode


def bare_duckdb_load(data_dir: Path, db_path: Path) -> float:
    """Seconds for DuckDB alone to read the seven files (auto-detected) into a new database file."""
    start = time.perf_counter()
    with duckdb.connect(str(db_path)) as con:
        for spec in TABLES:
            con.execute(
                f"create table {spec.table} as select * from read_csv(?)", [str(find_file(data_dir, spec.file_stem))]
            )
        con.execute("checkpoint")
    return time.perf_counter() - start


def bench(data_dir: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="laip-bench-") as tmp:
        env = {**os.environ, "LAIP_HOME": str(Path(tmp) / "home")}
        figures: dict[str, float] = {}
        bare = bare_duckdb_load(data_dir, Path(tmp) / "bare.duckdb")
        for name, args in STEPS:
            extra = [str(data_dir)] if name != "dbt build" else []
            seconds, rss, code = run_step([*args, *extra], env)
            if code:
                raise SystemExit(f"{name} failed on {data_dir} (exit {code})")
            figures[f"{name} s"] = seconds
            figures[f"{name} peak MiB"] = rss
        bare_again = bare_duckdb_load(data_dir, Path(tmp) / "bare2.duckdb")
        with duckdb.connect(str(Path(tmp) / "home" / "warehouse" / "laip.duckdb"), read_only=True) as con:
            figures["click rows"] = con.execute("select count(*) from raw.student_vle").fetchall()[0][0]
    figures["bare read_csv s"] = min(bare, bare_again)
    figures["validate+load / bare"] = figures["validate+load s"] / figures["bare read_csv s"]  # goal: <= 1.5
    figures["validate+load+build s"] = figures["validate+load s"] + figures["dbt build s"]
    return figures


def bench_pipeline(data_dir: Path) -> dict[str, float]:
    """Whole pipeline through the Airflow DAG (``laip dag``) vs the same steps directly (``laip run``), same run."""
    from laip.config import load_settings
    from laip.orchestration.dag_inspect import describe

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="laip-bench-") as tmp:
        for name, args in (("direct", ["run", str(data_dir)]), ("airflow dag", ["dag", str(data_dir)])):
            env = {**os.environ, "LAIP_HOME": str(Path(tmp) / name.replace(" ", "_"))}
            if name == "airflow dag":  # one-time set-up (metadata DB, pool, manifest) is not part of a run
                subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        "from laip.orchestration.airflow_run import init_airflow; "
                        "from laip.config import load_settings; init_airflow(load_settings())",
                    ],
                    env=env,
                    check=True,
                    capture_output=True,
                )
            seconds, _rss, code = run_step(args, env)
            if code:
                raise SystemExit(f"{name} failed on {data_dir} (exit {code})")
            figures[f"{name} s"] = seconds
        described = describe(load_settings(home=Path(tmp) / "airflow_dag"))
        figures["DAG parse s"] = described["parse_s"]
        figures["DAG tasks"] = len(described["dags"]["laip_pipeline"]["tasks"])
    figures["airflow / direct"] = figures["airflow dag s"] / figures["direct s"]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dirs", nargs="+", type=Path)
    parser.add_argument(
        "--pipeline",
        action="store_true",
        help="time the whole pipeline through the Airflow DAG vs directly (overhead ratio)",
    )
    args = parser.parse_args(argv)
    if args.pipeline:
        for d in args.data_dirs:
            print(f"{d}:")
            for name, seconds in bench_pipeline(d).items():
                print(f"  {name:<20} {seconds:10.2f}")
        return 0
    results = {d: bench(d) for d in args.data_dirs}
    keys = list(next(iter(results.values())))
    width = max(len(str(d)) for d in results) + 2
    print(f"{'figure':<26}" + "".join(f"{d!s:>{width}}" for d in results))
    for k in keys:
        cells = "".join(
            f"{v[k]:>{width},.0f}" if k == "click rows" else f"{v[k]:>{width}.2f}" for v in results.values()
        )
        print(f"{k:<26}{cells}")
    if len(results) > 1:
        first = next(iter(results.values()))
        for d, v in list(results.items())[1:]:
            size = v["click rows"] / first["click rows"]
            cost = v["validate+load+build s"] / first["validate+load+build s"]
            print(f"growth {d}: {size:.2f}x click rows -> {cost:.2f}x validate+load+build time")
    return 0


if __name__ == "__main__":
    sys.exit(main())

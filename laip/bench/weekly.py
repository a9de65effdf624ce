"""Benchmark: one week's incremental load + dbt build against a full build of the same date; prints figures, asserts
nothing.

    python -m laip.bench.weekly DATA_DIR --as-of 2014-11-03 [--every 7] [--repeat 3]     (make bench-weekly)

From the finished history DATA_DIR it replays (not timed) the export as of D - every days (last week's), the export
as of D, and the export as of D with a delta click log (only the clicks after last week's date, ``laip replay
--clicks-since``), and loads and builds last week's. Then, per repeat, in the same run and alternating, each arm from
that same state (restored in the same place before each, so dbt's partial parsing serves all alike):

* full: ``laip load --as-of D`` of the complete export + ``laip build --full-refresh`` (every model from scratch);
* weekly: ``laip load --as-of D`` of the delta export (the week's clicks appended in place) + ``laip build``, as the
  scheduled run for D does it (the incremental facts rebuild only the partitions the week changed);
* weekly, complete export: the same build after a load of the complete export (a feed without increments).

Every build is a scheduled run's: without dbt's unit tests (``--skip-unit-tests``; laip.yaml ``live_term``), every
data test. Each command is its own ``laip`` process, timed from outside (what ops wait for). It prints the medians,
the ratio weekly / full (goal: at most 0.25, the live-term issue), and dbt's slowest nodes of the last weekly build.
After each weekly arm it also times ``laip build --select {FLOOR_MODEL}`` (one view and its tests): dbt's fixed cost
per process (start, parse, graph), which with the load bounds the ratio from below however little a week rebuilds.
Once, it also times ``laip build`` of the whole project on the committed sample (1.8 MB): what the project's dbt
nodes cost with next to no data, the floor of a build that runs every model and test whatever its size; and, per
repeat, a Python process that only imports dbt (``import dbt.cli.main``), the part of that floor no project change
can lower (every ``dbt`` process, the CLI's or a Cosmos task's, pays it before it reads the project). Use
``../shared/tools/make_scale_dataset.py OUT`` for a full-size input (synthetic clicks: speed figures only).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from laip.bench.pipeline import run_step
from laip.config import load_settings
from laip.ingest.replay import replay

FLOOR_MODEL = "stg_oulad__courses"
DBT_IMPORT = "import dbt.cli.main"  # what every dbt process runs first (the CLI's, dbtRunner's, a Cosmos task's)
SCHEDULED = ("--skip-unit-tests",)  # a scheduled run's build (laip.warehouse.build.NO_UNIT_TESTS)
#: (arm, export, build arguments) in the order each repeat runs them.
ARMS = (
    ("full", "complete", ("--full-refresh", *SCHEDULED)),
    ("weekly", "delta", SCHEDULED),
    ("weekly, complete export", "complete", SCHEDULED),
)


def _load_and_build(home: Path, export: Path, as_of: date, *build_args: str) -> tuple[float, float]:
    """Seconds of ``laip load --as-of`` and of ``laip build BUILD_ARGS`` in ``home``."""
    env = {k: v for k, v in os.environ.items() if k != "LAIP_DATA_DIR"} | {"LAIP_HOME": str(home)}
    seconds = []
    for args in (["load", "--as-of", as_of.isoformat(), str(export)], ["build", *build_args]):
        elapsed, _rss, code = run_step(args, env)
        if code:
            raise SystemExit(f"laip {' '.join(args)} failed in {home} (exit {code})")
        seconds.append(elapsed)
    return seconds[0], seconds[1]


def _floor(home: Path) -> float:
    """Seconds of a one-model ``laip build`` in ``home``: what any dbt build costs however little it runs."""
    env = {k: v for k, v in os.environ.items() if k != "LAIP_DATA_DIR"} | {"LAIP_HOME": str(home)}
    elapsed, _rss, code = run_step(["build", "--select", FLOOR_MODEL, *SCHEDULED], env)
    if code:
        raise SystemExit(f"laip build --select {FLOOR_MODEL} failed in {home} (exit {code})")
    return elapsed


def _dbt_import() -> float:
    """Seconds of a Python process that imports dbt's CLI and nothing else (the interpreter's start included)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", DBT_IMPORT], check=True)
    return time.perf_counter() - start


def _every_node_floor(root: Path) -> float:
    """Seconds of ``laip build`` (every model and test of the project) on the committed sample, in a home of its own;
    the second of two builds, so that dbt's partial parsing serves it as it serves the weekly build."""
    home = root / "sample_home"
    env = {k: v for k, v in os.environ.items() if k != "LAIP_DATA_DIR"} | {"LAIP_HOME": str(home)}
    sample = load_settings(home=home).sample_dir
    for args in (["load", str(sample)], ["build", *SCHEDULED], ["build", *SCHEDULED]):
        elapsed, _rss, code = run_step(args, env)
        if code:
            raise SystemExit(f"laip {' '.join(args)} failed in {home} (exit {code})")
    return elapsed


def slowest_nodes(home: Path, n: int = 8) -> list[tuple[str, float]]:
    """dbt's ``n`` slowest nodes of the last build in ``home`` (seconds of each)."""
    results = json.loads((load_settings(home=home).dbt_target_dir / "run_results.json").read_text())["results"]
    timed = sorted(((r["unique_id"], r["execution_time"]) for r in results), key=lambda r: -r[1])
    return timed[:n]


def bench(
    data_dir: Path, as_of: date, every: int, repeat: int
) -> tuple[dict[str, list[tuple[float, float]]], list[tuple[str, float]]]:
    """({arm: [(load s, build s) per repeat]}, the slowest dbt nodes of the last weekly build)."""
    with tempfile.TemporaryDirectory(prefix="laip-bench-weekly-") as tmp:
        root = Path(tmp)
        start_day = load_settings(home=root / "settings").presentation_start_day
        previous = as_of - timedelta(days=every)
        exports = {
            "previous": replay(data_dir, root / "exports" / previous.isoformat(), previous, start_day).dest,
            "complete": replay(data_dir, root / "exports" / as_of.isoformat(), as_of, start_day).dest,
            "delta": replay(data_dir, root / "exports" / f"{as_of}-delta", as_of, start_day, previous).dest,
        }
        home, last_week = root / "home", root / "last_week"
        _load_and_build(home, exports["previous"], previous, *SCHEDULED)
        shutil.copytree(home, last_week, symlinks=True)
        runs: dict[str, list[tuple[float, float]]] = {a: [] for a in [*(a for a, _, _ in ARMS), "floor", "dbt import"]}
        nodes: list[tuple[str, float]] = []
        for i in range(repeat):
            for arm, export, build_args in ARMS:
                shutil.rmtree(home)
                shutil.copytree(last_week, home, symlinks=True)
                runs[arm].append(_load_and_build(home, exports[export], as_of, *build_args))
                if arm == "weekly":
                    nodes = slowest_nodes(home)  # of this weekly build, before another build replaces its results
                    runs["floor"].append((runs["weekly"][-1][0], _floor(home)))  # the weekly load + dbt's fixed cost
                    runs["dbt import"].append((0.0, _dbt_import()))  # the start of any dbt process, nothing else
            print(
                f"  repeat {i + 1}: "
                + ", ".join("{} {:.1f} + {:.1f} s".format(arm, *runs[arm][-1]) for arm, _, _ in ARMS)
                + " (load + build)",
                flush=True,
            )
        every_node = _every_node_floor(root)
        runs["every node"] = [(load_s, every_node) for load_s, _ in runs["floor"]]  # the weekly load + that build
    return runs, nodes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path, help="a finished history (e.g. make_scale_dataset.py's output)")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2014, 11, 3), help="the week's date D")
    parser.add_argument("--every", type=int, default=7, help="days since last week's run")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{args.data_dir}: the run for {args.as_of} after the run for {args.as_of - timedelta(days=args.every)}")
    runs, slowest = bench(args.data_dir, args.as_of, args.every, args.repeat)
    for arm, pairs in runs.items():
        load_s, build_s = (statistics.median(x) for x in zip(*pairs, strict=True))
        total = statistics.median(a + b for a, b in pairs)
        if arm == "dbt import":
            label = f"python -c '{DBT_IMPORT}'"
            print(f"  {arm:<24} {label:<43}{total:6.1f} s (median)")
            continue
        print(f"  {arm:<24} load {load_s:6.1f} s + build {build_s:6.1f} s; load+build {total:6.1f} s (medians)")
    for arm, goal in (
        ("weekly", "goal: at most 0.25"),
        ("weekly, complete export", "a feed that exports every click each week"),
        ("floor", f"the load + a build of {FLOOR_MODEL} only"),
        ("every node", "the load + the whole project built on the committed sample"),
        ("dbt import", "a process that only imports dbt: no dbt build costs less"),
    ):
        ratios = [sum(a) / sum(f) for a, f in zip(runs[arm], runs["full"], strict=True)]
        pairs_text = ", ".join(f"{x:.2f}" for x in ratios)
        print(f"  {arm} / full: median ratio {statistics.median(ratios):.2f} (pairs: {pairs_text}; {goal})")
    print("  slowest dbt nodes of the last weekly build:")
    for node, seconds in slowest:
        print(f"    {seconds:6.1f} s  {node}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: one week's incremental load + dbt build against a full build of the same export; prints figures, asserts
nothing.

    python -m laip.bench.weekly DATA_DIR --as-of 2014-11-03 [--every 7] [--repeat 3]     (make bench-weekly)

From the finished history DATA_DIR it replays two exports (not timed): as of D - every days (last week's) and as of
D, and loads and builds last week's. Then, per repeat, in the same run and alternating, both from that same state
(restored in the same place before each, so dbt's partial parsing serves both alike):

* full: ``laip load --as-of D`` + ``laip build --full-refresh`` (every model from scratch);
* weekly: ``laip load --as-of D`` + ``laip build``, as the scheduled run for D does it (the incremental facts
  rebuild only the partitions the week changed).

Each command is its own ``laip`` process, timed from outside (what ops wait for). It prints the medians, the ratio
weekly / full (goal: at most 0.25, the live-term issue), and dbt's slowest nodes of the last weekly build. After
each weekly arm it also times ``laip build --select {FLOOR_MODEL}`` (one view and its tests): dbt's fixed cost per
process (start, parse, graph), which with the load bounds the ratio from below however little a week rebuilds. Once,
it also times ``laip build`` of the whole project on the committed sample (1.8 MB): what the project's dbt nodes
cost with next to no data, the floor of a build that runs every model and test whatever its size. Use
``../shared/tools/make_scale_dataset.py OUT`` for a full-size input (synthetic clicks: speed figures only).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

from laip.bench.pipeline import run_step
from laip.config import load_settings
from laip.ingest.replay import replay

FLOOR_MODEL = "stg_oulad__courses"


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
    elapsed, _rss, code = run_step(["build", "--select", FLOOR_MODEL], env)
    if code:
        raise SystemExit(f"laip build --select {FLOOR_MODEL} failed in {home} (exit {code})")
    return elapsed


def _every_node_floor(root: Path) -> float:
    """Seconds of ``laip build`` (every model and test of the project) on the committed sample, in a home of its own;
    the second of two builds, so that dbt's partial parsing serves it as it serves the weekly build."""
    home = root / "sample_home"
    env = {k: v for k, v in os.environ.items() if k != "LAIP_DATA_DIR"} | {"LAIP_HOME": str(home)}
    sample = load_settings(home=home).sample_dir
    for args in (["load", str(sample)], ["build"], ["build"]):
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
        exports = {d: root / "exports" / d.isoformat() for d in (previous, as_of)}
        for d, path in exports.items():
            replay(data_dir, path, d, start_day)
        home, last_week = root / "home", root / "last_week"
        _load_and_build(home, exports[previous], previous)
        shutil.copytree(home, last_week, symlinks=True)
        runs: dict[str, list[tuple[float, float]]] = {"full": [], "weekly": [], "floor": []}
        nodes: list[tuple[str, float]] = []
        for i in range(repeat):
            for arm, build_args in (("full", ("--full-refresh",)), ("weekly", ())):
                shutil.rmtree(home)
                shutil.copytree(last_week, home, symlinks=True)
                runs[arm].append(_load_and_build(home, exports[as_of], as_of, *build_args))
            nodes = slowest_nodes(home)  # of this weekly build, before the floor's build replaces its results
            runs["floor"].append((runs["weekly"][-1][0], _floor(home)))  # the weekly load + dbt's fixed cost
            print(
                "  repeat {}: full {:.1f} + {:.1f} s, weekly {:.1f} + {:.1f} s (load + build)".format(
                    i + 1, *runs["full"][-1], *runs["weekly"][-1]
                ),
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
        print(f"  {arm:<10} load {load_s:6.1f} s + build {build_s:6.1f} s; load+build {total:6.1f} s (medians)")
    for arm, goal in (
        ("weekly", "goal: at most 0.25"),
        ("floor", f"the load + a build of {FLOOR_MODEL} only"),
        ("every node", "the load + the whole project built on the committed sample"),
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

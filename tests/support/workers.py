"""The integration tier on two pytest-xdist workers (``make test``: ``-n 2 --dist loadgroup``).

* **Groups.** Every module runs whole on one worker, in its own order (module fixtures are built once, tests that
  build on the previous one still do). Modules that share an expensive session fixture (``SHARED_BUILDS``) form
  one group, so the fixture is built once, not once per worker. The PostgreSQL/Redis pair of ``production`` is
  cheap and may start on both workers.
* **Order.** Groups go out heaviest first (``EXPECTED_SECONDS``, from CI's ``--durations`` profile; a stale figure
  costs balance, never correctness), so the long ones do not end up last on one worker.
* **Isolation.** Each worker but the first gets its own fixed ports (the platform's services, Airflow's log
  servers and scheduler health check: ``worker_environment``) and its own Cosmos cache; everything else a test
  writes is already under its own temporary LAIP_HOME.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

SHARED_BUILDS = ("built_sample", "service_sample", "live_term")

# seconds per group on CI (setup + calls), rounded; groups not listed count as one minute
EXPECTED_SECONDS = {
    "service_sample": 1650,  # with live_term: test_superset uses both
    "built_sample": 1200,
    "test_production_profile": 1000,
    "test_weekly_dag": 800,
    "test_dag_run": 500,
    "test_incremental_facts": 180,
}

# the services' default ports (laip.services.stack.PORTS) and Airflow's own fixed ones, moved by WORKER_STRIDE
AIRFLOW_PORTS = {
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": 8793,
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": 8794,
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": 8974,
}
WORKER_STRIDE = 100  # below the ephemeral range, so never a port free_port() hands out


def worker_index() -> int | None:
    """0, 1, ... on an xdist worker (``PYTEST_XDIST_WORKER=gw<n>``); None in a plain run."""
    name = os.environ.get("PYTEST_XDIST_WORKER")
    return int(name.removeprefix("gw")) if name else None


def worker_environment(index: int) -> dict[str, str]:
    """What worker ``index`` sets in its environment (every process it starts inherits it)."""
    from laip.services.stack import PORTS

    env = {"AIRFLOW__COSMOS__CACHE_DIR": str(Path(tempfile.gettempdir()) / f"cosmos-gw{index}")}
    if index:
        shift = WORKER_STRIDE * index
        env |= {f"LAIP_{name.upper()}_PORT": str(p + shift) for name, p in PORTS.items()}
        env |= {name: str(p + shift) for name, p in AIRFLOW_PORTS.items()}
    return env


def group_modules(items: list[pytest.Item]) -> dict[str, str]:
    """Module path -> group: modules linked by a shared build are one group, named after the first build it uses;
    any other module is a group of its own, named after the module."""
    uses: dict[str, set[str]] = {}
    for item in items:
        uses.setdefault(str(item.path), set()).update(f for f in SHARED_BUILDS if f in item.fixturenames)
    parent = {m: m for m in uses}

    def root(m: str) -> str:
        while parent[m] != m:
            m = parent[m]
        return m

    for build in SHARED_BUILDS:
        members = [m for m, used in uses.items() if build in used]
        for m in members[1:]:
            parent[root(m)] = root(members[0])
    builds: dict[str, list[str]] = {}
    for m, used in uses.items():
        builds.setdefault(root(m), []).extend(used)
    names = {r: next((b for b in SHARED_BUILDS if b in found), Path(r).stem) for r, found in builds.items()}
    return {m: names[root(m)] for m in uses}


def distribute(items: list[pytest.Item]) -> None:
    """Mark each item with its module's group and order the groups heaviest first (modules keep their order)."""
    groups = group_modules(items)
    for item in items:
        item.add_marker(pytest.mark.xdist_group(groups[str(item.path)]))
    order = sorted(dict.fromkeys(groups.values()), key=lambda g: -EXPECTED_SECONDS.get(g, 60))
    rank = {g: i for i, g in enumerate(order)}
    items.sort(key=lambda item: rank[groups[str(item.path)]])  # stable: collection order within a group

"""The integration tier on two pytest-xdist workers (``make test``: ``-n 2 --dist loadgroup``).

* **Groups.** Every module runs whole on one worker, in its own order (module fixtures are built once, tests that
  build on the previous one still do). Modules that share an expensive session fixture (``SHARED_BUILDS``) form
  one group, so the fixture is built once, not once per worker. The workers work the groups out as they collect
  (they see the fixtures) and hand them to the controller's :class:`GroupScheduling` in a file: pytest 9's node
  ids no longer take the ``@group`` suffix xdist's own ``loadgroup`` relies on. The PostgreSQL/Redis pair of
  ``production`` is cheap and may start on both workers; a long module can mark itself ``xdist_group(<name>)`` to
  run apart and build what it shares again (the Spark tier: ``built_sample``, about 90 s, beside its 10 minutes).
* **Order.** Groups go out heaviest first (``EXPECTED_SECONDS``, from CI's ``--durations`` profile; a stale figure
  costs balance, never correctness), so the long ones do not end up last on one worker.
* **Isolation.** Each worker but the first gets its own fixed ports (the platform's services, Airflow's log
  servers and scheduler health check: ``worker_environment``) and its own Cosmos cache; everything else a test
  writes is already under its own temporary LAIP_HOME.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

from laip.durable import atomic_write_text

SHARED_BUILDS = ("built_sample", "service_sample", "live_term")

# seconds per group on CI (setup + calls), rounded; groups not listed count as one minute
EXPECTED_SECONDS = {  # measured in the clean-clone CI run of 2026-12-04 (integration tier 49 min on two workers)
    "service_sample": 1400,  # with live_term: test_superset uses both
    "built_sample": 1100,
    "test_production_profile": 1100,
    "spark": 900,
    "test_weekly_dag": 600,
    "test_dag_run": 550,
    "test_incremental_facts": 190,
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


GROUPS_FILE = "laip_groups_file"  # the key in each worker's workerinput


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def group_modules(items: list[pytest.Item]) -> dict[str, str]:
    """Module (node id) -> group: modules linked by a shared build are one group, named after the first build it uses;
    any other module is a group of its own, named after the module."""
    uses: dict[str, set[str]] = {}
    own: dict[str, str] = {}  # a module's own ``xdist_group`` mark: its group, even if it shares a build
    for item in items:
        uses.setdefault(_module(item), set()).update(f for f in SHARED_BUILDS if f in item.fixturenames)
        if (mark := item.get_closest_marker("xdist_group")) is not None:
            own[_module(item)] = str(mark.args[0])
    for module in own:
        uses[module] = set()
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
    return {m: own.get(m) or names[root(m)] for m in uses}


def distribute(items: list[pytest.Item], groups_file: Path) -> None:
    """On a worker: order the groups heaviest first (modules keep their order) and write each module's group to
    ``groups_file`` for the controller's scheduler."""
    groups = group_modules(items)
    order = sorted(dict.fromkeys(groups.values()), key=lambda g: -EXPECTED_SECONDS.get(g, 60))
    rank = {g: i for i, g in enumerate(order)}
    items.sort(key=lambda item: rank[groups[_module(item)]])  # stable: collection order within a group
    atomic_write_text(groups_file, json.dumps(groups))  # both workers write the same mapping


class GroupScheduling(LoadScopeScheduling):
    """xdist's ``loadscope`` with the workers' groups as scopes: a group goes whole to one worker, the groups in
    the order the workers collected them (heaviest first, with ``--no-loadscope-reorder``)."""

    def __init__(self, config: pytest.Config, log: Any = None, groups_file: Path | None = None) -> None:
        super().__init__(config, log)
        self.groups_file = groups_file
        self._groups: dict[str, str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        if self._groups is None:  # read once, when the workers' collections are in (schedule time)
            path = self.groups_file
            self._groups = json.loads(path.read_text()) if path is not None and path.is_file() else {}
        module = nodeid.split("::", 1)[0]
        return self._groups.get(module, module)

"""A minimal client of Airflow 3's REST API: what the UI's Trigger and Backfill buttons call, and what ops see of a
run (its state, each task instance's state, queue and worker). For tests and scripts."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date
from typing import Any

from laip.orchestration.dag_config import DAG_ID


class AirflowApi:
    """Minimal client of Airflow 3's REST API (what the UI's "Trigger" button calls), for tests and scripts."""

    def __init__(self, base_url: str, username: str, password: str):
        self.base_url = base_url.rstrip("/")
        self.token = self._request("POST", "/auth/token", {"username": username, "password": password}, auth=False)[
            "access_token"
        ]

    def _request(self, method: str, path: str, body: dict | None = None, *, auth: bool = True) -> Any:
        req = urllib.request.Request(
            self.base_url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json"},
        )
        if auth:
            req.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def wait_for_dag(self, dag_id: str = DAG_ID, timeout_s: float = 180) -> dict:
        """Wait until the dag-processor has parsed ``dag_id``; unpause it."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                dag = self._request("GET", f"/api/v2/dags/{dag_id}")
                if dag.get("is_paused"):
                    self._request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
                return dag
            except urllib.error.HTTPError as exc:
                if exc.code != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(2)

    def trigger(self, conf: dict[str, Any] | None = None, dag_id: str = DAG_ID) -> str:
        run = self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def wait_for_run(self, run_id: str, dag_id: str = DAG_ID, timeout_s: float = 900) -> str:
        deadline = time.monotonic() + timeout_s
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
        while time.monotonic() < deadline:
            state = self._request("GET", path)["state"]
            if state in ("success", "failed"):
                return state
            time.sleep(3)
        raise TimeoutError(f"DAG run {run_id} not finished after {timeout_s:.0f} s")

    def backfill(
        self,
        dag_id: str,
        from_date: date,
        to_date: date,
        conf: dict[str, Any] | None = None,
        *,
        reprocess: str = "none",
        max_active_runs: int = 1,
    ) -> dict[str, Any]:
        """Create a backfill (what the UI's Backfill form and ``airflow backfill create`` do); ``reprocess``: none,
        failed or completed (which dates that already have a run to run again). Airflow answers 503 when its metadata
        database is busy (SQLite while the scheduler writes): tried again, up to 5 times."""
        body = {
            "dag_id": dag_id,
            "from_date": f"{from_date.isoformat()}T00:00:00Z",
            "to_date": f"{to_date.isoformat()}T23:59:59Z",
            "dag_run_conf": conf or {},
            "reprocess_behavior": reprocess,
            "max_active_runs": max_active_runs,
        }
        for _ in range(4):
            try:
                return self._request("POST", "/api/v2/backfills", body)
            except urllib.error.HTTPError as exc:
                if exc.code != 503:
                    raise
            time.sleep(3)
        return self._request("POST", "/api/v2/backfills", body)

    def dag_runs(self, dag_id: str = DAG_ID) -> list[dict[str, Any]]:
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100&order_by=logical_date")["dag_runs"]

    def task_instances(self, run_id: str, dag_id: str = DAG_ID) -> list[dict[str, Any]]:
        """The run's task instances as the API gives them (state, queue, hostname, try_number, pool, ...)."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances?limit=200"
        return self._request("GET", path)["task_instances"]

    def task_states(self, run_id: str, dag_id: str = DAG_ID) -> dict[str, str]:
        return {t["task_id"]: t["state"] for t in self.task_instances(run_id, dag_id)}

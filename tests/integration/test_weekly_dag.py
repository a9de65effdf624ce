"""The weekly DAG laip_weekly really runs a live term: `airflow dags test laip_weekly D` takes the export as of D
(replayed from the sample, demo mode) and publishes D's risk rows; a run without an export for its date fails at
prepare_export, publishes nothing and notifies the webhook (a receiver on loopback); ops backfill weeks through
`airflow backfill create` (dry run) and the REST API with the scheduler running, which reprocesses only the failed
week (keeping the champion: scoring runs after the skipped training) and leaves the earlier week's rows as they
were; unpausing it runs the latest week on schedule, whose failure (no export dropped for it) notifies too."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from datetime import date, timedelta

import duckdb
import pytest
from support.data import SAMPLE_DIR
from support.files import digest
from support.live_term import HISTORY, history_rows
from support.webhook import Receiver, webhook_receiver

from laip.config import Settings, load_settings
from laip.orchestration.airflow_api import AirflowApi
from laip.orchestration.airflow_run import admin_credentials, airflow_env, run_dag, venv_bin
from laip.orchestration.alerts import WEBHOOK_ENV
from laip.orchestration.dag_config import WEEKLY_DAG_ID
from laip.orchestration.dag_runs import DagRunResult
from laip.services import stack as services

WEEK1, WEEK2 = date(2014, 11, 3), date(2014, 11, 10)  # Mondays: 2014J on course days 33 and 40
DEMO = {"replay_from": str(SAMPLE_DIR), "models": ["lr"]}


@pytest.fixture(scope="module")
def alerts() -> Iterator[Receiver]:
    """The webhook every Airflow process of this module's home posts failure alerts to."""
    with pytest.MonkeyPatch.context() as mp, webhook_receiver() as receiver:
        mp.setenv(WEBHOOK_ENV, receiver.url)
        mp.setenv("LAIP_ML_PROFILE", "quick")
        for name in ("LAIP_REPLAY_FROM", "LAIP_DATA_DIR", "LAIP_EXPORTS_DIR", "MLFLOW_TRACKING_URI"):
            mp.delenv(name, raising=False)
        yield receiver


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, alerts: Receiver) -> Settings:
    return load_settings(home=tmp_path_factory.mktemp("weekly") / "home")


@pytest.fixture(scope="module")
def first_week(home: Settings) -> tuple[DagRunResult, list[tuple]]:
    run = run_dag(home, DEMO, dag_id=WEEKLY_DAG_ID, logical_date=WEEK1)
    return run, history_rows(home, f"as_of_date = '{WEEK1}'")


def test_a_weeks_run_publishes_the_running_presentations_risk_as_of_its_date(
    home: Settings, first_week: tuple[DagRunResult, list[tuple]], alerts: Receiver
) -> None:
    run, rows = first_week
    assert run.success, run.summary()
    assert [t.task_id for t in run.tasks][:3] == ["prepare_export", "validate_raw", "load_raw"]
    assert (home.exports_dir / WEEK1.isoformat() / "studentInfo.csv.gz").is_file()
    with duckdb.connect(str(home.serving_warehouse), read_only=True) as con:
        loaded = con.execute("select distinct as_of_date from meta.load_manifest").fetchall()
        history = con.execute(f"select distinct as_of_date, code_presentation from {HISTORY}").fetchall()
    assert loaded == [(WEEK1,)] and history == [(WEEK1, "2014J")]  # only the presentation running that day
    assert rows and alerts.bodies == []  # a successful run sends no alert


def test_a_run_without_its_export_fails_publishes_nothing_and_notifies(
    home: Settings, first_week: tuple[DagRunResult, list[tuple]], alerts: Receiver
) -> None:
    before = digest(home.serving_warehouse)
    run = run_dag(home, {"replay_from": None}, dag_id=WEEKLY_DAG_ID, logical_date=WEEK2)  # production mode
    states = {t.task_id: t.state for t in run.tasks}
    assert run.state == "failed" and states["prepare_export"] == "failed", run.summary()
    assert states["validate_raw"] == "upstream_failed" and states["publish"] == "upstream_failed"
    assert digest(home.serving_warehouse) == before
    (alert,) = alerts.wait_for(1)
    assert (alert["dag_id"], alert["task_id"], alert["as_of_date"]) == (WEEKLY_DAG_ID, "prepare_export", "2014-11-10")
    assert f"no export as of {WEEK2}" in alert["error"] and alert["log_url"].endswith("try_number=1")
    assert alerts.paths == ["/hooks/secret-token"]
    alerts.bodies.clear()


def _wait_for_run(api: AirflowApi, logical_date: date, timeout_s: float = 900) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = [r for r in api.dag_runs(WEEKLY_DAG_ID) if (r.get("logical_date") or "").startswith(str(logical_date))]
        if runs and runs[-1]["run_type"] == "backfill" and runs[-1]["state"] in ("success", "failed"):
            return runs[-1]
        time.sleep(3)
    raise TimeoutError(f"no finished backfill run for {logical_date} after {timeout_s:.0f} s")


def test_ops_backfill_weeks_from_the_cli_and_the_rest_api(
    home: Settings, first_week: tuple[DagRunResult, list[tuple]], alerts: Receiver
) -> None:
    _, week1_rows = first_week
    # the README's command, as a dry run: one run per Monday of the range
    dry = subprocess.run(
        [venv_bin(), "backfill", "create", "--dag-id", WEEKLY_DAG_ID, "--from-date", "2014-10-06",
         "--to-date", "2014-11-24", "--max-active-runs", "1", "--dry-run"],
        env=airflow_env(home), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr[-3000:]
    # one run per Monday of the range, except the dates that have a run already (reprocess none, the default)
    listed = set(re.findall(r"^\| (\d{4}-\d{2}-\d{2}) 00:00:00", dry.stdout, re.MULTILINE))  # the table's rows
    mondays = {(date(2014, 10, 6) + timedelta(days=7 * i)).isoformat() for i in range(8)}
    assert listed == mondays - {str(WEEK1), str(WEEK2)}, dry.stdout[-2000:]
    svc = services.airflow_service(home)
    try:
        info = services.start(home, svc, timeout_s=240)
        api = AirflowApi(info["url"], *admin_credentials(home))
        api.wait_for_dag(WEEKLY_DAG_ID)  # unpauses it: the scheduler runs the latest Monday, which has no export
        (alert,) = alerts.wait_for(1, timeout_s=300)
        assert alert["run_id"].startswith("scheduled__") and alert["task_id"] == "prepare_export", alert
        assert api.wait_for_run(alert["run_id"], WEEKLY_DAG_ID, timeout_s=300) == "failed"
        # both weeks; only the failed one runs again (reprocess "failed"), one run at a time
        # without retraining: the branch keeps the champion and scoring still runs after the skipped training
        backfill = api.backfill(
            WEEKLY_DAG_ID, WEEK1, WEEK2, {**DEMO, "retrain": "never"}, reprocess="failed", max_active_runs=1
        )
        run = _wait_for_run(api, WEEK2)
        states = api.task_states(run["dag_run_id"], WEEKLY_DAG_ID)
        assert run["state"] == "success", states
        assert states["keep_champion"] == "success" and states["train_model"] == "skipped", states
        assert states["score"] == states["publish"] == "success", states
        backfilled = [r["logical_date"][:10] for r in api.dag_runs(WEEKLY_DAG_ID) if r["run_type"] == "backfill"]
        assert backfilled == [str(WEEK2)], (backfill, backfilled)
    finally:
        services.down(home)
    assert history_rows(home, f"as_of_date = '{WEEK1}'") == week1_rows  # the earlier week's list did not change
    with duckdb.connect(str(home.serving_warehouse), read_only=True) as con:
        current = con.execute("select distinct as_of_date, previous_export_date from ml.ml_withdrawal_risk_current")
        assert current.fetchall() == [(WEEK2, WEEK1)]

"""The laip_pipeline DAG really runs: `airflow dags test` end to end on the sample, a corrupt file (or no data at
all) stops it at validate_raw with the published snapshot unchanged, and the Airflow and MLflow UIs show the run and
its trainings."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from support.bad_input import truncated_gzip
from support.data import SAMPLE_DIR
from support.files import digest
from support.screenshots import shot

from laip.config import Settings, load_settings
from laip.ingest.acquire import missing_files
from laip.orchestration.airflow_api import AirflowApi
from laip.orchestration.airflow_run import admin_credentials, run_dag
from laip.services import stack as services

ML_TABLES = ["ml_withdrawal_predictions", "ml_withdrawal_model_comparison", "ml_withdrawal_metrics"]


@pytest.fixture(scope="module")
def dag_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAIP_ML_PROFILE", "quick")  # the run is under test here, not the grids (small ones, 3 checkpoints)
        yield load_settings(home=tmp_path_factory.mktemp("dagrun") / "home")


PROGRESS: list[str] = []  # the lines `make run` prints while the first run goes


@pytest.fixture(scope="module")
def first_run(dag_settings: Settings):
    return run_dag(dag_settings, {"data_dir": str(SAMPLE_DIR), "models": ["lr", "hgb"]}, progress=PROGRESS.append)


def test_task_logs_are_not_buried_in_deprecation_warnings(first_run) -> None:
    """The tasks' own lines are what ops read: no library floods them (skops' import-time scan of every module
    logged 1,160 Airflow deprecation warnings into the monitor and score logs)."""
    assert first_run.log_file is not None
    warned = [line for line in first_run.log_file.read_text().splitlines() if "py.warnings" in line]
    assert len(warned) <= 5, "\n".join(warned[:10])


def test_progress_reports_each_task_as_it_finishes(first_run) -> None:
    assert first_run.success
    parsed = [re.match(r"^\[\s*\d+ s\]\s+(\d+)/\d+ (\S+)\s+(\S+)", line) for line in PROGRESS]
    assert all(parsed), PROGRESS
    reported = [m.group(2) for m in parsed if m]
    assert sorted(reported) == sorted(t.task_id for t in first_run.tasks)  # each task once, as it finished
    assert [int(m.group(1)) for m in parsed if m] == list(range(1, len(PROGRESS) + 1))  # the running total
    assert reported.index("validate_raw") < reported.index("load_raw") < reported.index("publish")


def test_dags_test_runs_the_whole_pipeline(dag_settings: Settings, first_run) -> None:
    assert first_run.success, first_run.summary()
    states = {t.task_id: t.state for t in first_run.tasks}
    # no champion yet: the monitor step decides to retrain, so the keep_champion branch is skipped
    assert states.pop("keep_champion") == "skipped", first_run.summary()
    assert all(s == "success" for s in states.values()), first_run.summary()
    assert {
        "validate_raw",
        "load_raw",
        "dbt.dbt_producer_watcher",
        "certify_build",
        "monitor",
        "retrain_or_keep",
        "train_model",
        "score",
        "insight_cards",
        "publish",
    } <= set(states)
    with duckdb.connect(str(dag_settings.serving_warehouse), read_only=True) as con:
        for table in [
            "marts.dim_student_module",
            "marts.mart_withdrawal_prediction_features",
            *(f"ml.{t}" for t in ML_TABLES),
        ]:
            assert con.execute(f"select count(*) from {table}").fetchone()[0] > 0, table
        decision = con.execute("select decision, outcome from ml.ml_monitoring_decision").fetchall()
    # every checkpoint was trained (no champion at all): the outcome names the day-30 champion, then the others
    [(branch, outcome)] = decision
    assert branch == "retrain" and outcome.startswith("retrained: champion is now version 1; also day 14 v1"), outcome


def test_corrupt_file_fails_at_validate_and_keeps_the_published_snapshot(
    dag_settings: Settings, first_run, tmp_path: Path
) -> None:
    assert first_run.success
    before = digest(dag_settings.serving_warehouse)
    bad = tmp_path / "raw"
    bad.mkdir()
    for f in SAMPLE_DIR.glob("*.csv.gz"):
        (bad / f.name[:-3]).write_bytes(__import__("gzip").decompress(f.read_bytes()))
    truncated_gzip(bad)
    runs = {"corrupt": run_dag(dag_settings, {"data_dir": str(bad)})}
    if missing_files(dag_settings.data_dir):
        # default params (a schedule, or the REST API with {}) and no data in data/raw: no fallback to the bundled
        # sample, the run fails at validate_raw and nothing downstream runs
        runs["no data"] = run_dag(dag_settings, {})
    for name, result in runs.items():
        states = {t.task_id: t.state for t in result.tasks}
        assert not result.success, name
        assert states["validate_raw"] == "failed", (name, states)
        assert states["load_raw"] == "upstream_failed" and states["publish"] == "upstream_failed", (name, states)
    assert digest(dag_settings.serving_warehouse) == before


def test_the_uis_show_the_run_and_its_trainings(dag_settings: Settings, first_run) -> None:
    """The README's pictures of the real UIs: the first run in Airflow (a run of `airflow dags test` is in the same
    metadata database), the trainings in MLflow (key-metrics view), through the runs link `make up` prints. Runs
    triggered through the REST API with the scheduler running: test_weekly_dag (local) and test_production_profile."""
    assert first_run.success
    try:
        info = services.start(dag_settings, services.airflow_service(dag_settings), timeout_s=240)
        user, password = admin_credentials(dag_settings)
        assert info["password"] == password
        api = AirflowApi(info["url"], user, password)
        api.wait_for_dag()
        assert api.task_states(first_run.run_id)["publish"] == "success"
        run_page = f"{info['url'].rstrip('/')}/dags/laip_pipeline/runs/{urllib.parse.quote(first_run.run_id, safe='')}"
        shot(run_page, "airflow-dag-run", wait_text="publish", cookie=f"_token={api.token}")
        mlflow_info = services.start(dag_settings, services.mlflow_service(dag_settings), timeout_s=120)
        assert mlflow_info["runs"].startswith(f"{mlflow_info['url']}#/experiments/"), mlflow_info["runs"]
        shot(mlflow_info["runs"], "mlflow-runs", wait_text="temporal_roc_auc")
    finally:
        services.down(dag_settings)

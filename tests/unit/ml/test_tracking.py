"""MLflow tracking: a training killed mid-run leaves its run RUNNING, the next one marks it FAILED (and says why);
the runs link opens the key-metrics view."""

from __future__ import annotations

import json

from laip.config import Settings
from laip.ml.config import load_ml_config
from laip.ml.tracking import (
    ORPHANED_TAG,
    RUNS_VIEW_KEY,
    environment_kept,
    experiment_tags,
    fail_orphaned_runs,
    runs_url,
    setup_tracking,
)


def test_runs_a_killed_training_left_running_are_marked_failed(settings: Settings) -> None:
    from mlflow import MlflowClient

    with environment_kept("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        experiment_id = setup_tracking(settings, load_ml_config(settings, profile="quick"))
        client = MlflowClient()
        orphan = client.create_run(experiment_id).info.run_id  # what a SIGKILLed training leaves behind
        finished = client.create_run(experiment_id).info.run_id
        client.set_terminated(finished)
        assert fail_orphaned_runs(experiment_id) == [orphan]
        run = client.get_run(orphan)
        assert run.info.status == "FAILED" and ORPHANED_TAG in run.data.tags
        assert client.get_run(finished).info.status == "FINISHED"
        assert fail_orphaned_runs(experiment_id) == []


def test_the_runs_link_opens_the_key_metrics_view() -> None:
    """MLflow keeps a table's columns per browser; the shared view state every training writes on the experiment
    (``mlflow.sharedViewState.<key>``, read when the URL names the key) sorts by the selection metric on the primary
    split and shows the held-out metrics as columns."""
    config = load_ml_config()
    tags = experiment_tags(config)
    assert tags["mlflow.experimentKind"] == "custom_model_development"
    view = json.loads(tags[f"mlflow.sharedViewState.{RUNS_VIEW_KEY}"])
    key = f"metrics.`{config.primary_split}_{config.selection_metric}`"
    assert view["orderByKey"] == key and view["orderByAsc"] is False
    assert key in view["selectedColumns"] and len(set(view["selectedColumns"])) == len(view["selectedColumns"])
    url = runs_url("http://127.0.0.1:5000/", "7")
    assert url.startswith("http://127.0.0.1:5000/#/experiments/7/runs?")
    assert f"viewStateShareKey={RUNS_VIEW_KEY}" in url and "workflowType=machine_learning" in url

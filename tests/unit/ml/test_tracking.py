"""A training killed mid-run leaves its MLflow run RUNNING; the next training marks it FAILED (and says why)."""

from __future__ import annotations

from laip.config import Settings
from laip.ml.config import load_ml_config
from laip.ml.tracking import ORPHANED_TAG, environment_kept, fail_orphaned_runs, setup_tracking


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

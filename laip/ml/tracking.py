"""MLflow plumbing: tracking store and experiment under LAIP_HOME, git tags, model logging and loading.

Default store: SQLite at ``$LAIP_HOME/mlflow/mlflow.db`` with artifacts in ``$LAIP_HOME/mlflow/artifacts``
(``MLFLOW_TRACKING_URI`` overrides the store; artifacts then go wherever that server puts them).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlparse

import mlflow
import pandas as pd

from laip.config import Settings
from laip.credentials import use_mlflow_login
from laip.ml.config import MLConfig

ALLOW_LOAD_ENV = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"


def artifact_root(settings: Settings) -> str | None:
    """Artifact location for a new experiment: beside a local SQLite store, else the server's default."""
    uri = settings.mlflow_tracking_uri
    if uri.startswith("sqlite:///"):
        db = Path(unquote(urlparse(uri).path))
        return (db.parent / "artifacts").resolve().as_uri()
    return None


@contextlib.contextmanager
def environment_kept(*names: str) -> Iterator[None]:
    """Restore the environment variables ``names`` to their values before the block."""
    before = {n: os.environ.get(n) for n in names}
    try:
        yield
    finally:
        for n, value in before.items():
            if value is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = value


# MLflow's SQL store configures its SQLAlchemy mappers with a loader strategy SQLAlchemy deprecates: one warning per
# process that no caller of ours can fix (MLflow's code); the platform's own deprecated calls are fixed instead.
warnings.filterwarnings("ignore", message=r"The ``noload`` loader strategy is deprecated", category=DeprecationWarning)

# The MLflow UI opens an experiment on the view of its kind: runs (model training), not the GenAI traces view.
EXPERIMENT_TAGS = {
    "mlflow.experimentKind": "custom_model_development",
    "mlflow.note.content": "Day-30 withdrawal risk of OULAD attempts (laip train). One parent run per training with a "
    "nested run per model; the champion alias of the registered model marks the version served. See ml/README.md.",
}
# MLflow keeps a runs table's columns per browser; a shared view state (an experiment tag the UI reads when the URL
# names it, ?viewStateShareKey=...) is the one server-side way to open the table with the key metrics as columns.
RUNS_VIEW_KEY = "laip-key-metrics"
SHARED_VIEW_TAG = "mlflow.sharedViewState."


def key_metric(config: MLConfig) -> str:
    """The metric models are selected on, on the primary (held-out) split, as logged: e.g. ``temporal_roc_auc``."""
    return f"{config.primary_split}_{config.selection_metric}"


def runs_view(config: MLConfig) -> dict[str, object]:
    """The runs table as data scientists compare trainings: sorted by the key metric, with the primary split's
    held-out metrics and the other split's ROC AUC as columns."""
    split = config.primary_split
    other = "grouped_random" if split == "temporal" else "temporal"
    metrics = [key_metric(config), *(f"{split}_{m}" for m in ("roc_auc", "average_precision", "brier", "recall"))]
    columns = ["attributes.`Models`", *dict.fromkeys(f"metrics.`{m}`" for m in [*metrics, f"{other}_roc_auc"])]
    return {"orderByKey": f"metrics.`{key_metric(config)}`", "orderByAsc": False, "selectedColumns": columns}


def experiment_tags(config: MLConfig) -> dict[str, str]:
    """Tags every training (re)sets on the experiment: its kind, its note and the key-metrics view."""
    return {**EXPERIMENT_TAGS, SHARED_VIEW_TAG + RUNS_VIEW_KEY: json.dumps(runs_view(config))}


def runs_url(base_url: str, experiment_id: str) -> str:
    """The experiment's runs table in MLflow's UI, with the key-metrics view (``runs_view``)."""
    query = f"viewStateShareKey={RUNS_VIEW_KEY}&workflowType=machine_learning"
    return f"{base_url.rstrip('/')}/#/experiments/{experiment_id}/runs?{query}"


def setup_tracking(settings: Settings, config: MLConfig) -> str:
    """Point MLflow at the platform's store, create the experiment if needed; returns its id."""
    uri = settings.mlflow_tracking_uri
    if uri.startswith("sqlite:///"):
        Path(unquote(urlparse(uri).path)).parent.mkdir(parents=True, exist_ok=True)
    use_mlflow_login(settings.home, uri)  # a server with basic authentication (production profile)
    with environment_kept("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        mlflow.set_tracking_uri(uri)  # MLflow also exports these as environment variables; keep the
        mlflow.set_registry_uri(uri)  # environment as it was, so it never redirects another LAIP_HOME
    exp = mlflow.get_experiment_by_name(config.experiment_name)
    if exp is None:
        experiment_id = mlflow.create_experiment(
            config.experiment_name,
            artifact_location=artifact_root(settings),
            tags={"project": "laip", "problem": "day-30 withdrawal risk", **experiment_tags(config)},
        )
    else:
        experiment_id = exp.experiment_id
        for key, value in experiment_tags(config).items():
            if exp.tags.get(key) != value:
                mlflow.MlflowClient().set_experiment_tag(experiment_id, key, value)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def git_tags(repo: Path) -> dict[str, str]:
    """Commit and dirty flag of the working tree (read-only git calls); empty outside a git checkout."""

    def run(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=20
        ).stdout.strip()

    try:
        commit = run("rev-parse", "HEAD")
        dirty = bool(run("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"git_commit": commit, "git_dirty": str(dirty).lower(), "mlflow.source.git.commit": commit}


def pip_requirements() -> list[str]:
    """Pinned requirements of a logged model (given explicitly: no slow inference subprocess). Loading the model
    also needs this repository's ``laip`` package (``laip.ml.modeling.CalibratedModel``) on the path."""
    from importlib.metadata import version

    pkgs = ("mlflow", "scikit-learn", "numpy", "pandas", "scipy", "skops")
    return [f"{p}=={version(p)}" for p in pkgs]


def import_skops() -> ModuleType:
    """``skops.io``, imported with its start-up scan quiet. At import skops looks an attribute up on every loaded
    module (to list scipy's ufuncs); in an Airflow task process that touches every deprecated Airflow attribute, and
    each lookup logged a deprecation warning: 1,160 of the 1,185 lines of a monitor or score task log."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # Airflow's DeprecatedImportWarning
        warnings.simplefilter("ignore", DeprecationWarning)
        import skops.io

    return skops.io


def log_sklearn_model(model, X_example: pd.DataFrame, name: str = "model"):
    """Log ``model`` (skops format) with signature and input example; returns the ModelInfo."""
    from mlflow.models import infer_signature

    sio = import_skops()

    trusted = sio.get_untrusted_types(data=sio.dumps(model))
    signature = infer_signature(X_example, model.predict(X_example))
    return mlflow.sklearn.log_model(
        model,
        name=name,
        signature=signature,
        input_example=X_example,
        pip_requirements=pip_requirements(),
        serialization_format="skops",
        skops_trusted_types=trusted,
    )


@contextlib.contextmanager
def allow_model_loading() -> Iterator[None]:
    """MLflow refuses to deserialize models unless told to; the registry only calls this for files whose signature
    it verified (:mod:`laip.ml.provenance`)."""
    import_skops()  # before MLflow imports it while loading
    with environment_kept(ALLOW_LOAD_ENV):
        os.environ[ALLOW_LOAD_ENV] = "true"
        yield


ORPHANED_TAG = "laip.orphaned"


def fail_orphaned_runs(experiment_id: str) -> list[str]:
    """Mark FAILED the runs a killed training left RUNNING (tag ``laip.orphaned``); returns their ids.

    Called by training while it holds the warehouse writer lock, so no other training of this LAIP_HOME can be
    running: every RUNNING run of the experiment belongs to a process that is gone.
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    orphans = client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'")
    for run in orphans:
        client.set_tag(run.info.run_id, ORPHANED_TAG, "the training process ended without closing this run")
        client.set_terminated(run.info.run_id, status="FAILED")
    return [run.info.run_id for run in orphans]

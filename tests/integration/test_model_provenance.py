"""Only models this platform's training wrote are loaded: a crafted or changed version registered in MLflow and made
champion is refused (its code never runs), the API keeps serving the old champion, and monitoring replaces it."""

from __future__ import annotations

import os
import pathlib
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.api_server import Server, auth, request

from laip.config import Settings, load_settings
from laip.durable import PRIVATE_UMASK
from laip.ml.config import load_ml_config
from laip.ml.provenance import SIGNATURE_TAG, UntrustedModel
from laip.ml.registry import get_champion

NAME = "laip-withdrawal-day30"


class _RunsCode:
    """Unpickling this creates ``marker``: the smallest proof that loading a pickle runs code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.fixture(scope="module")
def home(service_sample: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A copy of the sample's registry, snapshot and secrets (artifacts are read from the original location, and
    the runs this module logs in-process write theirs there: owner-only, as the platform's processes would, so that
    test_private_files still finds that home closed)."""
    home = tmp_path_factory.mktemp("provenance") / "home"
    for sub in ("mlflow", "serving", "secrets"):
        ignore = shutil.ignore_patterns("artifacts") if sub == "mlflow" else None
        shutil.copytree(service_sample.home / sub, home / sub, ignore=ignore)
    umask = os.umask(PRIVATE_UMASK)
    try:
        yield load_settings(home=home)
    finally:
        os.umask(umask)


def _client(settings: Settings):
    import mlflow
    from mlflow import MlflowClient

    uri = settings.mlflow_tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(uri, registry_uri=uri)


def _register(settings: Settings, model_dir: Path, tags: dict[str, str]) -> str:
    """Log ``model_dir`` as the artifacts of a new run and register it as a version of the model (what anyone who can
    reach the MLflow server can do); returns the version."""
    client = _client(settings)
    experiment = client.get_experiment_by_name(load_ml_config(settings).experiment_name)
    run = client.create_run(experiment.experiment_id)
    client.log_artifacts(run.info.run_id, str(model_dir), "model")
    client.set_terminated(run.info.run_id)
    source = f"{run.info.artifact_uri}/model"
    return client.create_model_version(NAME, source, run_id=run.info.run_id, tags=tags).version


def _crafted_pickle_model(tmp_path: Path, marker: Path) -> Path:
    """An MLflow sklearn model whose pickle runs code when loaded."""
    import mlflow
    from sklearn.linear_model import LogisticRegression

    model_dir = tmp_path / "crafted"
    mlflow.sklearn.save_model(LogisticRegression(), str(model_dir), serialization_format="cloudpickle")
    (model_dir / "model.pkl").write_bytes(pickle.dumps(_RunsCode(marker)))
    return model_dir


def test_a_model_the_platform_did_not_write_is_never_loaded(home: Settings, tmp_path: Path) -> None:
    import mlflow

    client = _client(home)
    signed = client.get_model_version_by_alias(NAME, "champion")
    assert signed.tags.get(SIGNATURE_TAG)  # training signed what it registered
    server = Server(home.home)
    try:
        # 1. a crafted pickle, registered and made champion: refused, its code never runs, the old model serves on
        marker = tmp_path / "code-ran"
        crafted = _register(home, _crafted_pickle_model(tmp_path, marker), {"model_name": "lr"})
        client.set_registered_model_alias(NAME, "champion", crafted)
        status, body = request(server, "POST", "/model/reload", headers=auth(home))
        assert status == 503 and SIGNATURE_TAG in body["detail"], body
        assert f"still serving version {signed.version}" in body["detail"]
        assert not marker.exists()
        assert request(server, "GET", "/model")[1]["model_version"] == int(signed.version)
        with pytest.raises(UntrustedModel, match=r"no laip\.signature"):
            get_champion(home, load_ml_config(home)).load()
        assert not marker.exists()

        # 2. the signed champion's files changed afterwards, its signature tags copied: refused as well
        changed = Path(mlflow.artifacts.download_artifacts(f"models:/{NAME}/{signed.version}", dst_path=str(tmp_path)))
        (changed / "registered_model_meta").unlink(missing_ok=True)
        skops_file = changed / "model.skops"
        skops_file.write_bytes(skops_file.read_bytes() + b"\0")
        tampered = _register(home, changed, dict(signed.tags))
        client.set_registered_model_alias(NAME, "champion", tampered)
        status, body = request(server, "POST", "/model/reload", headers=auth(home))
        assert status == 503 and "do not match the signature" in body["detail"], body

        # 3. back to the signed version: served again
        client.set_registered_model_alias(NAME, "champion", signed.version)
        status, info = request(server, "POST", "/model/reload", headers=auth(home))
        assert status == 200 and info["model_version"] == int(signed.version)
    finally:
        client.set_registered_model_alias(NAME, "champion", signed.version)
        server.kill()


def test_monitoring_replaces_a_champion_it_cannot_trust(home: Settings, tmp_path: Path) -> None:
    from laip.ml.monitoring.monitor import monitor

    client = _client(home)
    signed = client.get_model_version_by_alias(NAME, "champion")
    crafted = _register(home, _crafted_pickle_model(tmp_path, tmp_path / "code-ran"), {"model_name": "lr"})
    client.set_registered_model_alias(NAME, "champion", crafted)
    try:
        decision = monitor(home, "never", write=False).decision
    finally:
        client.set_registered_model_alias(NAME, "champion", signed.version)
    assert decision.retrain and any("cannot be used" in r for r in decision.reasons), decision.reasons
    assert not (tmp_path / "code-ran").exists()

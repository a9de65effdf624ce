"""The production profile's MLflow: basic authentication, the pipeline's account the only one that can create
versions of the platform's model or move its champion alias (the API's read-only account and an analyst's only read
it), and the pipeline working through it (training registers and signs the champion, scoring loads and verifies it).
A real ``mlflow server --app-name basic-auth`` on loopback (``python -m laip.services.mlflow_server --auth``)."""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.mlflow_server import auth_server

from laip.config import Settings, load_settings
from laip.credentials import mlflow_pipeline_credentials, mlflow_reader_credentials
from laip.ml.config import load_ml_config
from laip.services.net import free_port

API = "/api/2.0/mlflow"


class Tracking:
    def __init__(self, url: str, home: Path) -> None:
        self.url, self.home = url, home

    def call(self, method: str, path: str, body: dict | None = None, login: tuple[str, str] | None = None):
        req = urllib.request.Request(
            self.url + API + path, method=method, data=json.dumps(body).encode() if body else None
        )
        req.add_header("Content-Type", "application/json")
        if login:
            req.add_header("Authorization", "Basic " + base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode())
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(errors="replace")


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tracking]:
    home = tmp_path_factory.mktemp("mlflow-auth") / "home"
    with auth_server(home, free_port()) as url:
        yield Tracking(url, home)


def _laip(home: Path, tracking: Tracking, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(LAIP_HOME=str(home), LAIP_ML_PROFILE="quick", MLFLOW_TRACKING_URI=tracking.url)
    # no MLFLOW_TRACKING_PASSWORD: the pipeline logs in with the password generated into the server's LAIP_HOME
    shutil.copytree(tracking.home / "secrets", home / "secrets", dirs_exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "laip", *args], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]


def test_nothing_without_a_login(tracking: Tracking) -> None:
    assert tracking.call("GET", "/registered-models/search")[0] == 401
    assert tracking.call("GET", "/registered-models/search", login=("laip-pipeline", "wrong"))[0] == 401


def test_only_the_pipeline_registers_and_moves_the_champion(
    tracking: Tracking, built_sample: Settings, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    settings = load_settings(home=home)
    settings.warehouse.parent.mkdir(parents=True)
    shutil.copy2(built_sample.warehouse, settings.warehouse)
    _laip(home, tracking, "train", "--models", "lr")  # registers and signs the champions through the server
    _laip(home, tracking, "score")  # loads them back and checks the signatures

    model = load_ml_config().registered_model_name
    pipeline = mlflow_pipeline_credentials(tracking.home)
    status, champion = tracking.call("GET", f"/registered-models/alias?name={model}&alias=champion", login=pipeline)
    assert status == 200, champion
    version = champion["model_version"]
    # an analyst's account: reads everything, changes nothing of the platform's model
    analyst = ("analyst", "an-analyst-password-1")
    status, body = tracking.call("POST", "/users/create", {"username": analyst[0], "password": analyst[1]}, pipeline)
    assert status == 200, body
    api = mlflow_reader_credentials(tracking.home)  # the API's account, created by the server as it started
    for reader in (analyst, api):
        assert tracking.call("GET", f"/registered-models/alias?name={model}&alias=champion", login=reader)[0] == 200
    moves = [
        ("POST", "/registered-models/alias", {"name": model, "alias": "champion", "version": "1"}),
        ("DELETE", "/registered-models/alias", {"name": model, "alias": "champion"}),
        ("POST", "/model-versions/create", {"name": model, "source": version["source"], "run_id": version["run_id"]}),
        ("POST", "/registered-models/delete", {"name": model}),
    ]
    for (method, path, body), reader in itertools.product(moves, (analyst, api)):
        status, answer = tracking.call(method, path, body, login=reader)
        assert status == 403, (path, reader[0], status, answer)
    after = tracking.call("GET", f"/registered-models/alias?name={model}&alias=champion", login=pipeline)[1]
    assert after["model_version"]["version"] == version["version"]

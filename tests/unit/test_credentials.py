"""Generated secrets: owner-only from the first byte, one value when processes race, constant-time comparison."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from laip.credentials import API_TOKEN_ENV, api_token, read_or_create, same_secret, secret_file


def test_created_once_owner_only_and_stable(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "token")
    first = read_or_create(path)
    assert len(first) >= 32 and read_or_create(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["token"]  # no temporary file left behind


def test_racing_processes_agree_on_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "token"
    with ProcessPoolExecutor(4) as pool:
        values = set(pool.map(read_or_create, [path] * 16))
    assert values == {path.read_text()}


def test_environment_wins_and_comparison(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_TOKEN_ENV, "from-the-environment")
    assert api_token(tmp_path) == "from-the-environment" and not secret_file(tmp_path, "api_token").exists()
    assert same_secret("from-the-environment", api_token(tmp_path))
    assert not same_secret(None, "x") and not same_secret("x", "y") and not same_secret("", "x")
    monkeypatch.delenv(API_TOKEN_ENV)
    assert api_token(tmp_path) == secret_file(tmp_path, "api_token").read_text() != "from-the-environment"


def test_an_empty_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("")
    os.chmod(path, 0o600)
    with pytest.raises(RuntimeError, match="empty"):
        read_or_create(path)


def test_an_mlflow_password_without_a_user_logs_in_as_the_pipeline(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """MLflow's client sends no login unless both variables are set: a deployment that gives only the password
    must still log in (as the pipeline's account)."""
    from laip.credentials import MLFLOW_USER, use_mlflow_login

    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "from-the-env-file")
    use_mlflow_login(tmp_path, "http://mlflow:5000")
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == MLFLOW_USER
    assert os.environ["MLFLOW_TRACKING_PASSWORD"] == "from-the-env-file"
    assert not (tmp_path / "secrets").exists()  # nothing generated

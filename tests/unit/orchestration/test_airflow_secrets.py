"""Airflow's generated secrets are owner-only from their first byte (written under a temporary name with mode 0600,
then renamed; never written and chmod-ed afterwards)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from laip.config import Settings
from laip.orchestration import airflow_run


def test_generated_secrets_are_never_readable_by_others(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", airflow_run.ADMIN_PASSWORD_ENV):
        monkeypatch.delenv(name, raising=False)

    def no_chmod_afterwards(self: Path, mode: int) -> None:
        raise AssertionError(f"{self} was chmod-ed after it was written")

    monkeypatch.setattr(Path, "chmod", no_chmod_afterwards)
    user, password = airflow_run.admin_credentials(settings)
    airflow_run.airflow_env(settings)
    for path in (settings.airflow_home / "admin_password.json", settings.airflow_home / "secrets.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert airflow_run.admin_credentials(settings) == (user, password)  # generated once

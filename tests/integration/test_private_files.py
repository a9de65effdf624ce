"""Everything under LAIP_HOME that holds student-level data is its owner's only: after ``laip run`` (started with the
usual umask 022, so the platform must set its own), LAIP_HOME is 0700 and the warehouse, the serving snapshot, the
MLflow store, the validation reports and the secrets are 0600 files in 0700 directories. (The prediction log
written by a real ``laip serve``: ``test_api.py``; Superset's metadata: ``test_superset.py``.)"""

from __future__ import annotations

from pathlib import Path

from laip.config import Settings

STUDENT_LEVEL = ("warehouse", "serving", "mlflow", "reports", "secrets")


def shared_with_others(root: Path) -> list[str]:
    """Paths under ``root`` (and ``root`` itself) that anyone but the owner may read, write or enter."""
    return [f"{oct(p.stat().st_mode & 0o777)} {p}" for p in [root, *root.rglob("*")] if p.stat().st_mode & 0o077]


def test_laip_home_and_its_student_level_files_are_owner_only(service_sample: Settings) -> None:
    home = service_sample.home  # `laip run data/sample` under umask 022 (conftest), then the tests' services
    assert home.stat().st_mode & 0o777 == 0o700
    for sub in STUDENT_LEVEL:
        assert (home / sub).is_dir(), sub
        assert shared_with_others(home / sub) == [], sub
    assert service_sample.serving_warehouse.stat().st_mode & 0o777 == 0o600

"""Everything under LAIP_HOME that holds student-level data is its owner's only: after ``laip run`` (started with the
usual umask 022, so the platform must set its own), LAIP_HOME is 0700 and the warehouse, the serving snapshot, the
MLflow store, the validation reports and the secrets are 0600 files in 0700 directories. (The prediction log
written by a real ``laip serve``: ``test_api.py``; Superset's metadata: ``test_superset.py``.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.data import SAMPLE_DIR

from laip.config import load_settings

STUDENT_LEVEL = ("warehouse", "serving", "mlflow", "reports", "secrets")


def shared_with_others(root: Path) -> list[str]:
    """Paths under ``root`` (and ``root`` itself) that anyone but the owner may read, write or enter."""
    return [f"{oct(p.stat().st_mode & 0o777)} {p}" for p in [root, *root.rglob("*")] if p.stat().st_mode & 0o077]


def test_laip_home_and_its_student_level_files_are_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "LAIP_HOME": str(home), "LAIP_ML_PROFILE": "quick"}
    env.pop("LAIP_DATA_DIR", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run(
        [sys.executable, "-m", "laip", "run", str(SAMPLE_DIR)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        preexec_fn=lambda: os.umask(0o022),  # what a shell usually gives: the platform must not rely on it
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert home.stat().st_mode & 0o777 == 0o700
    for sub in STUDENT_LEVEL:
        assert (home / sub).is_dir(), sub
        assert shared_with_others(home / sub) == [], sub
    assert load_settings(home=home).serving_warehouse.stat().st_mode & 0o777 == 0o600

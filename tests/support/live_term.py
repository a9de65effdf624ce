"""A live term replayed on the sample, shared by the live-term and Superset tests: the weeks and the CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb

from laip.config import Settings

WEEKS = (date(2014, 10, 31), date(2014, 11, 7), date(2014, 11, 14))  # 2014J on course days 30, 37, 44
HISTORY = "ml.ml_withdrawal_risk_history"


def laip_cli(home: Path, *args: str) -> None:
    """``python -m laip ARGS`` in ``home`` (quick ML profile); fails the test unless it succeeds."""
    env = {**os.environ, "LAIP_HOME": str(home), "LAIP_ML_PROFILE": "quick"}
    env.pop("LAIP_DATA_DIR", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run([sys.executable, "-m", "laip", *args], env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]


def history_rows(settings: Settings, where: str) -> list[tuple]:
    """The published risk history's rows matching ``where`` (without the scoring time)."""
    with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
        return con.execute(f"select * exclude (scored_at) from {HISTORY} where {where} order by all").fetchall()

"""The risk through the term, and through the weeks of a live term: the current view of the risk history.

``ml.ml_withdrawal_risk_history`` holds one row per attempt, checkpoint and export date (``as_of_date``: the date
the loaded files are an export as of, NULL for a finished history). A run replaces exactly its own date's rows, so a
week's list never changes when later weeks arrive. ``ml.ml_withdrawal_risk_current`` is the newest date's view: each
attempt's latest checkpoint with the change since its previous checkpoint (:func:`risk_current`) and, in a live
term, since the previous export (:func:`since_previous_export`: "new since last week").
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from laip.ingest.load import MANIFEST, ML_SCHEMA
from laip.ml.config import MLConfig

HISTORY = "ml_withdrawal_risk_history"
CURRENT = "ml_withdrawal_risk_current"


def export_date(warehouse: Path) -> date | None:
    """The date the loaded files are an export as of (``meta.load_manifest``), None for a finished history."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(f"select max(as_of_date) from {MANIFEST}").fetchall()
    return rows[0][0] if rows else None


def stored_dates(warehouse: Path) -> list[date | None]:
    """The export dates the stored risk history holds (None: a finished history's rows), oldest first."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        try:
            rows = con.execute(f"select distinct as_of_date from {ML_SCHEMA}.{HISTORY} order by 1 nulls first")
            return [r[0] for r in rows.fetchall()]
        except duckdb.Error:  # no history yet, or one written before it had as_of_date
            return []


def previous_export(warehouse: Path, as_of: date) -> pd.DataFrame:
    """Each attempt's latest checkpoint row of the newest stored export date before ``as_of`` (empty if none)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        try:
            return con.execute(
                f"""select student_module_id, as_of_date, prediction_day, risk_band from {ML_SCHEMA}.{HISTORY}
                    where as_of_date = (select max(as_of_date) from {ML_SCHEMA}.{HISTORY} where as_of_date < ?)
                    qualify row_number() over (partition by student_module_id order by prediction_day desc) = 1""",
                [as_of],
            ).df()
        except duckdb.Error:
            return pd.DataFrame(columns=["student_module_id", "as_of_date", "prediction_day", "risk_band"])


def risk_current(history: pd.DataFrame, config: MLConfig) -> pd.DataFrame:
    """Each attempt's latest checkpoint with the change since its previous one: ``newly high`` (band high now,
    not before), ``risen`` / ``fallen`` (probability up / down by at least ``risk_bands.change``), ``steady``, or
    ``first checkpoint``."""
    ordered = history.sort_values(["student_module_id", "prediction_day"])
    previous = ordered.groupby("student_module_id")[["prediction_day", "withdrawal_probability", "risk_band"]].shift()
    ordered = ordered.assign(
        previous_prediction_day=previous.prediction_day.astype("Int64"),
        previous_probability=previous.withdrawal_probability,
        previous_risk_band=previous.risk_band,
    )
    current = ordered.groupby("student_module_id").tail(1).copy()
    delta = current.withdrawal_probability - current.previous_probability
    step = config.risk_change
    current["probability_change"] = delta.round(6)
    current["risk_change"] = np.select(
        [
            current.previous_probability.isna(),
            (current.risk_band == "high") & (current.previous_risk_band != "high"),
            delta >= step,
            delta <= -step,
        ],
        ["first checkpoint", "newly high", "risen", "fallen"],
        default="steady",
    )
    return current.reset_index(drop=True)


def since_previous_export(current: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """``current`` with the previous export's view of each attempt (:func:`previous_export`): its date, checkpoint and
    band, and ``is_new_high_since_previous_export`` (high now, and not high or not listed then; NULL when there is no
    previous export: a finished history, or the first week)."""
    out = current.copy()
    if previous.empty:
        for column in ("previous_export_date", "previous_export_prediction_day", "previous_export_risk_band"):
            out[column] = None
        out["is_new_high_since_previous_export"] = pd.array([pd.NA] * len(out), dtype="boolean")
        return out
    before = previous.rename(
        columns={
            "as_of_date": "previous_export_date",
            "prediction_day": "previous_export_prediction_day",
            "risk_band": "previous_export_risk_band",
        }
    )[["student_module_id", "previous_export_date", "previous_export_prediction_day", "previous_export_risk_band"]]
    out = out.merge(before, on="student_module_id", how="left")
    new_high = (out.risk_band == "high") & (out.previous_export_risk_band.fillna("") != "high")
    out["is_new_high_since_previous_export"] = pd.array(new_high, dtype="boolean")
    return out

"""The risk list intervention teams work from: every student of the latest presentation of each module, ranked
within that module-presentation.

Only held-out rows: a presentation whose rows trained the champion is never listed (its scores are in-sample).
Each row keeps the absolute band (``risk_band``, fixed probabilities of ``ml/config.yaml`` ``risk_bands``) and gets
a band relative to its module-presentation (``relative_band``: the top ``risk_bands.relative.high`` share is
``top``, the next ``relative.medium`` share ``next``, the rest ``rest``), its rank (1 = highest probability) and its
percentile (100 = highest): fixed bands can leave a whole module without a high-risk student although many withdraw
later, while a tutor calls students in the order of their own course. ``attempt_label`` (``AAA 2014J · #0001 · student
12345``) is the pick list of the dashboard's per-student drill-down: sorted as text, each module-presentation in rank
order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from laip.ml.config import MLConfig
from laip.ml.features import presentation_order

RISK_LIST = "ml_withdrawal_risk_list"
RELATIVE_BANDS = ("top", "next", "rest")


def latest_held_out(predictions: pd.DataFrame) -> pd.DataFrame:
    """Rows of the latest presentation of each module, when that presentation holds no training row."""
    latest = (
        predictions[["code_module", "code_presentation"]]
        .drop_duplicates()
        .assign(order=lambda d: d.code_presentation.map(presentation_order))
        .sort_values("order")
        .groupby("code_module")
        .tail(1)
    )
    trained = set(
        predictions.loc[predictions.is_training_row.astype(bool), ["code_module", "code_presentation"]].itertuples(
            index=False, name=None
        )
    )
    keep = {k for k in latest[["code_module", "code_presentation"]].itertuples(index=False, name=None)} - trained
    mask = [k in keep for k in zip(predictions.code_module, predictions.code_presentation, strict=True)]
    return predictions[np.asarray(mask, dtype=bool)]


def risk_list(predictions: pd.DataFrame, config: MLConfig) -> pd.DataFrame:
    """The list (see the module docstring) from the scored rows of ``ml_withdrawal_predictions``."""
    rows = latest_held_out(predictions).copy()
    by_mp = rows.groupby(["code_module", "code_presentation"]).withdrawal_probability
    n = by_mp.transform("size")
    rank = by_mp.rank(method="first", ascending=False).astype(int)
    # rounded first: 1000 * (0.1 + 0.2) is 300.00000000000006 in floating point
    top = np.ceil(np.round(n * config.relative_high, 9)).astype(int)
    following = np.ceil(np.round(n * (config.relative_high + config.relative_medium), 9)).astype(int)
    rows["students_in_presentation"] = n
    rows["rank_in_presentation"] = rank
    rows["risk_percentile"] = np.round(100 * (n - rank + 1) / n, 1)
    rows["relative_band"] = np.where(rank <= top, "top", np.where(rank <= following, "next", "rest"))
    # the drill-down's pick list: sorted as text, it lists each module-presentation in the order to call
    width = max(4, len(str(int(n.max())))) if len(rows) else 4
    rows["attempt_label"] = [
        f"{m} {p} · #{r:0{width}d} · student {s}"
        for m, p, r, s in zip(rows.code_module, rows.code_presentation, rank, rows.id_student, strict=True)
    ]
    rows["relative_band_rule"] = (
        f"top {config.relative_high:.0%} / next {config.relative_medium:.0%} of the module-presentation by probability"
    )
    return rows.sort_values(["code_module", "code_presentation", "rank_in_presentation"]).reset_index(drop=True)

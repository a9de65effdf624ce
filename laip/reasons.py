"""Reason codes: which groups of features push a student's predicted risk up, in plain words.

A reason's contribution for one student is the drop in calibrated log-odds when that reason's features are set
to typical values (training medians / most frequent category), everything else unchanged. Missing values stay
missing (no click log is never a reason). For an additive model (the logistic regression) the contributions of
all reasons sum exactly to ``logit(p) - logit(p_typical)``; for tree models they are an approximation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from laip.mlconfig import MLConfig, Reason


def reference_values(X_train: pd.DataFrame, config: MLConfig) -> dict[str, object]:
    """Typical value of each feature: the median of a numeric, the most frequent value of a categorical."""
    ref: dict[str, object] = {}
    for f in X_train.columns:
        if f in config.categorical:
            ref[f] = X_train[f].value_counts().sort_index().idxmax()
        else:
            med = X_train[f].median()
            ref[f] = float(med) if pd.notna(med) else np.nan
    return ref


def reason_contributions(model, X: pd.DataFrame, reasons: Sequence[Reason],
                         reference: dict[str, object]) -> pd.DataFrame:
    """Log-odds contribution of each reason (columns) for each row of ``X``; > 0 pushes the risk up."""
    base = model.decision_function(X)
    out = {}
    for reason in reasons:
        typical = X.copy()
        for f in reason.features:
            if f not in typical.columns:
                continue
            keep_missing = typical[f].isna()
            typical[f] = typical[f].where(keep_missing, reference[f])
            if typical[f].dtype == object:
                typical[f] = typical[f].astype(object)
        out[reason.code] = base - model.decision_function(typical)
    return pd.DataFrame(out, index=X.index)


def top_reasons(contributions: pd.DataFrame, reasons: Sequence[Reason], k: int = 3,
                min_contribution: float = 1e-6) -> pd.DataFrame:
    """Per row, the ``k`` shown reasons with the largest positive contribution: code, label, contribution.

    Columns ``reason_{i}_code``, ``reason_{i}``, ``reason_{i}_contribution`` (NULL when fewer than ``i`` reasons
    push the risk up). Ties are broken by the order of the reasons in the config.
    """
    shown = [r for r in reasons if r.show]
    labels = {r.code: r.label for r in shown}
    values = contributions[[r.code for r in shown]].to_numpy()
    order = np.argsort(-values, axis=1, kind="stable")
    cols: dict[str, list] = {}
    for i in range(k):
        codes, texts, contribs = [], [], []
        for row, idx in zip(values, order):
            j = idx[i] if i < len(idx) else None
            if j is not None and row[j] > min_contribution:
                code = shown[j].code
                codes.append(code)
                texts.append(labels[code])
                contribs.append(round(float(row[j]), 4))
            else:
                codes.append(None)
                texts.append(None)
                contribs.append(None)
        cols[f"reason_{i + 1}_code"] = codes
        cols[f"reason_{i + 1}"] = texts
        cols[f"reason_{i + 1}_contribution"] = contribs
    return pd.DataFrame(cols, index=contributions.index)

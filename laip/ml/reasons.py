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

from laip.ml.config import MLConfig, Reason


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


def reason_contributions(
    model, X: pd.DataFrame, reasons: Sequence[Reason], reference: dict[str, object]
) -> pd.DataFrame:
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


def explain(
    model,
    X: pd.DataFrame | dict[str, np.ndarray],
    reasons: Sequence[Reason],
    reference: dict[str, object],
    decision=None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Calibrated probability and the contribution of every reason (as :func:`reason_contributions`) of each row
    of ``X``, from ONE batched model call: ``X`` stacked with one "typical" copy per reason. Used by ``laip score``
    and the prediction API (a single record costs one predict on 1 + len(reasons) rows). ``X`` may be a frame or
    {feature: column array}; ``decision`` (default ``model.decision_function`` on a frame) maps the stacked
    {feature: array} to calibrated log-odds."""
    from laip.ml.modeling import sigmoid

    columns = {f: X[f].to_numpy() for f in X.columns} if isinstance(X, pd.DataFrame) else X
    index = X.index if isinstance(X, pd.DataFrame) else None
    n = len(next(iter(columns.values())))
    blocks = len(reasons) + 1
    owner = {f: i + 1 for i, r in enumerate(reasons) for f in r.features}
    repeat = np.tile(np.arange(n), blocks)
    stacked = {}
    for f, values in columns.items():
        tiled = np.asarray(values).take(repeat)
        block = owner.get(f)
        if block is not None:
            part = tiled[block * n : (block + 1) * n]
            known = ~np.isnan(values) if values.dtype.kind == "f" else ~pd.isna(values)
            part[known] = reference[f]
        stacked[f] = tiled
    z = decision(stacked) if decision is not None else model.decision_function(pd.DataFrame(stacked))
    base = z[:n]
    contributions = pd.DataFrame(
        (base - z[n:].reshape(len(reasons), n)).T, columns=[r.code for r in reasons], index=index
    )
    return sigmoid(base), contributions


def top_reason_lists(
    values: np.ndarray, reasons: Sequence[Reason], k: int = 3, min_contribution: float = 1e-6
) -> list[list[tuple[str, str, float]]]:
    """Per row of ``values`` (rows x reasons, in config order), the ``k`` shown reasons with the largest positive
    contribution as (code, label, contribution); ties are broken by the order of the reasons in the config."""
    shown = [i for i, r in enumerate(reasons) if r.show]
    vals = np.asarray(values, dtype=float)[:, shown]
    order = np.argsort(-vals, axis=1, kind="stable")[:, :k]
    out = []
    for row, idx in zip(vals, order, strict=False):
        out.append(
            [
                (reasons[shown[j]].code, reasons[shown[j]].label, round(float(row[j]), 4))
                for j in idx
                if row[j] > min_contribution
            ]
        )
    return out


def top_reasons(
    contributions: pd.DataFrame, reasons: Sequence[Reason], k: int = 3, min_contribution: float = 1e-6
) -> pd.DataFrame:
    """Per row, the ``k`` shown reasons with the largest positive contribution: code, label, contribution.

    Columns ``reason_{i}_code``, ``reason_{i}``, ``reason_{i}_contribution`` (NULL when fewer than ``i`` reasons
    push the risk up). Ties are broken by the order of the reasons in the config.
    """
    ordered = [r for r in reasons if r.code in contributions.columns]
    lists = top_reason_lists(contributions[[r.code for r in ordered]].to_numpy(), ordered, k, min_contribution)
    cols: dict[str, list] = {}
    for i in range(k):
        picked = [row[i] if i < len(row) else (None, None, None) for row in lists]
        cols[f"reason_{i + 1}_code"] = [p[0] for p in picked]
        cols[f"reason_{i + 1}"] = [p[1] for p in picked]
        cols[f"reason_{i + 1}_contribution"] = [p[2] for p in picked]
    return pd.DataFrame(cols, index=contributions.index)


def module_context(contributions: pd.DataFrame, config: MLConfig, min_contribution: float = 1e-6) -> pd.DataFrame:
    """Per row, the context reason (about the module run, not the student: ``context: true`` in the config) that
    raises the risk most: ``module_context`` (its label, NULL when none does) and ``module_context_contribution``."""
    context = [r for r in config.reasons if r.context and r.code in contributions.columns]
    if not context:
        return pd.DataFrame(
            {"module_context": [None] * len(contributions), "module_context_contribution": np.nan},
            index=contributions.index,
        )
    values = contributions[[r.code for r in context]].to_numpy(dtype=float)
    best = values.argmax(axis=1)
    top = values[np.arange(len(values)), best]
    labels = np.array([r.label for r in context], dtype=object)[best]
    raises = top > min_contribution
    return pd.DataFrame(
        {
            "module_context": np.where(raises, labels, None),
            "module_context_contribution": np.where(raises, np.round(top, 4), np.nan),
        },
        index=contributions.index,
    )

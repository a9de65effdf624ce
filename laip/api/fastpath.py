"""The serving hot path: the champion's own fitted transformers and classifier, called on numpy arrays.

``CalibratedModel.decision_function`` on a DataFrame spends most of a single-record request in pandas and
``ColumnTransformer`` bookkeeping. :class:`FastDecision` calls the same fitted steps (a private copy) on the
column blocks directly (common fitted transformers re-expressed in numpy: ordinal / one-hot encoders, imputer,
scaler, variance threshold; any other transformer through its own ``transform``), then the same calibration.
A fitted HistGradientBoosting is also evaluated as one :class:`~laip.api.flat_forest.FlatForest` for the few rows
of a request (sklearn loops over its trees in Python: ~1.4 ms per call whatever the rows). It is only used after
:meth:`FastDecision.verify` showed it gives the pipeline's log-odds on real rows; any unsupported pipeline shape or
mismatch falls back to the pipeline.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import numpy as np
import pandas as pd

from laip.api.flat_forest import flat_forest
from laip.ml.modeling import logit

log = logging.getLogger(__name__)

FLAT_FOREST_MAX_ROWS = 128  # above this many rows sklearn's per-tree loop is as fast (measured: 192 rows ~ equal)


def _strip_feature_names(est: Any) -> None:
    """The copy is fed arrays, so drop the names it was fitted with (avoids a warning per call)."""
    if hasattr(est, "feature_names_in_"):
        del est.feature_names_in_
    for _, step in getattr(est, "steps", []):
        _strip_feature_names(step)


def _ordinal(enc: Any):
    if enc.handle_unknown != "use_encoded_value" or getattr(enc, "_infrequent_enabled", False):
        return None
    maps = [{c: float(i) for i, c in enumerate(cats)} for cats in enc.categories_]
    unknown = float(enc.unknown_value)

    def transform(block: np.ndarray) -> np.ndarray:
        out = np.empty(block.shape, dtype="float64")
        for j, m in enumerate(maps):
            out[:, j] = [m.get(v, unknown) for v in block[:, j]]
        return out

    return transform


def _one_hot(enc: Any):
    if enc.handle_unknown != "ignore" or enc.drop is not None or getattr(enc, "_infrequent_enabled", False):
        return None
    maps = [{c: i for i, c in enumerate(cats)} for cats in enc.categories_]
    offsets = np.cumsum([0] + [len(c) for c in enc.categories_])

    def transform(block: np.ndarray) -> np.ndarray:
        out = np.zeros((block.shape[0], offsets[-1]), dtype="float64")
        for j, m in enumerate(maps):
            for i, v in enumerate(block[:, j]):
                k = m.get(v)
                if k is not None:
                    out[i, offsets[j] + k] = 1.0
        return out

    return transform


def _imputer(imp: Any):
    if not (isinstance(imp.missing_values, float) and np.isnan(imp.missing_values)):
        return None
    stats = imp.statistics_.astype("float64")
    keep = ~np.isnan(stats) if not getattr(imp, "keep_empty_features", False) else np.ones(len(stats), bool)
    fill = np.where(np.isnan(stats), 0.0, stats)
    indicator = imp.indicator_.features_ if imp.add_indicator else None

    def transform(block: np.ndarray) -> np.ndarray:
        missing = np.isnan(block)
        out = np.where(missing, fill, block)[:, keep]
        return out if indicator is None else np.hstack([out, missing[:, indicator].astype("float64")])

    return transform


def _fast(est: Any):
    """A numpy transform equivalent to the fitted ``est`` (verified later), or its own ``transform``."""
    from sklearn.feature_selection import VarianceThreshold
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    fn = None
    if isinstance(est, Pipeline):
        steps = [_fast(step) for _, step in est.steps]

        def fn(block: np.ndarray) -> np.ndarray:
            for step in steps:
                block = step(block)
            return block
    elif type(est) is OrdinalEncoder:
        fn = _ordinal(est)
    elif type(est) is OneHotEncoder:
        fn = _one_hot(est)
    elif type(est) is VarianceThreshold:
        mask = est.get_support()
        fn = lambda block: block[:, mask]  # noqa: E731 - one-line closures, like the branches that return one
    elif type(est) is SimpleImputer:
        fn = _imputer(est)
    elif type(est) is StandardScaler:
        mean = est.mean_ if est.with_mean else 0.0
        scale = est.scale_ if est.with_std else 1.0
        fn = lambda block: (block - mean) / scale  # noqa: E731 - as above
    if fn is None:
        _strip_feature_names(est)
        return lambda block: np.asarray(est.transform(block))
    return fn


class _NumpyHgbPreprocessor:
    """Stands in for a fitted HistGradientBoosting's internal ``_preprocessor`` (an OrdinalEncoder on its
    categorical columns, unknown -> NaN, then the numeric columns), which costs more than the trees per request."""

    def __init__(self, pre: Any, is_categorical: np.ndarray):
        from sklearn.preprocessing import OrdinalEncoder

        enc = pre.named_transformers_["encoder"]
        if type(enc) is not OrdinalEncoder or getattr(enc, "_infrequent_enabled", False):
            raise ValueError("unsupported HistGradientBoosting preprocessor")
        self.cat_idx = np.flatnonzero(is_categorical)
        self.num_idx = np.flatnonzero(~is_categorical)
        self.categories = [np.asarray(c, dtype="float64") for c in enc.categories_]
        if any(np.isnan(c).any() or np.any(np.diff(c) <= 0) for c in self.categories):
            raise ValueError("HistGradientBoosting categories are not sorted numeric codes")

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype="float64")
        cats = np.empty((X.shape[0], len(self.cat_idx)), dtype="float64")
        for j, (col, known) in enumerate(zip(self.cat_idx, self.categories, strict=False)):
            values = X[:, col]
            pos = np.clip(np.searchsorted(known, values), 0, len(known) - 1)
            cats[:, j] = np.where(known[pos] == values, pos, np.nan)
        return np.hstack([cats, X[:, self.num_idx]])


class FastDecision:
    """Calibrated log-odds of ``model`` from {feature: column array}; raises ValueError for unsupported shapes."""

    def __init__(self, model: Any, categorical: frozenset[str]):
        from sklearn.compose import ColumnTransformer

        pipe = copy.deepcopy(model.pipeline)
        pre, clf = pipe.named_steps["pre"], pipe.named_steps["clf"]
        if not isinstance(pre, ColumnTransformer):
            raise ValueError("the pipeline's first step is not a ColumnTransformer")
        self.blocks: list[tuple[Any, list[str], bool]] = []
        for _name, trans, cols in pre.transformers_:
            if (isinstance(trans, str) and trans == "drop") or len(cols) == 0:
                continue
            if isinstance(trans, str):
                raise ValueError(f"unsupported transformer {trans!r}")
            if not all(isinstance(c, str) for c in cols):
                raise ValueError("columns are not selected by name")
            self.blocks.append((_fast(trans), list(cols), all(c in categorical for c in cols)))
        if hasattr(clf, "n_jobs"):
            clf.n_jobs = 1  # one request is far too small to parallelise; workers give parallelism
        _strip_feature_names(clf)
        if getattr(clf, "_preprocessor", None) is not None:
            clf._preprocessor = _NumpyHgbPreprocessor(clf._preprocessor, np.asarray(clf.is_categorical_))
        self.clf = clf
        self.forest = flat_forest(clf)
        self.slope, self.intercept = float(model.slope), float(model.intercept)

    def _matrix(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        """The classifier's input: every column block through its (numpy) transformer, side by side."""
        parts = []
        for trans, cols, is_cat in self.blocks:
            block = np.column_stack([columns[c] for c in cols]).astype(object if is_cat else "float64", copy=False)
            out = trans(block)
            parts.append(out.toarray() if hasattr(out, "toarray") else np.asarray(out, dtype="float64"))
        return np.hstack(parts)

    def _forest_raw(self, matrix: np.ndarray) -> np.ndarray:
        assert self.forest is not None, "only called when the forest was flattened"
        pre = self.clf._preprocessor
        return self.forest.raw_predict(pre.transform(matrix) if pre is not None else matrix)

    def __call__(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        return self._log_odds(self._matrix(columns))

    def _log_odds(self, matrix: np.ndarray) -> np.ndarray:
        if self.forest is not None and len(matrix) <= FLAT_FOREST_MAX_ROWS:
            raw = self.clf._loss.predict_proba(self._forest_raw(matrix))[:, 1]
        else:
            raw = self.clf.predict_proba(matrix)[:, 1]
        return self.slope * logit(raw) + self.intercept

    def verify(self, model: Any, X: pd.DataFrame, tol: float = 1e-9) -> float:
        """Largest |difference| to the pipeline's log-odds on ``X`` (for a HistGradientBoosting also of the
        :class:`~laip.api.flat_forest.FlatForest` to sklearn's raw scores); raises ValueError above ``tol``."""
        expected = model.decision_function(X)
        matrix = self._matrix({f: X[f].to_numpy() for f in X.columns})
        got = self._log_odds(matrix)
        diff = float(np.max(np.abs(got - expected))) if len(X) else 0.0
        if self.forest is not None and len(X):
            flat_diff = float(np.max(np.abs(self._forest_raw(matrix) - self.clf._raw_predict(matrix)[:, 0])))
            if not flat_diff <= tol:
                raise ValueError(f"the flat forest differs from the trees by {flat_diff:.3g}")
            diff = max(diff, flat_diff)
        if not diff <= tol:
            raise ValueError(f"fast path differs from the pipeline by {diff:.3g}")
        return diff


def fast_decision(model: Any, categorical: frozenset[str], X_check: pd.DataFrame):
    """A verified :class:`FastDecision`, or None (use the pipeline) when unsupported or not identical."""
    try:
        fast = FastDecision(model, categorical)
        diff = fast.verify(model, X_check)
    except (ValueError, AttributeError, KeyError, TypeError) as exc:
        log.warning("serving through the sklearn pipeline (fast path unavailable: %s)", exc)
        return None
    log.info("fast path verified on %d rows (max |diff| %.2g)", len(X_check), diff)
    return fast

"""Model pipelines, grouped-CV tuning, out-of-fold calibration and the selection rule.

Each model is a scikit-learn ``Pipeline`` (preprocessing + classifier) tuned with grouped k-fold CV inside the
training data only. Its out-of-fold (OOF) probabilities then give (a) a sigmoid calibration map and (b) the
operating threshold (max F1), so neither ever looks at the test set. :class:`CalibratedModel` bundles the fitted
pipeline, the calibration map and the threshold into the one object logged to MLflow.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.feature_selection import VarianceThreshold
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from laip.ml.config import MLConfig
from laip.ml.metrics import choose_threshold

EPS = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


class CalibratedModel(ClassifierMixin, BaseEstimator):
    """A fitted pipeline whose probability goes through ``sigmoid(slope * logit(p) + intercept)``.

    ``predict`` flags rows at or above ``threshold`` (chosen on training-CV predictions).
    """

    def __init__(
        self,
        pipeline: Any = None,
        slope: float = 1.0,
        intercept: float = 0.0,
        threshold: float = 0.5,
        model_name: str = "",
    ):
        self.pipeline = pipeline
        self.slope = slope
        self.intercept = intercept
        self.threshold = threshold
        self.model_name = model_name

    @property
    def classes_(self) -> np.ndarray:
        return np.array([0, 1])

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> CalibratedModel:
        self.pipeline.fit(X, y)
        return self

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated log-odds."""
        raw = self.pipeline.predict_proba(X)[:, 1]
        return self.slope * logit(raw) + self.intercept

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = sigmoid(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= self.threshold).astype(int)


def build_pipeline(name: str, config: MLConfig, params: Mapping[str, Any] | None = None) -> Pipeline:
    """The pipeline of model ``name`` (lr / rf / hgb) with ``params`` set on its classifier."""
    num, cat = config.numeric_features, config.categorical_features
    params = dict(params or {})
    if name == "lr":
        pre = ColumnTransformer(
            [
                (
                    "num",
                    Pipeline(
                        [
                            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
                            ("scale", StandardScaler()),
                        ]
                    ),
                    num,
                ),
                ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), cat),
            ]
        )
        clf = LogisticRegression(
            class_weight="balanced", solver="newton-cholesky", max_iter=200, random_state=config.seed
        )
    elif name == "rf":
        pre = ColumnTransformer(
            [
                ("num", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True), num),
                ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), cat),
            ]
        )
        clf = RandomForestClassifier(class_weight="balanced_subsample", n_jobs=2, random_state=config.seed)
    elif name == "hgb":
        # Native NaN support: missing clicks stay missing. Categories are ordinal-coded and declared categorical.
        # Numeric columns without any spread in the training rows (e.g. all NaN: no click log at all) are
        # dropped; they carry no information and all-NaN columns break the binning of scikit-learn 1.9.
        pre = ColumnTransformer(
            [
                (
                    "cat",
                    OrdinalEncoder(
                        handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
                    ),
                    cat,
                ),
                ("num", VarianceThreshold(0.0), num),
            ]
        )
        clf = HistGradientBoostingClassifier(
            categorical_features=list(range(len(cat))), early_stopping=False, random_state=config.seed
        )
    else:
        raise ValueError(f"unknown model {name!r}")
    clf.set_params(**params)
    return Pipeline([("pre", pre), ("clf", clf)])


def param_grid(grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """All combinations of a {name: [values]} grid, in a stable order."""
    keys = sorted(grid)
    return [dict(zip(keys, values, strict=False)) for values in itertools.product(*(grid[k] for k in keys))]


def group_folds(y: np.ndarray, groups: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped k-fold (no student in two folds), shuffled with ``seed``."""
    k = max(2, min(k, len(np.unique(groups))))
    return list(GroupKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))


def oof_proba(
    pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Out-of-fold probabilities of ``pipeline`` over ``folds``."""
    out = np.full(len(y), np.nan)
    for train, test in folds:
        model = clone(pipeline).fit(X.iloc[train], y[train])
        out[test] = model.predict_proba(X.iloc[test])[:, 1]
    return out


def auc_or_nan(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC, NaN when ``y`` holds one class only."""
    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")


def fit_platt(raw_proba: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Sigmoid calibration map (slope, intercept) on log-odds, fitted by (nearly unpenalised) logistic regression."""
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(logit(raw_proba).reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


@dataclass
class FitOutcome:
    """A tuned, calibrated model with its training-CV evidence."""

    model: CalibratedModel
    best_params: dict[str, Any]
    cv_scores: dict[str, float]  # mean grouped-CV ROC AUC per grid point (json-able key)
    cv_roc_auc: float  # OOF ROC AUC of the chosen grid point
    oof_proba: np.ndarray  # calibrated OOF probabilities on the training rows
    threshold: float


def fit_model(
    name: str,
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    config: MLConfig,
    grid: Mapping[str, list[Any]] | None = None,
    folds: int | None = None,
) -> FitOutcome:
    """Tune ``name`` on grouped k-fold CV (ROC AUC), calibrate and choose the threshold on OOF, refit on all rows."""
    with warnings.catch_warnings():
        # all-NaN columns (no click log in the rows) are expected; VarianceThreshold drops them
        warnings.filterwarnings("ignore", message=".*(Degrees of freedom|All-NaN slice).*", category=RuntimeWarning)
        return _fit_model(name, X, y, groups, config, grid, folds)


def _fit_model(
    name: str,
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    config: MLConfig,
    grid: Mapping[str, list[Any]] | None,
    folds: int | None,
) -> FitOutcome:
    y = np.asarray(y, dtype=int)
    cv = group_folds(y, groups, folds or config.cv_folds, config.seed)
    candidates = param_grid(grid if grid is not None else config.model_params[name])
    scores: dict[str, float] = {}
    best_params, best_oof, best_score = candidates[0], None, -np.inf
    for params in candidates:
        oof = oof_proba(build_pipeline(name, config, params), X, y, cv)
        score = auc_or_nan(y, oof)
        scores[repr(sorted(params.items()))] = score
        if best_oof is None or score > best_score:
            best_params, best_oof, best_score = params, oof, score
    assert best_oof is not None, "param_grid yields at least one candidate"
    slope, intercept = fit_platt(best_oof, y)
    calibrated_oof = sigmoid(slope * logit(best_oof) + intercept)
    threshold = choose_threshold(y, calibrated_oof)
    pipeline = build_pipeline(name, config, best_params).fit(X, y)
    model = CalibratedModel(pipeline, slope, intercept, threshold, name)
    return FitOutcome(model, best_params, scores, best_score, calibrated_oof, threshold)


def select_model(scores: Mapping[str, float], baseline: str, tolerance: float) -> str:
    """Highest score wins; the baseline wins when it is within ``tolerance`` of the best (ties go to the
    baseline). NaN scores never win; among equal non-baseline scores the first listed wins."""
    valid = {k: v for k, v in scores.items() if v is not None and not np.isnan(v)}
    if not valid:
        raise ValueError("no model has a score to select on")
    best = max(valid, key=lambda k: valid[k])
    if baseline in valid and valid[baseline] >= valid[best] - tolerance:
        return baseline
    return best

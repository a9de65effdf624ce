"""Per-checkpoint figures for the ML benchmark (:mod:`laip.bench.ml`): the untuned first look at every checkpoint
(:func:`checkpoint_table`) and the day-30 champion scored on another checkpoint's rows."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from laip.config import Settings


def day30_champion_auc(settings: Settings, temporal) -> float:
    """ROC AUC of the day-30 champion on the temporal test rows of another checkpoint (``temporal``)."""
    from laip.ml.config import load_ml_config
    from laip.ml.registry import get_champion

    _, data, split = temporal
    model = get_champion(settings, load_ml_config(settings)).load()
    return held_out_auc(data.y[split.test], model.predict_proba(data.X.iloc[split.test])[:, 1])


def held_out_auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if len(set(y)) == 2 else float("nan")


def checkpoint_table(settings: Settings, models: tuple[str, ...] = ("lr", "hgb")) -> pd.DataFrame:
    """The temporal split at every checkpoint P: each of ``models`` (the first value of each grid of its
    configured parameters: untuned) fitted on the training rows of checkpoint P, scored on P's test rows; plus
    ``day30`` = the same HGB fitted at day 30 applied to P's test rows (what the day-30 model gives later in
    the term). Per row: n, base rate, pooled ROC AUC and AP, ROC AUC with / without click data, within-course
    ROC AUC and its lowest course."""
    from sklearn.metrics import average_precision_score

    from laip.ml.config import load_ml_config
    from laip.ml.features import load_feature_data, temporal_split
    from laip.ml.metrics import within_course_auc
    from laip.ml.modeling import build_pipeline

    base = load_ml_config(settings)
    first = {m: {k: v[0] for k, v in base.model_params[m].items()} for m in base.model_params}
    fitted, rows = {}, []
    days = sorted(base.checkpoints, key=lambda d: d != base.prediction_day)  # day 30 first: its model is reused
    for day in days:
        config = base.at_checkpoint(day)
        data = load_feature_data(settings.warehouse, config)
        split = temporal_split(data, config)
        X_train, X_test, y = data.X.iloc[split.train], data.X.iloc[split.test], data.y[split.test]
        test_frame = data.frame.iloc[split.test]
        scores = {}
        for name in models:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pipe = build_pipeline(name, config, first[name]).fit(X_train, data.y[split.train])
            scores[name] = pipe.predict_proba(X_test)[:, 1]
            if day == base.prediction_day:
                fitted[name] = pipe
        scores["day30"] = fitted["hgb"].predict_proba(X_test)[:, 1]
        clicks = test_frame["has_click_data"].to_numpy(dtype=bool)
        for name, p in scores.items():
            per_course = pd.DataFrame(
                [
                    {
                        "model": name,
                        "code_module": m,
                        "code_presentation": c,
                        "n": len(g),
                        "roc_auc": held_out_auc(y[g.index], p[g.index]),
                    }
                    for (m, c), g in test_frame.reset_index(drop=True).groupby(["code_module", "code_presentation"])
                ]
            )
            within = within_course_auc(per_course).iloc[0]
            rows.append(
                {
                    "day": day,
                    "model": name,
                    "n_train": len(split.train),
                    "n_test": len(y),
                    "base_rate": float(y.mean()),
                    "roc_auc": held_out_auc(y, p),
                    "average_precision": float(average_precision_score(y, p)),
                    "auc_with_clicks": held_out_auc(y[clicks], p[clicks]),
                    "auc_without_clicks": held_out_auc(y[~clicks], p[~clicks]),
                    "within_course_auc": within.within_course_auc,
                    "lowest_course_auc": within.lowest_course_auc,
                    "lowest_course": within.lowest_course,
                }
            )
    return pd.DataFrame(rows).sort_values(["day", "model"]).reset_index(drop=True)

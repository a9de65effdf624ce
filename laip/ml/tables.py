"""Column schemas of the ML serving tables in schema ``ml`` (one definition for writers, tests and docs).

Every table carries the checkpoint (``prediction_day``), the MLflow run that produced it and the registered model
version; per-student and per-presentation tables carry ``code_module`` and ``code_presentation`` for dashboard
filters.
"""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd

from laip.ml.config import MLConfig
from laip.ml.evaluate import Evaluation
from laip.ml.metrics import METRICS

RUN_COLUMNS: dict[str, str] = {
    "is_selected": "BOOLEAN",  # row belongs to the model selected (and registered) by this training
    "mlflow_run_id": "VARCHAR",  # nested run of the model
    "mlflow_parent_run_id": "VARCHAR",  # the training run
    "registered_model_name": "VARCHAR",
    "model_version": "INTEGER",  # version registered (and aliased champion) by this training
    "trained_at": "TIMESTAMPTZ",
}

_MODEL_SPLIT = {"prediction_day": "INTEGER", "model_name": "VARCHAR", "split": "VARCHAR"}  # checkpoint, model, split

SCHEMAS: dict[str, dict[str, str]] = {
    "ml_withdrawal_model_comparison": {
        **_MODEL_SPLIT,
        "model_label": "VARCHAR",
        "roc_auc": "DOUBLE",
        "average_precision": "DOUBLE",
        "precision": "DOUBLE",
        "recall": "DOUBLE",
        "f1": "DOUBLE",
        "brier": "DOUBLE",
        "base_rate": "DOUBLE",
        "threshold": "DOUBLE",
        "flag_rate": "DOUBLE",
        "n_train": "BIGINT",
        "n_test": "BIGINT",
        "n_test_positive": "BIGINT",
        "cv_roc_auc": "DOUBLE",
        "best_params": "VARCHAR",
        **RUN_COLUMNS,
    },
    "ml_withdrawal_metrics": {
        **_MODEL_SPLIT,
        "subset": "VARCHAR",
        "code_module": "VARCHAR",
        "code_presentation": "VARCHAR",
        "metric": "VARCHAR",
        "value": "DOUBLE",
        "n": "BIGINT",
        "n_positive": "BIGINT",
        **RUN_COLUMNS,
    },
    "ml_withdrawal_feature_importance": {
        **_MODEL_SPLIT,
        "feature": "VARCHAR",
        "term": "VARCHAR",
        "feature_label": "VARCHAR",
        "family": "VARCHAR",
        "importance_type": "VARCHAR",
        "importance": "DOUBLE",
        "importance_std": "DOUBLE",
        "rank": "INTEGER",
        **RUN_COLUMNS,
    },
    "ml_withdrawal_roc_curve": {
        **_MODEL_SPLIT,
        "point": "INTEGER",
        "fpr": "DOUBLE",
        "tpr": "DOUBLE",
        "threshold": "DOUBLE",
        **RUN_COLUMNS,
    },
    "ml_withdrawal_pr_curve": {
        **_MODEL_SPLIT,
        "point": "INTEGER",
        "recall": "DOUBLE",
        "precision": "DOUBLE",
        "threshold": "DOUBLE",
        **RUN_COLUMNS,
    },
    "ml_withdrawal_calibration": {
        **_MODEL_SPLIT,
        "bin": "INTEGER",
        "mean_predicted": "DOUBLE",
        "observed_rate": "DOUBLE",
        "n": "BIGINT",
        **RUN_COLUMNS,
    },
    "ml_withdrawal_fairness": {
        **_MODEL_SPLIT,
        "attribute": "VARCHAR",
        "attribute_label": "VARCHAR",
        "group_value": "VARCHAR",
        "n": "BIGINT",
        "n_positive": "BIGINT",
        "base_rate": "DOUBLE",
        "roc_auc": "DOUBLE",
        "precision": "DOUBLE",
        "recall": "DOUBLE",
        "flag_rate": "DOUBLE",
        **RUN_COLUMNS,
    },
    "ml_withdrawal_predictions": {
        "student_module_id": "VARCHAR",
        "code_module": "VARCHAR",
        "code_presentation": "VARCHAR",
        "id_student": "BIGINT",
        "module_presentation_id": "VARCHAR",
        "prediction_day": "INTEGER",
        "has_click_data": "BOOLEAN",
        "withdrawal_probability": "DOUBLE",
        "risk_band": "VARCHAR",
        "is_flagged": "BOOLEAN",
        "decision_threshold": "DOUBLE",
        "reason_1_code": "VARCHAR",
        "reason_1": "VARCHAR",
        "reason_1_contribution": "DOUBLE",
        "reason_2_code": "VARCHAR",
        "reason_2": "VARCHAR",
        "reason_2_contribution": "DOUBLE",
        "reason_3_code": "VARCHAR",
        "reason_3": "VARCHAR",
        "reason_3_contribution": "DOUBLE",
        "module_context": "VARCHAR",  # a context reason (about the module run, not the student) that raises the risk
        "module_context_contribution": "DOUBLE",
        "observed_withdrew_after_day_30": "INTEGER",
        "is_training_row": "BOOLEAN",
        "model_name": "VARCHAR",
        "registered_model_name": "VARCHAR",
        "model_version": "INTEGER",
        "mlflow_run_id": "VARCHAR",
        "scored_at": "TIMESTAMPTZ",
        "as_of_date": "DATE",  # the export's date the data is as of (a live term); NULL for a finished history
    },
    "insight_cards": {
        "card_id": "VARCHAR",
        "topic": "VARCHAR",
        "title": "VARCHAR",
        "body": "VARCHAR",
        "metric_name": "VARCHAR",
        "metric_value": "DOUBLE",
        "metric_unit": "VARCHAR",
        "n": "BIGINT",
        "code_module": "VARCHAR",
        "code_presentation": "VARCHAR",
        "source_tables": "VARCHAR",
        "caveat": "VARCHAR",
        "registered_model_name": "VARCHAR",
        "model_version": "INTEGER",
        "mlflow_run_id": "VARCHAR",
        "generated_at": "TIMESTAMPTZ",
    },
}

SCHEMAS["ml_withdrawal_risk_list"] = {  # laip.ml.risk_list
    **SCHEMAS["ml_withdrawal_predictions"],
    "students_in_presentation": "BIGINT",
    "rank_in_presentation": "INTEGER",  # 1 = highest probability of the module-presentation
    "risk_percentile": "DOUBLE",  # 100 = highest
    "relative_band": "VARCHAR",  # top / next / rest of the module-presentation
    "relative_band_rule": "VARCHAR",
    "attempt_label": "VARCHAR",  # 'AAA 2014J · #0001 · student 12345': the drill-down's pick list
}

SCHEMAS["ml_withdrawal_risk_history"] = {  # laip.ml.score: one row per attempt and checkpoint reached
    (c if c != "observed_withdrew_after_day_30" else "observed_withdrew_after_prediction_day"): t
    for c, t in SCHEMAS["ml_withdrawal_predictions"].items()
}

SCHEMAS["ml_withdrawal_risk_current"] = {  # laip.ml.risk_history.risk_current: each attempt's latest checkpoint
    **SCHEMAS["ml_withdrawal_risk_history"],
    "previous_prediction_day": "INTEGER",
    "previous_probability": "DOUBLE",
    "previous_risk_band": "VARCHAR",
    "probability_change": "DOUBLE",  # withdrawal_probability - previous_probability
    "risk_change": "VARCHAR",  # newly high / risen / fallen / steady / first checkpoint
    # a live term: the previous export's view of the attempt (laip.ml.risk_history.since_previous_export)
    "previous_export_date": "DATE",
    "previous_export_prediction_day": "INTEGER",
    "previous_export_risk_band": "VARCHAR",
    "is_new_high_since_previous_export": "BOOLEAN",
}

SCORING_TABLES = (
    "ml_withdrawal_predictions",
    "ml_withdrawal_risk_list",
    "ml_withdrawal_risk_history",
    "ml_withdrawal_risk_current",
)
TRAINING_TABLES = tuple(t for t in SCHEMAS if t not in (*SCORING_TABLES, "insight_cards"))


def run_columns(
    frame: pd.DataFrame,
    name: str,
    selected: str,
    run_ids: dict[str, str],
    parent: str,
    config: MLConfig,
    version: int,
    trained_at: datetime,
) -> pd.DataFrame:
    return frame.assign(
        prediction_day=config.prediction_day,
        model_name=name,
        is_selected=name == selected,
        mlflow_run_id=run_ids[name],
        mlflow_parent_run_id=parent,
        registered_model_name=config.registered_model_name,
        model_version=version,
        trained_at=trained_at,
    )


def build_tables(
    evals: dict[str, list[Evaluation]],
    importances: dict[str, pd.DataFrame],
    selected: str,
    run_ids: dict[str, str],
    parent: str,
    config: MLConfig,
    version: int,
    trained_at: datetime,
) -> dict[str, pd.DataFrame]:
    """The model-evaluation serving tables (see :mod:`laip.ml.tables`)."""
    parts: dict[str, list[pd.DataFrame]] = {
        k: [] for k in ("comparison", "metrics", "importance", "roc", "pr", "calibration", "fairness")
    }
    for name, model_evals in evals.items():

        def tag(frame: pd.DataFrame, name: str = name) -> pd.DataFrame:
            return run_columns(frame, name, selected, run_ids, parent, config, version, trained_at)

        for ev in model_evals:
            s = ev.split.name
            m = ev.metrics
            parts["comparison"].append(
                tag(
                    pd.DataFrame(
                        [
                            {
                                "split": s,
                                "model_label": config.model_labels.get(name, name),
                                **{k: m[k] for k in METRICS},
                                "threshold": ev.outcome.threshold,
                                "n_train": len(ev.split.train),
                                "n_test": int(m["n"]),
                                "n_test_positive": int(m["n_positive"]),
                                "cv_roc_auc": ev.outcome.cv_roc_auc,
                                "best_params": json.dumps(ev.outcome.best_params, sort_keys=True),
                            }
                        ]
                    )
                )
            )
            long = [
                {
                    "split": s,
                    "subset": sub["subset"],
                    "code_module": sub.get("code_module"),
                    "code_presentation": sub.get("code_presentation"),
                    "metric": metric,
                    "value": sub[metric],
                    "n": int(sub["n"]),
                    "n_positive": int(sub["n_positive"]),
                }
                for sub in ev.subsets
                for metric in METRICS
            ]
            parts["metrics"].append(tag(pd.DataFrame(long)))
            for key, frame in (("roc", ev.roc), ("pr", ev.pr)):
                parts[key].append(tag(frame.assign(split=s, point=np.arange(len(frame)))))
            parts["calibration"].append(tag(ev.calibration.assign(split=s)))
            parts["fairness"].append(
                tag(ev.fairness.assign(split=s, attribute_label=ev.fairness.attribute.map(config.label)))
            )
        parts["importance"].append(tag(importances[name].assign(split=evals[name][0].split.name)))
    names = {
        "comparison": "ml_withdrawal_model_comparison",
        "metrics": "ml_withdrawal_metrics",
        "importance": "ml_withdrawal_feature_importance",
        "roc": "ml_withdrawal_roc_curve",
        "pr": "ml_withdrawal_pr_curve",
        "calibration": "ml_withdrawal_calibration",
        "fairness": "ml_withdrawal_fairness",
    }
    return {names[k]: pd.concat(v, ignore_index=True) for k, v in parts.items()}

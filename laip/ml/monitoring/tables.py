"""The monitoring tables of schema ``ml`` (one definition for the writer, the tests and the dashboards)."""

from __future__ import annotations

import pandas as pd

DRIFT = "ml_monitoring_feature_drift"
PERFORMANCE = "ml_monitoring_performance"
API = "ml_monitoring_api"
DECISION = "ml_monitoring_decision"

CHAMPION_COLUMNS = {
    "registered_model_name": "VARCHAR",
    "model_version": "INTEGER",
    "mlflow_run_id": "VARCHAR",
    "computed_at": "TIMESTAMPTZ",
}
SCHEMAS: dict[str, dict[str, str]] = {
    DRIFT: {
        "prediction_day": "INTEGER",  # the checkpoint whose rows and champion these are
        "feature": "VARCHAR",
        "feature_label": "VARCHAR",
        "family": "VARCHAR",
        "kind": "VARCHAR",
        "population": "VARCHAR",
        "population_type": "VARCHAR",
        "in_training": "BOOLEAN",
        "seen_at_training": "BOOLEAN",
        "n_rows": "BIGINT",
        "missing_share": "DOUBLE",
        "reference_missing_share": "DOUBLE",
        "psi": "DOUBLE",
        "ks_stat": "DOUBLE",
        "ks_pvalue": "DOUBLE",
        "is_key_feature": "BOOLEAN",
        "psi_threshold": "DOUBLE",
        "drifted": "BOOLEAN",
        "triggers_retrain": "BOOLEAN",
        "profile_source": "VARCHAR",
        **CHAMPION_COLUMNS,
    },
    PERFORMANCE: {
        "prediction_day": "INTEGER",
        "population": "VARCHAR",
        "in_training": "BOOLEAN",
        "seen_at_training": "BOOLEAN",
        "n": "BIGINT",
        "n_positive": "BIGINT",
        "auc": "DOUBLE",
        "average_precision": "DOUBLE",
        "base_rate": "DOUBLE",
        "champion_auc": "DOUBLE",
        "relative_drop": "DOUBLE",
        "auc_drop_threshold": "DOUBLE",
        "decayed": "BOOLEAN",
        "triggers_retrain": "BOOLEAN",
        **CHAMPION_COLUMNS,
    },
    API: {
        "period_type": "VARCHAR",
        "period_start": "TIMESTAMPTZ",
        "requests": "BIGINT",
        "records": "BIGINT",
        "errors": "BIGINT",
        "client_errors": "BIGINT",
        "server_errors": "BIGINT",
        "error_rate": "DOUBLE",
        "latency_p50_ms": "DOUBLE",
        "latency_p95_ms": "DOUBLE",
        "latency_p99_ms": "DOUBLE",
        **CHAMPION_COLUMNS,
    },
    DECISION: {
        "retrain": "BOOLEAN",
        "mode": "VARCHAR",
        "decision": "VARCHAR",
        "reasons": "VARCHAR",
        "n_triggers": "INTEGER",
        "max_key_feature_psi": "DOUBLE",
        "max_relative_auc_drop": "DOUBLE",
        "psi_threshold": "DOUBLE",
        "auc_drop_threshold": "DOUBLE",
        "key_features": "VARCHAR",
        "champion_auc": "DOUBLE",
        "profile_source": "VARCHAR",
        "outcome": "VARCHAR",
        "new_model_version": "INTEGER",
        "checkpoints_to_retrain": "VARCHAR",  # "30,60": the checkpoints whose models the retraining trains
        **CHAMPION_COLUMNS,
    },
}


def columns(name: str) -> list[str]:
    """The columns of table ``name`` that the computations fill (without the champion's columns)."""
    return [c for c in SCHEMAS[name] if c not in CHAMPION_COLUMNS]


def typed(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Columns in schema order; empty frames get typed columns so DuckDB creates the declared types."""
    frame = frame.reset_index(drop=True)
    if len(frame):
        return frame
    dtypes = {
        "DOUBLE": "float64",
        "BIGINT": "Int64",
        "INTEGER": "Int64",
        "BOOLEAN": "boolean",
        "TIMESTAMPTZ": "datetime64[ns, UTC]",
    }
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(t, "object")) for c, t in SCHEMAS[name].items()})

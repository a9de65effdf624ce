"""What the prediction log says: the API's model inputs (for drift) and its health per hour and day."""

from __future__ import annotations

import pandas as pd

from laip.ml.config import MLConfig
from laip.ml.monitoring.prediction_log import LEGACY_PREDICTION_DAY
from laip.ml.monitoring.tables import API, columns


def api_inputs(log: pd.DataFrame, config: MLConfig) -> pd.DataFrame:
    """Model inputs of the successful prediction records at ``config``'s checkpoint (a line without one was
    scored at day 30), as the model sees them (NULL clicks stay NaN)."""
    from laip.ml.features import prepare_X

    if not len(log):
        return pd.DataFrame(columns=config.features)
    day = log.prediction_day if "prediction_day" in log else pd.Series(pd.NA, index=log.index, dtype="Int64")
    at_day = (day.fillna(LEGACY_PREDICTION_DAY) == config.prediction_day).astype(bool)
    ok = log[(log.status < 400).fillna(False).astype(bool) & at_day]
    frame = ok.reindex(columns=config.features).reset_index(drop=True)
    return prepare_X(frame, config) if len(frame) else pd.DataFrame(columns=config.features)


def api_health(log: pd.DataFrame) -> pd.DataFrame:
    """Requests, errors and latency percentiles per hour and per day (one request = one ``request_id``)."""
    import duckdb

    cols = columns(API)
    if not len(log):
        return pd.DataFrame(columns=cols)
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        con.register("log", log[["request_id", "ts", "status", "latency_ms"]])
        parts = [
            con.execute(f"""
            with requests as (
                select request_id, min(ts) as ts, max(status) as status, max(latency_ms) as latency_ms,
                       count(*) as records
                from log where ts is not null group by request_id)
            select '{period}' as period_type, date_trunc('{period}', ts) as period_start,
                   count(*) as requests, sum(records) as records,
                   count(*) filter (where status >= 400) as errors,
                   count(*) filter (where status between 400 and 499) as client_errors,
                   count(*) filter (where status >= 500) as server_errors,
                   count(*) filter (where status >= 400) / count(*) as error_rate,
                   quantile_cont(latency_ms, 0.5) as latency_p50_ms,
                   quantile_cont(latency_ms, 0.95) as latency_p95_ms,
                   quantile_cont(latency_ms, 0.99) as latency_p99_ms
            from requests group by all order by period_start""").df()
            for period in ("hour", "day")
        ]
    return pd.concat(parts, ignore_index=True)[cols]

"""A constructed API prediction log for tests: real day-30 feature rows of a warehouse as request inputs, with
made-up timestamps, latencies and a few rejected requests, in the API's JSON-lines layout
(``$LAIP_HOME/predictions/date=YYYY-MM-DD/part-*.jsonl``)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from laip.config import Settings
from laip.ml.config import load_ml_config


def write_prediction_log(
    settings: Settings, n: int = 60, days: int = 2, start: datetime = datetime(2026, 11, 20, 9, tzinfo=UTC)
) -> Path:
    """``n`` requests spread over ``days`` days (every 10th rejected with 422, one 500); returns the log dir."""
    config = load_ml_config(settings)
    cols = ", ".join(f'"{f}"' for f in config.features)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = con.execute(f"select {cols} from {config.source_table} order by student_module_id limit {n}").fetchall()
    lines: dict[str, list[str]] = {}
    for i, row in enumerate(rows):
        ts = start + timedelta(minutes=i * days * 24 * 60 // max(1, n))
        status = 500 if i == n - 1 else 422 if i % 10 == 9 else 200
        inputs = {
            f: (None if isinstance(v, float) and math.isnan(v) else v)
            for f, v in zip(config.features, row, strict=False)
        }
        record = {
            "ts": ts.isoformat(),
            "request_id": f"req-{i:05d}",
            "endpoint": "/v1/predict",
            "status": status,
            "latency_ms": round(5 + (i % 7) * 1.5 + (40 if i % 20 == 0 else 0), 2),
            "model_name": "lr",
            "registered_model_name": config.registered_model_name,
            "model_version": "1",
            "inputs": inputs if status == 200 else None,
            "output": {"probability": 0.2, "risk_band": "medium", "is_flagged": False, "reasons": []}
            if status == 200
            else None,
        }
        if status != 200:
            record["error"] = "constructed error"
        lines.setdefault(f"{ts:%Y-%m-%d}", []).append(json.dumps(record, default=str))
    for day, day_lines in lines.items():
        folder = settings.prediction_log_dir / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "part-00000.jsonl").write_text("\n".join(day_lines) + "\n")
    return settings.prediction_log_dir

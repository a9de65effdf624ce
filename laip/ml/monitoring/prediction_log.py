"""The prediction log's format: where the API's lines are and what each holds, and its reader (monitoring).

Layout: ``<Settings.prediction_log_dir>/date=YYYY-MM-DD/part-<pid>-<start-epoch>.jsonl`` (UTC date of the line;
one file per server process and day, so concurrent workers never share a file).

One line per scored record, and one per rejected request::

    ts                     ISO-8601 UTC timestamp of the request ("2026-11-23T17:20:01.123456+00:00")
    request_id             hex id, also returned in the response body / X-Request-ID header
    endpoint               "/predict" or "/predict/batch" (or the path of a rejected request)
    status                 HTTP status of the request (200; 4xx for rejected requests)
    latency_ms             request start -> scored (excludes the log write itself)
    model_name             algorithm of the champion (lr / rf / hgb); null for rejected requests
    registered_model_name  MLflow registered model; null for rejected requests
    model_version          registered model version (int); null for rejected requests
    prediction_day         the checkpoint scored at (int; lines written before checkpoints: absent = day 30)
    record_index           position of the record in a batch (0 for /predict); null for rejected requests
    student_module_id      optional id given by the client (null when not given)
    inputs                 {feature: value} as validated (null = unknown); null for rejected requests
    output                 {probability, risk_band, is_flagged, reasons: [{code, label, contribution}]}; null
                           for rejected requests
    error                  short reason of a rejection (null for predictions)

The writer is :class:`laip.api.predlog.PredictionLog` (durable group commit); after a crash the last line of a file
may be torn, and :func:`read_prediction_log` skips lines that are not complete JSON objects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from laip.config import Settings

META_COLUMNS = [
    "ts",
    "request_id",
    "endpoint",
    "status",
    "latency_ms",
    "model_name",
    "registered_model_name",
    "model_version",
    "prediction_day",
    "record_index",
    "student_module_id",
    "error",
]
LEGACY_PREDICTION_DAY = 30  # lines written before the API served checkpoints (no prediction_day) were day 30's
OUTPUT_COLUMNS = ["probability", "risk_band", "is_flagged", "reasons"]


def part_path(directory: Path, date: str, pid: int, started: int) -> Path:
    """The part file of one writer process for one UTC date."""
    return Path(directory) / f"date={date}" / f"part-{pid}-{started}.jsonl"


def encode(record: dict[str, Any]) -> bytes:
    """One log line (compact JSON and a newline)."""
    return (json.dumps(record, separators=(",", ":"), allow_nan=False, default=str) + "\n").encode()


def read_lines(directory: Path) -> tuple[list[dict[str, Any]], int]:
    """Every complete line of every part file, and how many lines were skipped (torn / not JSON)."""
    rows: list[dict[str, Any]] = []
    skipped = 0
    for path in sorted(Path(directory).glob("date=*/part-*.jsonl")):
        with path.open("rb") as f:
            for raw in f:
                if not raw.endswith(b"\n"):
                    skipped += 1  # torn last line of a crashed writer
                    continue
                try:
                    row = json.loads(raw)
                except ValueError:
                    skipped += 1
                    continue
                if isinstance(row, dict) and "request_id" in row:
                    rows.append(row)
                else:
                    skipped += 1
    return rows, skipped


def read_prediction_log(source: Settings | Path, *, features: bool = True) -> pd.DataFrame:
    """The prediction log as a DataFrame: the meta columns (see the module docstring), the output fields
    ``probability``, ``risk_band``, ``is_flagged``, ``reasons`` (list of dicts) and, with ``features``, one column
    per input feature (NaN / None = unknown or a rejected request). ``ts`` is a UTC timestamp. Torn or
    malformed lines are skipped (``df.attrs["skipped_lines"]`` counts them)."""
    rows, skipped = read_lines(source.prediction_log_dir if isinstance(source, Settings) else Path(source))
    meta = pd.DataFrame([{c: r.get(c) for c in META_COLUMNS} for r in rows], columns=META_COLUMNS)
    out = pd.DataFrame(
        [{c: (r.get("output") or {}).get(c) for c in OUTPUT_COLUMNS} for r in rows], columns=OUTPUT_COLUMNS
    )
    parts = [meta, out]
    if features:
        parts.append(pd.DataFrame([r.get("inputs") or {} for r in rows], index=meta.index))
    df = pd.concat(parts, axis=1)
    df["ts"] = pd.to_datetime(df["ts"], utc=True, format="ISO8601")
    for col in ("status", "model_version", "prediction_day", "record_index"):
        df[col] = pd.array(df[col], dtype="Int64")
    df["latency_ms"] = pd.to_numeric(df["latency_ms"], errors="coerce")
    df = df.sort_values(["ts", "request_id", "record_index"], kind="stable", na_position="last").reset_index(drop=True)
    df.attrs["skipped_lines"] = skipped
    return df

"""What state the platform is in: last load (the engine's), last build, published snapshot (for ``laip info``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from laip.config import Settings
from laip.warehouse.engine import last_load


def _query(path: Path, sql: str) -> list[tuple] | None:
    if not path.is_file():
        return None
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(sql).fetchall()
    except duckdb.Error:
        return None


def _last_load(settings: Settings) -> dict[str, Any] | None:
    """The engine's last load (on Spark its own manifest, not that of the ML steps' copy); None when there is none
    or it cannot be read now (a writer holds the file, a swap is under way)."""
    try:
        with last_load(settings) as con:
            if con is None:
                return None
            row = con.execute(
                "select any_value(load_id), any_value(source), any_value(source_dir), max(loaded_at), "
                "sum(row_count) from meta.load_manifest"
            ).fetchall()[0]
    except duckdb.Error:
        return None
    return dict(zip(("load_id", "source", "source_dir", "loaded_at", "raw_rows"), row, strict=True))


def status(settings: Settings) -> dict[str, Any]:
    build = _query(
        settings.warehouse, "select success, finished_at from meta.build_status order by finished_at desc limit 1"
    )
    serving = settings.serving_warehouse
    return {
        "warehouse_exists": settings.warehouse.is_file(),
        "last_load": _last_load(settings),
        "last_build": dict(zip(("success", "finished_at"), build[0], strict=False)) if build else None,
        "serving_published_at": (datetime.fromtimestamp(serving.stat().st_mtime, UTC) if serving.is_file() else None),
    }

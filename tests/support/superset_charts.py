"""A chart's data through Superset's chart-data API, as the dashboards ask for it (its saved query context)."""

from __future__ import annotations

import json

from laip.services.superset_api import SupersetAPI


def query_context(api: SupersetAPI, chart_id: int) -> dict:
    status, body = api.get(f"/api/v1/chart/{chart_id}")
    assert status == 200, body
    assert body["result"]["query_context"], f"chart {chart_id} has no saved query context"
    return json.loads(body["result"]["query_context"])


def chart_data(api: SupersetAPI, qc: dict, extra_filters: list[dict] | None = None) -> tuple[int, dict]:
    qc = json.loads(json.dumps(qc))
    qc["force"] = True
    for query in qc["queries"]:
        query["filters"] = list(query.get("filters") or []) + list(extra_filters or [])
    return api.post("/api/v1/chart/data", qc)


def chart_rows(body: dict) -> list:
    return [row for result in body["result"] for row in result["data"]]

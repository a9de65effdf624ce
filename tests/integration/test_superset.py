"""Superset provisioned as code, against a real Superset on loopback and the sample's serving snapshot.

One Superset (gunicorn, threaded workers) is started for the module; it reads a warehouse built by the
real pipeline on the committed sample in a temporary LAIP_HOME.
"""

from __future__ import annotations

import filecmp
import json
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.screenshots import SCREENSHOT_DIR
from support.superset_charts import chart_data, chart_rows, query_context

from laip.config import Settings
from laip.services.net import free_port
from laip.services.superset import (
    SUPERSET_DIR,
    health_url,
    prepare,
    run_provision,
    server_command,
    venv_python,
    wait_healthy,
)
from laip.services.superset_api import SupersetAPI
from laip.warehouse.publish import publish

DASHBOARD = "learning-analytics"
ROLE_USERS = {"viewer": "analytics viewer", "interventionist": "intervention"}


@dataclass
class Instance:
    settings: Settings
    url: str
    users: dict[str, str]  # username -> password (admin included)
    admin: str
    charts: list[dict]  # id, name, dataset, student_level

    def api(self, user: str | None = None) -> SupersetAPI:
        user = user or self.admin
        return SupersetAPI(self.url, user, self.users[user])


@pytest.fixture(scope="module")
def superset(service_sample: Settings) -> Iterator[Instance]:
    venv_python()  # a clear error when `make setup` has not built .venv-superset
    settings = service_sample
    info = prepare(settings)
    users = {info["username"]: info["password"]}
    passwords = {name: secrets.token_urlsafe(12) for name in ROLE_USERS}
    run_provision(
        settings,
        "user",
        *[x for pair in ROLE_USERS.items() for x in pair],
        extra_env={"LAIP_USER_PASSWORDS": json.dumps(passwords)},
    )
    users.update(passwords)

    port = free_port()
    argv, env = server_command(settings, port=port)
    log = (settings.home / "superset-server.log").open("w")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(health_url("127.0.0.1", port), timeout=180, proc=proc)
        url = f"http://127.0.0.1:{port}"
        charts = _chart_inventory(SupersetAPI(url, info["username"], info["password"]))
        yield Instance(settings, url, users, info["username"], charts)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        log.close()


def _chart_inventory(api: SupersetAPI) -> list[dict]:
    """Every chart with its dataset and whether that dataset is student-level (the rule of roles.yaml)."""
    import yaml

    listed = set(yaml.safe_load((SUPERSET_DIR / "roles.yaml").read_text())["student_level_datasets"])
    status, body = api.get("/api/v1/chart/?q=(page_size:100)")
    assert status == 200, body
    charts = []
    for chart in body["result"]:
        qc = query_context(api, chart["id"])
        status, ds = api.get(f"/api/v1/dataset/{qc['datasource']['id']}")
        assert status == 200, ds
        columns = {c["column_name"] for c in ds["result"]["columns"]}
        name = ds["result"]["table_name"]
        charts.append(
            {
                "id": chart["id"],
                "name": chart["slice_name"],
                "dataset": name,
                "student_level": name in listed or bool({"id_student", "student_module_id"} & columns),
            }
        )
    return charts


def _dashboard_chart_ids(api: SupersetAPI) -> dict[int, str]:
    status, body = api.get(f"/api/v1/dashboard/{DASHBOARD}/charts")
    assert status == 200, body
    return {c["id"]: c["slice_name"] for c in body["result"]}


# ------------------------------------------------------------------------------------------- import


def test_assets_import_is_idempotent_and_round_trips(superset: Instance, tmp_path: Path) -> None:
    """`prepare` imported the bundle once; a second import changes nothing, and the instance exports exactly
    the committed bundle (so editing in the UI and exporting gives a reviewable diff, and nothing else)."""
    api = superset.api()
    before = _dashboard_chart_ids(api)
    run_provision(superset.settings, "import")
    run_provision(superset.settings, "export", "--out", str(tmp_path / "export"))

    assert _dashboard_chart_ids(api) == before, "re-import changed chart ids or the dashboard's charts"
    assert _same_tree(filecmp.dircmp(tmp_path / "export", SUPERSET_DIR / "assets")), (
        "export after re-import differs from superset/assets (run `make superset-export` and review the diff)"
    )
    for kind in ("chart", "dataset", "dashboard", "database"):
        status, body = api.get(f"/api/v1/{kind}/?q=(page_size:100)")
        assert status == 200
        assert body["count"] == len(list((SUPERSET_DIR / "assets" / f"{kind}s").rglob("*.yaml"))), kind


def _same_tree(cmp: filecmp.dircmp) -> bool:
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(_same_tree(sub) for sub in cmp.subdirs.values())


def test_metadata_is_owner_only(superset: Instance) -> None:
    """Superset's metadata DB, secret key and caches: 0600 files in 0700 directories (its config sets the umask)."""
    home = superset.settings.superset_home
    assert [p for p in [home, *home.rglob("*")] if p.stat().st_mode & 0o077] == []


def test_passwords_never_reach_a_log(superset: Instance) -> None:
    """The admin and role passwords are in the 0600 credentials file (and as hashes in the metadata DB), never in
    a log: make up prints them to the terminal only."""
    logs = [p for p in superset.settings.home.rglob("*") if p.is_file() and (p.suffix == ".log" or "log" in p.parts)]
    assert logs
    for path in logs:
        text = path.read_text(errors="replace")
        assert not [u for u, pw in superset.users.items() if pw in text], path


def test_database_is_read_only_snapshot_from_laip_home(superset: Instance) -> None:
    status, body = superset.api().get("/api/v1/database/?q=(page_size:10)")
    assert status == 200 and body["count"] == 1
    status, db = superset.api().get(f"/api/v1/database/{body['result'][0]['id']}/connection")
    assert status == 200, db
    uri = db["result"]["sqlalchemy_uri"]
    assert uri == (
        f"duckdb:///{superset.settings.serving_warehouse}?access_mode=read_only&enable_external_access=false"
    )
    assert not db["result"]["allow_dml"] and not db["result"]["allow_file_upload"]


def test_database_cannot_be_repointed_and_refusals_are_4xx(superset: Instance) -> None:
    """The DuckDB connection is pinned to the serving snapshot: a connection to the working warehouse (or any other
    file) is refused with a 4xx naming the snapshot, and DuckDB's own refusals in SQL Lab (writing to the
    read-only snapshot, reading files) are 4xx too, never a 500."""
    api = superset.api()
    working = f"duckdb:///{superset.settings.warehouse}"
    status, body = api.post(
        "/api/v1/database/test_connection/", {"sqlalchemy_uri": working, "database_name": "w"}, csrf=True
    )
    assert 400 <= status < 500 and "pinned to the serving snapshot" in json.dumps(body), (status, body)
    _, listing = api.get("/api/v1/database/?q=(page_size:10)")
    db_id = listing["result"][0]["id"]
    for sql in ("create table x as select 1", "select * from read_csv('/etc/passwd')", "attach 'x.duckdb' as x"):
        status, body = api.post(
            "/api/v1/sqllab/execute/",
            {"database_id": db_id, "sql": sql, "runAsync": False, "schema": "marts"},
            csrf=True,
        )
        assert 400 <= status < 500, (sql, status, body)


# ---------------------------------------------------------------------------------------- chart data
def test_every_chart_returns_data_and_the_native_filters_apply(superset: Instance) -> None:
    api = superset.api()
    status, dash = api.get(f"/api/v1/dashboard/{DASHBOARD}")
    assert status == 200
    filters = {
        f["targets"][0]["column"]["name"]: f
        for f in json.loads(dash["result"]["json_metadata"])["native_filter_configuration"]
    }
    assert set(filters) == {"code_module", "code_presentation", "attempt_label", "prediction_day", "as_of_date"}
    for name in ("code_module", "code_presentation"):
        assert filters[name]["scope"] == {"rootPath": ["ROOT_ID"], "excluded": []}, "a chart is out of scope"
    # the drill-down's student: one, on the drill-down tab only, nothing picked by default (Superset 6.1 shows a
    # first-item default in the filter bar without applying it)
    student = filters["attempt_label"]
    assert student["scope"]["rootPath"] == ["TAB-drilldown"] and not student["controlValues"]["multiSelect"]
    assert not student["controlValues"]["defaultToFirstItem"]
    # the checkpoint: one course day, required, day 30 unless picked, on the model and monitoring tabs
    checkpoint = filters["prediction_day"]
    assert checkpoint["scope"]["rootPath"] == ["TAB-ml", "TAB-monitoring"]
    assert checkpoint["controlValues"]["enableEmptyFilter"] and not checkpoint["controlValues"]["multiSelect"]
    assert checkpoint["defaultDataMask"]["filterState"]["value"] == [30]
    # a live term's export date: one, on the term tab, none picked = the newest (test_a_live_terms_dashboard_...)
    as_of = filters["as_of_date"]
    assert as_of["scope"]["rootPath"] == ["TAB-term"] and not as_of["controlValues"]["multiSelect"]

    charts = _dashboard_chart_ids(api)
    assert len(charts) >= 15
    problems = []
    for chart_id, name in sorted(charts.items()):
        qc = query_context(api, chart_id)
        if name.startswith("Selected student"):  # one student's charts: the student picked in the filter, of module AAA
            problems += _drill_down_problems(superset, api, name, qc)
            continue
        status, body = api.get(f"/api/v1/chart/{chart_id}/data/?force=true")
        if status == 200 and not chart_rows(body) and "live term" in name:
            continue  # a finished history has no export dates: test_a_live_terms_dashboard_... checks this chart
        if status != 200 or not chart_rows(body):
            problems.append(f"{name}: {status} {str(body)[:300]}")
            continue
        base = chart_rows(chart_data(api, qc)[1])
        # the risk list holds only the latest presentation of each module: 2014J for every module of the sample, so
        # filtering on it keeps every row
        risk_list = name.startswith("Risk list")
        presentation = "2014J" if risk_list else "2013J"
        for col, value in (("code_module", "AAA"), ("code_presentation", presentation)):
            status, body = chart_data(api, qc, [{"col": col, "op": "IN", "val": [value]}])
            result = body["result"][0] if status == 200 else {}
            applied = {f["column"] for f in result.get("applied_filters", [])}
            rejected = {f["column"] for f in result.get("rejected_filters", [])}
            if status != 200 or not chart_rows(body):
                problems.append(f"{name} filtered on {col}: {status} {str(body)[:300]}")
            elif col in rejected or col not in applied:
                if "global" not in name.lower():
                    problems.append(f"{name}: the {col} filter is not applied and the title does not say 'global'")
            elif chart_rows(body) == base and not (risk_list and col == "code_presentation"):
                problems.append(f"{name}: filtering on {col} = {value} did not change the result")
        problems += _checkpoint_problems(api, name, qc, base)
    assert not problems, "\n".join(problems)


def test_a_live_terms_dashboard_says_the_date_and_shows_one_week_at_a_time(
    superset: Instance, live_term: tuple[Settings, list[tuple]]
) -> None:
    """A live term's snapshot (three weeks of 2014J replayed on the sample: support/live_term.py) swapped in the way
    publish does: every tab's first line says which export it holds; the week-by-week chart has one point per week;
    the term tab's datasets show the newest week unless an export date is picked, never the weeks added up."""
    import duckdb
    from support.live_term import WEEKS

    live, _ = live_term
    serving = superset.settings.serving_warehouse
    saved = serving.with_name("full-history.duckdb")
    shutil.copy2(serving, saved)
    staged = serving.with_name("live.duckdb.staged")
    shutil.copy2(live.serving_warehouse, staged)
    os.replace(staged, serving)
    try:
        api = superset.api()
        by_name = {c["name"]: c["id"] for c in superset.charts}
        # the export of the last load (test_live_term re-ran an earlier week last: not the newest week)
        with duckdb.connect(str(serving), read_only=True) as con:
            (loaded,) = con.execute("select max(as_of_date) from meta.load_manifest").fetchone()
        status, body = api.get(f"/api/v1/chart/{by_name['Data and model freshness (global)']}/data/?force=true")
        assert status == 200 and f" as of {loaded} (a live term's export)" in chart_rows(body)[0]["freshness"]
        weekly = by_name["Students at high ML risk, week by week of a live term"]
        status, body = api.get(f"/api/v1/chart/{weekly}/data/?force=true")
        assert status == 200 and [r["as_of_date"] for r in chart_rows(body)] == [str(w) for w in WEEKS], body
        assert all(r["AAA"] is not None for r in chart_rows(body))
        bands = query_context(api, by_name["Share of students per ML risk band at each checkpoint"])
        totals = {
            "datasource": bands["datasource"],
            "queries": [{"metrics": ["attempts"], "columns": ["as_of_date"], "row_limit": 100}],
            "result_format": "json",
            "result_type": "full",
        }
        newest = chart_rows(chart_data(api, totals)[1])
        picked = chart_rows(chart_data(api, totals, [{"col": "as_of_date", "op": "IN", "val": [str(WEEKS[0])]}])[1])
        assert [r["as_of_date"] for r in newest] == [str(WEEKS[2])], newest
        assert [r["as_of_date"] for r in picked] == [str(WEEKS[0])], picked
    finally:
        os.replace(saved, serving)


def _checkpoint_problems(api: SupersetAPI, name: str, qc: dict, base: list) -> list[str]:
    """A chart whose dataset follows the Checkpoint filter shows day 30 unless another checkpoint is picked, then
    that one (the charts of the term tab show every checkpoint)."""
    status, dataset = api.get(f"/api/v1/dataset/{qc['datasource']['id']}")
    if status != 200 or "filter_values('prediction_day')" not in (dataset["result"].get("sql") or ""):
        return [] if status == 200 else [f"{name}: dataset {status}"]
    status, body = chart_data(api, qc, [{"col": "prediction_day", "op": "IN", "val": [60]}])
    if status != 200:
        return [f"{name} at day 60: {status} {str(body)[:300]}"]
    days = {row.get("prediction_day") for row in base} - {None}
    if days - {30}:
        return [f"{name}: shows checkpoints {sorted(days)} without a pick, not day 30 only"]
    if not chart_rows(body) or chart_rows(body) == base:
        return [f"{name}: picking day 60 did not show day 60"]
    return []


def _picked_student(settings: Settings) -> str:
    """The drill-down label of the highest-risk student of AAA (whose presentation has a click log)."""
    import duckdb

    with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
        return con.execute(
            "select min(attempt_label) from ml.ml_withdrawal_risk_list where code_module = 'AAA'"
        ).fetchone()[0]


def _drill_down_problems(superset: Instance, api: SupersetAPI, name: str, qc: dict) -> list[str]:
    """Without a pick the drill-down shows no student (the profile says how to pick); with one, that student only."""
    label = _picked_student(superset.settings)
    status, body = chart_data(api, qc)
    unpicked = chart_rows(body) if status == 200 else None
    status, body = chart_data(api, qc, [{"col": "attempt_label", "op": "IN", "val": [label]}])
    picked = chart_rows(body) if status == 200 else None
    if unpicked is None or picked is None:
        return [f"{name}: {status} {str(body)[:300]}"]
    problems = []
    if name.startswith("Selected student: risk"):
        if len(unpicked) != 1 or "No student picked" not in str(unpicked[0]):
            problems.append(f"{name}: without a pick it should say how to pick, got {str(unpicked)[:200]}")
        if len(picked) != 1 or label not in str(picked[0]):
            problems.append(f"{name}: picking {label!r} gave {str(picked)[:200]}")
    else:
        if unpicked:
            problems.append(f"{name}: {len(unpicked)} rows without a student picked")
        if not picked:
            problems.append(f"{name}: no row for {label!r}")
    return problems


def test_small_groups_are_suppressed_in_aggregate_datasets(superset: Instance) -> None:
    """Every viewer-visible dataset row carries a group of at least min_group_size students."""
    api = superset.api()
    status, body = api.get("/api/v1/dataset/?q=(page_size:100)")
    assert status == 200
    by_name = {d["table_name"]: d["id"] for d in body["result"]}
    counts = {
        "bi_final_results": "attempts",
        "bi_learning_funnel": "student_count",
        "bi_engagement_outcomes": "attempts",
        "bi_scores_by_engagement": "attempts_scored",
        "bi_signal_prevalence": "attempts_evaluated",
        "bi_risk_band_outcomes": "attempts",
        "bi_weekly_engagement": "active_students",
        "bi_module_presentations": "n_students",
        "bi_kpi_overview": "attempts",
        "ml_risk_through_the_term": "attempts",
    }
    for dataset, column in counts.items():
        qc = {
            "datasource": {"id": by_name[dataset], "type": "table"},
            "force": True,
            "queries": [{"columns": [column], "metrics": [], "row_limit": 100000}],
            "result_format": "json",
            "result_type": "full",
        }
        for flt in ([], [{"col": "code_module", "op": "IN", "val": ["AAA"]}]):
            status, body = chart_data(api, qc, flt)
            assert status == 200, body
            values = [row[column] for row in chart_rows(body)]
            assert values and min(values) >= superset.settings.min_group_size, (dataset, flt, min(values or [0]))


# --------------------------------------------------------------------------------------------- roles
def test_roles_viewer_is_refused_student_level_data(superset: Instance) -> None:
    student_level = {c["id"] for c in superset.charts if c["student_level"]}
    aggregate = {c["id"] for c in superset.charts if not c["student_level"]}
    assert student_level and aggregate
    admin, viewer, intervention = superset.api(), superset.api("viewer"), superset.api("interventionist")
    contexts = {c["id"]: query_context(admin, c["id"]) for c in superset.charts}

    live_only = {c["id"] for c in superset.charts if "live term" in c["name"]}  # empty for a finished history
    for chart_id in aggregate:
        for api in (viewer, intervention):
            status, body = api.get(f"/api/v1/chart/{chart_id}/data/")
            assert status == 200 and (chart_rows(body) or chart_id in live_only), (chart_id, status, body)
    for chart_id in student_level:
        status, body = viewer.get(f"/api/v1/chart/{chart_id}/data/")
        assert status in (403, 404), (chart_id, status, body)
        qc = dict(contexts[chart_id])
        qc["datasource"] = _datasource_of(admin, chart_id)
        status, body = viewer.post("/api/v1/chart/data", qc)
        assert status == 403, (chart_id, status, body)
        status, body = intervention.get(f"/api/v1/chart/{chart_id}/data/")
        # the drill-down's weekly clicks and assessments are empty until a student is picked
        one_student = next(c["name"] for c in superset.charts if c["id"] == chart_id).startswith("Selected student")
        assert status == 200 and (chart_rows(body) or one_student), (chart_id, status, body)

    status, body = viewer.get("/api/v1/dataset/?q=(page_size:100)")
    visible = {d["table_name"] for d in body["result"]} if status == 200 else set()
    assert not visible & {c["dataset"] for c in superset.charts if c["student_level"]}
    # no SQL Lab for BI users: the database cannot be queried directly
    status, _ = viewer.post("/api/v1/sqllab/execute/", {"database_id": 1, "sql": "select 1"})
    assert status in (401, 403, 400)


def _datasource_of(api: SupersetAPI, chart_id: int) -> dict:
    status, body = api.get(f"/api/v1/chart/{chart_id}")
    assert status == 200
    qc = json.loads(body["result"]["query_context"])
    return qc["datasource"]


# --------------------------------------------------------------------------------------- concurrency
def test_dashboards_keep_working_while_publish_swaps_the_snapshot(superset: Instance) -> None:
    """Chart queries in 4 threads while `publish` swaps in a new snapshot 6 times: zero errors."""
    settings = superset.settings
    charts = _dashboard_chart_ids(superset.api())
    chart_ids = sorted(charts)
    # a drill-down chart with no student picked may rightly have no row; every other chart has rows
    may_be_empty = {cid for cid, name in charts.items() if name.startswith("Selected student")}
    errors: list[str] = []
    queries: list[tuple[float, float]] = []
    stop = threading.Event()

    def loop(offset: int) -> None:
        api = superset.api()
        i = offset
        while not stop.is_set():
            chart_id = chart_ids[i % len(chart_ids)]
            i += 1
            start = time.monotonic()
            try:
                status, body = api.get(f"/api/v1/chart/{chart_id}/data/?force=true")
            except Exception as exc:
                errors.append(f"{chart_id}: {exc!r}")
                continue
            failed = status != 200 or any(r.get("error") for r in body.get("result", []))
            if failed or (not chart_rows(body) and chart_id not in may_be_empty):
                errors.append(f"{chart_id}: {status} {str(body)[:300]}")
            queries.append((start, time.monotonic()))

    threads = [threading.Thread(target=loop, args=(k * 5,), daemon=True) for k in range(4)]
    for t in threads:
        t.start()
    swaps: list[tuple[float, float]] = []
    try:
        for _ in range(6):
            time.sleep(0.5)
            start = time.monotonic()
            publish(settings.warehouse, settings.serving_warehouse)
            swaps.append((start, time.monotonic()))
        deadline = time.monotonic() + 60
        while len(queries) < 40 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    overlapping = sum(1 for qs, qe in queries for ps, pe in swaps if qs < pe and qe > ps)
    assert overlapping >= 6, f"only {overlapping} queries overlapped a swap ({len(queries)} queries)"
    assert not errors, f"{len(errors)} errors in {len(queries) + len(errors)} queries:\n" + "\n".join(errors[:10])


# ------------------------------------------------------------------------------------------- browser
def _browser(superset: Instance, *args: str, user: str | None = None, expect_errors: bool = False) -> dict:
    user = user or superset.admin
    env = {**os.environ, "SUPERSET_USER": user, "SUPERSET_PASSWORD": superset.users[user]}
    proc = subprocess.run(
        [str(venv_python()), str(SUPERSET_DIR / "browser.py"), *args, "--url", superset.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # the whole check: several dashboards, each may wait browser.RENDER_WAIT_S
    )
    if proc.returncode not in (0, 1):  # the browser's error, then what the server logged meanwhile
        log = (superset.settings.home / "superset-server.log").read_text(errors="replace").splitlines()
        pytest.fail(f"{proc.stderr[-3000:]}\nsuperset-server.log, last lines:\n" + "\n".join(log[-60:]))
    report = json.loads(proc.stdout)
    if not expect_errors:
        assert proc.returncode == 0 and not report["errors"], json.dumps(report, indent=1)
    return report


def test_browser_every_tab_renders_without_errors(superset: Instance) -> None:
    """Headless Chromium: log in, open each tab, wait for the charts, no error box, one PNG per tab."""
    report = _browser(superset, "check", "--out", str(SCREENSHOT_DIR))
    tabs = [t["tab"] for t in report["tabs"]]
    assert tabs[:7] == [
        "Overview",
        "Students at risk",  # where the intervention role works: right after the overview
        "Student drill-down",
        "Engagement & Assessment",
        "Student Success Signals",
        "ML Withdrawal Risk",
        "Risk through the term",
    ]
    for tab in report["tabs"]:
        assert tab["charts"] >= 1, tab  # at least the freshness line
        assert tab["markdown"] >= 1 or tab["tab"] == "Engagement & Assessment" or tab["charts"] >= 1
        png = Path(tab["screenshot"])
        assert png.is_file() and png.stat().st_size > 20_000, png
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # with the module filter set through the URL, as a shared dashboard link would
    flt = (
        "(NATIVE_FILTER-module:(extraFormData:(filters:!((col:code_module,op:IN,val:!(AAA)))),"
        "filterState:(label:AAA,validateStatus:!f,value:!(AAA)),id:NATIVE_FILTER-module,ownState:()))"
    )
    report = _browser(
        superset,
        "check",
        "--out",
        str(SCREENSHOT_DIR),
        "--prefix",
        "filtered-module-aaa-",
        "--native-filters",
        flt,
        "--max-tabs",
        "1",
    )
    assert report["tabs"][0]["tab"] == "Overview" and report["tabs"][0]["charts"] >= 7
    # one student picked through the URL, as the risk list's "open" link does: the drill-down shows that student
    label = _picked_student(superset.settings)
    flt = (
        f"(NATIVE_FILTER-student:(extraFormData:(filters:!((col:attempt_label,op:IN,val:!('{label}')))),"
        f"filterState:(value:!('{label}')),id:NATIVE_FILTER-student))"
    )
    args = ("--prefix", "picked-student-", "--native-filters", flt, "--tabs", "Student drill-down")
    report = _browser(superset, "check", "--out", str(SCREENSHOT_DIR), *args)
    (tab,) = report["tabs"]
    # freshness, the student's row, weekly clicks, assessments, risk at every checkpoint
    assert tab["charts"] == 5 and not tab["empty"], tab


def test_browser_viewer_sees_the_aggregates_and_no_student_list(superset: Instance, tmp_path: Path) -> None:
    """As 'analytics viewer': every aggregate chart renders; only the student-level tables show a refusal."""
    report = _browser(superset, "check", "--out", str(tmp_path), user="viewer", expect_errors=True)
    student_charts = {c["name"] for c in superset.charts if c["student_level"]}
    names = {c["name"] for c in superset.charts}
    refused = {n for tab in report["tabs"] for e in tab["errors"] for n in names if e.startswith(f"{n}: ")}
    assert refused == student_charts, json.dumps(report, indent=1)
    # a plain notice, not Superset's "requires ... `all_datasource_access` permission"
    assert all("restricted to the intervention role" in e for tab in report["tabs"] for e in tab["errors"]), report

"""Fast checks of the Superset bundle and the service driver (no Superset process: see the integration tier)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import yaml

from laip.config import load_settings
from laip.services import superset as ss

ASSETS = ss.SUPERSET_DIR / "assets"


def _load(kind: str) -> dict[str, dict]:
    return {
        p.relative_to(ASSETS).as_posix(): yaml.safe_load(p.read_text()) for p in sorted((ASSETS / kind).rglob("*.yaml"))
    }


def test_bundle_references_are_consistent() -> None:
    databases, datasets, charts = _load("databases"), _load("datasets"), _load("charts")
    dashboards = _load("dashboards")
    assert yaml.safe_load((ASSETS / "metadata.yaml").read_text())["type"] == "assets"
    db_uuids = {d["uuid"] for d in databases.values()}
    ds_uuids = {d["uuid"] for d in datasets.values()}
    assert all(d["database_uuid"] in db_uuids for d in datasets.values())
    assert all(c["dataset_uuid"] in ds_uuids for c in charts.values())
    assert len(dashboards) == 1
    dash = next(iter(dashboards.values()))
    assert dash["dashboard_title"] == "Learning Analytics" and dash["slug"] == "learning-analytics"
    in_layout = {n["meta"]["uuid"] for n in dash["position"].values() if isinstance(n, dict) and n["type"] == "CHART"}
    assert in_layout == {c["uuid"] for c in charts.values()}, "every chart is on the dashboard, and only those"
    # the freshness line opens every tab
    for tab in dash["position"]["TABS-main"]["children"]:
        first_row = dash["position"][dash["position"][tab]["children"][0]]
        first = dash["position"][first_row["children"][0]]
        assert first["meta"].get("sliceName") == "Data and model freshness (global)", tab
    tabs = [dash["position"][t]["meta"]["text"] for t in dash["position"]["TABS-main"]["children"]]
    assert tabs == [
        "Overview",
        "Students at risk",
        "Student drill-down",
        "Engagement & Assessment",
        "Student Success Signals",
        "ML Withdrawal Risk",
        "Risk through the term",
        "Model Monitoring",
    ]
    fresh = dash["position"]["CHART-drilldown-freshness"]["meta"]["chartId"]
    for flt in dash["metadata"]["native_filter_configuration"]:
        if flt["id"] == "NATIVE_FILTER-student":  # the drill-down's student: its tab only, not the freshness line
            assert flt["scope"] == {"rootPath": ["TAB-drilldown"], "excluded": [fresh]}
        elif flt["id"] == "NATIVE_FILTER-checkpoint":  # the model and monitoring tabs, not the freshness line / API
            assert flt["scope"]["rootPath"] == ["TAB-ml", "TAB-monitoring"] and fresh in flt["scope"]["excluded"]
        elif flt["id"] == "NATIVE_FILTER-as-of":  # a live term's export date: the term tab's bands and rising risk
            position = dash["position"]
            on_tab = {
                position[c]["meta"]["sliceName"]: position[c]["meta"]["chartId"]
                for row in position["TAB-term"]["children"]
                for c in position[row]["children"]
                if position[c]["type"] == "CHART"
            }
            in_scope = {name for name, chart_id in on_tab.items() if chart_id not in flt["scope"]["excluded"]}
            assert flt["scope"]["rootPath"] == ["TAB-term"] and not flt["controlValues"]["multiSelect"]
            assert in_scope == {
                "Share of students per ML risk band at each checkpoint",
                "Rising risk: newly high first, then the largest rises between checkpoints (student-level, "
                "intervention role)",
            }
        else:
            assert flt["scope"] == {"rootPath": ["ROOT_ID"], "excluded": []}
        assert flt["targets"][0]["datasetUuid"] in ds_uuids


def test_database_is_read_only_with_a_placeholder_path() -> None:
    (db,) = _load("databases").values()
    assert db["sqlalchemy_uri"] == (
        "duckdb:///${LAIP_SERVING_WAREHOUSE}?access_mode=read_only&enable_external_access=false"
    )
    assert not db["allow_dml"] and not db["allow_ctas"] and not db["allow_cvas"]
    text = "\n".join(p.read_text() for p in ASSETS.rglob("*.yaml"))
    for leak in ("/tmp/", "/work/", "/home/", "password", "secret"):
        assert leak not in text.lower(), f"machine-specific or secret value in the bundle: {leak}"


def test_charts_have_query_contexts_and_global_charts_say_so() -> None:
    datasets = {d["uuid"]: d for d in _load("datasets").values()}
    for name, chart in _load("charts").items():
        assert chart["query_context"], f"{name}: no saved query context (see superset/README.md)"
        json.loads(chart["query_context"])
        columns = {c["column_name"] for c in datasets[chart["dataset_uuid"]]["columns"]}
        sql = datasets[chart["dataset_uuid"]]["sql"] or ""
        filterable = {"code_module", "code_presentation"} <= columns or "filter_values('code_module'" in sql
        assert filterable or "global" in chart["slice_name"].lower(), name


def test_history_datasets_show_one_export_date() -> None:
    """In a live term the risk history holds every week's rows: a dataset that reads it shows one export date (the
    one picked in the Export date filter, else the newest), never every week's rows added up; the week-by-week
    chart's dataset is the one that spans dates, one row per date."""
    for dataset in _load("datasets").values():
        sql = dataset["sql"] or ""
        if "ml.ml_withdrawal_risk_history" not in sql:
            continue
        if dataset["table_name"] == "ml_high_risk_by_week":
            assert "partition by as_of_date, student_module_id" in sql
            continue
        assert "filter_values('as_of_date')" in sql and "max(as_of_date)" in sql, dataset["table_name"]
        assert "as_of_date" in {c["column_name"] for c in dataset["columns"]}, dataset["table_name"]


def test_student_level_datasets_are_listed_for_the_roles() -> None:
    listed = set(yaml.safe_load((ss.SUPERSET_DIR / "roles.yaml").read_text())["student_level_datasets"])
    for dataset in _load("datasets").values():
        columns = {c["column_name"] for c in dataset["columns"]}
        per_student = bool({"id_student", "student_module_id"} & columns)
        assert per_student == (dataset["table_name"] in listed), dataset["table_name"]


@pytest.fixture
def fake_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    for exe in ("python", "gunicorn"):
        (venv / "bin" / exe).write_text("#!/bin/sh\n")
    monkeypatch.setattr(ss, "VENV", venv)
    return venv


def test_server_command_listens_on_loopback(home: Path, fake_venv: Path) -> None:
    settings = load_settings()
    argv, env = ss.server_command(settings)
    assert argv[0] == str(fake_venv / "bin" / "gunicorn")
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:8088"
    assert env["LAIP_SUPERSET_HOME"] == str(settings.superset_home)
    assert env["LAIP_SERVING_WAREHOUSE"] == str(settings.serving_warehouse)
    assert env["SUPERSET_CONFIG_PATH"].endswith("superset/superset_config.py")
    assert ss.health_url("127.0.0.1", 8088) == "http://127.0.0.1:8088/health"


def test_missing_superset_environment_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ss, "VENV", tmp_path / "nowhere")
    with pytest.raises(ss.SupersetError, match="make setup"):
        ss.venv_python()


def test_admin_credentials_generated_once_or_from_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUPERSET_ADMIN_USER", raising=False)
    monkeypatch.delenv("SUPERSET_ADMIN_PASSWORD", raising=False)
    settings = load_settings()
    user, password, path = ss.admin_credentials(settings)
    assert user == "admin" and len(password) >= 16
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ss.admin_credentials(settings)[:2] == (user, password)
    monkeypatch.setenv("SUPERSET_ADMIN_USER", "boss")
    monkeypatch.setenv("SUPERSET_ADMIN_PASSWORD", "from-env")
    assert ss.admin_credentials(settings)[:2] == ("boss", "from-env")


def test_connection_mutator_forces_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """superset_config.DB_CONNECTION_MUTATOR (plain Python; importable here) on an edited, writable URI."""
    import importlib.util

    from sqlalchemy.engine import make_url

    monkeypatch.setenv("LAIP_SUPERSET_HOME", str(tmp_path / "superset"))
    monkeypatch.setenv("LAIP_SERVING_WAREHOUSE", "/x/laip.duckdb")
    monkeypatch.delenv("SUPERSET_SECRET_KEY", raising=False)
    spec = importlib.util.spec_from_file_location("laip_superset_config", ss.CONFIG)
    config = importlib.util.module_from_spec(spec)
    umask = os.umask(0o022)
    try:
        spec.loader.exec_module(config)
    finally:
        assert os.umask(umask) == 0o077  # the config makes everything Superset creates owner-only
    assert stat.S_IMODE((tmp_path / "superset").stat().st_mode) == 0o700
    assert (tmp_path / "superset" / "secret_key").is_file() and len(config.SECRET_KEY) >= 40
    assert stat.S_IMODE((tmp_path / "superset" / "secret_key").stat().st_mode) == 0o600
    assert config.SQLALCHEMY_DATABASE_URI == f"sqlite:///{tmp_path / 'superset' / 'superset.db'}"
    uri, params = config.DB_CONNECTION_MUTATOR(
        make_url("duckdb:////x/laip.duckdb?access_mode=read_write"),
        {"connect_args": {"config": {"custom_user_agent": "dashboard", "access_mode": "read_write"}}},
        "admin",
        None,
        None,
    )
    assert uri.query == {"access_mode": "read_only", "enable_external_access": "false"}
    assert params["connect_args"]["config"] == {"custom_user_agent": "laip-superset"}
    other, _ = config.DB_CONNECTION_MUTATOR(make_url("postgresql://h/db"), {}, "admin", None, None)
    assert str(other) == "postgresql://h/db"
    # pinned to the serving snapshot: the working warehouse, another file or an in-memory database is refused
    for elsewhere in ("duckdb:////x/../home/warehouse/laip.duckdb", "duckdb:///:memory:", "duckdb://"):
        with pytest.raises(PermissionError, match=r"pinned to the serving snapshot /x/laip\.duckdb"):
            config.DB_CONNECTION_MUTATOR(make_url(elsewhere), {}, "admin", None, None)


def test_the_checkpoint_filter_defaults_to_the_datasets_default_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundle fills the Checkpoint filter's default from the default checkpoint, as it fills the datasets'."""
    import importlib.util

    for var in ("SUPERSET_CONFIG_PATH", "FLASK_APP"):  # the module sets them on import if unset: kept to this test
        monkeypatch.setenv(var, os.environ.get(var, "unused"))
    spec = importlib.util.spec_from_file_location("provision", ASSETS.parent / "provision.py")
    assert spec and spec.loader
    provision = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(provision)

    def checkpoint_default(day: int) -> dict:
        bundle = provision.read_bundle(ASSETS, tmp_path / "w.duckdb", 10, day)
        dash = yaml.safe_load(next(t for r, t in bundle.items() if r.startswith("dashboards/")))
        (flt,) = [f for f in dash["metadata"]["native_filter_configuration"] if f["id"] == "NATIVE_FILTER-checkpoint"]
        return flt["defaultDataMask"]

    assert checkpoint_default(30)["filterState"]["value"] == [30]
    at_60 = checkpoint_default(60)
    assert at_60["filterState"]["value"] == [60] and at_60["extraFormData"]["filters"][0]["val"] == [60]

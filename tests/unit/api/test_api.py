"""Parts of the prediction API without a server: the prediction log, the request schemas, the fast scoring path."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from laip.api.champion import FieldSpec
from laip.api.fastpath import FLAT_FOREST_MAX_ROWS, FastDecision
from laip.api.predlog import PredictionLog
from laip.api.schemas import api_limits, build_schemas, day_bound_errors
from laip.config import Settings
from laip.ml.config import load_ml_config
from laip.ml.modeling import CalibratedModel, build_pipeline
from laip.ml.monitoring.prediction_log import read_prediction_log
from laip.ml.reasons import explain, reason_contributions, reference_values, top_reason_lists, top_reasons


def _line(rid: str, i: int = 0, status: int = 200) -> dict:
    return {
        "ts": "2026-11-23T10:00:00.000001+00:00",
        "request_id": rid,
        "endpoint": "/predict",
        "status": status,
        "latency_ms": 1.5,
        "model_name": "lr",
        "registered_model_name": "m",
        "model_version": 3,
        "record_index": i,
        "student_module_id": None,
        "inputs": {"clicks_total": None, "code_module": "AAA"},
        "output": {"probability": 0.25, "risk_band": "medium", "is_flagged": True, "reasons": []},
        "error": None,
    }


def test_prediction_log_is_durable_partitioned_and_read_back(settings: Settings) -> None:
    log = PredictionLog(settings.prediction_log_dir)
    try:

        async def many() -> None:
            await asyncio.gather(*(log.append([_line(f"r{i}", 0), _line(f"r{i}", 1)]) for i in range(50)))

        asyncio.run(many())
        # other threads, each with its own event loop (the scoring thread queues its lines the same way)
        threads = [threading.Thread(target=asyncio.run, args=(log.append([_line(f"t{i}")]),)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # acknowledged = already in the file (written and fsync'ed by the writer thread before release)
        part = log.path_for("2026-11-23")
        assert part.parent.name == "date=2026-11-23" and part.name.startswith("part-")
        assert len(part.read_bytes().splitlines()) == 120
    finally:
        log.close()
    with part.open("ab") as f:
        f.write(b'{"ts": "2026-11-23T10:00:01+00:00", "request_id": "torn", "st')
    df = read_prediction_log(settings)
    assert len(df) == 120 and df.attrs["skipped_lines"] == 1 and "torn" not in set(df.request_id)
    assert {
        "ts",
        "request_id",
        "status",
        "latency_ms",
        "model_version",
        "probability",
        "risk_band",
        "reasons",
        "clicks_total",
        "code_module",
    } <= set(df.columns)
    assert str(df.ts.dtype).startswith("datetime64") and df.status.dtype == "Int64"
    assert df.clicks_total.isna().all() and (df.code_module == "AAA").all()


def test_empty_prediction_log_reads_as_empty_frame(settings: Settings) -> None:
    df = read_prediction_log(settings)
    assert df.empty and "request_id" in df.columns


def test_request_schema_from_config_and_field_specs(settings: Settings) -> None:
    config = load_ml_config(settings, profile="quick")
    fields = {f: FieldSpec(f, "float", f.startswith("clicks_")) for f in config.features}
    fields["code_module"] = FieldSpec("code_module", "category", True, ("AAA", "BBB"))
    fields["reg_registered_after_start"] = FieldSpec("reg_registered_after_start", "bool", False)
    fields["assess_due_count"] = FieldSpec("assess_due_count", "int", False)
    schemas = build_schemas(fields, config, api_limits(settings))
    good = {f: 1 for f in config.features} | {
        "code_module": "AAA",
        "clicks_total_percentile": 0.5,
        "reg_registered_after_start": True,
        "clicks_total": None,
        "prior_module_withdrawal_rate": 0.2,
        "cohort_unregistered_share_by_day_p": 0.1,
    }
    assert schemas.Record(**good).clicks_total is None
    assert schemas.Record(**{**good, "code_module": None}).code_module is None

    def error(**change) -> tuple[str, str]:
        with pytest.raises(ValidationError) as exc:
            schemas.Record(**{**good, **change})
        e = exc.value.errors()[0]
        return e["loc"][-1], e["type"]

    assert error(code_module="ZZZ") == ("code_module", "literal_error")
    assert error(assess_mean_score=101) == ("assess_mean_score", "less_than_equal")
    assert error(clicks_total=-1) == ("clicks_total", "greater_than_equal")
    assert error(clicks_total_percentile=1.5) == ("clicks_total_percentile", "less_than_equal")
    assert error(assess_due_count=1.5) == ("assess_due_count", "int_type")  # strict: 1.5 is no int
    assert error(assess_mean_score=float("inf"))[0] == "assess_mean_score"
    assert error(assess_mean_score=None) == ("assess_mean_score", "float_type")  # not nullable
    assert error(surprise=1) == ("surprise", "extra_forbidden")
    with pytest.raises(ValidationError):
        schemas.Record(**{k: v for k, v in good.items() if k != "clicks_total"})  # present even when unknown
    limit = api_limits(settings).max_batch_records
    with pytest.raises(ValidationError) as exc:
        schemas.Batch(records=[good] * (limit + 1))
    assert exc.value.errors()[0]["type"] == "too_long"
    spec = schemas.Record.model_json_schema()
    assert spec["additionalProperties"] is False and set(config.features) <= set(spec["required"])
    assert json.dumps(spec)  # serialisable for OpenAPI


def test_a_request_names_its_checkpoint(settings: Settings) -> None:
    """prediction_day: one of the checkpoints served (default 30), else 422 naming it; a feature bounded by the
    checkpoint (a first active day) is at most the request's prediction_day."""
    config = load_ml_config(settings, profile="quick")
    fields = {f: FieldSpec(f, "float", True) for f in config.features}
    fields["code_module"] = FieldSpec("code_module", "category", True, ("AAA",))
    limits = api_limits(settings)
    schemas = build_schemas(fields, config, limits, (14, 30, 60))
    good = {f: None for f in config.features}
    assert schemas.Record(**good).prediction_day == 30 and schemas.Record(**good, prediction_day=60).prediction_day
    with pytest.raises(ValidationError) as exc:
        schemas.Record(**good, prediction_day=45)
    assert exc.value.errors()[0]["loc"] == ("prediction_day",) and "60" in exc.value.errors()[0]["msg"]
    batch = schemas.Batch(records=[good], prediction_day=14)
    assert batch.prediction_day == 14 and "prediction_day" not in batch.records[0].model_dump()
    assert "clicks_first_active_day" in schemas.day_bounded and "clicks_total" not in schemas.day_bounded
    with pytest.raises(ValidationError):
        schemas.Record(**{**good, "clicks_first_active_day": 61})  # after the last checkpoint
    record = {**good, "clicks_first_active_day": 20, "reg_registration_day": -5}
    assert day_bound_errors(record, 30, schemas.day_bounded, ()) == []
    [error] = day_bound_errors(record, 14, schemas.day_bounded, ("records", 3))
    assert error["loc"] == ("body", "records", 3, "clicks_first_active_day") and error["type"] == "less_than_equal"


def test_a_bad_feature_bound_is_a_clear_configuration_error(settings: Settings) -> None:
    import dataclasses

    for rule in (["clicks_*", "Day", 5], ["clicks_*", "day", 5], ["clicks_*", 0, True]):
        raw = {**settings.raw, "api": {"feature_bounds": [rule]}}
        with pytest.raises(ValueError, match=r"api.feature_bounds \[clicks_\*"):
            api_limits(dataclasses.replace(settings, raw=raw))


def test_one_schema_serves_every_checkpoint() -> None:
    """Fields accepted at any checkpoint: nullable when nullable at one, categories of every champion; a champion
    with other features is not served."""
    from types import SimpleNamespace

    from laip.api.checkpoints import Served, field_errors, merged_fields, stricter_fields

    def champion(**fields):
        return SimpleNamespace(fields=fields)

    at_30 = champion(a=FieldSpec("a", "int", False), m=FieldSpec("m", "category", True, ("AAA", "BBB")))
    at_60 = champion(a=FieldSpec("a", "float", True), m=FieldSpec("m", "category", True, ("BBB", "CCC")))
    merged = merged_fields(Served({30: at_30, 60: at_60}, {}, 30))  # type: ignore[dict-item]
    assert merged["a"] == FieldSpec("a", "float", True) and merged["m"].categories == ("AAA", "BBB", "CCC")
    # scoring at day 30 stays as strict as day 30's champion alone: no null, no day-60-only category, integers
    stricter = stricter_fields(at_30, merged)  # type: ignore[arg-type]
    assert [s.name for s in stricter] == ["a", "m"]
    assert field_errors({"a": 1, "m": "BBB"}, stricter, ()) == []
    errors = field_errors({"a": None, "m": "CCC"}, stricter, ("records", 2))
    assert [(e["loc"], e["type"]) for e in errors] == [
        (("body", "records", 2, "a"), "missing"),
        (("body", "records", 2, "m"), "literal_error"),
    ]
    assert field_errors({"a": 1.5, "m": None}, stricter, ())[0]["type"] == "int_type"
    assert stricter_fields(at_60, merged) == (at_60.fields["m"],)  # type: ignore[arg-type]


def test_every_numeric_feature_has_a_range(settings: Settings) -> None:
    """A feature added to ml/config.yaml gets a range in laip.yaml api.feature_bounds (a family rule at least)."""
    config = load_ml_config(settings)
    limits = api_limits(settings)
    unbounded = [
        f for f in config.numeric_features if limits.bounds_of(f) == (None, None) and f != "reg_registered_after_start"
    ]  # boolean
    assert unbounded == []


def _synthetic(config, n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(index=range(n))
    for f in config.features:
        if f in config.categorical:
            X[f] = rng.choice(["a", "b", "c", "unknown"], n).astype(object)
        else:
            col = rng.normal(size=n) * 10
            col[rng.random(n) < 0.2] = np.nan
            X[f] = col
    X["clicks_quiz"] = np.nan  # an all-missing column, as without a click log
    y = (rng.random(n) < 0.3).astype(int)
    return X, y


@pytest.mark.filterwarnings("ignore:.*(Degrees of freedom|All-NaN slice).*:RuntimeWarning")
@pytest.mark.parametrize("name", ["lr", "rf", "hgb"])
def test_fast_path_and_batched_explain_equal_the_pipeline(name: str) -> None:
    config = load_ml_config(profile="quick")
    X, y = _synthetic(config)
    params = {"rf": {"n_estimators": 15, "min_samples_leaf": 5}, "hgb": {"max_iter": 20}}.get(name, {})
    model = CalibratedModel(build_pipeline(name, config, params).fit(X, y), 0.9, -0.1, 0.3, name)
    fast = FastDecision(model, config.categorical)
    unseen = X.assign(code_module="never-seen")  # unknown categories are handled like the pipeline
    assert fast.verify(model, X) <= 1e-9 and fast.verify(model, unseen) <= 1e-9
    ref = reference_values(X, config)
    proba, contrib = explain(model, X, config.reasons, ref)
    assert np.allclose(proba, model.predict_proba(X)[:, 1], atol=1e-12)
    assert np.allclose(contrib.to_numpy(), reason_contributions(model, X, config.reasons, ref).to_numpy(), atol=1e-9)
    columns = {f: X[f].to_numpy() for f in X.columns}
    fast_proba, fast_contrib = explain(model, columns, config.reasons, ref, decision=fast)
    assert np.allclose(fast_proba, proba, atol=1e-12) and np.allclose(fast_contrib, contrib, atol=1e-9)
    if name == "hgb":  # a request's few rows go through the FlatForest
        assert fast.forest is not None
        few = {f: v[:3] for f, v in columns.items()}
        assert len(X) * (len(config.reasons) + 1) > FLAT_FOREST_MAX_ROWS >= 3 * (len(config.reasons) + 1)
        few_proba, few_contrib = explain(model, few, config.reasons, ref, decision=fast)
        assert np.allclose(few_proba, proba[:3], atol=1e-12) and np.allclose(few_contrib, contrib.iloc[:3], atol=1e-12)
    lists = top_reason_lists(contrib.to_numpy(), config.reasons)
    table = top_reasons(contrib, config.reasons)
    assert [[c for c, _, _ in row] for row in lists] == [
        [c for c in r if pd.notna(c)]
        for r in table[["reason_1_code", "reason_2_code", "reason_3_code"]].itertuples(index=False)
    ]
    assert all("background" not in [c for c, _, _ in row] for row in lists)  # demographics never shown


def test_make_up_knows_the_api_service(settings: Settings) -> None:
    from laip.services import stack as services

    svc = services.SERVICES["api"](settings)
    assert svc.health_url == f"http://127.0.0.1:{services.port('api')}/health"
    assert svc.processes[0].argv[1:3] == ["serve", "--host"] and "127.0.0.1" in svc.processes[0].argv


def test_on_the_production_profile_the_api_logs_in_to_mlflow_read_only(settings: Settings) -> None:
    from laip.credentials import MLFLOW_READER_USER, mlflow_reader_credentials
    from laip.profile import PROFILE_ENV
    from laip.services import stack as services

    admin = {"MLFLOW_TRACKING_USERNAME": "laip-pipeline", "MLFLOW_TRACKING_PASSWORD": "the-pipelines-password"}
    with mock.patch.dict(os.environ, {PROFILE_ENV: "production", **admin}):
        env = services.api_service(settings).processes[0].env
    assert env["MLFLOW_TRACKING_USERNAME"] == MLFLOW_READER_USER != admin["MLFLOW_TRACKING_USERNAME"]
    assert env["MLFLOW_TRACKING_PASSWORD"] == mlflow_reader_credentials(settings.home)[1]
    assert admin["MLFLOW_TRACKING_PASSWORD"] not in env.values()


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2, reason="needs CPU affinity and 2 CPUs"
)
def test_a_worker_pins_itself_to_one_free_cpu() -> None:
    """In a child process (pinning the test process would slow the rest of the suite): the first claim pins every
    thread to one CPU, a second claim in the same process is refused."""
    code = (
        "import os, threading; from laip.api.server import pin_to_free_cpu as pin\n"
        "t = threading.Thread(target=lambda: None); cpu = pin(); t.start(); t.join()\n"
        "print(cpu, sorted(os.sched_getaffinity(0)), pin())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    if out[0] == "None":
        pytest.skip("every CPU is claimed by running API workers")
    assert out[1:] == [f"[{out[0]}]", "None"]

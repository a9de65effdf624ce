"""Monitoring and the retraining decision on the real sample: a champion trained with its reference profile (real
MLflow, real DuckDB), the decision on unchanged data (keep), then on a copy whose feature mart has a key feature
shifted (retrain); retraining records the new data, so the next decision keeps again. Also the model card."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from support.trained import trained_copy

from laip.config import Settings, load_settings
from laip.ml.config import load_ml_config
from laip.ml.monitoring.config import monitoring_config
from laip.ml.monitoring.monitor import monitor
from laip.ml.monitoring.profile import PROFILE_ARTIFACT
from laip.ml.monitoring.tables import API, DECISION, DRIFT, PERFORMANCE, SCHEMAS
from laip.orchestration import tasks
from laip.warehouse.publish import publish


@pytest.fixture(scope="module")
def champion(built_sample: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A copy of the built sample warehouse with an LR champion (quick profile) in its own MLflow store."""
    return trained_copy(built_sample, tmp_path_factory.mktemp("monitor") / "home", ["lr"])[0]


@pytest.fixture
def env(champion: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LAIP_ML_PROFILE", "quick")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", champion.mlflow_tracking_uri)
    return champion


def _copy(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The warehouse and the MLflow registry copied into another LAIP_HOME (model artifacts stay shared)."""
    home = tmp_path / "home"
    shutil.copytree(settings.mlflow_dir, home / "mlflow", ignore=shutil.ignore_patterns("artifacts"))
    shutil.copytree(settings.home / "secrets", home / "secrets")  # the key that signed the champion
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    other = load_settings(home=home)
    other.warehouse.parent.mkdir(parents=True)
    shutil.copy2(settings.warehouse, other.warehouse)
    return other


def test_profile_is_logged_with_the_training_run(env: Settings) -> None:
    import mlflow
    from mlflow import MlflowClient

    config = load_ml_config(env)
    mlflow.set_tracking_uri(env.mlflow_tracking_uri)
    version = MlflowClient().get_model_version_by_alias(config.registered_model_name, config.alias)
    run_id = version.tags["training_run_id"]
    profile = mlflow.artifacts.load_dict(f"runs:/{run_id}/{PROFILE_ARTIFACT}")
    assert set(profile["features"]) == set(config.features)
    assert profile["train_presentations"] == ["2013B", "2013J"] and profile["split"] == "temporal"
    clicks = profile["features"]["clicks_total"]
    assert clicks["kind"] == "numeric" and len(clicks["shares"]) == len(clicks["edges"]) + 2
    assert 0 < clicks["shares"][-1] < 1  # GGG has no click log: a missing bucket, not zeros
    assert profile["metrics"]["roc_auc"] == pytest.approx(
        MlflowClient().get_run(run_id).data.metrics["selected_temporal_roc_auc"]
    )
    assert set(profile["population_digests"]) == {"2013B", "2013J", "2014J"}


def test_unchanged_data_keeps_the_champion(env: Settings) -> None:
    result = monitor(env)
    decision = result.decision
    assert not decision.retrain and decision.branch == "keep_champion", decision.reasons
    assert decision.profile_source == "artifact" and decision.champion_version == 1
    with duckdb.connect(str(env.warehouse), read_only=True) as con:
        for name, schema in SCHEMAS.items():
            cols = con.execute(f"describe ml.{name}").fetchall()
            declared = [(c, t.replace("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE")) for c, t in schema.items()]
            assert [(c[0], c[1]) for c in cols] == declared, name
        days = {
            t: con.execute(f"select distinct prediction_day from ml.{t}").df().prediction_day
            for t in (PERFORMANCE, DRIFT)
        }
        perf = con.execute(f"select * from ml.{PERFORMANCE} where prediction_day = 30 order by population").df()
        drift = con.execute(f"select * from ml.{DRIFT} where prediction_day = 30").df()
        assert con.execute(f"select count(*) from ml.{API}").fetchone()[0] == 0  # no prediction log yet
        row = con.execute(f"select retrain, decision, model_version from ml.{DECISION}").fetchall()
    assert row == [(False, "keep_champion", 1)]
    # every checkpoint's champion is judged on its own rows
    checkpoints = set(load_ml_config(env).checkpoints)
    assert set(days[PERFORMANCE]) == checkpoints and set(days[DRIFT]) == checkpoints
    # the champion's held-out presentation reproduces the recorded AUC; training presentations are marked
    held_out = perf.set_index("population").loc["2014J"]
    assert held_out.auc == pytest.approx(held_out.champion_auc, abs=1e-9) and not held_out.in_training
    assert perf.set_index("population").loc["2013J"].in_training
    assert set(drift.population) == {"2013B", "2013J", "2014J"} and drift.seen_at_training.all()
    key = set(monitoring_config(load_ml_config(env)).key_features)
    assert set(drift[drift.is_key_feature].feature) == key
    ks = drift[drift.kind == "numeric"].ks_pvalue  # NaN where a population has no value at all (no click log)
    assert drift.psi.ge(0).all() and ks.dropna().between(0, 1).all() and ks.notna().mean() > 0.8
    # laip publish ships the monitoring tables
    published = publish(env.warehouse, env.serving_warehouse)
    assert {f"ml.{t}" for t in SCHEMAS} <= set(published.tables)


def test_shifted_key_feature_retrains_then_the_new_champion_is_kept(
    env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drifted = _copy(env, tmp_path, monkeypatch)
    with duckdb.connect(str(drifted.warehouse)) as con:  # 2014J students now study many more credits
        con.execute(
            "update marts.mart_withdrawal_prediction_features "
            "set reg_studied_credits = reg_studied_credits + 90 where code_presentation = '2014J'"
        )
    result = monitor(drifted)
    decision = result.decision
    assert decision.retrain and decision.branch == "retrain", decision.reasons
    assert any(r.startswith("day 30: key feature reg_studied_credits drifted in 2014J") for r in decision.reasons)
    assert decision.checkpoints == list(load_ml_config(env).checkpoints)  # 2014J shifted at every checkpoint
    day_30 = result.tables[DRIFT]
    drift = day_30[day_30.prediction_day == 30].set_index(["feature", "population"])
    assert drift.loc[("reg_studied_credits", "2014J")].psi > 0.2
    assert drift.loc[("reg_studied_credits", "2014J")].ks_pvalue < 1e-6
    assert not drift.loc[("reg_studied_credits", "2013J")].triggers_retrain
    assert tasks.branch_after_monitor(decision.as_xcom()) == "train_model"
    # the retrain branch of the DAG: train + register, then the monitoring tables describe the new champion
    out = tasks.train_or_keep(drifted, decision.as_xcom(), ["lr"])
    assert out["model_version"] == 2
    with duckdb.connect(str(drifted.warehouse), read_only=True) as con:
        row = con.execute(f"select retrain, model_version, new_model_version, outcome from ml.{DECISION}").fetchone()
        versions = con.execute(f"select distinct model_version from ml.{DRIFT}").fetchall()
    assert row[:3] == (True, 1, 2) and versions == [(2,)]
    assert row[3].startswith("retrained: champion is now version 2; also day 14 v2"), row  # every checkpoint
    # the new champion was trained and judged knowing the shifted data: no retraining loop
    again = monitor(drifted)
    assert not again.decision.retrain and again.decision.champion_version == 2, again.decision.reasons


def test_model_card_and_retraining_plan_from_the_champion_run(env: Settings, tmp_path: Path) -> None:
    from laip.ml.model_card import Orchestration, write_model_docs
    from laip.orchestration.dag_config import DAG_ID, DOCUMENTED_CRON

    first = write_model_docs(env, Orchestration(DAG_ID, DOCUMENTED_CRON), tmp_path / "a")
    second = write_model_docs(env, Orchestration(DAG_ID, DOCUMENTED_CRON), tmp_path / "b")
    card, plan = (Path(p).read_text() for p in first)
    assert [Path(p).read_text() for p in second] == [card, plan]  # deterministic for the same run
    for text in (
        "# Model card",
        "Intended use",
        "withdrew",
        "day 30",
        "ROC AUC",
        "grouped_random",
        "temporal",
        "Fairness",
        "not causal",
        "click log",
        "champion",
        "version 1",
    ):
        assert text.lower() in card.lower(), text
    # every checkpoint's champion is on the card (trained at every checkpoint in ``env``)
    for day in load_ml_config(env).checkpoints:
        assert f"| day {day} | laip-withdrawal-day{day} | 1 |" in card, day
    for text in ("0.2", "5%", "keep_champion", "alias", "laip monitor", "retrain"):
        assert text in plan, text

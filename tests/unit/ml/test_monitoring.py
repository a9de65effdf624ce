"""Monitoring statistics and the retraining rule on hand-built data (no warehouse, no MLflow)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from laip.ml.config import MLConfig, MLConfigError, load_ml_config
from laip.ml.monitoring.api_health import api_health, api_inputs
from laip.ml.monitoring.config import MonitoringConfig, monitoring_config
from laip.ml.monitoring.decision import decide
from laip.ml.monitoring.drift import drift_table, feature_drift, psi
from laip.ml.monitoring.performance import performance_table, relative_auc_drop
from laip.ml.monitoring.prediction_log import read_prediction_log
from laip.ml.monitoring.profile import bucket_shares, categorical_profile, numeric_profile

MCFG = MonitoringConfig(key_features=("x",), min_rows=50, min_positives=5)


@pytest.fixture(scope="module")
def config() -> MLConfig:
    return load_ml_config(profile="quick")


# ---- PSI and KS on hand-built distributions ----------------------------------------------------------------


def test_psi_matches_the_formula_and_floors_empty_buckets() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    expected = (0.7 - 0.5) * math.log(0.7 / 0.5) + (0.3 - 0.5) * math.log(0.3 / 0.5)
    assert psi([0.5, 0.5], [0.7, 0.3]) == pytest.approx(expected)
    # an empty bucket is floored at epsilon instead of giving an infinite PSI
    assert psi([0.5, 0.5, 0.0], [0.4, 0.4, 0.2], epsilon=1e-4) == pytest.approx(
        2 * (-0.1 * math.log(0.8)) + (0.2 - 1e-4) * math.log(0.2 / 1e-4)
    )


def test_numeric_profile_has_quantile_bins_open_ends_and_a_missing_bucket() -> None:
    values = np.r_[np.arange(1, 101, dtype=float), [np.nan] * 25]  # 1..100 and 20 % missing
    prof = numeric_profile(values, bins=10)
    assert prof["edges"] == pytest.approx([10.9, 20.8, 30.7, 40.6, 50.5, 60.4, 70.3, 80.2, 90.1])
    assert len(prof["shares"]) == 11 and prof["shares"][-1] == pytest.approx(0.2)
    assert sum(prof["shares"]) == pytest.approx(1.0) and prof["shares"][0] == pytest.approx(0.08)
    # values outside the training range fall into the open first and last bins
    assert bucket_shares(np.array([-1e9, 1e9, np.nan]), prof["edges"]) == pytest.approx(
        [1 / 3] + [0.0] * 8 + [1 / 3, 1 / 3]
    )
    assert prof["ks_values"] == list(range(1, 101)) and set(prof["ks_counts"]) == {1}


def test_same_distribution_has_no_drift_and_a_shift_drifts() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(50, 10, 5000)
    prof = numeric_profile(ref)
    same = feature_drift(prof, rng.normal(50, 10, 2000), 1e-4)
    shifted = feature_drift(prof, rng.normal(60, 10, 2000), 1e-4)
    assert same["psi"] < 0.05 and same["ks_pvalue"] > 0.01
    assert shifted["psi"] > 0.2 and shifted["ks_pvalue"] < 1e-6
    # KS on the stored distinct values/counts equals scipy on the raw samples (exact up to ks_max_points distinct
    # values, quantile-approximated beyond)
    cur = np.round(rng.normal(55, 10, 500))
    for ref2, tol in ((np.round(ref), 1e-9), (np.round(ref, 2), 0.005)):
        prof2 = numeric_profile(ref2, ks_max_points=2000)
        assert prof2["ks_exact"] is (tol < 1e-6)
        got, exact = feature_drift(prof2, cur, 1e-4), ks_2samp(ref2, cur)
        assert got["ks_stat"] == pytest.approx(exact.statistic, abs=tol)
    assert got["ks_pvalue"] < 1e-6


def test_missingness_change_alone_is_drift() -> None:
    ref = np.r_[np.arange(100, dtype=float), [np.nan] * 10]
    cur = np.r_[np.arange(100, dtype=float), [np.nan] * 100]  # click log missing for many more students
    out = feature_drift(numeric_profile(ref), cur, 1e-4)
    assert out["missing_share"] == pytest.approx(0.5) and out["psi"] > 0.2
    assert out["ks_stat"] == pytest.approx(0.0)  # the present values did not move


def test_categorical_psi_counts_unseen_categories() -> None:
    prof = categorical_profile(["a"] * 50 + ["b"] * 50)
    assert prof["shares"] == {"a": 0.5, "b": 0.5}
    assert feature_drift(prof, np.array(["a", "b"] * 30, dtype=object), 1e-4)["psi"] == pytest.approx(0.0)
    unseen = feature_drift(prof, np.array(["a", "c", "c", "c"], dtype=object), 1e-4)
    assert unseen["psi"] > 1 and math.isnan(unseen["ks_stat"])


# ---- tables and the decision ------------------------------------------------------------------------------


def _drift(config: MLConfig, shift: float, seen: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    f = "reg_studied_credits"
    profile = {"features": {f: numeric_profile(rng.normal(60, 20, 3000))}}
    X = pd.DataFrame({f: np.r_[rng.normal(60, 20, 400), rng.normal(60 + shift, 20, 400)]})
    pops = pd.Series(["2013J"] * 400 + ["2015B"] * 400)
    mcfg = MonitoringConfig(key_features=(f,), min_rows=100)
    return drift_table(profile, X, pops, "presentation", config, mcfg, ["2013J"], seen)


def test_key_feature_drift_triggers_only_in_new_or_changed_data(config: MLConfig) -> None:
    mcfg = MonitoringConfig(key_features=("reg_studied_credits",))
    no_perf = performance_table(np.array([]), np.array([]), pd.Series([], dtype=str), 0.8, mcfg)
    calm = _drift(config, 0.0, ["2013J"])
    assert not calm.triggers_retrain.any()
    assert not decide(calm, no_perf, mcfg, has_champion=True).retrain
    shifted = _drift(config, 25.0, ["2013J"])
    row = shifted.set_index("population").loc["2015B"]
    assert row.psi > 0.2 and row.drifted and row.triggers_retrain and row.is_key_feature
    decision = decide(shifted, no_perf, mcfg, has_champion=True)
    assert decision.retrain and decision.branch == "retrain" and "reg_studied_credits" in decision.reasons[0]
    # the same drift in data the champion was already judged on (unchanged since its training) does not trigger
    known = _drift(config, 25.0, ["2013J", "2015B"])
    assert known.drifted.any() and not known.triggers_retrain.any()
    # a drifting feature that is not a key feature is reported but does not trigger
    other = MonitoringConfig(key_features=("assess_mean_score",))
    assert not decide(
        shifted.assign(is_key_feature=False, triggers_retrain=False), no_perf, other, has_champion=True
    ).retrain


def test_a_checkpoint_without_a_champion_triggers_training(config: MLConfig) -> None:
    mcfg = MonitoringConfig(key_features=("reg_studied_credits",))
    no_perf = performance_table(np.array([]), np.array([]), pd.Series([], dtype=str), 0.8, mcfg)
    calm = _drift(config, 0.0, ["2013J"])
    decision = decide(calm, no_perf, mcfg, has_champion=True, missing_checkpoints=[14, 60])
    assert decision.retrain and decision.reasons == ["no champion model yet for checkpoint(s) day 14, 60"]
    assert not decide(calm, no_perf, mcfg, has_champion=True, mode="never", missing_checkpoints=[14]).retrain


def test_each_checkpoint_is_judged_on_its_own_rows(config: MLConfig) -> None:
    """Rows of every checkpoint go to one decision; a reason names its checkpoint, and only a checkpoint whose
    own rows trigger (or without a usable champion) is retrained."""
    from laip.ml.monitoring.checkpoint import CheckpointCheck

    mcfg = MonitoringConfig(key_features=())
    at_60 = _perf(0.5).assign(prediction_day=60)
    at_30 = _perf(0.85).assign(prediction_day=30)
    decision = decide(_drift_empty(), pd.concat([at_30, at_60]), mcfg, has_champion=True)
    assert decision.retrain and decision.reasons[0].startswith("day 60: ROC AUC on 2015B is 0.500")
    champion = object()
    calm = CheckpointCheck(30, champion, 0.8, _drift_empty(), at_30)  # type: ignore[arg-type]
    decayed = CheckpointCheck(60, champion, 0.8, _drift_empty(), at_60)  # type: ignore[arg-type]
    unusable = CheckpointCheck(90, champion, 0.8, _drift_empty(), at_30, feature_change="features changed")  # type: ignore[arg-type]
    missing = CheckpointCheck(120, None, math.nan, _drift_empty(), at_30)
    assert [c.triggered for c in (calm, decayed, unusable, missing)] == [False, True, True, True]


def test_drift_of_the_api_inputs_is_shown_but_never_triggers(config: MLConfig) -> None:
    """Anyone who reaches the prediction API can write its log: its drift must not be able to force a retrain."""
    rng = np.random.default_rng(2)
    f = "reg_studied_credits"
    profile = {"features": {f: numeric_profile(rng.normal(60, 20, 3000))}}
    X = pd.DataFrame({f: rng.normal(200, 20, 500)})  # crafted requests, far from the training data
    mcfg = MonitoringConfig(key_features=(f,), min_rows=100)
    api = drift_table(profile, X, pd.Series(["api"] * 500), "api", config, mcfg, can_trigger=False)
    assert api.drifted.all() and api.is_key_feature.all() and not api.triggers_retrain.any()
    no_perf = performance_table(np.array([]), np.array([]), pd.Series([], dtype=str), 0.8, mcfg)
    assert not decide(api, no_perf, mcfg, has_champion=True).retrain


def _perf(auc_target: float, champion_auc: float = 0.8, seen: tuple[str, ...] = ()) -> pd.DataFrame:
    """A labelled population whose ROC AUC is exactly ``auc_target`` (n = 200: 100 positives, 100 negatives)."""
    y = np.r_[np.ones(100), np.zeros(100)].astype(int)
    # positives score 1..100; negatives split so that exactly auc_target of the 10 000 pairs rank correctly
    wins = round(auc_target * 10_000)
    neg = np.full(100, 200.0)
    neg[: wins // 100] = 0.0
    rest = wins % 100
    if rest:
        neg[wins // 100] = 100 - rest + 0.5
    proba = np.r_[np.arange(1, 101, dtype=float), neg]
    mcfg = MonitoringConfig(key_features=(), min_rows=100, min_positives=10)
    return performance_table(y, proba, pd.Series(["2015B"] * 200), champion_auc, mcfg, (), seen)


@pytest.mark.parametrize(
    ("auc", "retrain"), [(0.76, True), (0.7601, False), (0.7599, True), (0.80, False), (0.85, False), (0.50, True)]
)
def test_auc_drop_at_and_around_five_percent(auc: float, retrain: bool) -> None:
    perf = _perf(auc)
    assert perf.auc.iloc[0] == pytest.approx(auc)
    assert perf.relative_drop.iloc[0] == pytest.approx((0.8 - auc) / 0.8)
    mcfg = MonitoringConfig(key_features=())
    empty = _drift_empty()
    decision = decide(empty, perf, mcfg, has_champion=True)
    assert decision.retrain is retrain, decision.reasons
    if retrain:
        assert "below the champion's 0.800" in decision.reasons[0]


def _drift_empty() -> pd.DataFrame:
    return pd.DataFrame(
        columns=["feature", "population", "psi", "is_key_feature", "seen_at_training", "triggers_retrain"]
    )


def test_relative_drop_of_exactly_five_percent() -> None:
    assert relative_auc_drop(0.76, 0.8) == 0.05
    assert relative_auc_drop(0.6650, 0.7) == 0.05
    assert math.isnan(relative_auc_drop(math.nan, 0.8))
    # a population the champion was already evaluated on (unchanged) never triggers
    assert not _perf(0.5, seen=("2015B",)).triggers_retrain.any()


def test_modes_and_missing_champion() -> None:
    mcfg = MonitoringConfig(key_features=())
    empty, calm = _drift_empty(), _perf(0.8)
    assert decide(empty, calm, mcfg, has_champion=False).retrain  # nothing to keep
    assert decide(empty, calm, mcfg, has_champion=True, mode="always").retrain
    assert decide(empty, calm, mcfg, has_champion=False, mode="never").retrain  # nothing could score otherwise
    kept = decide(empty, _perf(0.5), mcfg, has_champion=True, mode="never")
    assert not kept.retrain and kept.n_triggers == 1 and "suppressed" in kept.reasons[0]
    with pytest.raises(ValueError):
        decide(empty, calm, mcfg, has_champion=True, mode="sometimes")
    assert json.loads(json.dumps(kept.as_xcom()))["branch"] == "keep_champion"


def test_monitoring_config_is_read_and_checked(config: MLConfig) -> None:
    mcfg = monitoring_config(config)
    assert mcfg.psi_threshold == 0.2 and mcfg.auc_drop_threshold == 0.05 and mcfg.bins == 10
    assert mcfg.key_features and set(mcfg.key_features) <= set(config.features)
    broken = MLConfig(**{**config.__dict__, "raw": {**config.raw, "monitoring": {"key_features": ["nope"]}}})
    with pytest.raises(MLConfigError, match="not model features"):
        monitoring_config(broken)


# ---- the prediction log --------------------------------------------------------------------------------------


def _write_log(root: Path) -> None:
    day = root / "date=2026-11-20"
    day.mkdir(parents=True)
    lines = []
    for i in range(20):
        status = 200 if i < 18 else (422 if i == 18 else 500)
        ok = status == 200
        lines.append(
            json.dumps(
                {
                    "ts": f"2026-11-20T10:{i:02d}:00+00:00",
                    "request_id": f"r{i}",
                    "endpoint": "/predict",
                    "status": status,
                    "latency_ms": float(i + 1),
                    "model_name": "lr",
                    "registered_model_name": "m",
                    "model_version": "1",
                    "inputs": {"reg_studied_credits": 60 + i, "clicks_total": None, "code_module": "AAA"}
                    if ok
                    else None,
                    "output": {"probability": 0.1} if ok else None,
                    **({} if ok else {"error": "bad"}),
                }
            )
        )
    # a second record of a batch request, an hour later, and a torn last line
    lines.append(
        json.dumps(
            {
                "ts": "2026-11-20T11:00:00Z",
                "request_id": "r0",
                "endpoint": "/predict/batch",
                "status": 200,
                "latency_ms": 1.0,
                "inputs": {"reg_studied_credits": 90},
            }
        )
    )
    (day / "part-0001.jsonl").write_text("\n".join(lines) + '\n{"ts": "2026-11-20T12:00:00Z", "request_id": "to')


def test_prediction_log_reading_health_and_inputs(tmp_path: Path, config: MLConfig) -> None:
    assert read_prediction_log(tmp_path / "missing").empty and api_health(read_prediction_log(tmp_path)).empty
    _write_log(tmp_path)
    log = read_prediction_log(tmp_path)
    assert len(log) == 21  # the torn line is skipped
    health = api_health(log)
    day = health[health.period_type == "day"].iloc[0]
    assert (day.requests, day.records, day.errors, day.client_errors, day.server_errors) == (20, 21, 2, 1, 1)
    assert day.error_rate == pytest.approx(0.1) and day.latency_p50_ms == pytest.approx(10.5)
    assert day.latency_p95_ms == pytest.approx(np.quantile(np.arange(1, 21), 0.95))
    assert sorted(health[health.period_type == "hour"].requests) == [20]  # r0 counted once, in its first hour
    X = api_inputs(log, config)
    assert len(X) == 19 and list(X.columns) == config.features
    assert X.clicks_total.isna().all() and X.reg_studied_credits.max() == 90  # NULL clicks stay unknown
    # lines without prediction_day were scored at day 30: they are day 30's inputs, no other checkpoint's
    assert log.prediction_day.isna().all() and api_inputs(log, config.at_checkpoint(60)).empty
    at_60 = log.assign(prediction_day=pd.array([60] * len(log), dtype="Int64"))
    assert len(api_inputs(at_60, config.at_checkpoint(60))) == 19 and api_inputs(at_60, config).empty


def test_population_digests_see_changed_rows_but_not_float_noise() -> None:
    from laip.ml.monitoring.profile import population_digests

    X = pd.DataFrame({"a": [1.0, 2.5, np.nan, 4.0], "c": ["x", "y", "unknown", "x"]})
    y, pops = np.array([0, 1, 0, 1]), pd.Series(["2014J", "2014J", "2015B", "2015B"])
    base = population_digests(X, y, pops)
    assert set(base) == {"2014J", "2015B"} and base == population_digests(X, y, pops)
    assert population_digests(X.assign(a=X.a + 1e-12), y, pops) == base  # float noise of a rebuild
    shifted = population_digests(X.assign(a=[1.0, 2.5, np.nan, 9.0]), y, pops)
    assert shifted["2014J"] == base["2014J"] and shifted["2015B"] != base["2015B"]
    assert population_digests(X, np.array([0, 1, 1, 1]), pops)["2015B"] != base["2015B"]  # labels count too


def test_changed_feature_set_always_retrains() -> None:
    mcfg = MonitoringConfig(key_features=())
    why = "the model features changed since the champion was trained (added ['x'], removed 'none')"
    decision = decide(_drift_empty(), _perf(0.8), mcfg, has_champion=True, mode="never", feature_change=why)
    assert decision.retrain and decision.reasons == [why]

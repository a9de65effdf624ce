"""Fast tests of the ML building blocks: problem rules, splits, selection, metrics, reason codes, tables, config."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from laip.ml.config import ML_CONFIG_FILE, MLConfig, MLConfigError, load_ml_config
from laip.ml.features import (
    FeatureData,
    grouped_random_split,
    is_enrolled_on_day,
    prepare_X,
    presentation_ended_before,
    temporal_split,
    withdrew_after_day,
)
from laip.ml.metrics import binary_metrics, calibration_table, choose_threshold, fairness_table
from laip.ml.modeling import fit_model, select_model
from laip.ml.reasons import reason_contributions, reference_values, top_reasons
from laip.ml.tables import RUN_COLUMNS, SCHEMAS, TRAINING_TABLES
from laip.warehouse.tables import replace_tables


@pytest.fixture(scope="module")
def config() -> MLConfig:
    return load_ml_config(profile="quick")


# ---- population and target -------------------------------------------------------------------------------


def test_population_rule_on_hand_built_cases() -> None:
    reg = pd.Series([-10, 30, 31, None, -5, -5, None])
    unreg = pd.Series([None, None, None, None, 30, 31, 12])
    # registered before / on day 30 / after; unknown registration; unregistered on day 30 / day 31 / day 12
    assert is_enrolled_on_day(reg, unreg, 30).tolist() == [True, True, False, True, False, True, False]


def test_target_rule_on_hand_built_cases() -> None:
    unreg = pd.Series([31, 200, None, None, None, 30])
    result = pd.Series(["Withdrawn", "Withdrawn", "Withdrawn", "Pass", "Fail", "Withdrawn"])
    # unregistered after 30 -> 1; Withdrawn without a date -> 1; Pass/Fail without a date -> 0; day 30 -> 0
    assert withdrew_after_day(unreg, result, 30).tolist() == [1, 1, 1, 0, 0, 0]


# ---- splits ----------------------------------------------------------------------------------------------


def _toy_data(config: MLConfig, n_students: int = 60) -> FeatureData:
    rng = np.random.default_rng(0)
    rows = []
    for student in range(n_students):
        for pres in rng.choice(["2013B", "2013J", "2014B", "2014J"], size=rng.integers(1, 3), replace=False):
            rows.append(
                {
                    "student_module_id": f"AAA_{pres}_{student}",
                    "code_module": "AAA",
                    "code_presentation": pres,
                    "id_student": student,
                    "module_presentation_id": f"AAA_{pres}",
                    "has_click_data": False,
                    "withdrew_after_prediction_day": int(rng.random() < 0.3),
                }
            )
    frame = pd.DataFrame(rows)
    for f in config.features:
        if f not in frame:
            frame[f] = "x" if f in config.categorical else rng.normal(size=len(frame))
    X = prepare_X(frame, config)
    return FeatureData(frame, X, frame.withdrew_after_prediction_day.to_numpy(), frame.id_student.to_numpy(), [], "toy")


def test_grouped_random_split_shares_no_student(config: MLConfig) -> None:
    data = _toy_data(config)
    split = grouped_random_split(data, config)
    assert not set(data.groups[split.train]) & set(data.groups[split.test])
    assert len(split.train) + len(split.test) == len(data)


def test_presentation_calendar_rule() -> None:
    assert presentation_ended_before("2013B", "2014B") and presentation_ended_before("2013B", "2014J")
    assert presentation_ended_before("2013B", "2013J")  # Feb..Oct ended before day 30 of Oct..
    assert not presentation_ended_before("2013B", "2013J", prediction_day=14)
    assert presentation_ended_before("2013J", "2014J") and not presentation_ended_before("2013J", "2014B")
    assert presentation_ended_before("2013J", "2015B") and presentation_ended_before("2014B", "2014J")
    assert not presentation_ended_before("2014J", "2014J") and not presentation_ended_before("2014B", "2014B")
    # Later checkpoints: a J presentation (ended by 27 July) has ended before the next B's day 177, not its day 176.
    assert presentation_ended_before("2013J", "2014B", 177) and not presentation_ended_before("2013J", "2014B", 176)
    assert presentation_ended_before("2013B", "2013J", 27) and not presentation_ended_before("2013B", "2013J", 26)


def test_config_at_a_checkpoint_reads_its_rows_only(config: MLConfig) -> None:
    at_60 = config.at_checkpoint(60)
    assert at_60.prediction_day == 60 and at_60.checkpoints == config.checkpoints and config.prediction_day == 30
    assert "where prediction_day = 60 " in at_60.mart_query("student_module_id")
    with pytest.raises(MLConfigError, match="45 is not a checkpoint"):
        config.at_checkpoint(45)


def test_temporal_split_uses_only_rows_labelled_by_the_test_prediction_day(config: MLConfig) -> None:
    data = _toy_data(config)
    split = temporal_split(data, config)
    pres = data.frame.code_presentation.to_numpy()
    assert set(pres[split.test]) == {"2014J"} and set(pres[split.train]) == {"2013B", "2013J", "2014B"}
    assert len(split.train) == np.isin(pres, ["2013B", "2013J", "2014B"]).sum()  # all ended by 2014J's day 30
    test_students = set(data.groups[split.test])
    assert any(pres[i] == "2014B" and data.groups[i] in test_students for i in split.train)
    early = temporal_split(data, dataclasses.replace(config, prediction_day=14))
    assert set(pres[early.train]) == {"2013B", "2013J"}  # 2014B still running on day 14


def test_rows_without_a_label_are_scored_but_never_trained_on(config: MLConfig) -> None:
    from laip.ml.score import _training_rows

    data = _toy_data(config)
    running = data.frame.code_presentation.to_numpy() == "2014J"  # a live export: 2014J has no label yet
    live = dataclasses.replace(data, y=np.where(running, np.nan, data.y.astype(float)))
    assert (live.is_labelled == ~running).all()
    labelled = live.labelled_only()
    assert len(labelled) == (~running).sum() and labelled.y.dtype.kind == "i"
    assert set(labelled.frame.code_presentation) == {"2013B", "2013J", "2014B"}
    # no labelled 2014J row: the split of a live export (test 2014B) gives the rows training saw
    pres = data.frame.code_presentation.to_numpy()
    assert (_training_rows(live, config) == (pres == "2013B")).all()
    # a finished history: the primary split's training rows
    assert _training_rows(data, config).sum() == len(temporal_split(data, config).train)


def test_a_live_export_tests_on_the_latest_labelled_presentation(config: MLConfig) -> None:
    labelled = _toy_data(config)
    pres = labelled.frame.code_presentation.to_numpy()
    live = dataclasses.replace(
        labelled, frame=labelled.frame[pres != "2014J"].reset_index(drop=True), y=labelled.y[pres != "2014J"]
    )
    live = dataclasses.replace(live, X=labelled.X[pres != "2014J"].reset_index(drop=True))
    split = temporal_split(live, config)  # 2014J (the configured test) is still running: no label
    got = live.frame.code_presentation.to_numpy()
    assert set(got[split.test]) == {"2014B"}
    assert set(got[split.train]) == {"2013B"}  # 2013J had not certainly ended by 2014B's day 30
    assert "test 2014B" in split.description


# ---- selection -------------------------------------------------------------------------------------------


def test_selection_baseline_wins_a_tie_within_tolerance() -> None:
    assert select_model({"lr": 0.700, "rf": 0.704, "hgb": 0.703}, "lr", 0.005) == "lr"
    assert select_model({"lr": 0.700, "rf": 0.700}, "lr", 0.0) == "lr"  # exact tie, zero tolerance


def test_selection_challenger_wins_beyond_tolerance_and_nan_never_wins() -> None:
    assert select_model({"lr": 0.700, "rf": 0.710, "hgb": 0.720}, "lr", 0.005) == "hgb"
    assert select_model({"lr": math.nan, "rf": 0.6, "hgb": 0.65}, "lr", 0.005) == "hgb"
    with pytest.raises(ValueError):
        select_model({"lr": math.nan}, "lr", 0.005)


# ---- metrics on a toy case -------------------------------------------------------------------------------


def test_metrics_on_a_known_toy_case() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    m = binary_metrics(y, p, threshold=0.5)
    assert m["roc_auc"] == pytest.approx(0.75)
    assert m["average_precision"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert (m["precision"], m["recall"]) == (1.0, 0.5) and m["f1"] == pytest.approx(2 / 3)
    assert m["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert (m["base_rate"], m["flag_rate"]) == (0.5, 0.25)
    assert choose_threshold(y, p) == pytest.approx(0.35)  # F1 0.8: flags 0.8, 0.4, 0.35
    single = binary_metrics(np.array([0, 0]), np.array([0.2, 0.3]), 0.5)
    assert math.isnan(single["roc_auc"]) and math.isnan(single["recall"])


def test_calibration_bins_and_fairness_suppression() -> None:
    y = np.array([0, 1] * 10)
    p = np.linspace(0.05, 0.95, 20)
    cal = calibration_table(y, p, bins=4)
    assert cal.bin.tolist() == [1, 2, 3, 4] and cal.n.tolist() == [5, 5, 5, 5]
    groups = pd.DataFrame({"demo_gender": ["F"] * 12 + ["M"] * 8})
    fair = fairness_table(groups, y, p, 0.5, ["demo_gender"], min_group_size=10)
    assert fair.group_value.tolist() == ["F"] and fair.n.tolist() == [12]  # M (8 students) suppressed


# ---- reason codes ----------------------------------------------------------------------------------------


def test_reason_codes_sum_to_the_log_odds_difference_and_name_the_driver(config: MLConfig) -> None:
    rng = np.random.default_rng(1)
    data = _toy_data(config, n_students=200)
    X = data.X.copy()
    X["assess_missed_count"] = rng.integers(0, 3, size=len(X)).astype(float)
    X.loc[X.index % 7 == 0, "clicks_total"] = np.nan  # missing stays missing: never a reason
    y = (rng.random(len(X)) < 0.1 + 0.35 * X.assess_missed_count.to_numpy()).astype(int)
    model = fit_model("lr", X, y, data.groups, config, grid={"C": [1.0]}, folds=2).model
    ref = reference_values(X, config)
    contrib = reason_contributions(model, X, config.reasons, ref)
    typical = X.copy()
    for f in config.features:
        typical[f] = typical[f].where(typical[f].isna(), ref[f])
    expected = model.decision_function(X) - model.decision_function(typical)
    np.testing.assert_allclose(contrib.sum(axis=1).to_numpy(), expected, atol=1e-8)  # additive model: exact
    top = top_reasons(contrib, config.reasons, k=3)
    worst = X.assess_missed_count == 2
    assert (top.loc[worst, "reason_1_code"] == "missed_assessment").mean() > 0.9
    assert "background" not in set(top.filter(like="_code").stack())  # demographics never shown
    c1, c2 = top.reason_1_contribution, top.reason_2_contribution
    assert ((c1 >= c2) | c2.isna()).all() and (c1.dropna() > 0).all()


# ---- tables and config -----------------------------------------------------------------------------------


def test_serving_table_schemas() -> None:
    comparison = SCHEMAS["ml_withdrawal_model_comparison"]
    for col in (
        "model_name",
        "split",
        "roc_auc",
        "average_precision",
        "precision",
        "recall",
        "f1",
        "brier",
        "is_selected",
        "mlflow_run_id",
    ):
        assert col in comparison
    for name, schema in SCHEMAS.items():
        assert "mlflow_run_id" in schema and "model_version" in schema, name
        if name in TRAINING_TABLES:
            assert set(RUN_COLUMNS) <= set(schema), name
    for name in ("ml_withdrawal_predictions", "ml_withdrawal_metrics", "insight_cards"):
        assert {"code_module", "code_presentation"} <= set(SCHEMAS[name]), name
    assert {f"reason_{i}" for i in (1, 2, 3)} <= set(SCHEMAS["ml_withdrawal_predictions"])


def test_replace_tables_is_all_or_nothing(tmp_path: Path) -> None:
    wh = tmp_path / "w.duckdb"
    duckdb.connect(str(wh)).close()
    replace_tables(wh, {"a": pd.DataFrame({"x": [1, 2]}), "b": pd.DataFrame({"y": ["old"]})}, SCHEMAS)
    bad = pd.DataFrame({"model_name": ["lr"]})  # a declared table missing its columns -> error
    with pytest.raises(ValueError):
        replace_tables(wh, {"a": pd.DataFrame({"x": [9]}), "ml_withdrawal_roc_curve": bad}, SCHEMAS)
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.execute("select x from ml.a order by x").fetchall() == [(1,), (2,)]
        assert con.execute(
            "select count(*) from duckdb_tables() where table_name = 'ml_withdrawal_roc_curve'"
        ).fetchall() == [(0,)]


def test_config_profile_and_validation(tmp_path: Path, config: MLConfig) -> None:
    full = load_ml_config()
    assert full.profile == "full" and config.profile == "quick"
    assert config.cv_folds < full.cv_folds and config.features == full.features
    assert sorted(f for r in full.reasons for f in r.features) == sorted(full.features)
    assert full.baseline == "lr" and full.temporal_test == ("2014J",)
    raw = yaml.safe_load(ML_CONFIG_FILE.read_text())
    raw["features"]["families"]["reg"].append("assess_mean_score")  # listed twice
    broken = tmp_path / "config.yaml"
    broken.write_text(yaml.safe_dump(raw))
    with pytest.raises(MLConfigError, match="more than one family"):
        load_ml_config(path=broken)
    with pytest.raises(MLConfigError, match="unknown ML profile"):
        load_ml_config(profile="nope")


def test_within_course_auc_is_the_row_weighted_mean_of_each_courses_auc() -> None:
    from laip.ml.metrics import within_course_auc

    per_course = pd.DataFrame(
        {
            "model_name": ["hgb", "hgb", "hgb", "lr"],
            "code_module": ["AAA", "BBB", "CCC", "AAA"],
            "code_presentation": ["2014J"] * 4,
            "roc_auc": [0.60, 0.80, np.nan, 0.70],  # CCC: one class only, AUC undefined
            "n": [100, 300, 50, 100],
        }
    )
    out = within_course_auc(per_course).set_index("model_name")
    assert out.loc["hgb", "within_course_auc"] == pytest.approx((0.60 * 100 + 0.80 * 300) / 400)
    assert out.loc["hgb", "lowest_course"] == "AAA 2014J" and out.loc["hgb", "courses"] == 2
    assert out.loc["hgb", "n"] == 400 and out.loc["lr", "within_course_auc"] == pytest.approx(0.70)

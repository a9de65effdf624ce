"""Every checkpoint of the term: per-checkpoint configs, rows replaced per checkpoint, the current risk."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from laip.ml.config import MLConfig, load_ml_config
from laip.ml.risk_history import risk_current
from laip.ml.train import resolve_checkpoints
from laip.warehouse.tables import replace_checkpoint_rows


@pytest.fixture(scope="module")
def config() -> MLConfig:
    return load_ml_config(profile="full")  # every checkpoint


def test_each_checkpoint_has_its_registered_model_and_words(config: MLConfig) -> None:
    at_60 = config.at_checkpoint(60)
    assert config.registered_model_name == "laip-withdrawal-day30"  # the day-30 model keeps its name
    assert at_60.registered_model_name == "laip-withdrawal-day60"
    assert at_60.label("clicks_total") == "Online clicks by day 60"
    assert at_60.label("clicks_second_half") == "Clicks in days 31-60"
    assert config.label("clicks_second_half") == "Clicks in days 16-30"
    assert next(r.label for r in at_60.reasons if r.code == "missed_assessment").endswith("due by day 60")


def test_training_order_puts_the_default_checkpoint_first(config: MLConfig) -> None:
    assert resolve_checkpoints(None, config)[:2] == [30, 14]
    assert resolve_checkpoints([90, 30, 90], config) == [30, 90]
    with pytest.raises(ValueError, match="unknown checkpoint"):
        resolve_checkpoints([45], config)


def test_rows_are_replaced_per_checkpoint(tmp_path: Path) -> None:
    wh = tmp_path / "w.duckdb"
    duckdb.connect(str(wh)).close()
    schemas = {"t": {"prediction_day": "INTEGER", "v": "VARCHAR"}}
    replace_checkpoint_rows(wh, {"t": pd.DataFrame({"prediction_day": [30, 30], "v": ["a", "b"]})}, schemas, 30)
    replace_checkpoint_rows(wh, {"t": pd.DataFrame({"prediction_day": [60], "v": ["c"]})}, schemas, 60)
    counts = replace_checkpoint_rows(wh, {"t": pd.DataFrame({"prediction_day": [30], "v": ["d"]})}, schemas, 30)
    with duckdb.connect(str(wh), read_only=True) as con:
        rows = con.execute("select prediction_day, v from ml.t order by all").fetchall()
    assert rows == [(30, "d"), (60, "c")] and counts == {"t": 2}
    with pytest.raises(ValueError, match="every row must have prediction_day 90"):
        replace_checkpoint_rows(wh, {"t": pd.DataFrame({"prediction_day": [30], "v": ["x"]})}, schemas, 90)


def test_current_risk_is_the_latest_checkpoint_with_its_change(config: MLConfig) -> None:
    history = pd.DataFrame(
        {
            "student_module_id": ["a", "a", "b", "b", "c", "c", "d"],
            "prediction_day": [14, 30, 14, 30, 30, 60, 14],
            "withdrawal_probability": [0.10, 0.45, 0.30, 0.20, 0.20, 0.22, 0.5],
            "risk_band": ["low", "high", "medium", "medium", "medium", "medium", "high"],
        }
    )
    current = risk_current(history, config).set_index("student_module_id")
    assert current.prediction_day.to_dict() == {"a": 30, "b": 30, "c": 60, "d": 14}
    assert current.risk_change.to_dict() == {
        "a": "newly high",
        "b": "fallen",
        "c": "steady",
        "d": "first checkpoint",
    }
    assert current.previous_prediction_day.to_dict()["c"] == 30 and pd.isna(current.previous_probability["d"])
    assert current.probability_change["b"] == pytest.approx(-0.10)
    # the step is risk_bands.change: with 0.15, b's drop of 0.10 is steady
    wider = risk_current(history, dataclasses.replace(config, risk_change=0.15)).set_index("student_module_id")
    assert wider.risk_change["b"] == "steady" and wider.risk_change["a"] == "newly high"


@pytest.mark.parametrize("change", [0.0, 1.0])
def test_risk_change_step_is_validated(config: MLConfig, change: float) -> None:
    from laip.ml.config import MLConfigError, validate_ml_config

    with pytest.raises(MLConfigError, match=r"risk_bands\.change"):
        validate_ml_config(dataclasses.replace(config, risk_change=change))


def test_every_checkpoint_needs_its_own_registered_model(config: MLConfig) -> None:
    from laip.ml.config import MLConfigError, validate_ml_config

    raw = {**config.raw, "mlflow": {**config.raw["mlflow"], "registered_model_name": "laip-withdrawal"}}
    with pytest.raises(MLConfigError, match=r"registered_model_name must contain \{day\}"):
        validate_ml_config(dataclasses.replace(config, raw=raw))


def test_models_cover_the_mart_checkpoints_or_some_of_them(config: MLConfig) -> None:
    from laip.config import load_settings
    from laip.ml.config import MLConfigError, validate_ml_config

    settings = load_settings()
    validate_ml_config(dataclasses.replace(config, checkpoints=(14, 30, 60)), settings)
    assert load_ml_config(profile="quick").checkpoints == (14, 30, 60)  # the tests' profile: three of them
    with pytest.raises(MLConfigError, match=r"\[45\] not in laip.yaml domain.checkpoints"):
        validate_ml_config(dataclasses.replace(config, checkpoints=(30, 45)), settings)


def test_the_retraining_outcome_names_every_checkpoint_retrained() -> None:
    from laip.ml.train_result import retraining_outcome

    def summary(**days: bool) -> dict:
        return {
            "champion_version": 2,
            "model_version": 2,
            "promoted": days.get("day30", True),
            "champion_gate": "worse than the champion",
            "checkpoints": {d[3:]: {"model_version": 2, "promoted": ok} for d, ok in days.items()},
        }

    assert retraining_outcome(summary(day30=True), 30) == ("retrained: champion is now version 2", 2)
    assert retraining_outcome(summary(day30=True, day60=False), 30) == (
        "retrained: champion is now version 2; also day 60 v2 not promoted",
        2,
    )
    assert retraining_outcome(summary(day60=True, day90=True), 30) == ("retrained day 60 v2, day 90 v2", None)
    outcome, _ = retraining_outcome(summary(day30=False), 30)
    assert outcome.startswith("retrained: version 2 not promoted") and "worse than the champion" in outcome


def test_a_weeks_rows_are_replaced_alone_and_a_finished_history_is_its_own_partition(tmp_path: Path) -> None:
    from datetime import date

    from laip.warehouse.tables import write_tables

    warehouse = tmp_path / "w.duckdb"
    duckdb.connect(str(warehouse)).close()
    schemas = {"h": {"k": "INTEGER", "as_of_date": "DATE"}}
    week1, week2 = date(2014, 11, 7), date(2014, 11, 14)

    def write(rows: list[int], as_of: date | None) -> None:
        frame = pd.DataFrame({"k": rows, "as_of_date": [as_of] * len(rows)})
        write_tables(warehouse, {}, schemas, {"h": (frame, "as_of_date", as_of)})

    write([1, 2], week1)
    write([3], week2)
    write([4], None)
    write([5, 6], week1)  # the first week again: its rows only
    with duckdb.connect(str(warehouse), read_only=True) as con:
        got = con.execute("select as_of_date, k from ml.h order by all").fetchall()
    assert got == [(week1, 5), (week1, 6), (week2, 3), (None, 4)]
    with pytest.raises(ValueError, match="as_of_date"):
        write_tables(
            warehouse, {}, schemas, {"h": (pd.DataFrame({"k": [1], "as_of_date": [week1]}), "as_of_date", week2)}
        )


def test_new_high_since_the_previous_export() -> None:
    from datetime import date

    from laip.ml.risk_history import since_previous_export

    current = pd.DataFrame({"student_module_id": ["a", "b", "c"], "risk_band": ["high", "high", "low"]})
    previous = pd.DataFrame(
        {"student_module_id": ["a", "c"], "as_of_date": [date(2014, 11, 7)] * 2, "prediction_day": [30, 30],
         "risk_band": ["high", "high"]}
    )  # fmt: skip
    out = since_previous_export(current, previous).set_index("student_module_id")
    assert out.is_new_high_since_previous_export.tolist() == [False, True, False]  # b was not listed, now high
    assert out.previous_export_risk_band.tolist()[0] == "high"
    first = since_previous_export(current, previous.iloc[:0])
    assert first.is_new_high_since_previous_export.isna().all()  # no previous export: unknown, not False

"""The ML steps end to end on the real sample: train -> score -> insights -> publish, with real MLflow (SQLite in a
temp dir) and real DuckDB. Quick ML profile (small grids)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest
from support.trained import trained_copy

from laip.config import Settings, load_settings
from laip.ingest.load import load
from laip.ml.config import load_ml_config
from laip.ml.features import load_feature_data, make_splits
from laip.ml.insights import build_insight_cards
from laip.ml.score import score
from laip.ml.tables import SCHEMAS, SCORING_TABLES, TRAINING_TABLES
from laip.ml.train import train
from laip.warehouse.build import build
from laip.warehouse.publish import publish

MODELS = ("lr", "rf", "hgb")

# Every event after day 30 of its own presentation rewritten, and the final results of the latest presentations
# (2014J: no presentation in the data starts after they ended, so no feature may ever see them) swapped.
PERTURB_AFTER_DAY_30 = """
delete from raw.student_vle where date > 30;
update raw.student_assessment set score = 100 - coalesce(score, 50), date_submitted = date_submitted + 9
    where date_submitted > 30;
update raw.student_registration set date_unregistration = date_unregistration + 11 where date_unregistration > 30;
update raw.assessments set date = date + 5 where date > 30;
update raw.student_info set final_result = case final_result when 'Pass' then 'Fail' when 'Fail' then 'Distinction'
    when 'Distinction' then 'Pass' else final_result end where code_presentation = '2014J';
"""


@pytest.fixture(scope="module")
def ml_sample(built_sample: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A copy of the built sample warehouse, trained, scored, with insight cards, published."""
    settings, trained = trained_copy(built_sample, tmp_path_factory.mktemp("ml") / "home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAIP_ML_PROFILE", "quick")
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        scored = score(settings)
        cards = build_insight_cards(settings)
        published = publish(settings.warehouse, settings.serving_warehouse)
    return {"settings": settings, "train": trained, "score": scored, "cards": cards, "publish": published}


def _client(settings: Settings):
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    return MlflowClient(settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)


def test_mlflow_run_contents_and_champion_alias(ml_sample: dict) -> None:
    settings, result = ml_sample["settings"], ml_sample["train"]
    client = _client(settings)
    config = load_ml_config(settings, profile="quick")
    parent = client.get_run(result.parent_run_id)
    assert parent.data.tags["selected_model"] == result.selected_model
    assert parent.data.tags.get("git_commit") and parent.data.params["prediction_day"] == "30"
    assert parent.data.params["temporal.test_presentations"] == "2014J"
    inputs = parent.inputs.dataset_inputs
    assert len(inputs) == 1 and inputs[0].dataset.digest == result.data_digest
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{result.parent_run_id}'")
    assert sorted(r.data.tags["model_name"] for r in children) == sorted(MODELS)
    for run in children:
        assert {
            "temporal_roc_auc",
            "grouped_random_roc_auc",
            "temporal_with_click_data_roc_auc",
            "temporal_cv_roc_auc",
        } <= set(run.data.metrics)
        arts = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
        assert {"plots/roc.png", "plots/pr.png", "plots/calibration.png"} <= arts
        assert client.list_artifacts(run.info.run_id, "importance")
    version = client.get_model_version_by_alias(config.registered_model_name, "champion")
    assert int(version.version) == result.model_version
    assert version.tags["model_name"] == result.selected_model
    champion_run = next(r for r in children if r.data.tags["model_name"] == result.selected_model)
    assert version.run_id == champion_run.info.run_id
    from mlflow.models import get_model_info

    info = get_model_info(f"models:/{config.registered_model_name}@champion")
    assert info.signature is not None and info.saved_input_example_info is not None
    assert set(info.signature.inputs.input_names()) == set(config.features)


def test_every_checkpoint_has_its_champion_runs_and_history(ml_sample: dict) -> None:
    """One training run; in it a run per checkpoint with its model runs; a registered model per checkpoint with its
    champion; the history holds every checkpoint's population, the current table each attempt's latest one."""
    settings, result = ml_sample["settings"], ml_sample["train"]
    config = load_ml_config(settings, profile="quick")
    assert sorted(result.checkpoints) == list(config.checkpoints) and result.prediction_day == 30
    client = _client(settings)
    experiment = client.get_run(result.training_run_id).info.experiment_id
    day_runs = client.search_runs([experiment], f"tags.mlflow.parentRunId = '{result.training_run_id}'")
    assert sorted(int(r.data.params["prediction_day"]) for r in day_runs) == list(config.checkpoints)
    assert result.parent_run_id in {r.info.run_id for r in day_runs}
    for day in config.checkpoints:
        version = client.get_model_version_by_alias(config.at_checkpoint(day).registered_model_name, "champion")
        run = client.get_run(version.tags["training_run_id"])
        assert run.data.params["prediction_day"] == str(day)
        assert run.data.tags["mlflow.parentRunId"] == result.training_run_id
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:

        def per_day(table: str) -> dict[int, int]:
            return dict(con.execute(f"select prediction_day, count(*) from {table} group by 1").fetchall())

        modelled = ", ".join(str(d) for d in config.checkpoints)  # the profile's checkpoints, some of the mart's
        mart = f"(select * from marts.mart_withdrawal_prediction_features where prediction_day in ({modelled}))"
        population = per_day(mart)
        assert per_day("ml.ml_withdrawal_risk_history") == population
        for table in TRAINING_TABLES:
            assert set(per_day(f"ml.{table}")) == set(population), table
        attempts, current, distinct, latest_ok = con.execute(
            f"""
            select (select count(distinct student_module_id) from {mart}),
                   count(*), count(distinct c.student_module_id),
                   bool_and(c.prediction_day = (select max(f.prediction_day)
                                                from {mart} f
                                                where f.student_module_id = c.student_module_id))
            from ml.ml_withdrawal_risk_current c"""
        ).fetchone()
        assert attempts == current == distinct and latest_ok


def test_serving_tables_match_schemas_and_carry_the_run(ml_sample: dict) -> None:
    settings, result = ml_sample["settings"], ml_sample["train"]
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        for table, schema in SCHEMAS.items():
            cols = con.execute(
                f"select column_name, data_type from duckdb_columns() where schema_name = 'ml' "
                f"and table_name = '{table}' order by column_index"
            ).fetchall()
            assert [c for c, _ in cols] == list(schema), table
            assert [t for _, t in cols] == [
                t.replace("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE") for t in schema.values()
            ], table
            n, bad = con.execute(
                f"select count(*), count(*) filter (where mlflow_run_id is null "
                f"or model_version != {result.model_version}) from ml.{table}"
            ).fetchall()[0]
            assert n > 0 and bad == 0, table
        comp = con.execute(
            "select model_name, split, is_selected from ml.ml_withdrawal_model_comparison where prediction_day = 30"
        ).fetchall()
        assert sorted((m, s) for m, s, _ in comp) == sorted(
            (m, s) for m in MODELS for s in ("temporal", "grouped_random")
        )
        assert {m for m, _, sel in comp if sel} == {result.selected_model}
        assert con.execute("select min(n) from ml.ml_withdrawal_fairness").fetchall()[0][0] >= settings.min_group_size
        n_pop = con.execute(
            "select count(*) from marts.mart_withdrawal_prediction_features where prediction_day = 30"
        ).fetchall()[0][0]
        pred = con.execute("""select count(*), count(distinct student_module_id), min(withdrawal_probability),
                                     max(withdrawal_probability), count(*) filter (where risk_band not in
                                     ('high', 'medium', 'low')), count(*) filter (where reason_1 is null)
                              from ml.ml_withdrawal_predictions""").fetchall()[0]
        assert pred[0] == pred[1] == n_pop and 0 <= pred[2] <= pred[3] <= 1 and pred[4] == 0
        assert pred[5] < n_pop  # most students have at least one reason
        assert ml_sample["score"].rows == n_pop and ml_sample["score"].model_version == result.model_version


def test_publish_ships_the_ml_tables(ml_sample: dict) -> None:
    tables = ml_sample["publish"].tables
    for table in (*TRAINING_TABLES, *SCORING_TABLES, "insight_cards"):
        assert tables.get(f"ml.{table}", 0) > 0, table


def test_the_snapshot_says_what_it_holds(ml_sample: dict, tmp_path: Path) -> None:
    """meta.publication: the line every dashboard tab shows (which data, loaded when, model version, published)."""
    settings = ml_sample["settings"]
    serving = tmp_path / "serving.duckdb"
    publish(settings.warehouse, serving, settings.sample_dir)
    with duckdb.connect(str(serving), read_only=True) as con:
        row = con.execute("select data_source, model_version, freshness from meta.publication").fetchall()
    version = ml_sample["train"].model_version
    assert len(row) == 1 and row[0][0].startswith("the bundled sample") and row[0][1] == version
    line = row[0][2]
    assert line.startswith("Data: the bundled sample, a finished history, loaded ") and f"version {version} (" in line
    assert " published " in line and "\n" not in line


def test_risk_list_is_every_held_out_student_of_each_modules_latest_presentation(ml_sample: dict) -> None:
    """The sample's latest presentations: AAA 2014J and GGG 2014J (held out); BBB's latest, 2013J, trained the
    model, so its in-sample scores are never listed."""
    with duckdb.connect(str(ml_sample["settings"].serving_warehouse), read_only=True) as con:
        listed = con.execute("select * from ml.ml_withdrawal_risk_list").df()
        expected = con.execute(
            "select count(*) from ml.ml_withdrawal_predictions where code_presentation = '2014J'"
        ).fetchall()[0][0]
    assert sorted(set(zip(listed.code_module, listed.code_presentation, strict=True))) == [
        ("AAA", "2014J"),
        ("GGG", "2014J"),
    ]
    assert len(listed) == expected > 200 and not listed.is_training_row.any()  # every student, no cap
    for _, group in listed.groupby("code_module"):
        assert sorted(group.rank_in_presentation) == list(range(1, len(group) + 1))
        assert (group.relative_band == "top").sum() == math.ceil(len(group) * 0.10)
        assert group.sort_values("rank_in_presentation").withdrawal_probability.is_monotonic_decreasing
    # module context is never given as a student's reason
    reasons = set(listed[["reason_1_code", "reason_2_code", "reason_3_code"]].stack())
    assert "course_context" not in reasons and "background" not in reasons
    assert set(listed.module_context.dropna()) <= {"Studies a module run where many students withdraw"}


def test_grouped_split_shares_no_student(ml_sample: dict) -> None:
    settings = ml_sample["settings"]
    config = load_ml_config(settings, profile="quick")
    data = load_feature_data(settings.warehouse, config)
    temporal, grouped = sorted(make_splits(data, config), key=lambda s: s.name != "temporal")
    assert not set(data.groups[grouped.train]) & set(data.groups[grouped.test])
    assert len(grouped.test) > 0 and len(grouped.train) > len(grouped.test)
    # temporal: every training row's label was known by 2014J's day 30 (2013B, 2013J and 2014B had all ended),
    # so all of them are used, a test student's earlier attempts included
    pres = data.frame.code_presentation.to_numpy()
    assert set(pres[temporal.test]) == {"2014J"} and set(pres[temporal.train]) <= {"2013B", "2013J", "2014B"}
    assert len(temporal.train) == np.isin(pres, ["2013B", "2013J", "2014B"]).sum()


def test_insight_cards_are_deterministic_and_governed(ml_sample: dict) -> None:
    settings, first = ml_sample["settings"], ml_sample["cards"]
    before = first.path.read_bytes()
    again = build_insight_cards(settings)
    assert again.path.read_bytes() == before and again.cards == first.cards > 5
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = con.execute("select topic, n, caveat, model_version from ml.insight_cards").fetchall()
    assert {t for t, *_ in rows} >= {"engagement", "rule_signals", "risk_by_module", "model_quality"}
    assert all(
        n >= settings.min_group_size and "not causal" in caveat and v == ml_sample["train"].model_version
        for _, n, caveat, v in rows
    )


def test_failed_training_leaves_tables_and_champion_untouched(
    ml_sample: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    from laip.ml.config import ML_CONFIG_FILE

    settings, result = ml_sample["settings"], ml_sample["train"]
    raw = yaml.safe_load(ML_CONFIG_FILE.read_text())
    raw["profiles"]["quick"]["models"]["lr"]["params"] = {"C": [-1.0]}  # invalid: LogisticRegression refuses it
    broken = tmp_path / "config.yaml"
    broken.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("LAIP_ML_CONFIG", str(broken))
    monkeypatch.setenv("LAIP_ML_PROFILE", "quick")

    def snapshot() -> list:
        with duckdb.connect(str(settings.warehouse), read_only=True) as con:
            return [con.execute(f"select * from ml.{t} order by all").fetchall() for t in TRAINING_TABLES]

    before = snapshot()
    with pytest.raises(ValueError, match="C"):  # sklearn InvalidParameterError
        train(settings, models=["hgb", "lr"])
    assert snapshot() == before
    version = _client(settings).get_model_version_by_alias(load_ml_config(settings).registered_model_name, "champion")
    assert int(version.version) == result.model_version


def test_post_day30_events_change_no_prediction(
    ml_sample: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rewrite every event after day 30 (and the final results no feature may see), rebuild the features, score
    them with the same champion: every probability and every reason is unchanged."""
    from support.data import SAMPLE_DIR

    settings = ml_sample["settings"]
    perturbed = load_settings(home=tmp_path / "perturbed")
    load(SAMPLE_DIR, perturbed.warehouse, perturbed.reports_dir)
    with duckdb.connect(str(perturbed.warehouse)) as con:
        con.execute(PERTURB_AFTER_DAY_30).fetchall()
    result = build(perturbed, select="+mart_withdrawal_prediction_features")
    assert result.success, result.summary()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
    monkeypatch.setenv("LAIP_ML_PROFILE", "quick")
    shutil.copytree(settings.home / "secrets", perturbed.home / "secrets")  # the key the champion was signed with
    score(perturbed)
    cols = (
        "student_module_id, withdrawal_probability, risk_band, is_flagged, reason_1_code, reason_2_code, "
        "reason_3_code, model_version"
    )
    query = f"select {cols} from ml.ml_withdrawal_predictions order by student_module_id"
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        original = con.execute(query).fetchall()
    with duckdb.connect(str(perturbed.warehouse), read_only=True) as con:
        rewritten = con.execute(query).fetchall()
        changed = con.execute("select count(*) from raw.student_vle where date > 30").fetchall()[0][0]
    assert changed == 0 and len(original) == len(rewritten) > 0
    diffs = [(a, b) for a, b in zip(original, rewritten, strict=False) if a != b]
    assert not diffs, f"{len(diffs)} predictions changed, e.g. {diffs[:3]}"

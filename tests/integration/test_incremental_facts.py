"""The incremental facts (dbt/README.md, "Incremental facts"): a build after a load of a newer export rebuilds only the
partitions that export added or changed (days of the facts, presentations of the click features), and the warehouse
it leaves equals a ``--full-refresh`` build of the same data, table by table, whether the export moved forward a
fortnight, back again, or to the finished history."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import date
from pathlib import Path

import duckdb
from support.data import SAMPLE_DIR
from support.table_digests import digests

from laip.config import Settings, load_settings
from laip.ingest.load import load
from laip.ingest.replay import replay
from laip.orchestration.tasks import validation_checks
from laip.warehouse.build import run_dbt

DAILY = "incremental.int_student_activity_aggregated_daily"
WEEKLY = "incremental.int_student_activity_aggregated_weekly"
SUBMISSIONS = "incremental.int_assessment_submissions_joined"
CLICK_FEATURES = "incremental.int_student_clicks_at_day_p"  # partition: the module-presentation
ASSESSMENT_FEATURES = "incremental.int_student_assessments_at_day_p"  # partition: the module-presentation
BUILT_SCHEMAS = ("incremental", "intermediate", "marts")
EARLY, LATE = date(2014, 10, 31), date(2014, 11, 14)  # 2014J on course days 30 and 44


def _load(settings: Settings, as_of: date | None) -> None:
    export = SAMPLE_DIR
    if as_of is not None:
        export = settings.home / "exports" / as_of.isoformat()
        if not export.is_dir():
            replay(SAMPLE_DIR, export, as_of, settings.presentation_start_day)
    load(export, settings.warehouse, settings.reports_dir, checks=validation_checks(settings, as_of))


def _dbt(settings: Settings, command: str, *extra: str) -> None:
    result = run_dbt(settings, command, *extra)
    assert result.success, result.summary()


def _built(warehouse: Path) -> dict[str, str]:
    return {name: d for name, d in digests(str(warehouse)).items() if name.split(".")[0] in BUILT_SCHEMAS}


def _full_refresh_of(settings: Settings, tmp: Path) -> dict[str, str]:
    """The models of a full-refresh build of a copy of ``settings``' warehouse (its raw data, nothing carried)."""
    copy = load_settings(home=tmp)
    copy.warehouse.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(settings.warehouse, copy.warehouse)
    _dbt(copy, "run", "--full-refresh")
    return _built(copy.warehouse)


def _rebuilt(settings: Settings, table: str, keys: str) -> set[tuple]:
    """The partitions of ``table`` the latest build wrote."""
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return set(
            con.execute(
                f"select distinct {keys} from {table} where partition_built_at = "
                f"(select max(partition_built_at) from {table})"
            ).fetchall()
        )


def _partitions(settings: Settings, table: str, keys: str) -> int:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(f"select count(*) from (select distinct {keys} from {table})").fetchall()[0][0]


def test_a_weekly_build_rebuilds_only_what_its_export_changed_and_equals_a_full_refresh(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home")
    _load(settings, EARLY)
    _dbt(settings, "run")

    # Forward a fortnight: only 2014J (the running presentations) gains partitions.
    _load(settings, LATE)
    _dbt(settings, "run")
    days = _rebuilt(settings, DAILY, "module_presentation_id, click_day")
    assert {mp.split("_")[1] for mp, _ in days} == {"2014J"}
    assert {d for _, d in days} >= set(range(31, 45))
    assert len(days) < 0.25 * _partitions(settings, DAILY, "module_presentation_id, click_day")
    weeks = _rebuilt(settings, WEEKLY, "code_presentation, course_week")
    assert {p for p, _ in weeks} == {"2014J"} and {w for _, w in weeks} >= {6, 7}, weeks
    submitted = _rebuilt(settings, SUBMISSIONS, "code_presentation, submitted_day")
    assert {p for p, _ in submitted} == {"2014J"} and all(31 <= d <= 44 for _, d in submitted)
    for features in (CLICK_FEATURES, ASSESSMENT_FEATURES):
        presentations = _rebuilt(settings, features, "module_presentation_id")
        assert {mp.split("_")[1] for (mp,) in presentations} == {"2014J"}, (features, presentations)
    assert _built(settings.warehouse) == _full_refresh_of(settings, tmp_path / "forward")

    # Back to the earlier export (a replay of an older date): the partitions it lacks are deleted.
    _load(settings, EARLY)
    _dbt(settings, "run")
    assert _built(settings.warehouse) == _full_refresh_of(settings, tmp_path / "backward")

    # The finished history after a live term (`make run` after weekly runs).
    _load(settings, None)
    _dbt(settings, "run")
    assert _built(settings.warehouse) == _full_refresh_of(settings, tmp_path / "finished")


def _edit(path: Path, old: str, new: str) -> None:
    """Rewrite ``old`` as ``new`` (the same SQL result, other code) in ``path``."""
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))


def test_editing_a_macro_or_a_view_upstream_rebuilds_the_partitions_they_shaped(tmp_path: Path) -> None:
    """A partition's digest covers the model's code: its SQL, the views it reads through and the project macros
    these call, however indirectly. An edit to ``default__star_except`` (reached only through ``star_except``)
    rebuilds every presentation of the click features and no day of the daily fact, which does not call it; an edit
    to ``student_module_id``, which the staging view of the click log calls to build the fact's keys, rebuilds every
    day of the daily fact."""
    project = tmp_path / "dbt"
    shutil.copytree(load_settings().dbt_project_dir, project, ignore=shutil.ignore_patterns("target", "logs"))
    settings = dataclasses.replace(load_settings(home=tmp_path / "home"), dbt_project_dir=project)
    _load(settings, None)
    features = CLICK_FEATURES.split(".")[1]
    _dbt(settings, "run", "--select", f"+{features}")
    daily_built = _rebuilt(settings, DAILY, "partition_built_at")
    features_built = _rebuilt(settings, CLICK_FEATURES, "partition_built_at")

    _edit(project / "macros" / "cross_database.sql", "{{ alias }}.* exclude (", "{{ alias }}.*  exclude (")
    _dbt(settings, "run", "--select", f"{features} {DAILY.split('.')[1]}")
    assert _rebuilt(settings, DAILY, "partition_built_at") == daily_built
    assert _rebuilt(settings, CLICK_FEATURES, "partition_built_at") != features_built
    presentations = _rebuilt(settings, CLICK_FEATURES, "module_presentation_id")
    assert len(presentations) == _partitions(settings, CLICK_FEATURES, "module_presentation_id") > 1

    _edit(
        project / "macros" / "oulad_helpers.sql",
        "({{ code_module }} || '_' || {{ code_presentation }} || '_' || cast({{ id_student }} as string))",
        "(({{ code_module }} || '_' || {{ code_presentation }}) || '_' || cast({{ id_student }} as string))",
    )
    _dbt(settings, "run", "--select", DAILY.split(".")[1])
    assert _rebuilt(settings, DAILY, "partition_built_at") != daily_built
    keys = "module_presentation_id, click_day"
    assert len(_rebuilt(settings, DAILY, keys)) == _partitions(settings, DAILY, keys)

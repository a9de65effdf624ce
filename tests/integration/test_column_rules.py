"""The row-level rules of the project's columns (one ``column_rules`` test per model, ``dbt/tests/generic/
column_rules.sql``) catch each kind of broken value, and a build's failure names the rule, the column and the rows,
as one test per rule and column did in its name."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from laip.config import Settings, load_settings
from laip.warehouse.build import run_dbt

#: (statement breaking one rule, what the failure then says)
BREAKS = (
    (
        "update marts.dim_student_module set studied_credits = -5 where id_student in "
        "(select id_student from marts.dim_student_module order by all limit 3)",
        "column_rules_dim_student_module: fail: ",
        "not_negative studied_credits: 3 rows",
    ),
    (
        "update marts.dim_student_module set gender = 'X' where student_module_id = "
        "(select min(student_module_id) from marts.dim_student_module)",
        "column_rules_dim_student_module: fail: ",
        "accepted_values gender: 1 row",
    ),
    (
        "update marts.dim_student_module set code_module = null where student_module_id = "
        "(select max(student_module_id) from marts.dim_student_module)",
        "column_rules_dim_student_module: fail: ",
        "not_null code_module: 1 row",
    ),
    (
        "update marts.dim_student_module set withdrawal_day = 12 where not is_withdrawn and student_module_id = "
        "(select min(student_module_id) from marts.dim_student_module where not is_withdrawn)",
        "column_rules_dim_student_module: fail: ",
        "null_when withdrawal_day: 1 row",
    ),
    (
        "update marts.mart_withdrawal_prediction_features set assess_mean_score = 101 where student_module_id = "
        "(select min(student_module_id) from marts.mart_withdrawal_prediction_features)",
        "column_rules_mart_withdrawal_prediction_features: fail: ",
        "between assess_mean_score: ",
    ),
    (
        "update marts.mart_withdrawal_prediction_features set assess_first_submitted_day = prediction_day + 1 "
        "where assess_first_submitted_day is not null and student_module_id = (select min(student_module_id) "
        "from marts.mart_withdrawal_prediction_features where assess_first_submitted_day is not null)",
        "column_rules_mart_withdrawal_prediction_features: fail: ",
        "expression_is_true assess_first_submitted_day is null or assess_first_submitted_day <= prediction_day: ",
    ),
    (
        "update raw.courses set code_presentation = '2013X' where rowid = (select min(rowid) from raw.courses)",
        "column_rules_source_courses: fail: ",
        "matches_pattern code_presentation: 1 row",
    ),
)


def _rule_tests(settings: Settings, target: Path) -> list[str]:
    result = run_dbt(settings, "test", "--select", "test_name:column_rules", target_path=target)
    return result.failures


def test_each_kind_of_broken_rule_fails_and_is_named(built_sample: Settings, tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home")
    settings.warehouse.parent.mkdir(parents=True)
    shutil.copy2(built_sample.warehouse, settings.warehouse)
    assert _rule_tests(settings, tmp_path / "target") == []
    with duckdb.connect(str(settings.warehouse)) as con:
        for statement, _, _ in BREAKS:
            con.execute(statement)
    failures = _rule_tests(settings, tmp_path / "target")
    for _, test, says in BREAKS:
        assert any(line.startswith(f"test {test}") and says in line for line in failures), (says, failures)
    # one line per failed test, naming all its broken rules (the broken course also breaks the views over it)
    assert len(failures) == len({line.split(":")[0] for line in failures}), failures

"""A failed ``column_rules`` test's rows, read back from a DuckDB file, name each broken rule, column and row count."""

from __future__ import annotations

from pathlib import Path

import duckdb

from laip.warehouse.rule_failures import broken_rules, node_name


def test_node_names() -> None:
    assert node_name("test.laip.column_rules_dim_student_module.ca03a3d111") == "column_rules_dim_student_module"
    assert node_name("test.laip.assert_risk_band_consistent_with_signal_count") == (
        "assert_risk_band_consistent_with_signal_count"
    )
    assert node_name("model.laip.dim_student_module") == "dim_student_module"
    assert node_name("unit_test.laip.int_x.test_y") == "int_x.test_y"


def test_broken_rules_are_listed(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table t as select * from (values (-1, null), (2, 'a'), (-3, 'b')) v(n, s)")
    sql = """
with failing as (select sum(case when n < 0 then 1 else 0 end) as c1, sum(case when s is null then 1 else 0 end) as c2
                 from t)
select 'not_null' as rule, 's' as column_name, c2 as failing_rows, 2 as check_order from failing where c2 > 0
union all
select 'not_negative', 'n', c1, 1 from failing where c1 > 0"""
    assert broken_rules(warehouse, sql) == "not_negative n: 2 rows; not_null s: 1 row"
    assert broken_rules(warehouse, "select nonsense from nowhere") == ""  # dbt's own message stays
    many = " union all ".join(f"select 'not_null', 'c{i}', 1, {i}" for i in range(12))
    assert broken_rules(warehouse, f"select * from ({many}) t(rule, column_name, failing_rows, check_order)") == (
        "; ".join(f"not_null c{i}: 1 row" for i in range(10)) + "; and 2 more broken rules"
    )

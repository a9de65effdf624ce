"""What a failed ``column_rules`` data test found (``dbt/tests/generic/column_rules.sql``: every row-level rule of a
model's columns in one dbt node): its result rows, read back from the DuckDB warehouse with the SQL dbt compiled for
it, so that a build's failure still names the rule, the column and how many rows break it, as one test per rule and
column did in its name."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

#: Name prefix of the project's column_rules tests (their yml gives each this name and the model's).
COLUMN_RULES = "column_rules_"
#: Broken rules listed per failed test.
MAX_LISTED = 10


def node_name(unique_id: str) -> str:
    """A dbt node's name from its unique id: ``test.laip.NAME.HASH`` (a generic test), ``test.laip.NAME``,
    ``model.laip.NAME``, ``unit_test.laip.MODEL.NAME``."""
    parts = unique_id.split(".")
    if parts[0] == "test" and len(parts) > 3:
        return ".".join(parts[2:-1])
    return ".".join(parts[2:])


def broken_rules(warehouse: Path, compiled_sql: str) -> str:
    """``rule column: N rows; ...`` (in the order the test lists its rules; the first :data:`MAX_LISTED`, then how
    many more) from a failed column_rules test's compiled SQL run read-only on the DuckDB warehouse; empty when that is
    not possible (the failure's message stays dbt's own)."""
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            rows = con.execute(  # one row per broken rule: at most one per rule of the test
                f"select rule, column_name, failing_rows from ({compiled_sql}) order by check_order"
            ).fetchall()
        listed = [f"{rule} {column}: {int(n):,} row{'' if n == 1 else 's'}" for rule, column, n in rows[:MAX_LISTED]]
    except (duckdb.Error, ValueError, TypeError) as exc:  # not the shape column_rules.sql returns
        log.warning("could not list the broken rules of a column_rules test: %s", exc)
        return ""
    more = f"; and {len(rows) - MAX_LISTED} more broken rules" if len(rows) > MAX_LISTED else ""
    return "; ".join(listed) + more

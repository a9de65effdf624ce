"""A delta click log (export.json clicks_since): appended in place to the load it follows, in one transaction; the
warehouse then holds what the full export of the same date gives, and anything wrong leaves it as it was."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from laip.config import Settings
from laip.ingest.live_export import DECLARATION
from laip.ingest.load import load
from laip.ingest.replay import replay
from laip.ingest.report import REPORT_NAME, ValidationError
from laip.ingest.rules import Checks
from laip.ingest.validate import validate

BEFORE, AS_OF = date(2014, 2, 23), date(2014, 3, 2)  # a week of the 2013J presentations


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The full export as of BEFORE and as of AS_OF, and the delta from BEFORE to AS_OF (written once)."""
    from support.data import SAMPLE_DIR

    root = tmp_path_factory.mktemp("delta")
    replay(SAMPLE_DIR, root / "before", BEFORE)
    replay(SAMPLE_DIR, root / "full", AS_OF)
    replay(SAMPLE_DIR, root / "delta", AS_OF, clicks_since=BEFORE)
    return {"before": root / "before", "full": root / "full", "delta": root / "delta"}


def _content(warehouse: Path) -> dict[str, tuple]:
    """Every table of ``warehouse`` (but the load manifest's times): its rows and an order-free hash of each column."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute("select schema_name, table_name from duckdb_tables() order by all").fetchall()
        out = {}
        for schema, name in tables:
            columns = "load_id, loaded_at" if (schema, name) == ("meta", "load_manifest") else ""
            exclude = f" exclude ({columns})" if columns else ""
            out[f"{schema}.{name}"] = con.execute(
                f'select count(*), sum(hash(columns(* {exclude}))) from "{schema}"."{name}"'
            ).fetchall()[0]
    return out


def _copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def _load(settings: Settings, export: Path, as_of: date, warehouse: Path | None = None):
    return load(export, warehouse or settings.warehouse, settings.reports_dir, checks=Checks(as_of=as_of))


def test_the_replay_writes_only_the_new_clicks_and_says_so(exports: dict[str, Path]) -> None:
    assert json.loads((exports["delta"] / DECLARATION).read_text()) == {"clicks_since": "2014-02-23"}
    with duckdb.connect() as con:
        counts = [
            con.execute(f"select count(*) from read_csv('{exports[k]}/studentVle.csv.gz')").fetchall()[0][0]
            for k in ("before", "full", "delta")
        ]
        for stem in ("studentInfo", "studentRegistration", "studentAssessment"):  # the other files are complete
            assert (exports["delta"] / f"{stem}.csv.gz").read_bytes() == (
                exports["full"] / f"{stem}.csv.gz"
            ).read_bytes()
    assert counts[2] > 0 and counts[0] + counts[2] == counts[1]


@pytest.mark.parametrize(
    ("before", "as_of", "appended"),
    [
        (BEFORE, AS_OF, "some"),
        # 2013J starts on 2013-10-01: its clicks before the start (days -10..-3) were not in the export of 09-28
        (date(2013, 9, 28), date(2013, 10, 5), "some"),
        (date(2014, 7, 7), date(2014, 7, 14), "none"),  # every presentation ended: a week without a click
    ],
)
def test_appended_to_last_week_it_holds_what_the_full_export_holds(
    settings: Settings, tmp_path: Path, before: date, as_of: date, appended: str
) -> None:
    from support.data import SAMPLE_DIR

    exports = {
        "before": replay(SAMPLE_DIR, tmp_path / "before", before).dest,
        "full": replay(SAMPLE_DIR, tmp_path / "full", as_of).dest,
        "delta": replay(SAMPLE_DIR, tmp_path / "delta", as_of, clicks_since=before).dest,
    }
    _load(settings, exports["before"], before)
    result = _load(settings, exports["delta"], as_of)
    full = tmp_path / "full.duckdb"
    _load(settings, exports["full"], as_of, full)
    assert result.changed and result.appended["student_vle"] < result.rows["student_vle"]
    assert (result.appended["student_vle"] > 0) == (appended == "some")
    delta_content, full_content = _content(settings.warehouse), _content(full)
    manifest = "meta.load_manifest"
    assert {k: v for k, v in delta_content.items() if k != manifest} == {
        k: v for k, v in full_content.items() if k != manifest
    }
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute(
            "select row_count, as_of_date, delta_since from meta.load_manifest where file_name = 'studentVle.csv.gz'"
        ).fetchall() == [(result.rows["student_vle"], as_of, before)]
    assert not _load(settings, exports["delta"], as_of).changed  # the same delta again: nothing to do


def test_it_leaves_what_a_full_load_leaves(exports: dict[str, Path], settings: Settings) -> None:
    """The last build's relations go (as when a full load swaps in a new file: a build certified after the load must
    have run after it); the schemas a full load carries over (ml, incremental) stay."""
    _load(settings, exports["before"], BEFORE)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("create schema marts; create table marts.m as select 1 as x; create view marts.v as select 1")
        con.execute("create schema incremental; create table incremental.f as select 1 as x")
        con.execute("create schema ml; create table ml.scores as select 1 as x")
    _load(settings, exports["delta"], AS_OF)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        kept = con.execute("select schema_name || '.' || table_name from duckdb_tables() order by 1").fetchall()
        views = con.execute("select view_name from duckdb_views() where not internal").fetchall()
    assert [k for (k,) in kept if not k.startswith("raw.")] == ["incremental.f", "meta.load_manifest", "ml.scores"]
    assert views == []


def test_a_delta_needs_the_load_it_follows(exports: dict[str, Path], settings: Settings) -> None:
    with pytest.raises(ValidationError, match=r"export\.json, column clicks_since: .*holds nothing"):
        _load(settings, exports["delta"], AS_OF)
    assert not settings.warehouse.exists()
    _load(settings, exports["full"], AS_OF)
    before = _content(settings.warehouse)
    with pytest.raises(ValidationError, match=r"as of 2014-03-02 \(this export: loaded again.*: load the full export"):
        load(exports["delta"], settings.warehouse, settings.reports_dir, force=True, checks=Checks(as_of=AS_OF))
    assert _content(settings.warehouse) == before


def test_a_bad_increment_leaves_the_warehouse_as_it_was(
    exports: dict[str, Path], settings: Settings, tmp_path: Path
) -> None:
    _load(settings, exports["before"], BEFORE)
    before = _content(settings.warehouse)
    bad = _copy(exports["delta"], tmp_path / "bad")
    clicks = bad / "studentVle.csv.gz"
    with gzip.open(clicks, "rt", newline="") as f:
        lines = f.read().splitlines(keepends=True)
    fields = lines[3].split(",")
    fields[4] = '"100"'  # a click of day 100 of 2013J: on or before 2014-02-23 (day 145), loaded last week
    lines[3] = ",".join(fields)
    with gzip.open(clicks, "wt", newline="") as f:
        f.write("".join(lines))
    with pytest.raises(ValidationError) as caught:
        _load(settings, bad, AS_OF)
    found = next(f for f in caught.value.report.errors if f.rule == "before_delta_start")
    assert (found.file, found.column, found.row, found.value) == ("studentVle.csv.gz", "date", 4, "100")
    assert _content(settings.warehouse) == before


def test_earlier_clicks_must_keep_their_attempt(exports: dict[str, Path], settings: Settings, tmp_path: Path) -> None:
    """An export that no longer has an attempt with clicks loaded before: refused (a full export is needed)."""
    _load(settings, exports["before"], BEFORE)
    before = _content(settings.warehouse)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        module, presentation, student = con.execute(
            "select code_module, code_presentation, id_student from raw.student_vle "
            "where code_presentation = '2013J' and date < 0 order by all limit 1"
        ).fetchall()[0]
    gone = _copy(exports["delta"], tmp_path / "gone")
    attempt = f"code_module = '{module}' and code_presentation = '{presentation}' and id_student = '{student}'"
    for stem, keep in (
        ("studentRegistration", f"not ({attempt})"),
        ("studentInfo", f"not ({attempt})"),
        ("studentVle", f"not ({attempt})"),
        ("studentAssessment", f"id_student <> '{student}'"),
    ):
        path = gone / f"{stem}.csv.gz"
        with duckdb.connect() as con:
            con.execute(
                f"copy (select * from read_csv('{path}', all_varchar=true) where {keep}) "
                f"to '{path}.new.csv.gz' (header, force_quote *, compression gzip)"
            )
        Path(f"{path}.new.csv.gz").replace(path)
    with pytest.raises(ValidationError, match=r"clicks loaded before \(as of 2014-02-23\) have no matching row"):
        _load(settings, gone, AS_OF)
    assert _content(settings.warehouse) == before


def test_a_crash_mid_append_rolls_it_back(
    exports: dict[str, Path], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import laip.ingest.delta_load as delta_load

    _load(settings, exports["before"], BEFORE)
    before = _content(settings.warehouse)

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(delta_load, "write_manifest", disk_full)
    with pytest.raises(OSError, match="No space"):
        _load(settings, exports["delta"], AS_OF)
    assert _content(settings.warehouse) == before
    # The report on disk is this export's (it passed validation; the load then failed), not the last load's.
    report = json.loads((settings.reports_dir / REPORT_NAME).read_text())
    assert (report["data_dir"], report["ok"], report["error_count"]) == (str(exports["delta"].resolve()), True, 0)


@pytest.mark.parametrize(
    ("declared", "as_of", "message"),
    [
        ("{not json", AS_OF, "not a readable JSON object"),
        ('{"clicks_since": "last week"}', AS_OF, "not a date"),
        ('{"clicks_since": "2014-03-02"}', AS_OF, "must lie before the export's date 2014-03-02"),
        ('{"clicks_since": "2014-02-23"}', None, "give that date"),
    ],
)
def test_a_wrong_declaration_is_a_finding(
    exports: dict[str, Path], tmp_path: Path, declared: str, as_of: date | None, message: str
) -> None:
    export = _copy(exports["delta"], tmp_path / "x")
    (export / DECLARATION).write_text(declared)
    report = validate(export, Checks(as_of=as_of))
    found = next(f for f in report.errors if f.rule == "export_declaration")
    assert found.file == DECLARATION and message in found.message


def test_the_spark_warehouse_refuses_a_delta_before_reading_anything(
    exports: dict[str, Path], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from laip.config import load_settings
    from laip.spark.raw_load import load_spark

    monkeypatch.setenv("LAIP_WAREHOUSE_ENGINE", "spark")
    spark_settings = load_settings(home=settings.home)
    with pytest.raises(ValidationError, match=r"export\.json, column clicks_since: .*complete exports only"):
        load_spark(exports["delta"], spark_settings, checks=Checks(as_of=AS_OF))
    assert not spark_settings.spark_dir.exists()

"""The export as of a date: the seven raw files as a university's export on that date would have held them.

``laip replay --as-of YYYY-MM-DD SRC DEST`` (and the live DAG, in demo mode) turn a finished history such as OULAD
into the weekly feed a platform gets during a term. Course days become dates with the presentation calendar
(:mod:`laip.ingest.calendar`); with ``d`` the as-of date's course day in a presentation:

* presentations that have not started (``d < 0``) are absent from the student files;
* ``studentRegistration``: registrations dated by ``d`` (or undated), an unregistration only if dated by ``d``;
* ``studentInfo``: the attempts registered by then; ``final_result`` only for presentations that had ended
  (``d > module_presentation_length``), empty otherwise;
* ``studentAssessment``: submissions (and their scores) submitted by ``d``; ``studentVle``: clicks up to ``d``;
  both only of the attempts in the export;
* ``courses``, ``assessments``, ``vle``: as they are (static).

With ``--clicks-since D0`` (before the date) the export's click log is a **delta**: only the clicks dated after D0
(the date of the export loaded before it), declared in its ``export.json``; the load appends them to the clicks it
holds as of D0 (:mod:`laip.ingest.delta_load`), as a VLE's incremental export would be loaded.

Values are copied as text, untouched. The files are written as ``<stem>.csv.gz`` into a new directory beside
``DEST`` and renamed into place, so ``DEST`` is complete or absent. Replays of one ``DEST`` are serialised (an
exclusive lock on ``DEST.lock``), and one that finds ``DEST`` already written from the same files, date and
calendar (``.replay.json``) leaves it untouched: a DAG run and a ``laip run`` of the same date, or a re-run, never
swap the files under a load that reads them.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from laip.ingest.acquire import find_file
from laip.ingest.calendar import course_day_sql
from laip.ingest.live_export import DECLARATION
from laip.ingest.schema import TABLES

_MP = "code_module, code_presentation"
_STUDENT = f"{_MP}, id_student"


@dataclass
class ReplayResult:
    dest: Path
    as_of: date
    rows: dict[str, int] = field(default_factory=dict)  # file stem -> data rows written
    running: list[str] = field(default_factory=list)  # presentations started and not ended on the date
    ended: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"Export as of {self.as_of}: {len(self.running)} presentations running "
            f"({', '.join(self.running) or 'none'}), {len(self.ended)} ended; written to {self.dest}"
        ]
        lines += [f"  {stem:<22} {n:>12,} rows" for stem, n in self.rows.items()]
        return "\n".join(lines)


def _int(column: str) -> str:
    return f"try_cast({column} as integer)"


def _queries(delta: bool = False) -> dict[str, str]:
    """The select of each file's rows as of the date (tables ``src_<stem>`` and ``presentation_days``); ``delta``:
    only the clicks the export as of ``presentation_days.since_day`` did not hold (those dated after that day, and
    all of an attempt that export did not have: a presentation not started, a registration after it)."""
    reg_day, unreg_day = _int("r.date_registration"), _int("r.date_unregistration")
    registered = f"p.started and ({reg_day} is null or {reg_day} <= p.as_of_day)"  # by the date, or undated
    kept_attempts = (
        f"(select {_STUDENT} from src_studentRegistration r join presentation_days p using ({_MP}) where {registered})"
    )
    held_before = (  # the attempts of the export as of the delta's start (as kept_attempts, on that day)
        f"(select {_STUDENT} from src_studentRegistration r join presentation_days p using ({_MP}) "
        f"where p.since_day >= 0 and ({reg_day} is null or {reg_day} <= p.since_day))"
    )
    late_registrations = (
        f"(select {_STUDENT} from src_studentRegistration r join presentation_days p using ({_MP}) "
        f"where {reg_day} > p.as_of_day)"
    )
    info_columns = ", ".join(
        "case when p.ended then i.final_result end as final_result" if c == "final_result" else f"i.{c}"
        for c in _columns("studentInfo")
    )
    return {
        "courses": "select * from src_courses",
        "assessments": "select * from src_assessments",
        "vle": "select * from src_vle",
        "studentRegistration": (
            f"select r.code_module, r.code_presentation, r.id_student, r.date_registration, "
            f"case when {unreg_day} <= p.as_of_day then r.date_unregistration end as date_unregistration "
            f"from src_studentRegistration r join presentation_days p using ({_MP}) where {registered}"
        ),
        "studentInfo": (
            f"select {info_columns} from src_studentInfo i join presentation_days p using ({_MP}) "
            f"where p.started and ({_STUDENT}) not in {late_registrations}"
        ),
        "studentAssessment": (
            f"select s.* from src_studentAssessment s join src_assessments a using (id_assessment) "
            f"join presentation_days p on a.code_module = p.code_module and a.code_presentation = p.code_presentation "
            f"where {_int('s.date_submitted')} <= p.as_of_day "
            f"and (a.code_module, a.code_presentation, s.id_student) in {kept_attempts}"
        ),
        "studentVle": (
            f"select v.* from src_studentVle v join presentation_days p using ({_MP}) "
            f"where {_int('v.date')} <= p.as_of_day and ({_STUDENT}) in {kept_attempts}"
            + (f" and not ({_int('v.date')} <= p.since_day and ({_STUDENT}) in {held_before})" if delta else "")
        ),
    }


def _columns(stem: str) -> list[str]:
    return next(spec.column_names for spec in TABLES if spec.file_stem == stem)


MARKER = ".replay.json"  # in DEST: what it was replayed from, and the result


def _inputs(paths: dict[str, Path], as_of: date, start_day: int, since: date | None) -> dict[str, object]:
    """What decides a replay's output: each source file (path, size, modification time), the date, the calendar,
    the start of a delta click log."""
    files = {stem: [str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for stem, p in paths.items()}
    inputs: dict[str, object] = {"files": files, "as_of": as_of.isoformat(), "start_day": start_day}
    return inputs | ({"clicks_since": since.isoformat()} if since is not None else {})


def _replayed(dest: Path, inputs: dict[str, object]) -> ReplayResult | None:
    """The recorded result when ``dest`` was already replayed from exactly ``inputs``, else None."""
    try:
        marker = json.loads((dest / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if marker.get("inputs") != inputs:
        return None
    result = marker["result"]
    return ReplayResult(dest, date.fromisoformat(result["as_of"]), result["rows"], result["running"], result["ended"])


def replay(src: Path, dest: Path, as_of: date, start_day: int = 1, clicks_since: date | None = None) -> ReplayResult:
    """Write the export of ``src`` (a finished history) as of ``as_of`` into ``dest``; see the module docstring
    (``clicks_since``: a delta click log). Raises FileNotFoundError naming the first missing file of ``src``."""
    src, dest = Path(src), Path(dest)
    if clicks_since is not None and clicks_since >= as_of:
        raise ValueError(f"--clicks-since {clicks_since} must lie before the export's date {as_of}")
    paths = {}
    for spec in TABLES:
        path = find_file(src, spec.file_stem)
        if path is None:
            raise FileNotFoundError(f"{src}: no {spec.file_stem}.csv or {spec.file_stem}.csv.gz")
        paths[spec.file_stem] = path
    inputs = _inputs(paths, as_of, start_day, clicks_since)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(dest.with_name(f"{dest.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the next replay of DEST waits here (seconds: one replay)
        done = _replayed(dest, inputs)
        return done if done is not None else _write(paths, dest, as_of, start_day, inputs, clicks_since)
    finally:
        os.close(fd)  # releases the lock


def _write(
    paths: dict[str, Path], dest: Path, as_of: date, start_day: int, inputs: dict[str, object], since: date | None
) -> ReplayResult:
    staging = dest.with_name(f"{dest.name}.replaying-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    result = ReplayResult(dest, as_of)
    try:
        with duckdb.connect() as con:
            for stem, path in paths.items():
                types = {c: "VARCHAR" for c in _columns(stem)}
                con.execute(
                    f"create table src_{stem} as select * from read_csv(?, header=true, columns={types!r}, "
                    "nullstr=['', '?'], delim=',', quote='\"', escape='\"', auto_detect=false)",
                    [str(path)],
                )
            day = course_day_sql("code_presentation", as_of, start_day)
            since_day = "null" if since is None else course_day_sql("code_presentation", since, start_day)
            con.execute(
                f"create table presentation_days as select {_MP}, {day} as as_of_day, {day} >= 0 as started, "
                f"{day} > try_cast(module_presentation_length as integer) as ended, {since_day} as since_day "
                "from src_courses"
            )
            for stem, query in _queries(delta=since is not None).items():
                out = staging / f"{stem}.csv.gz"
                # COPY answers with the number of rows it wrote
                written = con.execute(f"copy ({query}) to '{out}' (header, force_quote *, compression gzip)")
                result.rows[stem] = written.fetchall()[0][0]
            for mp, ended in con.execute(
                "select code_module || ' ' || code_presentation, ended from presentation_days where started order by 1"
            ).fetchall():
                (result.ended if ended else result.running).append(mp)
        recorded = asdict(result) | {"dest": str(dest), "as_of": as_of.isoformat()}
        (staging / MARKER).write_text(json.dumps({"inputs": inputs, "result": recorded}, indent=1))
        if since is not None:
            (staging / DECLARATION).write_text(json.dumps({"clicks_since": since.isoformat()}) + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result

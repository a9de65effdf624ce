"""Write the deterministic sample of the real OULAD that ships with the repo (offline default, test fixture).

The sample keeps whole module-presentations or every k-th student of one (by ``id_student % k``), with
referential integrity: only the courses, assessments and VLE sites of the chosen presentations, and only
the registrations, submissions and clicks of the chosen students. It covers 2013 and 2014, B and J
presentations, all four outcomes, withdrawals before and after day 30, and all three click-log coverage
states of the shared copy (complete, partial, missing). Output is byte-for-byte reproducible (row order
as in the source, gzip without timestamps).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import duckdb

from laip.ingest.acquire import find_file
from laip.ingest.schema import TABLES

#: (module, presentation, keep every k-th student by id_student % k == 0; 1 = all)
SELECTION: tuple[tuple[str, str, int], ...] = (
    ("AAA", "2013J", 1),  # click log complete
    ("AAA", "2014J", 1),  # click log complete; the temporal test presentation
    ("BBB", "2013B", 6),  # click log complete, a February (B) start
    ("BBB", "2013J", 8),  # click log only up to day 132
    ("GGG", "2013J", 3),  # no click log
    ("GGG", "2014J", 3),  # no click log
)


def _write_csv_gz(path: Path, header: list[str], rows: list[tuple]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(buf.getvalue().encode("ascii"))


def make_sample(src: Path, dest: Path) -> Iterator[str]:
    """Write the sample of the OULAD files in ``src`` into ``dest``; yields one line per file written."""
    dest.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for spec in TABLES:
        path = find_file(src, spec.file_stem)
        if path is None:
            raise FileNotFoundError(f"{spec.file_stem}.csv(.gz) not found in {src}")
        con.execute(
            f"create table {spec.table} as select * from read_csv(?, header=true, all_varchar=true, nullstr='')",
            [str(path)],
        )
    con.execute("create table pick (code_module varchar, code_presentation varchar, k integer)")
    con.executemany("insert into pick values (?, ?, ?)", [list(s) for s in SELECTION])
    con.execute("""create table keep as select i.code_module, i.code_presentation, i.id_student
                   from student_info i join pick p using (code_module, code_presentation)
                   where cast(i.id_student as bigint) % p.k = 0""")
    by_mp = "using (code_module, code_presentation)"
    filters = {
        "courses": f"semi join pick {by_mp}",
        "assessments": f"semi join pick {by_mp}",
        "vle": f"semi join pick {by_mp}",
        "student_info": "semi join keep using (code_module, code_presentation, id_student)",
        "student_registration": "semi join keep using (code_module, code_presentation, id_student)",
        "student_assessment": (
            "semi join (select a.id_assessment, k.id_student from assessments a join keep k "
            f"{by_mp}) s using (id_assessment, id_student)"
        ),
        "student_vle": "semi join keep using (code_module, code_presentation, id_student)",
    }
    for spec in TABLES:
        rows = con.execute(f"select * from {spec.table} t {filters[spec.table]} order by t.rowid").fetchall()
        out = dest / f"{spec.file_stem}.csv.gz"
        _write_csv_gz(out, spec.column_names, rows)
        yield f"{out.name}: {len(rows):,} rows, {out.stat().st_size / 1e6:.2f} MB"

"""The contract of the seven raw OULAD files: columns, types, keys and domains.

Validation checks files against it and the loader creates the ``raw`` tables from it, so the two can
never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Strings read as NULL in nullable columns. The official files write missing as ``""``; the UCI copy
#: writes ``?``. Either is counted and reported, never an error, where the column may be missing.
NULL_MARKERS = ("", "?")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type: VARCHAR, INTEGER or DOUBLE
    nullable: bool = False
    allowed: tuple[str, ...] | None = None  # closed domain (after NULL handling)
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    pattern: str | None = None  # regular expression the whole value must match
    known_at_end: bool = False  # empty in a live export while the presentation runs (laip.ingest.live_export)


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    file_stem: str  # OULAD file name without extension, e.g. studentInfo
    table: str  # raw table name, e.g. student_info
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


MODULE = Column("code_module", "VARCHAR", pattern=r"[A-Z]{3}")
PRESENTATION = Column("code_presentation", "VARCHAR", pattern=r"[0-9]{4}[BJ]")
STUDENT = Column("id_student", "INTEGER", min=0, min_exclusive=True)
MP = ("code_module", "code_presentation")

TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "courses",
        "courses",
        (MODULE, PRESENTATION, Column("module_presentation_length", "INTEGER", min=0, min_exclusive=True)),
        primary_key=MP,
    ),
    TableSpec(
        "assessments",
        "assessments",
        (
            MODULE,
            PRESENTATION,
            Column("id_assessment", "INTEGER"),
            Column("assessment_type", "VARCHAR", allowed=("TMA", "CMA", "Exam")),
            Column("date", "INTEGER", nullable=True),
            Column("weight", "DOUBLE", min=0, max=100),
        ),
        primary_key=("id_assessment",),
        foreign_keys=(ForeignKey(MP, "courses", MP),),
    ),
    TableSpec(
        "vle",
        "vle",
        (
            Column("id_site", "INTEGER"),
            MODULE,
            PRESENTATION,
            Column("activity_type", "VARCHAR"),
            Column("week_from", "INTEGER", nullable=True, min=0),
            Column("week_to", "INTEGER", nullable=True, min=0),
        ),
        primary_key=("id_site",),
        foreign_keys=(ForeignKey(MP, "courses", MP),),
    ),
    TableSpec(
        "studentInfo",
        "student_info",
        (
            MODULE,
            PRESENTATION,
            STUDENT,
            Column("gender", "VARCHAR", allowed=("M", "F")),
            Column("region", "VARCHAR"),
            Column("highest_education", "VARCHAR"),
            Column(
                "imd_band",
                "VARCHAR",
                nullable=True,
                allowed=(
                    "0-10%",
                    "10-20",
                    "10-20%",
                    "20-30%",
                    "30-40%",
                    "40-50%",
                    "50-60%",
                    "60-70%",
                    "70-80%",
                    "80-90%",
                    "90-100%",
                ),
            ),
            Column("age_band", "VARCHAR", allowed=("0-35", "35-55", "55<=")),
            Column("num_of_prev_attempts", "INTEGER", min=0),
            Column("studied_credits", "INTEGER", min=0, min_exclusive=True),
            Column("disability", "VARCHAR", allowed=("Y", "N")),
            Column("final_result", "VARCHAR", allowed=("Pass", "Fail", "Withdrawn", "Distinction"), known_at_end=True),
        ),
        primary_key=(*MP, "id_student"),
        foreign_keys=(ForeignKey(MP, "courses", MP),),
    ),
    TableSpec(
        "studentRegistration",
        "student_registration",
        (
            MODULE,
            PRESENTATION,
            STUDENT,
            Column("date_registration", "INTEGER", nullable=True),
            Column("date_unregistration", "INTEGER", nullable=True),
        ),
        primary_key=(*MP, "id_student"),
        foreign_keys=(ForeignKey((*MP, "id_student"), "student_info", (*MP, "id_student")),),
    ),
    TableSpec(
        "studentAssessment",
        "student_assessment",
        (
            Column("id_assessment", "INTEGER"),
            STUDENT,
            Column("date_submitted", "INTEGER"),
            Column("is_banked", "INTEGER", allowed=("0", "1")),
            Column("score", "DOUBLE", nullable=True, min=0, max=100),
        ),
        primary_key=("id_assessment", "id_student"),
        foreign_keys=(ForeignKey(("id_assessment",), "assessments", ("id_assessment",)),),
    ),
    TableSpec(
        "studentVle",
        "student_vle",
        (
            MODULE,
            PRESENTATION,
            STUDENT,
            Column("id_site", "INTEGER"),
            Column("date", "INTEGER"),
            Column("sum_click", "INTEGER", min=0, min_exclusive=True),
        ),
        foreign_keys=(
            ForeignKey(("id_site", *MP), "vle", ("id_site", *MP)),
            ForeignKey((*MP, "id_student"), "student_registration", (*MP, "id_student")),
        ),
    ),
)

BY_TABLE: dict[str, TableSpec] = {t.table: t for t in TABLES}
BY_STEM: dict[str, TableSpec] = {t.file_stem: t for t in TABLES}

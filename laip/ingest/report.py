"""The validation report: findings (file, column, line, value), per-file row counts, missing values and
click-log coverage; written as JSON under ``$LAIP_HOME/reports``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from laip.durable import atomic_write_text
from laip.ingest.acquire import DataSource

REPORT_NAME = "validation_report.json"


@dataclass
class Finding:
    """One validation finding. ``row`` is the 1-based line in the file (header = 1)."""

    severity: str  # "error" or "warning"
    file: str
    rule: str
    message: str
    column: str | None = None
    row: int | None = None
    value: str | None = None
    total: int = 1  # rows breaking this rule in this file/column (examples are capped)

    def render(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" line {self.row}"
        if self.column:
            where += f", column {self.column}"
        value = f" (value {self.value!r})" if self.value is not None else ""
        total = f" [{self.total} rows in total]" if self.total > 1 and self.severity == "error" else ""
        return f"{self.severity.upper()} {where}: {self.message}{value}{total}"


@dataclass
class FileInfo:
    stem: str
    path: str
    size_bytes: int
    mtime_ns: int
    rows: int | None = None
    sha256: str | None = None  # the content the report vouches for


@dataclass
class Report:
    data_dir: str
    ok: bool = True
    files: list[FileInfo] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    missing_values: dict[str, dict[str, int]] = field(default_factory=dict)
    click_coverage: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def to_json(self) -> str:
        body = asdict(self)
        body["error_count"] = sum(f.total for f in self.errors)
        body["warning_count"] = len(self.warnings)
        return json.dumps(body, indent=2, sort_keys=False, default=str)

    def summary(self) -> str:
        lines = [
            f"Validation of {self.data_dir}: {'PASSED' if self.ok else 'FAILED'} in {self.seconds:.1f} s",
        ]
        for f in self.files:
            rows = f"{f.rows:,} rows" if f.rows is not None else "not read"
            lines.append(f"  {Path(f.path).name:<28} {rows}")
        for col_counts in self.missing_values.items():
            name, counts = col_counts
            for column, n in counts.items():
                lines.append(f"  note: {name}.{column}: {n:,} missing values (read as NULL)")
        lines.extend("  " + f.render() for f in self.findings)
        return "\n".join(lines)


@dataclass
class ValidationResult:
    """One validation run: where the files came from, the report and where it was written."""

    source: DataSource
    report: Report
    path: Path

    def summary(self) -> str:
        return self.report.summary()

    def as_xcom(self) -> dict[str, Any]:
        """What the Airflow task keeps (JSON)."""
        return {
            "data_dir": str(self.source.path),
            "source": self.source.kind,
            "report": str(self.path),
            "rows": {f.stem: f.rows for f in self.report.files},
            "warnings": len(self.report.warnings),
        }


class ValidationError(Exception):
    """Raised by :func:`laip.ingest.load.load` when the raw data has errors; carries the report."""

    def __init__(self, report: Report):
        self.report = report
        first = report.errors[0].render() if report.errors else "unknown error"
        n = sum(f.total for f in report.errors)
        super().__init__(f"raw data failed validation with {n} error(s); first: {first}")


class FilesChangedDuringLoad(Exception):
    """A raw file changed between its validation and a second read of it (the Spark load reads the files again)."""


def write_report(report: Report, reports_dir: Path) -> Path:
    return atomic_write_text(reports_dir / REPORT_NAME, report.to_json())

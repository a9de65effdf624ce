"""The run for a date: where its export is, what the command line refuses (the runs themselves:
tests/integration/test_live_term.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from laip.cli import main
from laip.config import Settings
from laip.orchestration.live_term import export_dir, prepare_export
from laip.orchestration.tasks import StepFailed


def test_the_export_of_a_date_is_dropped_in_the_exports_folder(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert export_dir(settings, date(2014, 11, 7)) == settings.home / "exports" / "2014-11-07"
    with pytest.raises(StepFailed, match=r"no export as of 2014-11-07 at .*exports/2014-11-07"):
        prepare_export(settings, date(2014, 11, 7))
    monkeypatch.setenv("LAIP_EXPORTS_DIR", "/srv/exports")
    assert export_dir(settings, date(2014, 11, 7)) == Path("/srv/exports/2014-11-07")


def test_the_command_line_refuses_an_ambiguous_or_missing_export(
    settings: Settings, sample_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(sample_dir), "--as-of", "2014-11-07"]) == 2
    assert "--replay-from" in capsys.readouterr().err
    assert main(["run", "--replay-from", str(sample_dir)]) == 2
    assert main(["run", "--as-of", "2014-11-07"]) == 1
    assert "no export as of 2014-11-07" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["backfill", "--from", "2014-11-07", "--to", "2014-11-14", "--every", "0d"])

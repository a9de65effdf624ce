"""A run never quietly replaces the data of a LAIP_HOME by another kind of data (issue: a default DAG run fell back
to the sample and republished it over the full OULAD): the sample only on a first interactive run, and a change of
data family (sample vs real data, fewer module-presentations) refused unless confirmed, the warehouse unchanged."""

from __future__ import annotations

import gzip
from dataclasses import replace
from pathlib import Path

import pytest
from support.files import digest

from laip.config import Settings
from laip.ingest.source_guard import family_of_dir, family_of_warehouse
from laip.orchestration.tasks import StepFailed, data_source, load_raw, validate_raw
from laip.services.net import free_port


def _copy(sample_dir: Path, dest: Path, *, drop_module: str | None = None, extra_row: bool = False) -> Path:
    """The sample as plain CSV files: the same data but not the sample's bytes (what real data looks like here);
    ``drop_module`` removes that module's presentations from courses.csv; ``extra_row`` adds a submission."""
    dest.mkdir(parents=True)
    for gz in sample_dir.glob("*.csv.gz"):
        text = gzip.decompress(gz.read_bytes()).decode()
        if drop_module and gz.name.startswith("courses."):
            text = "".join(line for line in text.splitlines(keepends=True) if f'"{drop_module}"' not in line)
        (dest / gz.name[:-3]).write_text(text)
    return dest


@pytest.fixture
def no_data(settings: Settings, tmp_path: Path) -> Settings:
    """Settings whose default raw-data dir is empty and whose download fails (a closed loopback port)."""
    return replace(
        settings,
        data_dir=tmp_path / "raw",
        data_dir_is_default=True,
        download_urls=(f"http://127.0.0.1:{free_port()}/oulad.zip",),
        download_timeout_s=2,
    )


def test_default_run_without_data_fails_instead_of_using_the_sample(no_data: Settings) -> None:
    with pytest.raises(StepFailed, match=r"OULAD not found .* only by the first `make run`"):
        validate_raw(no_data)
    assert not no_data.warehouse.exists()


def test_first_interactive_run_falls_back_to_the_sample_once(no_data: Settings) -> None:
    load_raw(no_data, allow_sample=True)
    family = family_of_warehouse(no_data.warehouse, no_data.sample_dir)
    assert family is not None and family.is_sample
    # data was loaded into this home: no second fallback, even when allowed
    with pytest.raises(StepFailed, match="OULAD not found"):
        data_source(no_data, None, allow_sample=True)


def test_sample_over_real_data_is_refused_unless_confirmed(
    settings: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    real = _copy(sample_dir, tmp_path / "real")
    assert not family_of_dir(real, sample_dir).is_sample and family_of_dir(sample_dir, sample_dir).is_sample
    load_raw(settings, real)
    before = digest(settings.warehouse)
    for step in (validate_raw, load_raw):
        with pytest.raises(StepFailed) as err:
            step(settings, sample_dir)
        message = str(err.value)
        assert "data source changed: the last load was real data" in message and "bundled sample" in message
        assert "--confirm-source-change" in message and "\n" not in message
    assert digest(settings.warehouse) == before
    load_raw(settings, sample_dir, confirm_change=True)
    family = family_of_warehouse(settings.warehouse, sample_dir)
    assert family is not None and family.is_sample


def test_real_data_over_the_sample_is_refused_unless_confirmed(
    settings: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    load_raw(settings, sample_dir)
    with pytest.raises(StepFailed, match=r"the last load was the bundled sample .* this run's data is real data"):
        validate_raw(settings, _copy(sample_dir, tmp_path / "real"))
    assert validate_raw(settings, _copy(sample_dir, tmp_path / "real2"), confirm_change=True).report.ok


def test_data_lacking_presentations_of_the_last_load_is_refused(
    settings: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    load_raw(settings, _copy(sample_dir, tmp_path / "real"))
    fewer = _copy(sample_dir, tmp_path / "fewer", drop_module="GGG")
    with pytest.raises(StepFailed, match=r"lacks 2 module-presentations of the last load \(GGG 2013J, GGG 2014J\)"):
        validate_raw(settings, fewer)


def test_an_update_of_the_same_family_passes(settings: Settings, sample_dir: Path, tmp_path: Path) -> None:
    load_raw(settings, _copy(sample_dir, tmp_path / "week1"))
    week2 = _copy(sample_dir, tmp_path / "week2")
    clicks = week2 / "studentVle.csv"
    clicks.write_text("".join(clicks.read_text().splitlines(keepends=True)[:-100]))  # other rows, same family
    assert load_raw(settings, week2).changed

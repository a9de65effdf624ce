"""A real pipeline run on the bundled sample, built once per test session and shared read-only."""

from __future__ import annotations

from pathlib import Path

import pytest

from laip.config import Settings, load_settings
from laip.ingest.load import load
from laip.warehouse.build import build
from laip.warehouse.publish import publish


def run_pipeline(home: Path, data_dir: Path) -> Settings:
    """load -> dbt build -> publish into ``home``; fails the test if any step fails."""
    s = load_settings(home=home)
    load(data_dir, s.warehouse, s.reports_dir, source="sample")
    result = build(s)
    assert result.success, result.summary()
    publish(s.warehouse, s.serving_warehouse)
    return s


@pytest.fixture(scope="session")
def built_sample(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from support.data import SAMPLE_DIR

    return run_pipeline(tmp_path_factory.mktemp("built") / "home", SAMPLE_DIR)


@pytest.fixture(scope="session")
def service_sample(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The README's pipeline (`laip run data/sample`: load, build, train, score, insights, publish) in its own
        LAIP_HOME, for tests that start services on it and re-publish its snapshot (kept apart from
        ``built_sample``, which other tests read). Quick ML profile (small grids); started with umask 022
    (test_private_files)."""
    import os
    import subprocess
    import sys

    from support.data import SAMPLE_DIR

    home = tmp_path_factory.mktemp("services") / "home"
    env = {**os.environ, "LAIP_HOME": str(home), "LAIP_ML_PROFILE": "quick"}
    env.pop("LAIP_DATA_DIR", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run(
        [sys.executable, "-m", "laip", "run", str(SAMPLE_DIR)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        preexec_fn=lambda: os.umask(0o022),  # what a shell usually gives: the platform must not rely on it
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    # API traffic for the Model Monitoring tab: a constructed prediction log, then monitor + publish again
    from support.prediction_log import write_prediction_log

    write_prediction_log(load_settings(home=home))
    for step in ("monitor", "publish"):
        proc = subprocess.run(
            [sys.executable, "-m", "laip", step], env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return load_settings(home=home)


@pytest.fixture(scope="session")
def live_term(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[tuple]]:
    """Three weeks of 2014J replayed on the sample (``support.live_term.WEEKS``): a home where the first week ran
    (`laip run --as-of`), then a backfill of the next two; with the first week's rows as published right after its
    own run."""
    from support.data import SAMPLE_DIR
    from support.live_term import WEEKS, history_rows, laip_cli

    home = tmp_path_factory.mktemp("live") / "home"
    laip_cli(home, "run", "--as-of", WEEKS[0].isoformat(), "--replay-from", str(SAMPLE_DIR))
    settings = load_settings(home=home)
    first_week = history_rows(settings, f"as_of_date = '{WEEKS[0]}'")
    laip_cli(
        home, "backfill", "--from", WEEKS[1].isoformat(), "--to", WEEKS[2].isoformat(), "--every", "7d",
        "--replay-from", str(SAMPLE_DIR),
    )  # fmt: skip
    return settings, first_week


@pytest.fixture(scope="session")
def production():  # type: ignore[no-untyped-def]
    """The production profile's PostgreSQL and Redis, started for this session (support.production)."""
    from support.production import production_servers

    with production_servers() as servers:
        yield servers

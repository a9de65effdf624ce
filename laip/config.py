"""One configuration for the platform: paths (from ``laip.yaml`` and the environment) and thresholds.

Every step resolves its paths through :func:`load_settings`, so the CLI, the Airflow DAG and the tests
agree on where the warehouse, the MLflow store and the raw data are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = REPO_ROOT / "laip.yaml"
DEFAULT_CHECKPOINTS = (14, 30, 60, 90, 120, 150, 180)
WAREHOUSE_ENGINES = ("duckdb", "spark")


class ConfigError(ValueError):
    """``laip.yaml`` holds a value the platform cannot run with (the message names the key)."""


@dataclass(frozen=True)
class Settings:
    """Resolved paths and thresholds. Build with :func:`load_settings`."""

    repo_root: Path
    home: Path
    data_dir: Path
    data_dir_is_default: bool
    sample_dir: Path
    dbt_project_dir: Path
    download_urls: tuple[str, ...]
    download_timeout_s: float
    max_examples_per_rule: int
    prediction_day: int
    click_log_complete_tolerance_days: int
    min_group_size: int
    event_days_before_start: int = 400  # an event day must lie in [-before, module length + after]
    event_days_after_end: int = 14
    writer_wait_seconds: float = 600.0  # how long a warehouse writer waits for the one running (laip.locks)
    checkpoints: tuple[int, ...] = DEFAULT_CHECKPOINTS  # course days with a risk prediction; include prediction_day
    presentation_start_day: int = 1  # nominal day of the start month of a presentation (laip.ingest.calendar)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    # --- derived locations (all state lives under ``home``) ---
    @property
    def warehouse(self) -> Path:
        """The working DuckDB warehouse the pipeline writes (raw + dbt models + ML tables)."""
        return self.home / "warehouse" / "laip.duckdb"

    @property
    def warehouse_engine(self) -> str:
        """Where the dbt project builds: ``duckdb`` (the default, the file above) or ``spark`` (Parquet tables under
        ``<home>/spark``, :mod:`laip.spark`); env LAIP_WAREHOUSE_ENGINE, laip.yaml ``warehouse.engine``. It is the
        dbt target's name (``dbt/profiles.yml``)."""
        engine = os.environ.get("LAIP_WAREHOUSE_ENGINE") or self.raw.get("warehouse", {}).get("engine") or "duckdb"
        if engine not in WAREHOUSE_ENGINES:
            raise ConfigError(
                f"warehouse.engine (env LAIP_WAREHOUSE_ENGINE) must be one of {WAREHOUSE_ENGINES}, got {engine!r}"
            )
        return str(engine)

    @property
    def spark_dir(self) -> Path:
        """The Spark warehouse (``warehouse.engine: spark``): Parquet tables in ``warehouse/``, the metastore beside."""
        return self.home / "spark"

    @property
    def serving_warehouse(self) -> Path:
        """The published read-only snapshot that dashboards read; swapped in atomically by ``publish``."""
        return self.home / "serving" / "laip.duckdb"

    @property
    def exports_dir(self) -> Path:
        """Where a live term's exports are (``YYYY-MM-DD/`` each): env LAIP_EXPORTS_DIR, laip.yaml
        ``paths.exports_dir``, else ``<home>/exports``."""
        configured = os.environ.get("LAIP_EXPORTS_DIR") or self.raw.get("paths", {}).get("exports_dir")
        return _resolve(self.repo_root, configured) if configured else self.home / "exports"

    @property
    def replay_from(self) -> Path | None:
        """Demo mode of the weekly DAG: the finished history whose export as of each run's date is replayed (env
        LAIP_REPLAY_FROM, laip.yaml ``live_term.replay_from``); None: production, the exports dropped for each date."""
        configured = os.environ.get("LAIP_REPLAY_FROM") or self.raw.get("live_term", {}).get("replay_from")
        return _resolve(self.repo_root, configured) if configured else None

    @property
    def scheduled_unit_tests(self) -> bool:
        """Whether a live run's dbt build (the weekly DAG, ``laip run --as-of``, ``laip backfill``) runs dbt's unit
        tests too (laip.yaml ``live_term.unit_tests``, default false: they test the project's SQL on fixed rows, not
        the week's data; CI and ``make run`` run them)."""
        return bool(self.raw.get("live_term", {}).get("unit_tests", False))

    @property
    def weekly_schedule(self) -> str:
        """Cron of the weekly DAG (env LAIP_WEEKLY_SCHEDULE, laip.yaml ``live_term.schedule``)."""
        return os.environ.get("LAIP_WEEKLY_SCHEDULE") or self.raw.get("live_term", {}).get("schedule") or "0 0 * * 1"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def dbt_target_dir(self) -> Path:
        return self.home / "dbt" / "target"

    @property
    def dbt_manifest_dir(self) -> Path:
        """Where ``laip parse`` writes the dbt manifest the Airflow DAG renders from (Cosmos DBT_MANIFEST)."""
        return self.home / "dbt" / "manifest"

    @property
    def dbt_log_dir(self) -> Path:
        return self.home / "dbt" / "logs"

    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    @property
    def mlflow_tracking_uri(self) -> str:
        return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def prediction_log_dir(self) -> Path:
        """Append-only log of every API prediction (JSON lines, ``date=YYYY-MM-DD/part-*.jsonl``); monitoring
        reads it."""
        return self.home / "predictions"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def superset_home(self) -> Path:
        return self.home / "superset"

    def dbt_vars(self) -> dict[str, int | list[int]]:
        """Thresholds handed to dbt (``--vars``), so dbt and Python read the same config."""
        return {
            "prediction_day": self.prediction_day,
            "checkpoints": list(self.checkpoints),
            "click_log_complete_tolerance_days": self.click_log_complete_tolerance_days,
            "min_group_size": self.min_group_size,
            "event_days_before_start": self.event_days_before_start,
            "event_days_after_end": self.event_days_after_end,
            "presentation_start_day": self.presentation_start_day,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "repo_root": str(self.repo_root),
            "home": str(self.home),
            "data_dir": str(self.data_dir),
            "sample_dir": str(self.sample_dir),
            "warehouse": str(self.warehouse),
            "warehouse_engine": self.warehouse_engine,
            "serving_warehouse": str(self.serving_warehouse),
            "dbt_project_dir": str(self.dbt_project_dir),
            "dbt_target_dir": str(self.dbt_target_dir),
            "dbt_manifest": str(self.dbt_manifest_dir / "manifest.json"),
            "mlflow_tracking_uri": self.mlflow_tracking_uri,
            "airflow_home": str(self.airflow_home),
            "superset_home": str(self.superset_home),
            "prediction_log_dir": str(self.prediction_log_dir),
            "reports_dir": str(self.reports_dir),
            "logs_dir": str(self.logs_dir),
            "prediction_day": self.prediction_day,
            "checkpoints": list(self.checkpoints),
            "min_group_size": self.min_group_size,
        }


def parse_checkpoints(value: Any, prediction_day: int, where: str) -> tuple[int, ...]:
    """The checkpoints (course days with a risk prediction) as a sorted tuple; :class:`ConfigError` naming
    ``where`` unless they are distinct whole days >= 0 that include ``prediction_day`` (the default checkpoint)."""
    try:
        days = [int(v) for v in value] if isinstance(value, list | tuple) else []
        exact = all(float(v) == int(v) for v in value)
    except (TypeError, ValueError):
        days, exact = [], False
    if not days or not exact or len(set(days)) != len(days) or min(days) < 0 or prediction_day not in days:
        raise ConfigError(
            f"{where} must be a list of distinct course days >= 0 that includes prediction_day {prediction_day}, "
            f"got {value!r}"
        )
    return tuple(sorted(days))


def _resolve(base: Path, value: str | os.PathLike[str]) -> Path:
    p = Path(value).expanduser()
    return (p if p.is_absolute() else base / p).resolve()


def _pick(override: Any, env_name: str, file_value: str, root: Path) -> tuple[Path, bool]:
    """Return (path, came_from_config_file). Explicit values resolve against the cwd, config values the repo."""
    explicit = override if override is not None else os.environ.get(env_name)
    if explicit:
        return _resolve(Path.cwd(), explicit), False
    return _resolve(root, file_value), True


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read ``laip.yaml`` (or ``LAIP_CONFIG``), then apply env vars and keyword overrides.

    Keyword overrides (``home=``, ``data_dir=``) win over the environment, which wins over the file.
    """
    path = config_file or Path(os.environ.get("LAIP_CONFIG", CONFIG_FILE))
    raw: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    paths = raw.get("paths", {})
    domain = raw.get("domain", {})
    root = REPO_ROOT

    home = _pick(overrides.get("home"), "LAIP_HOME", paths.get("home", ".laip"), root)
    prediction_day = int(domain.get("prediction_day", 30))
    checkpoints = parse_checkpoints(
        domain.get("checkpoints", list(DEFAULT_CHECKPOINTS)), prediction_day, "laip.yaml domain.checkpoints"
    )
    data_dir = _pick(overrides.get("data_dir"), "LAIP_DATA_DIR", paths.get("data_dir", "data/raw"), root)
    start_day = domain.get("presentation_start_day", 1)
    if not isinstance(start_day, int) or not 1 <= start_day <= 28:
        raise ConfigError(
            f"laip.yaml domain.presentation_start_day must be a day of the month 1..28, got {start_day!r}"
        )
    return Settings(
        repo_root=root,
        home=home[0],
        data_dir=data_dir[0],
        data_dir_is_default=data_dir[1],
        sample_dir=_resolve(root, paths.get("sample_dir", "data/sample")),
        dbt_project_dir=_resolve(root, paths.get("dbt_project", "dbt")),
        download_urls=tuple(raw.get("download", {}).get("urls", [])),
        download_timeout_s=float(raw.get("download", {}).get("timeout_seconds", 15)),
        max_examples_per_rule=int(raw.get("validation", {}).get("max_examples_per_rule", 5)),
        prediction_day=prediction_day,
        checkpoints=checkpoints,
        click_log_complete_tolerance_days=int(domain.get("click_log_complete_tolerance_days", 7)),
        min_group_size=int(domain.get("min_group_size", 10)),
        event_days_before_start=int(domain.get("event_days_before_start", 400)),
        event_days_after_end=int(domain.get("event_days_after_end", 14)),
        writer_wait_seconds=float(raw.get("warehouse", {}).get("writer_wait_seconds", 600)),
        presentation_start_day=start_day,
        raw=raw,
    )

"""Superset configuration for LAIP (loaded through ``SUPERSET_CONFIG_PATH``; runs in ``.venv-superset``).

All state lives under ``$LAIP_HOME/superset`` (git-ignored): the SQLite metadata database, the generated
``SECRET_KEY`` and the generated admin credentials. Nothing secret is kept in the repository.

Paths come from the environment set by ``laip.services.superset`` (``LAIP_SUPERSET_HOME``); when it is not set
(e.g. ``superset`` run by hand) they are resolved the same way as the rest of the platform, through
``laip.config.load_settings()`` (``LAIP_HOME`` or ``laip.yaml``).
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any


def _with_laip() -> None:
    """Put the repository on the path (Superset's environment does not install laip, but reads its config)."""
    repo_root = Path(__file__).resolve().parent.parent
    if str(repo_root) not in sys.path:
        sys.path.insert(0, str(repo_root))


def _laip_path(env_name: str, setting: str) -> Path:
    """A path of this LAIP_HOME: from ``env_name`` (set by laip for every Superset process), else the platform's
    settings (the repository put on the path when this config is loaded by hand)."""
    explicit = os.environ.get(env_name)
    if explicit:
        return Path(explicit).resolve()
    _with_laip()
    from laip.config import load_settings

    return Path(getattr(load_settings(), setting)).resolve()


def _secret_key(home: Path) -> str:
    """SUPERSET_SECRET_KEY from the environment, else a key generated once into an ignored file."""
    from_env = os.environ.get("SUPERSET_SECRET_KEY")
    if from_env:
        return from_env
    path = home / "secret_key"
    if not path.is_file():
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:  # two processes starting at once: the first key written wins, both read it back
            os.link(tmp, path)
        except FileExistsError:
            pass
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


# The metadata DB, caches and logs can hold student-level rows: every file Superset creates is owner-only (0600,
# directories 0700), like everything under LAIP_HOME, whoever started it.
os.umask(0o077)
LAIP_SUPERSET_HOME = _laip_path("LAIP_SUPERSET_HOME", "superset_home")
LAIP_SUPERSET_HOME.mkdir(mode=0o700, parents=True, exist_ok=True)
os.environ.setdefault("SUPERSET_HOME", str(LAIP_SUPERSET_HOME))  # uploads, logs of superset itself
DATA_DIR = str(LAIP_SUPERSET_HOME)

SECRET_KEY = _secret_key(LAIP_SUPERSET_HOME)

# Metadata database: SQLite under the ignored state folder (SUPERSET_METADATA_URI overrides, e.g. PostgreSQL).
SQLALCHEMY_DATABASE_URI = os.environ.get("SUPERSET_METADATA_URI", f"sqlite:///{LAIP_SUPERSET_HOME / 'superset.db'}")
if SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
    # several gunicorn workers share the file: wait for a writer instead of failing with "database is locked"
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"connect_args": {"timeout": 30}}

# Native filters are always on in Superset 6; cross-filters are switched off per dashboard (its metadata).
FEATURE_FLAGS = {
    "ENABLE_TEMPLATE_PROCESSING": True,  # the KPI dataset reads the native filters with filter_values()
    "DASHBOARD_VIRTUALIZATION": False,  # render every chart of a tab (small dashboard; screenshots)
    "TAGGING_SYSTEM": False,
    "ALERT_REPORTS": False,
    "THUMBNAILS": False,
    "EMBEDDED_SUPERSET": False,
    "ALLOW_ADHOC_SUBQUERY": False,
    "ENABLE_JAVASCRIPT_CONTROLS": False,
    "ESCAPE_MARKDOWN_HTML": True,
    "SQLLAB_BACKEND_PERSISTENCE": True,
}

# Chart results are not cached: the serving snapshot is swapped by `laip publish`, and a cache would keep
# serving the previous snapshot; DuckDB answers these queries in milliseconds.
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 300}
FILTER_STATE_CACHE_CONFIG = {
    "CACHE_TYPE": "SimpleCache",
    "CACHE_DEFAULT_TIMEOUT": int(timedelta(days=1).total_seconds()),
}
EXPLORE_FORM_DATA_CACHE_CONFIG = FILTER_STATE_CACHE_CONFIG

SUPERSET_WEBSERVER_TIMEOUT = 120
SQLLAB_TIMEOUT = 120
ROW_LIMIT = 50000
PREVENT_UNSAFE_DB_CONNECTIONS = True
PUBLIC_ROLE_LIKE = None
RATELIMIT_STORAGE_URI = "memory://"
LOG_LEVEL = os.environ.get("SUPERSET_LOG_LEVEL", "WARNING")
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
# Served on loopback over plain HTTP by default; behind TLS set SUPERSET_COOKIE_SECURE=1.
SESSION_COOKIE_SECURE = os.environ.get("SUPERSET_COOKIE_SECURE", "") in ("1", "true", "True")
TALISMAN_ENABLED = os.environ.get("TALISMAN_ENABLED", "true").lower() in ("1", "true")

_with_laip()
from laip import profile as laip_profile  # noqa: E402  (after the path is set)

if laip_profile.is_production():
    # The production profile (docs/deployment.md): metadata in PostgreSQL, every cache and Celery on Redis (one
    # database number each). Chart data is cached too: `laip publish` empties that cache (its own Redis database)
    # when it swaps the snapshot in, so no dashboard shows the previous run.
    SQLALCHEMY_DATABASE_URI = laip_profile.production_url(laip_profile.SUPERSET_DB_URL)
    _CACHE = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": laip_profile.redis_url("superset_cache")}
    CACHE_CONFIG = {**_CACHE, "CACHE_KEY_PREFIX": "superset_", "CACHE_DEFAULT_TIMEOUT": 300}
    DATA_CACHE_CONFIG = {
        "CACHE_TYPE": "RedisCache",
        "CACHE_REDIS_URL": laip_profile.redis_url("superset_data_cache"),
        "CACHE_KEY_PREFIX": "superset_data_",
        "CACHE_DEFAULT_TIMEOUT": int(timedelta(days=7).total_seconds()),
    }
    FILTER_STATE_CACHE_CONFIG = {**_CACHE, "CACHE_KEY_PREFIX": "superset_filter_", "CACHE_DEFAULT_TIMEOUT": 86400}
    EXPLORE_FORM_DATA_CACHE_CONFIG = {**_CACHE, "CACHE_KEY_PREFIX": "superset_explore_", "CACHE_DEFAULT_TIMEOUT": 86400}
    RATELIMIT_STORAGE_URI = laip_profile.redis_url("superset_cache")

    class CeleryConfig:
        broker_url = laip_profile.redis_url("superset_celery")
        result_backend = laip_profile.redis_url("superset_celery")
        imports = ("superset.sql_lab", "superset.tasks.scheduler")
        worker_prefetch_multiplier = 1
        task_acks_late = False

    CELERY_CONFIG = CeleryConfig
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}


SERVING_WAREHOUSE = _laip_path("LAIP_SERVING_WAREHOUSE", "serving_warehouse")


def _refuse(message: str) -> None:
    """Refuse a connection as a security error: Superset answers 4xx with the message, never a 500."""
    try:
        from superset.errors import ErrorLevel, SupersetError, SupersetErrorType
        from superset.exceptions import SupersetSecurityException
    except ImportError:  # this file imported outside Superset (its unit test)
        raise PermissionError(message) from None
    error_type = SupersetErrorType.DATABASE_SECURITY_ACCESS_ERROR
    raise SupersetSecurityException(SupersetError(message=message, error_type=error_type, level=ErrorLevel.ERROR))


def DB_CONNECTION_MUTATOR(uri, params, username, security_manager, source):
    """Every DuckDB connection: the serving snapshot only, read-only, no file access from SQL, one configuration.

    The database is pinned to the serving snapshot ``laip publish`` swaps in: an admin who edits the URI to the
    working warehouse (or any other file, or an in-memory database) gets a 4xx naming the snapshot, and the
    pipeline's writer is never blocked by a reader Superset holds open.

    DuckDB shares one database instance per file and process, and refuses a second connection to a file
    whose configuration differs ("Can't open a connection to same database file with a different
    configuration"; measured with duckdb 2.0). Superset passes a ``custom_user_agent`` built by
    ``USER_AGENT_FUNC`` from the request source (chart, dashboard, SQL Lab) to DuckDB, so with a custom
    ``USER_AGENT_FUNC`` two concurrent requests in one worker could collide: the user agent is pinned.
    Read-only and ``enable_external_access=false`` are also in the database URI; they are enforced here too
    so that an edited URI cannot open the snapshot for writing or read files from SQL Lab.
    """
    if uri.drivername.startswith("duckdb"):
        if not uri.database or Path(uri.database).resolve() != SERVING_WAREHOUSE:
            _refuse(
                f"this DuckDB database is pinned to the serving snapshot {SERVING_WAREHOUSE}; "
                f"{uri.database or 'an in-memory database'} cannot be opened from Superset"
            )
        query = dict(uri.query)
        query["access_mode"] = "read_only"
        query["enable_external_access"] = "false"
        uri = uri.set(query=query)
        config = params.setdefault("connect_args", {}).setdefault("config", {})
        config["custom_user_agent"] = "laip-superset"
        config.pop("access_mode", None)
    return uri, params


# Refusals are the client's problem, not the server's: Superset answers some of them with 500 (SQL Lab's "this
# database does not allow DDL/DML", DuckDB's refusals on the read-only snapshot: writing, reading files, a bad
# query). Such an answer is sent as 403 (refused) or 400 (a query DuckDB cannot run) instead.
REFUSED = {
    "DML_NOT_ALLOWED_ERROR",
    "DATABASE_SECURITY_ACCESS_ERROR",
    "QUERY_SECURITY_ACCESS_ERROR",
    "TABLE_SECURITY_ACCESS_ERROR",
    "DATASOURCE_SECURITY_ACCESS_ERROR",
    "ADHOC_SUBQUERY_NOT_ALLOWED_ERROR",
}
INVALID_QUERY = {
    "SYNTAX_ERROR",
    "INVALID_SQL_ERROR",
    "COLUMN_DOES_NOT_EXIST_ERROR",
    "TABLE_DOES_NOT_EXIST_ERROR",
    "SCHEMA_DOES_NOT_EXIST_ERROR",
    "OBJECT_DOES_NOT_EXIST_ERROR",
}
DUCKDB_REFUSALS = ("Permission Error", "read-only mode", "read_only", "file system operations are disabled")
DUCKDB_QUERY_ERRORS = ("Parser Error", "Binder Error", "Catalog Error", "Conversion Error", "Invalid Input Error")


def _refusal_status(errors: list[dict[str, Any]]) -> int | None:
    """403 or 400 when every error of a 500 answer is a refusal or a bad query, else None (a real 500)."""
    statuses = set()
    for error in errors:
        kind, message = error.get("error_type"), str(error.get("message", ""))
        if kind in REFUSED or any(m in message for m in DUCKDB_REFUSALS):
            statuses.add(403)
        elif kind in INVALID_QUERY or any(m in message for m in DUCKDB_QUERY_ERRORS):
            statuses.add(400)
        else:
            return None
    return max(statuses) if statuses else None


def FLASK_APP_MUTATOR(app):
    @app.after_request
    def refusals_are_4xx(response):
        if response.status_code == 500 and response.is_json:
            body = response.get_json(silent=True)
            errors = body.get("errors") if isinstance(body, dict) else None
            status = _refusal_status(errors) if isinstance(errors, list) else None
            if status:
                response.status_code = status
        return response


# A viewer opening a student-level chart gets a plain notice instead of Superset's
# "requires the datasource N, database or `all_datasource_access` permission".
STUDENT_LEVEL_NOTICE = (
    "Student-level data: restricted to the intervention role. Every aggregate chart of this dashboard is open to you; "
    "ask an administrator for the intervention role if you work with individual students (no access granted here)."
)


def _security_manager() -> Any:
    try:
        from superset.security import SupersetSecurityManager
    except ImportError:  # this file read outside Superset (tests of the config)
        return None

    class LaipSecurityManager(SupersetSecurityManager):
        @staticmethod
        def get_datasource_access_error_msg(datasource: Any) -> str:
            return STUDENT_LEVEL_NOTICE

    return LaipSecurityManager


CUSTOM_SECURITY_MANAGER = _security_manager()

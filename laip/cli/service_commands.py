"""``laip up`` / ``down`` / ``serve``: the local services (``laip.services``), and the production profile's servers."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from laip.cli.commands import cmd_dag
from laip.config import Settings


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    from laip.services import stack as services

    names = args.services.split(",") if args.services else list(services.SERVICES)
    try:
        if args.production:  # its servers first; every later step (and service) inherits the profile's variables
            from laip.services.local_production import env_file, start_servers

            os.environ.update(start_servers(settings))
            print(f"PostgreSQL and Redis of the production profile are up; its environment: {env_file(settings)}")
            if "mlflow" in names:  # the pipeline's first run registers its model on the MLflow server
                names.remove("mlflow")
                _print_started({"mlflow": services.start(settings, services.mlflow_service(settings))})
        if not settings.serving_warehouse.is_file():
            print("No published warehouse yet: running the pipeline first (make run).", file=sys.stderr)
            # the interactive first run of this home, like `make run`: the bundled sample when no data is found
            first = argparse.Namespace(
                data_dir=None,
                full_refresh=False,
                models=None,
                verbose=False,
                allow_sample=True,
                confirm_source_change=False,
                next_step="Starting the services now.",
            )
            code = cmd_dag(settings, first)
            if code:
                return code
        _print_started(services.up(settings, names))
    except (RuntimeError, OSError) as exc:
        print(f"make up failed: {exc}", file=sys.stderr)
        return 1
    print("Stop them with `make down`.")
    return 0


def _print_started(started: dict[str, dict[str, str]]) -> None:
    for name, info in started.items():
        print(f"{name:<9} {info.pop('url')}")
        for key, value in info.items():
            print(f"          {key}: {value}")


def cmd_down(settings: Settings, args: argparse.Namespace) -> int:
    from laip.services import stack as services
    from laip.services.local_production import stop_servers

    stopped = services.down(settings, args.services.split(",") if args.services else None)
    if not args.services:  # the servers last: every process that used them has stopped
        stopped += stop_servers(settings)
    print(f"Stopped: {', '.join(stopped)}" if stopped else "Nothing was running.")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from laip.api.server import export_openapi, serve

    if args.export_openapi:
        print(f"OpenAPI: {export_openapi(settings, Path(args.export_openapi))}")
        return 0
    from laip.services.stack import port

    return serve(settings, args.host, args.port or port("api"), args.workers, args.reuse_port)

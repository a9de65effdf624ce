"""``laip``: one sub-command per pipeline step. The Makefile, the README and the Airflow DAG all call these.

laip validate [DATA_DIR] [--json]   check the raw files; JSON report under $LAIP_HOME/reports
laip load [DATA_DIR] [--force]      validate (if needed) and load raw tables atomically
laip build [--select S]             dbt build (models + tests) on the warehouse
laip docs                           dbt docs generate
laip train [--models lr,rf,hgb]     train, track in MLflow, register the champion
laip score                          score the day-30 population into the ML serving tables
laip insights                       governed insight cards
laip publish                        swap in a read-only serving snapshot for dashboards
laip monitor                        drift, performance decay, API health, retraining decision
laip model-card [--out DIR]         model card + retraining plan from the champion's MLflow run
laip run [DATA_DIR] [--retrain M]   all of the above in order, directly (no Airflow); retrain auto|always|never
laip dag [DATA_DIR]                 all of the above through the Airflow DAG (what `make run` does)
laip parse                          dbt manifest for the DAG
laip serve [--port 8000]            the prediction API (uvicorn); --export-openapi FILE writes its spec
laip up | down                      start / stop the local UIs (Airflow, MLflow, Superset) and the API
laip info [--json]                  where everything is
laip make-sample SRC DEST           write the deterministic real-data sample
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from laip.config import Settings, load_settings

log = logging.getLogger("laip")
RETRAIN_CHOICES = (
    "auto",
    "always",
    "never",
)  # laip.ml.monitoring.monitor.RETRAIN_MODES (not imported: keeps the CLI light)


def cmd_validate(settings: Settings, args: argparse.Namespace) -> int:
    from laip.orchestration.tasks import run_validation

    _, report, path = run_validation(settings, args.data_dir)
    if args.json:
        print(report.to_json())
    else:
        print(report.summary())
        print(f"Report: {path}")
    return 0 if report.ok else 1


def cmd_load(settings: Settings, args: argparse.Namespace) -> int:
    from laip.orchestration.tasks import run_load

    return _step(run_load, settings, args.data_dir, force=args.force, show=True)


def cmd_build(settings: Settings, args: argparse.Namespace) -> int:
    from laip.warehouse.build import build

    result = build(settings, select=args.select, full_refresh=args.full_refresh)
    print(result.summary())
    return 0 if result.success else 1


def cmd_docs(settings: Settings, args: argparse.Namespace) -> int:
    from laip.warehouse.build import docs

    result = docs(settings)
    print(result.summary())
    print(f"Docs site: {settings.dbt_target_dir / 'index.html'}")
    return 0 if result.success else 1


def cmd_publish(settings: Settings, args: argparse.Namespace) -> int:
    from laip.orchestration.tasks import run_publish

    return _step(run_publish, settings, show=True)


def _step(fn, *args, show: bool = False, **kwargs) -> int:
    """Run one step of :mod:`laip.orchestration.tasks` (with ``show``, print its result's summary); a
    :class:`StepFailed` becomes a clear message and exit code 1."""
    from laip.orchestration.tasks import StepFailed

    try:
        result = fn(*args, **kwargs)
    except StepFailed as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if show:
        print(result.summary())
    return 0


def cmd_train(settings: Settings, args: argparse.Namespace) -> int:
    from laip.orchestration import tasks

    return _step(tasks.train_model, settings, args.models.split(",") if args.models else None)


def cmd_score(settings: Settings, args: argparse.Namespace) -> int:
    from laip.orchestration import tasks

    return _step(tasks.score, settings)


def cmd_insights(settings: Settings, args: argparse.Namespace) -> int:
    from laip.orchestration import tasks

    return _step(tasks.insight_cards, settings)


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """The DAG's steps run directly in this process, in the DAG's order (no Airflow)."""
    from laip.orchestration import tasks

    decision: dict = {}
    steps = [
        ("validate", lambda: tasks.validate_raw(settings, args.data_dir)),
        ("load", lambda: tasks.load_raw(settings, args.data_dir)),
        ("build", lambda: tasks.build_warehouse(settings)),
        ("monitor", lambda: decision.update(tasks.monitor(settings, args.retrain))),
        ("train", lambda: tasks.train_or_keep(settings, decision)),
        ("score", lambda: tasks.score(settings)),
        ("insights", lambda: tasks.insight_cards(settings)),
        ("publish", lambda: tasks.publish(settings)),
    ]
    timings = []
    for name, fn in steps:
        start = time.perf_counter()
        if _step(fn):
            print(
                f"Step {name} failed; the published snapshot {settings.serving_warehouse} is unchanged.",
                file=sys.stderr,
            )
            return 1
        timings.append((name, time.perf_counter() - start))
    print("\n".join(f"  {n:<10} {s:7.1f} s" for n, s in timings))
    print(
        f"Done in {sum(s for _, s in timings):.1f} s. Serving snapshot (dashboards, API): "
        f"{settings.serving_warehouse}\nWarehouse: {settings.warehouse}\nMLflow: {settings.mlflow_tracking_uri}"
    )
    return 0


def cmd_monitor(settings: Settings, args: argparse.Namespace) -> int:
    """Drift, performance decay, API health and the retraining decision (tables only: nothing is retrained)."""
    from laip.ml.monitoring.monitor import monitor

    result = monitor(settings, args.retrain)
    print(json.dumps(result.decision.as_dict(), indent=2) if args.json else result.summary())
    return 0


def cmd_model_card(settings: Settings, args: argparse.Namespace) -> int:
    """docs/model_card.md and docs/retraining_plan.md from the champion's MLflow run."""
    from laip.ml.model_card import ModelCardError, Orchestration, write_model_docs
    from laip.orchestration.dag_config import DAG_ID, DOCUMENTED_CRON

    try:
        paths = write_model_docs(
            settings,
            Orchestration(DAG_ID, DOCUMENTED_CRON),
            Path(args.out) if args.out else None,
            log_to_run=not args.no_log,
        )
    except ModelCardError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print("\n".join(f"Wrote {p}" for p in paths))
    return 0


def cmd_dag(settings: Settings, args: argparse.Namespace) -> int:
    """The whole pipeline through the Airflow DAG (``airflow dags test``): what ops schedule."""
    from laip.orchestration.airflow_run import run_dag
    from laip.orchestration.tasks import data_source

    conf: dict = {"full_refresh": args.full_refresh}
    # Resolve the data once here (download or sample fallback) so the user sees which data the run uses.
    conf["data_dir"] = str(data_source(settings, args.data_dir).path)
    if args.models:
        conf["models"] = args.models.split(",")
    if getattr(args, "retrain", None):
        conf["retrain"] = args.retrain
    result = run_dag(settings, conf, echo=args.verbose)
    print(result.summary())
    if result.success:
        print(
            f"\nServing snapshot (Superset, API): {settings.serving_warehouse}\n"
            f"MLflow runs: {settings.mlflow_tracking_uri}\n"
            "Next: `make up` for the Airflow, MLflow and Superset UIs."
        )
    else:
        failed = [t.task_id for t in result.tasks if t.state == "failed"]
        print(
            f"\nFailed at: {', '.join(failed) or 'start-up'}; the published snapshot is unchanged. "
            f"Details: {result.log_file}",
            file=sys.stderr,
        )
    return 0 if result.success else 1


def cmd_parse(settings: Settings, args: argparse.Namespace) -> int:
    from laip.warehouse.build import parse

    print(f"dbt manifest: {parse(settings)}")
    return 0


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    from laip.services import stack as services

    if not settings.serving_warehouse.is_file():
        print("No published warehouse yet: running the pipeline first (make run).", file=sys.stderr)
        code = cmd_dag(settings, argparse.Namespace(data_dir=None, full_refresh=False, models=None, verbose=False))
        if code:
            return code
    names = args.services.split(",") if args.services else None
    try:
        started = services.up(settings, names)
    except RuntimeError as exc:
        print(f"make up failed: {exc}", file=sys.stderr)
        return 1
    for name, info in started.items():
        print(f"{name:<9} {info.pop('url')}")
        for key, value in info.items():
            print(f"          {key}: {value}")
    print("Stop them with `make down`.")
    return 0


def cmd_down(settings: Settings, args: argparse.Namespace) -> int:
    from laip.services import stack as services

    stopped = services.down(settings, args.services.split(",") if args.services else None)
    print(f"Stopped: {', '.join(stopped)}" if stopped else "Nothing was running.")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from laip.api.server import export_openapi, serve

    if args.export_openapi:
        print(f"OpenAPI: {export_openapi(settings, Path(args.export_openapi))}")
        return 0
    from laip.services.stack import port

    return serve(settings, args.host, args.port or port("api"), args.workers, args.reuse_port)


def cmd_info(settings: Settings, args: argparse.Namespace) -> int:
    from laip.warehouse.status import status

    info = {**settings.as_dict(), "status": status(settings)}
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        for key, value in info.items():
            print(f"{key:<22} {value}")
    return 0


def cmd_make_sample(settings: Settings, args: argparse.Namespace) -> int:
    from laip.ingest.sample import make_sample

    for line in make_sample(Path(args.src), Path(args.dest)):
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="laip", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="validate the raw OULAD files")
    p.add_argument("data_dir", nargs="?", help="raw data directory (default: LAIP_DATA_DIR or data/raw)")
    p.add_argument("--json", action="store_true", help="print the machine-readable report")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("load", help="validate and load raw files into the warehouse (atomic)")
    p.add_argument("data_dir", nargs="?")
    p.add_argument("--force", action="store_true", help="reload even if the files are unchanged")
    p.set_defaults(func=cmd_load)

    p = sub.add_parser("build", help="dbt build: staging, intermediate, marts and all tests")
    p.add_argument("--select", help="dbt selection (a partial build does not certify publishing)")
    p.add_argument("--full-refresh", action="store_true")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("docs", help="dbt docs generate")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("publish", help="swap in a read-only serving snapshot for dashboards")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("train", help="train baseline and challengers, log to MLflow, register the champion")
    p.add_argument("--models", help="comma-separated subset of lr,rf,hgb")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("score", help="score the day-30 population with the champion into the serving tables")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("insights", help="write the governed insight cards")
    p.set_defaults(func=cmd_insights)

    p = sub.add_parser("run", help="every step directly, without Airflow (validate ... publish)")
    p.add_argument("data_dir", nargs="?")
    p.add_argument(
        "--retrain",
        choices=RETRAIN_CHOICES,
        default="auto",
        help="auto: retrain only when monitoring triggers (default); always; never",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("monitor", help="drift, performance decay, API health and the retraining decision")
    p.add_argument("--retrain", choices=RETRAIN_CHOICES, default="auto", help="mode recorded in the decision")
    p.add_argument("--json", action="store_true", help="print the decision as JSON")
    p.set_defaults(func=cmd_monitor)

    p = sub.add_parser("model-card", help="docs/model_card.md and docs/retraining_plan.md from the champion's run")
    p.add_argument("--out", help="output directory (default: docs/ of the repository)")
    p.add_argument("--no-log", action="store_true", help="do not log the card to the champion's training run")
    p.set_defaults(func=cmd_model_card)

    p = sub.add_parser("dag", help="the whole pipeline through the Airflow DAG (airflow dags test)")
    p.add_argument("data_dir", nargs="?")
    p.add_argument("--full-refresh", action="store_true")
    p.add_argument("--models", help="comma-separated subset of lr,rf,hgb")
    p.add_argument("--retrain", choices=RETRAIN_CHOICES, help="DAG param retrain (default auto)")
    p.set_defaults(func=cmd_dag)

    p = sub.add_parser("parse", help="dbt parse: the manifest the Airflow DAG renders from")
    p.set_defaults(func=cmd_parse)

    p = sub.add_parser("up", help="start Airflow, MLflow, Superset and the API on 127.0.0.1 in the background")
    p.add_argument("--services", help="comma-separated subset of airflow,mlflow,superset,api")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("down", help="stop the services `up` started")
    p.add_argument("--services", help="comma-separated subset")
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("serve", help="the prediction API (champion from MLflow) on 127.0.0.1")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=None, help="default: LAIP_API_PORT or 8000")
    p.add_argument("--workers", type=int, default=1, help="worker processes (one port, spread by the kernel)")
    p.add_argument(
        "--reuse-port",
        action="store_true",
        help="share the port with other `laip serve` processes (SO_REUSEPORT; what --workers N uses)",
    )
    p.add_argument("--export-openapi", metavar="FILE", help="write the OpenAPI document (e.g. docs/openapi.json)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("info", help="where everything is")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("make-sample", help="write the deterministic real-data sample from full OULAD files")
    p.add_argument("src")
    p.add_argument("dest")
    p.set_defaults(func=cmd_make_sample)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return args.func(load_settings(), args)


if __name__ == "__main__":
    sys.exit(main())

"""``laip``: one sub-command per pipeline step. The Makefile, the README and the Airflow DAG all call these.

laip validate [DATA_DIR] [--json]   check the raw files; JSON report under $LAIP_HOME/reports; --as-of D: a live export
laip load [DATA_DIR] [--force]      validate (if needed) and load raw tables atomically; --as-of D: a live export
laip build [--select S]             dbt build (models + tests) on the warehouse; --skip-unit-tests as a scheduled run
laip docs                           dbt docs generate
laip train [--models lr,rf,hgb]     train, track in MLflow, register the champion
laip score                          score the day-30 population into the ML serving tables
laip insights                       governed insight cards
laip publish                        swap in a read-only serving snapshot for dashboards
laip monitor                        drift, performance decay, API health, retraining decision
laip model-card [--out DIR]         model card + retraining plan from the champion's MLflow run
laip run [DATA_DIR] [--retrain M]   all of the above in order, directly (no Airflow); retrain auto|always|never
laip run --as-of D [--replay-from SRC]   the run for date D on the export as of D (<exports>/D; or replayed)
laip backfill --from D1 --to D2 [--every 7] [--replay-from SRC]   the run for every date of a range, in order
laip dag [DATA_DIR]                 all of the above through the Airflow DAG (what `make run` does)
laip parse                          dbt manifest for the DAG
laip serve [--port 8000]            the prediction API (uvicorn); --export-openapi FILE writes its spec
laip up | down                      start / stop the local UIs (Airflow, MLflow, Superset) and the API
laip info [--json]                  where everything is
laip make-sample SRC DEST           write the deterministic real-data sample
laip replay --as-of D SRC DEST      the raw files as an export on date D would have held them (a live term)
  [--clicks-since D0]                 ... with only the clicks after D0 (a delta click log, appended by the load)
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date

from laip.cli import commands, service_commands
from laip.config import load_settings
from laip.ml.monitoring.config import RETRAIN_MODES

log = logging.getLogger("laip")


def _source_flags(p: argparse.ArgumentParser, *, sample: bool = True) -> None:
    """Where the data may come from (laip.orchestration.tasks.data_source)."""
    if sample:
        p.add_argument(
            "--allow-sample",
            action="store_true",
            help="when no data is found and nothing was ever loaded here, use the bundled sample (make run)",
        )
    p.add_argument(
        "--confirm-source-change",
        action="store_true",
        help="load data of another family than the last load's (sample vs real data, fewer presentations)",
    )


def _as_of_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {value!r}") from None


def _days(value: str) -> int:
    try:
        days = int(value.removesuffix("d"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days (7 or 7d): {value!r}") from None
    if days < 1:
        raise argparse.ArgumentTypeError(f"the step must be at least one day, got {value!r}")
    return days


def _as_of_flag(p: argparse.ArgumentParser, *, required: bool = False) -> None:
    p.add_argument(
        "--as-of",
        type=_as_of_date,
        required=required,
        metavar="YYYY-MM-DD",
        help="the files are an export as of this date (a live term: results only of ended presentations)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="laip", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="validate the raw OULAD files")
    p.add_argument("data_dir", nargs="?", help="raw data directory (default: LAIP_DATA_DIR or data/raw)")
    p.add_argument("--json", action="store_true", help="print the machine-readable report")
    _as_of_flag(p)
    p.set_defaults(func=commands.cmd_validate)

    p = sub.add_parser("load", help="validate and load raw files into the warehouse (atomic)")
    p.add_argument("data_dir", nargs="?")
    p.add_argument("--force", action="store_true", help="reload even if the files are unchanged")
    _source_flags(p, sample=False)
    _as_of_flag(p)
    p.set_defaults(func=commands.cmd_load)

    p = sub.add_parser("build", help="dbt build: staging, intermediate, marts and all tests")
    p.add_argument("--select", help="dbt selection (a partial build does not certify publishing)")
    p.add_argument("--full-refresh", action="store_true")
    p.add_argument(
        "--skip-unit-tests",
        action="store_true",
        help="leave dbt's unit tests out (they test the SQL, not the data), as a scheduled run's build does",
    )
    p.set_defaults(func=commands.cmd_build)

    p = sub.add_parser("docs", help="dbt docs generate")
    p.set_defaults(func=commands.cmd_docs)

    p = sub.add_parser("publish", help="swap in a read-only serving snapshot for dashboards")
    p.set_defaults(func=commands.cmd_publish)

    p = sub.add_parser(
        "train", help="at every checkpoint: train baseline and challengers, log to MLflow, register the champion"
    )
    p.add_argument("--models", help="comma-separated subset of lr,rf,hgb")
    p.add_argument("--checkpoints", help="comma-separated subset of the checkpoints (course days), e.g. 30,60")
    p.set_defaults(func=commands.cmd_train)

    p = sub.add_parser("score", help="score every checkpoint's population with its champion into the serving tables")
    p.set_defaults(func=commands.cmd_score)

    p = sub.add_parser("insights", help="write the governed insight cards")
    p.set_defaults(func=commands.cmd_insights)

    p = sub.add_parser("run", help="every step directly, without Airflow (validate ... publish)")
    p.add_argument("data_dir", nargs="?")
    p.add_argument(
        "--retrain",
        choices=RETRAIN_MODES,
        default="auto",
        help="auto: retrain only when monitoring triggers (default); always; never",
    )
    _source_flags(p)
    _as_of_flag(p)
    p.add_argument(
        "--replay-from",
        metavar="SRC",
        help="with --as-of: replay the export as of that date from the finished history SRC (demo mode)",
    )
    p.set_defaults(func=commands.cmd_run)

    p = sub.add_parser("backfill", help="the run for every date of a range (a live term), oldest first")
    p.add_argument("--from", dest="start", type=_as_of_date, required=True, metavar="YYYY-MM-DD")
    p.add_argument("--to", dest="end", type=_as_of_date, required=True, metavar="YYYY-MM-DD")
    p.add_argument(
        "--every", type=_days, default=7, metavar="DAYS", help="days between dates: 7 or 7d (weekly, default)"
    )
    p.add_argument("--retrain", choices=RETRAIN_MODES, default="auto")
    p.add_argument(
        "--replay-from",
        metavar="SRC",
        help="replay each date's export from the finished history SRC (demo mode); else read <exports>/DATE",
    )
    p.set_defaults(func=commands.cmd_backfill)

    p = sub.add_parser("monitor", help="drift, performance decay, API health and the retraining decision")
    p.add_argument("--retrain", choices=RETRAIN_MODES, default="auto", help="mode recorded in the decision")
    p.add_argument("--json", action="store_true", help="print the decision as JSON")
    p.set_defaults(func=commands.cmd_monitor)

    p = sub.add_parser("model-card", help="docs/model_card.md and docs/retraining_plan.md from the champion's run")
    p.add_argument("--out", help="output directory (default: docs/ of the repository)")
    p.add_argument("--no-log", action="store_true", help="do not log the card to the champion's training run")
    p.set_defaults(func=commands.cmd_model_card)

    p = sub.add_parser("dag", help="the whole pipeline through the Airflow DAG (airflow dags test)")
    p.add_argument("data_dir", nargs="?")
    p.add_argument("--full-refresh", action="store_true")
    p.add_argument("--models", help="comma-separated subset of lr,rf,hgb")
    p.add_argument("--retrain", choices=RETRAIN_MODES, help="DAG param retrain (default auto)")
    _source_flags(p)
    p.set_defaults(func=commands.cmd_dag)

    p = sub.add_parser("parse", help="dbt parse: the manifest the Airflow DAG renders from")
    p.set_defaults(func=commands.cmd_parse)

    p = sub.add_parser("up", help="start Airflow, MLflow, Superset and the API on 127.0.0.1 in the background")
    p.add_argument("--services", help="comma-separated subset of airflow,mlflow,superset,api")
    p.add_argument(
        "--production",
        action="store_true",
        help="the production profile on this machine: a PostgreSQL and a Redis of its own (make up-prod)",
    )
    p.set_defaults(func=service_commands.cmd_up)

    p = sub.add_parser("down", help="stop the services `up` started (and up-prod's PostgreSQL and Redis)")
    p.add_argument("--services", help="comma-separated subset")
    p.set_defaults(func=service_commands.cmd_down)

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
    p.set_defaults(func=service_commands.cmd_serve)

    p = sub.add_parser("info", help="where everything is")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=commands.cmd_info)

    p = sub.add_parser("make-sample", help="write the deterministic real-data sample from full OULAD files")
    p.add_argument("src")
    p.add_argument("dest")
    p.set_defaults(func=commands.cmd_make_sample)

    p = sub.add_parser("replay", help="write the raw files as an export on a date would have held them")
    p.add_argument("src", help="a finished history (the seven OULAD files)")
    p.add_argument("dest", help="output directory (replaced whole)")
    _as_of_flag(p, required=True)
    p.add_argument(
        "--clicks-since",
        type=_as_of_date,
        metavar="YYYY-MM-DD",
        help="a delta click log: only the clicks after this date (that of the export loaded before; see export.json)",
    )
    p.set_defaults(func=commands.cmd_replay)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from laip.durable import keep_private
    from laip.locks import WriterBusy
    from laip.orchestration.tasks import StepFailed

    settings = load_settings()
    keep_private(settings.home)  # before anything writes under LAIP_HOME, here or in a process started from here
    try:
        return args.func(settings, args)
    except (StepFailed, WriterBusy) as exc:  # a failure a retry cannot fix, another writer: one clear message
        print(str(exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

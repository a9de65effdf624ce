"""``laip``: one sub-command per pipeline step. The Makefile, the README and the Airflow DAG all call these.

    laip validate [DATA_DIR] [--json]   check the raw files; JSON report under $LAIP_HOME/reports
    laip load [DATA_DIR] [--force]      validate (if needed) and load raw tables atomically
    laip build [--select S]             dbt build (models + tests) on the warehouse
    laip docs                           dbt docs generate
    laip publish                        swap in a read-only serving snapshot for dashboards
    laip run [DATA_DIR]                 all of the above in order
    laip info [--json]                  where everything is
    laip make-sample SRC DEST           write the deterministic real-data sample
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from laip.config import Settings, load_settings

log = logging.getLogger("laip")


def _data_source(settings: Settings, data_dir: str | None):
    from laip.acquire import resolve_data_dir

    source = resolve_data_dir(settings, Path(data_dir) if data_dir else None)
    print(source.message, file=sys.stderr)
    return source


def cmd_validate(settings: Settings, args: argparse.Namespace) -> int:
    from laip.validate import validate, write_report

    source = _data_source(settings, args.data_dir)
    report = validate(source.path, max_examples=settings.max_examples_per_rule,
                      tolerance_days=settings.click_log_complete_tolerance_days)
    path = write_report(report, settings.reports_dir)
    if args.json:
        print(report.to_json())
    else:
        print(report.summary())
        print(f"Report: {path}")
    return 0 if report.ok else 1


def cmd_load(settings: Settings, args: argparse.Namespace) -> int:
    from laip.load import load
    from laip.validate import ValidationError

    source = _data_source(settings, args.data_dir)
    try:
        result = load(source.path, settings.warehouse, settings.reports_dir, source=source.kind, force=args.force,
                      max_examples=settings.max_examples_per_rule,
                      tolerance_days=settings.click_log_complete_tolerance_days)
    except ValidationError as exc:
        print(exc.report.summary(), file=sys.stderr)
        print(f"Load refused: the raw data is invalid; {settings.warehouse} is unchanged.", file=sys.stderr)
        return 1
    print(result.summary())
    return 0


def cmd_build(settings: Settings, args: argparse.Namespace) -> int:
    from laip.build import build

    result = build(settings, select=args.select, full_refresh=args.full_refresh)
    print(result.summary())
    return 0 if result.success else 1


def cmd_docs(settings: Settings, args: argparse.Namespace) -> int:
    from laip.build import docs

    result = docs(settings)
    print(result.summary())
    print(f"Docs site: {settings.dbt_target_dir / 'index.html'}")
    return 0 if result.success else 1


def cmd_publish(settings: Settings, args: argparse.Namespace) -> int:
    from laip.publish import PublishError, publish

    try:
        result = publish(settings.warehouse, settings.serving_warehouse)
    except PublishError as exc:
        print(f"Publish refused: {exc}", file=sys.stderr)
        return 1
    print(result.summary())
    return 0


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    args.force = False
    args.select = None
    args.full_refresh = False
    for step in (cmd_load, cmd_build, cmd_publish):
        code = step(settings, args)
        if code:
            return code
    info = settings.as_dict()
    print(f"\nDone. Warehouse: {info['warehouse']}\n      Serving snapshot (dashboards): {info['serving_warehouse']}"
          f"\n      Validation report: {settings.reports_dir / 'validation_report.json'}")
    return 0


def cmd_info(settings: Settings, args: argparse.Namespace) -> int:
    from laip.status import status

    info = {**settings.as_dict(), "status": status(settings)}
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        for key, value in info.items():
            print(f"{key:<22} {value}")
    return 0


def cmd_make_sample(settings: Settings, args: argparse.Namespace) -> int:
    from laip.sample import make_sample

    for line in make_sample(Path(args.src), Path(args.dest)):
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="laip", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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

    p = sub.add_parser("run", help="load, build and publish in one go")
    p.add_argument("data_dir", nargs="?")
    p.set_defaults(func=cmd_run)

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
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    return args.func(load_settings(), args)


if __name__ == "__main__":
    sys.exit(main())

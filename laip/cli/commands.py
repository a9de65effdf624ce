"""The ``laip`` sub-commands: each parses nothing, calls the step it names and turns the result into output and an
exit code (the parser is in :mod:`laip.cli`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from laip.config import Settings


def cmd_validate(settings: Settings, args: argparse.Namespace) -> int:
    from laip.orchestration import tasks

    result = tasks.validate_raw(settings, args.data_dir, require_valid=False, as_of=args.as_of)
    if args.json:
        print(result.report.to_json())
    else:
        print(result.summary())
        print(f"Report: {result.path}")
    return 0 if result.report.ok else 1


def cmd_load(settings: Settings, args: argparse.Namespace) -> int:
    from laip.orchestration import tasks

    return _step(
        tasks.load_raw,
        settings,
        args.data_dir,
        force=args.force,
        confirm_change=args.confirm_source_change,
        as_of=args.as_of,
    )


def cmd_build(settings: Settings, args: argparse.Namespace) -> int:
    from laip.orchestration.tasks import writing
    from laip.warehouse.build import build

    with writing(settings, "dbt build"):
        result = build(
            settings, select=args.select, full_refresh=args.full_refresh, unit_tests=not args.skip_unit_tests
        )
    print(result.summary())
    return 0 if result.success else 1


def cmd_docs(settings: Settings, args: argparse.Namespace) -> int:
    from laip.orchestration.tasks import writing
    from laip.warehouse.build import docs

    with writing(settings, "dbt docs"):  # dbt opens the warehouse for writing
        result = docs(settings)
    print(result.summary())
    print(f"Docs site: {settings.dbt_target_dir / 'index.html'}")
    return 0 if result.success else 1


def cmd_publish(settings: Settings, args: argparse.Namespace) -> int:
    from laip.orchestration import tasks

    return _step(tasks.publish, settings)


def _step(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """Run one step of :mod:`laip.orchestration.tasks` and print its result's summary (failures: see
    :func:`laip.cli.main`)."""
    print(fn(*args, **kwargs).summary())
    return 0


def cmd_train(settings: Settings, args: argparse.Namespace) -> int:
    from laip.orchestration import tasks

    checkpoints = [int(d) for d in args.checkpoints.split(",")] if args.checkpoints else None
    return _step(tasks.train_model, settings, args.models.split(",") if args.models else None, checkpoints)


def cmd_score(settings: Settings, args: argparse.Namespace) -> int:
    from laip.orchestration import tasks

    return _step(tasks.score, settings)


def cmd_insights(settings: Settings, args: argparse.Namespace) -> int:
    from laip.orchestration import tasks

    return _step(tasks.insight_cards, settings)


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """The DAG's steps run directly in this process, in the DAG's order (no Airflow)."""
    from laip.orchestration.direct_run import run_all, run_as_of

    if args.as_of is not None:
        if args.data_dir:
            print(
                "laip run --as-of takes the export as of that date; replay one with --replay-from DIR", file=sys.stderr
            )
            return 2
        return run_as_of(
            settings,
            args.as_of,
            args.retrain,
            replay_from=args.replay_from,
            confirm_change=args.confirm_source_change,
        )
    if args.replay_from:
        print("--replay-from needs --as-of", file=sys.stderr)
        return 2
    return run_all(
        settings,
        args.data_dir,
        args.retrain,
        allow_sample=args.allow_sample,
        confirm_change=args.confirm_source_change,
    )


def cmd_monitor(settings: Settings, args: argparse.Namespace) -> int:
    """Drift, performance decay, API health and the retraining decision (tables only: nothing is retrained)."""
    from laip.orchestration import tasks

    result = tasks.monitor(settings, args.retrain)
    print(json.dumps(result.decision.as_xcom(), indent=2) if args.json else result.summary())
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
    from laip.orchestration.tasks import StepFailed, data_source

    conf: dict = {"full_refresh": args.full_refresh, "confirm_source_change": args.confirm_source_change}
    # Resolve the data once here (download, or the sample on a first make run) so the user sees which data the run
    # uses; a change of source fails here already, before Airflow starts.
    try:
        source = data_source(
            settings, args.data_dir, allow_sample=args.allow_sample, confirm_change=args.confirm_source_change
        )
    except StepFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    conf["data_dir"] = str(source.path)
    if args.models:
        conf["models"] = args.models.split(",")
    if getattr(args, "retrain", None):
        conf["retrain"] = args.retrain
    if not args.verbose:
        print(f"Running the DAG (airflow dags test) on {conf['data_dir']}; each task as it finishes:", flush=True)
    result = run_dag(
        settings, conf, echo=args.verbose, progress=None if args.verbose else lambda line: print(line, flush=True)
    )
    print(result.summary())
    if result.success:
        print(
            f"\nServing snapshot (Superset, API): {settings.serving_warehouse}\n"
            f"MLflow runs: {settings.mlflow_tracking_uri}\n"
            + getattr(args, "next_step", "Next: `make up` for the Airflow, MLflow and Superset UIs.")
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


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from laip.ingest.replay import replay

    try:
        result = replay(Path(args.src), Path(args.dest), args.as_of, settings.presentation_start_day, args.clicks_since)
    except (FileNotFoundError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(result.summary())
    return 0


def cmd_backfill(settings: Settings, args: argparse.Namespace) -> int:
    from laip.orchestration.direct_run import backfill

    try:
        return backfill(settings, args.start, args.end, args.every, args.retrain, replay_from=args.replay_from)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2

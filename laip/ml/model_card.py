"""The model card and the retraining plan, generated from the champion's MLflow run (``laip model-card``).

Everything comes from the registered champion: its version and tags, the training (parent) run's parameters,
config artifact, model comparison and reference profile, the model run's metrics on both splits and its fairness
table (``ml.ml_withdrawal_fairness`` rows of that run, or the run's own artifact). No clock time is written, so
the same run always gives the same files. The card is also logged to the training run as
``docs/model_card.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from laip.config import Settings
from laip.durable import atomic_write_text
from laip.ml.checkpoint_champions import HEADER as CHECKPOINT_HEADER
from laip.ml.checkpoint_champions import checkpoint_rows
from laip.ml.config import fill_day, load_ml_config

SPLIT_LABELS = {
    "temporal": "temporal (train on earlier presentations, test on later ones)",
    "grouped_random": "grouped random (whole students held out at random)",
}
TEMPLATES = Path(__file__).resolve().parent / "templates"
METRIC_LABELS = [
    ("roc_auc", "ROC AUC"),
    ("average_precision", "Average precision"),
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("f1", "F1"),
    ("brier", "Brier score"),
    ("base_rate", "Base rate"),
    ("flag_rate", "Flag rate"),
    ("n", "Rows"),
]


class ModelCardError(RuntimeError):
    pass


@dataclass(frozen=True)
class Orchestration:
    """How the pipeline that retrains the model is run (told by the caller: ML knows nothing of Airflow)."""

    dag_id: str
    documented_cron: str


@dataclass
class ChampionRun:
    """What the documents are generated from."""

    registered_model_name: str
    alias: str
    version: int
    model_name: str
    model_run_id: str
    training_run_id: str
    trained_on: str
    version_tags: dict[str, str]
    params: dict[str, str]  # training run
    tags: dict[str, str]  # training run
    model_params: dict[str, str]  # model run
    metrics: dict[str, float]  # model run
    config: dict[str, Any]  # ml/config.yaml as used for the training
    comparison: pd.DataFrame
    fairness: pd.DataFrame
    fairness_source: str
    profile: dict[str, Any] | None
    checkpoints: list[list[Any]] = field(default_factory=list)  # laip.ml.checkpoint_champions.checkpoint_rows


def _table(artifact: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(artifact["data"], columns=artifact["columns"])


def load_champion_run(settings: Settings) -> ChampionRun:
    """Read the champion's registry entry and runs (raises :class:`ModelCardError` without a champion)."""
    import duckdb
    import mlflow
    from mlflow.exceptions import MlflowException

    from laip.ml.monitoring.profile import PROFILE_ARTIFACT
    from laip.ml.registry import NoChampion, get_champion

    config = load_ml_config(settings)
    try:
        version = get_champion(settings, config)
    except NoChampion as exc:
        raise ModelCardError(f"no {config.registered_model_name}@{config.alias} yet; run `laip train`") from exc
    training_id = version.training_run_id
    client = version.client()
    parent, child = client.get_run(training_id), client.get_run(version.run_id)

    def artifact(run_id: str, path: str) -> dict[str, Any] | None:
        try:
            return mlflow.artifacts.load_dict(f"runs:/{run_id}/{path}")
        except (MlflowException, OSError, ValueError):
            return None

    try:
        cfg_text = mlflow.artifacts.load_text(f"runs:/{training_id}/config/ml_config.yaml")
        run_config = yaml.safe_load(cfg_text)
    except (MlflowException, OSError):
        run_config = config.raw
    comparison = artifact(training_id, "comparison/model_comparison.json")
    split = child.data.tags.get("primary_split", config.primary_split)
    fairness, source = pd.DataFrame(), "none"
    if settings.warehouse.is_file():
        with duckdb.connect(str(settings.warehouse), read_only=True) as con:
            try:
                fairness = con.execute(
                    "select * from ml.ml_withdrawal_fairness where mlflow_run_id = ? and split = ?",
                    [version.run_id, split],
                ).df()
                source = "ml.ml_withdrawal_fairness"
            except duckdb.Error:
                fairness = pd.DataFrame()
    if fairness.empty:
        logged = artifact(version.run_id, f"fairness/{split}.json")
        fairness, source = (_table(logged), f"MLflow artifact fairness/{split}.json") if logged else (fairness, "none")
    started = datetime.fromtimestamp(parent.info.start_time / 1000, tz=UTC)
    return ChampionRun(
        config.registered_model_name,
        config.alias,
        version.version,
        version.tags.get("model_name", child.data.params.get("model_name", "")),
        version.run_id,
        training_id,
        f"{started:%Y-%m-%d %H:%M} UTC",
        dict(version.tags),
        dict(parent.data.params),
        dict(parent.data.tags),
        dict(child.data.params),
        dict(child.data.metrics),
        run_config,
        _table(comparison) if comparison else pd.DataFrame(),
        fairness,
        source,
        artifact(training_id, PROFILE_ARTIFACT),
        checkpoint_rows(settings, config),
    )


# ---------------------------------------------------------------------------------------------- rendering


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() and abs(value) >= 10 else f"{value:.{digits}f}"
    return str(value)


def _md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Markdown, not HTML
    )
    env.globals.update(fmt=_fmt, table=_md_table, pct=lambda x: f"{x:.0%}")
    return env


def render_model_card(run: ChampionRun) -> str:
    """The model card (Markdown), from ``templates/model_card.md.j2``."""
    cfg, p, m = run.config, run.params, run.metrics
    problem = cfg.get("problem", {})
    features = cfg.get("features", {})
    day = int(p.get("prediction_day", problem.get("prediction_day")))
    labels = {f: fill_day(str(text), day) for f, text in features.get("labels", {}).items()}
    categorical = set(features.get("categorical", []))
    primary = run.tags.get("split", "temporal").split("+")[0]
    threshold = run.model_params.get(f"{primary}.threshold")
    splits = [s for s in ("temporal", "grouped_random") if f"{s}_roc_auc" in m]
    subsets = [(s, sub) for s in splits for sub in ("with_click_data", "without_click_data") if f"{s}_{sub}_n" in m]
    comparison = (
        run.comparison[run.comparison.split == primary].sort_values("model_name")
        if not run.comparison.empty
        else run.comparison
    )
    fair = run.fairness.sort_values(["attribute", "group_value"]) if not run.fairness.empty else run.fairness
    clicks = (run.profile or {}).get("features", {}).get("clicks_total", {})
    context = {
        "run": run,
        "p": p,
        "day": day,
        "population": p.get("population", " ".join(str(problem.get("population", "")).split())),
        "target": p.get("target", problem.get("target")),
        "grouped_test_size": float(p.get("grouped_random.test_size", "nan")),
        "families": [
            [
                family,
                len(cols),
                ", ".join(f"{labels.get(c, c)}{' (categorical)' if c in categorical else ''}" for c in list(cols)[:4])
                + (", ..." if len(cols) > 4 else ""),
            ]
            for family, cols in features.get("families", {}).items()
        ],
        "metrics_header": ["metric", *[SPLIT_LABELS.get(s, s) for s in splits]],
        "metrics": [[label, *[m.get(f"{s}_{key}") for s in splits]] for key, label in METRIC_LABELS],
        "subsets": [
            [
                s,
                sub.replace("_", " "),
                *(m.get(f"{s}_{sub}_{k}") for k in ("n", "roc_auc", "average_precision", "base_rate")),
            ]
            for s, sub in subsets
        ],
        "primary": primary,
        "comparison": [
            [r.model_label, r.roc_auc, r.average_precision, r.brier, "yes" if r.is_selected else ""]
            for r in comparison.itertuples()
        ],
        "threshold": float(threshold) if threshold else None,
        "bands": cfg.get("risk_bands", {}),
        "fairness": [
            [r.attribute, r.group_value, r.n, r.base_rate, r.roc_auc, r.recall, r.flag_rate] for r in fair.itertuples()
        ],
        "fairness_ranges": [
            {
                "attribute": attr,
                "flag_min": grp.flag_rate.min(),
                "flag_max": grp.flag_rate.max(),
                "gap": grp.flag_rate.max() - grp.flag_rate.min(),
                "auc_min": grp.roc_auc.min(),
                "auc_max": grp.roc_auc.max(),
            }
            for attr, grp in (fair.groupby("attribute") if len(fair) else [])
        ],
        "checkpoint_header": CHECKPOINT_HEADER,
        "checkpoints": run.checkpoints,
        "missing_clicks": clicks.get("shares", [None])[-1] if clicks.get("kind") == "numeric" else None,
    }
    return _environment().get_template("model_card.md.j2").render(context)


def render_retraining_plan(run: ChampionRun, settings: Settings, orchestration: Orchestration) -> str:
    """The retraining plan (Markdown), from ``templates/retraining_plan.md.j2``: triggers and thresholds from the
    configuration, cadence, roles, rollback."""
    from laip.ml.monitoring.config import monitoring_config

    return (
        _environment()
        .get_template("retraining_plan.md.j2")
        .render(
            run=run,
            orchestration=orchestration,
            mcfg=monitoring_config(load_ml_config(settings)),
            prediction_log_dir=settings.prediction_log_dir.name,
        )
    )


def write_model_docs(
    settings: Settings, orchestration: Orchestration, out_dir: Path | None = None, *, log_to_run: bool = False
) -> tuple[Path, Path]:
    """Write ``model_card.md`` and ``retraining_plan.md`` (default: ``docs/``); optionally log the card to the run."""
    run = load_champion_run(settings)
    out = Path(out_dir) if out_dir else settings.repo_root / "docs"
    out.mkdir(parents=True, exist_ok=True)
    card, plan = out / "model_card.md", out / "retraining_plan.md"
    atomic_write_text(card, render_model_card(run))
    atomic_write_text(plan, render_retraining_plan(run, settings, orchestration))
    if log_to_run:
        from mlflow import MlflowClient

        from laip.ml.registry import describe_version

        MlflowClient().log_artifact(run.training_run_id, str(card), "docs")
        describe_version(run.registered_model_name, run.version, card.read_text())
    return card, plan

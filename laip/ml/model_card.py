"""The model card and the retraining plan, generated from the champion's MLflow run (``laip model-card``).

Everything comes from the registered champion: its version and tags, the training (parent) run's parameters,
config artifact, model comparison and reference profile, the model run's metrics on both splits and its fairness
table (``ml.ml_withdrawal_fairness`` rows of that run, or the run's own artifact). No clock time is written, so
the same run always gives the same files. The card is also logged to the training run as
``docs/model_card.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from laip.config import Settings
from laip.ml.config import load_ml_config

SPLIT_LABELS = {"temporal": "temporal (train on earlier presentations, test on later ones)",
                "grouped_random": "grouped random (whole students held out at random)"}
METRIC_LABELS = [("roc_auc", "ROC AUC"), ("average_precision", "Average precision"), ("precision", "Precision"),
                 ("recall", "Recall"), ("f1", "F1"), ("brier", "Brier score"), ("base_rate", "Base rate"),
                 ("flag_rate", "Flag rate"), ("n", "Rows")]


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
    params: dict[str, str]          # training run
    tags: dict[str, str]            # training run
    model_params: dict[str, str]    # model run
    metrics: dict[str, float]       # model run
    config: dict[str, Any]          # ml/config.yaml as used for the training
    comparison: pd.DataFrame
    fairness: pd.DataFrame
    fairness_source: str
    profile: dict[str, Any] | None


def _table(artifact: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(artifact["data"], columns=artifact["columns"])


def load_champion_run(settings: Settings) -> ChampionRun:
    """Read the champion's registry entry and runs (raises :class:`ModelCardError` without a champion)."""
    import duckdb
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from laip.ml.monitoring.monitor import PROFILE_ARTIFACT
    from laip.ml.tracking import setup_tracking

    config = load_ml_config(settings)
    setup_tracking(settings, config)
    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(config.registered_model_name, config.alias)
    except MlflowException as exc:
        raise ModelCardError(f"no {config.registered_model_name}@{config.alias} yet; run `laip train`") from exc
    training_id = version.tags.get("training_run_id") or version.run_id
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
                fairness = con.execute("select * from ml.ml_withdrawal_fairness where mlflow_run_id = ? and split = ?",
                                       [version.run_id, split]).df()
                source = "ml.ml_withdrawal_fairness"
            except duckdb.Error:
                fairness = pd.DataFrame()
    if fairness.empty:
        logged = artifact(version.run_id, f"fairness/{split}.json")
        fairness, source = (_table(logged), f"MLflow artifact fairness/{split}.json") if logged else (fairness, "none")
    started = datetime.fromtimestamp(parent.info.start_time / 1000, tz=timezone.utc)
    return ChampionRun(
        config.registered_model_name, config.alias, int(version.version),
        version.tags.get("model_name", child.data.params.get("model_name", "")), version.run_id, training_id,
        f"{started:%Y-%m-%d %H:%M} UTC", dict(version.tags), dict(parent.data.params), dict(parent.data.tags),
        dict(child.data.params), dict(child.data.metrics), run_config,
        _table(comparison) if comparison else pd.DataFrame(), fairness, source, artifact(training_id, PROFILE_ARTIFACT))


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


def render_model_card(run: ChampionRun) -> str:
    """The model card (Markdown)."""
    cfg, p, m = run.config, run.params, run.metrics
    problem = cfg.get("problem", {})
    day = p.get("prediction_day", problem.get("prediction_day"))
    families = cfg.get("features", {}).get("families", {})
    labels = cfg.get("features", {}).get("labels", {})
    categorical = set(cfg.get("features", {}).get("categorical", []))
    bands = cfg.get("risk_bands", {})
    primary = run.tags.get("split", "temporal").split("+")[0]
    threshold = run.model_params.get(f"{primary}.threshold")
    splits = [s for s in ("temporal", "grouped_random") if f"{s}_roc_auc" in m]
    out = [
        f"# Model card: {run.registered_model_name} version {run.version}",
        "",
        f"*Generated by `laip model-card` from the MLflow run of the `{run.alias}` model; regenerate after every "
        "retraining. Do not edit by hand.*",
        "",
        "| | |", "|---|---|",
        f"| Registered model | `{run.registered_model_name}` version **{run.version}** (alias `{run.alias}`) |",
        f"| Model | {run.model_params.get('model_label', run.model_name)} (`{run.model_name}`) |",
        f"| Training run | `{run.training_run_id}` (model run `{run.model_run_id}`), {run.trained_on} |",
        f"| Code | git `{run.tags.get('git_commit', '-')[:12]}`"
        f"{' (uncommitted changes)' if run.tags.get('git_dirty') == 'true' else ''} |",
        f"| Training data | `{p.get('source_table', '-')}`, load-manifest digest `{run.tags.get('data_digest', '-')}`, "
        f"ML profile `{p.get('profile', '-')}` |",
        "",
        "## Intended use",
        "",
        f"Estimate, on **course day {day}** of a module presentation, the probability that a student who is still "
        "enrolled will **withdraw later** in that presentation, so that student-support teams can prioritise "
        "outreach. The score, its risk band and the top reasons are decision support for people, never an automatic "
        "decision about a student. Out of scope: any use for admission, grading or sanctions; other prediction days; "
        "populations unlike the Open University's (OULAD) modules.",
        "",
        "## Population, target and prediction point",
        "",
        f"* **Population:** {p.get('population', ' '.join(str(problem.get('population', '')).split()))}",
        f"* **Target:** `{p.get('target', problem.get('target'))}` = the student withdrew after day {day} "
        "(unregistered after it, or final result Withdrawn without an unregistration day).",
        f"* **Prediction point:** course day {day}; every feature uses only events dated on or before day {day}.",
        f"* **Splits:** temporal: train {p.get('temporal.train_presentations', '-')}, test "
        f"{p.get('temporal.test_presentations', '-')} ({p.get('temporal.n_train', '-')} / "
        f"{p.get('temporal.n_test', '-')} rows; the primary split, used for selection); grouped random: "
        f"{_fmt(float(p.get('grouped_random.test_size', 'nan')), 2)} of students held out "
        f"({p.get('grouped_random.n_train', '-')} / {p.get('grouped_random.n_test', '-')} rows).",
        "",
        "## Features by family",
        "",
        _md_table(["family", "features", "examples"],
                  [[fam, len(cols), ", ".join(f"{labels.get(c, c)}{' (categorical)' if c in categorical else ''}"
                                               for c in list(cols)[:4]) + (", ..." if len(cols) > 4 else "")]
                   for fam, cols in families.items()]),
        "",
        "Click features are NULL (unknown, never 0) for presentations without a click log; the models see them as "
        "missing. Demographics are used by the model but never shown as a reason.",
        "",
        "## Metrics on the held-out rows",
        "",
        _md_table(["metric", *[SPLIT_LABELS.get(s, s) for s in splits]],
                  [[label, *[m.get(f"{s}_{key}") for s in splits]] for key, label in METRIC_LABELS]),
        "",
    ]
    subsets = [(s, sub) for s in splits for sub in ("with_click_data", "without_click_data")
               if f"{s}_{sub}_n" in m]
    if subsets:
        out += ["By click-log coverage:", "",
                _md_table(["split", "subset", "rows", "ROC AUC", "average precision", "base rate"],
                          [[s, sub.replace("_", " "), m.get(f"{s}_{sub}_n"), m.get(f"{s}_{sub}_roc_auc"),
                            m.get(f"{s}_{sub}_average_precision"), m.get(f"{s}_{sub}_base_rate")]
                           for s, sub in subsets]), ""]
    if not run.comparison.empty:
        comp = run.comparison[run.comparison.split == primary].sort_values("model_name")
        out += [f"Models compared on the {primary} split (selection: best ROC AUC; the baseline wins ties within "
                f"{p.get('selection.tie_tolerance', '-')}):", "",
                _md_table(["model", "ROC AUC", "average precision", "Brier", "selected"],
                          [[r.model_label, r.roc_auc, r.average_precision, r.brier, "yes" if r.is_selected else ""]
                           for r in comp.itertuples()]), ""]
    out += [
        "## Threshold and risk bands",
        "",
        f"* Probabilities are calibrated (sigmoid on out-of-fold training predictions). Operating threshold "
        f"**{_fmt(float(threshold) if threshold else None)}** (maximises F1 on out-of-fold training predictions, "
        f"never on the test set): at or above it a student is flagged.",
        f"* Risk bands: **high** >= {bands.get('high', '-')}, **medium** >= {bands.get('medium', '-')}, **low** below.",
        "",
        "## Fairness",
        "",
    ]
    if run.fairness.empty:
        out += ["No fairness table was recorded for this run.", ""]
    else:
        fair = run.fairness.sort_values(["attribute", "group_value"])
        out += [f"Per group on the {primary} held-out rows (groups under the minimum size are not reported; source: "
                f"{run.fairness_source}):", "",
                _md_table(["attribute", "group", "rows", "base rate", "ROC AUC", "recall", "flag rate"],
                          [[r.attribute, r.group_value, r.n, r.base_rate, r.roc_auc, r.recall, r.flag_rate]
                           for r in fair.itertuples()]), ""]
        for attr, grp in fair.groupby("attribute"):
            gap = grp.flag_rate.max() - grp.flag_rate.min()
            out.append(f"* {attr}: flag rates range {_fmt(grp.flag_rate.min())}-{_fmt(grp.flag_rate.max())} (gap "
                       f"{_fmt(gap)}), ROC AUC {_fmt(grp.roc_auc.min())}-{_fmt(grp.roc_auc.max())}.")
        out += ["", "Differences in flag rates partly follow differences in base rates; review them before any "
                "change of threshold.", ""]
    profile = run.profile or {}
    clicks = profile.get("features", {}).get("clicks_total", {})
    missing = clicks.get("shares", [None])[-1] if clicks.get("kind") == "numeric" else None
    out += [
        "## Limitations",
        "",
        "* **Not causal.** The model finds patterns associated with withdrawal; a reason code says what raised this "
        "student's score, not why the student might leave or what would help. Do not read it as an effect.",
        "* **Click-log coverage.** The virtual-learning-environment click log exists only for some presentations; "
        "elsewhere click features are unknown"
        + (f" ({_fmt(missing * 100, 0)}% of the training rows)" if missing is not None else "")
        + ". Metrics differ between rows with and without click data (table above).",
        "* **Data.** OULAD covers 2013-2014 presentations of 7 modules of one university; the model was not "
        "validated on later years or other institutions. Demographic fields are coarse bands.",
        "* **Drift.** Monitoring (`laip monitor`, Superset tab Model Monitoring) compares new data with this "
        "model's training data; drift is descriptive and says the inputs changed, not why. See "
        "[retraining_plan.md](retraining_plan.md).",
        "",
    ]
    return "\n".join(out)


def render_retraining_plan(run: ChampionRun, settings: Settings, orchestration: Orchestration) -> str:
    """The retraining plan (Markdown): triggers and thresholds from the configuration, cadence, roles, rollback."""
    from laip.ml.monitoring.monitor import monitoring_config

    DAG_ID, DOCUMENTED_CRON = orchestration.dag_id, orchestration.documented_cron
    config = load_ml_config(settings)
    mcfg = monitoring_config(config)
    name, alias = run.registered_model_name, run.alias
    return "\n".join([
        "# Retraining plan",
        "",
        f"*Generated by `laip model-card` from `ml/config.yaml` (`monitoring:`) and the current champion "
        f"(`{name}` version {run.version}, training run `{run.training_run_id}`). Do not edit by hand.*",
        "",
        "## When the model is retrained",
        "",
        f"Every pipeline run (Airflow DAG `{DAG_ID}`, or `laip run`) has a `monitor` step after the dbt build. It "
        "compares the current data with the champion's training reference and decides; the DAG then branches "
        "to `train_model` (retrain) or `keep_champion`. Retrain when:",
        "",
        "1. no champion is registered yet;",
        f"2. a labelled presentation's ROC AUC is at least **{mcfg.auc_drop_threshold:.0%}** (relative) below the "
        f"champion's recorded held-out ROC AUC (currently {_fmt(run.metrics.get('temporal_roc_auc'))}), i.e. "
        "`(recorded - current) / recorded >= " + f"{mcfg.auc_drop_threshold}`;",
        f"3. a key feature's population stability index (PSI) is above **{mcfg.psi_threshold}** in a presentation "
        "or in the API's logged inputs;",
        "4. the configured model features differ from the champion's (it could not score the feature mart).",
        "",
        f"Key features: {', '.join(f'`{f}`' for f in mcfg.key_features)}. PSI uses {mcfg.bins} quantile bins of the "
        f"training rows (open-ended ends, a separate missing bucket, empty buckets floored at {mcfg.epsilon}); "
        f"numeric features also get a two-sample KS test (reported, not a trigger). A population needs at least "
        f"{mcfg.min_rows} rows (and {mcfg.min_positives} students of each outcome for an AUC).",
        "",
        "Only data that is new or changed since the champion was trained counts: the training run records a digest "
        "of every presentation it saw, and a presentation whose rows are unchanged was already known when the "
        "champion was selected (its drift and AUC are shown, but retraining on the same data would change "
        "nothing). An older champion without a reference profile gets one recomputed from the warehouse and "
        "counts every presentation it did not train on as new.",
        "",
        "Overrides: DAG param `retrain` = `auto` (the rule), `always` or `never` (`laip run --retrain ...`, "
        "`laip dag --retrain ...`). With no champion at all, the pipeline trains even with `never`.",
        "",
        "## Cadence",
        "",
        f"* The DAG is unscheduled by default; for a nightly refresh set `LAIP_SCHEDULE=\"{DOCUMENTED_CRON}\"`. "
        "Monitoring runs on every refresh, so retraining happens at most once per run and only on a trigger.",
        "* New presentations arrive twice a year (B: February, J: October); after each, review the temporal "
        "split in `ml/config.yaml` (train/test presentations) so that the newest labelled presentation is held out.",
        "* The prediction API's inputs, latency and error rate are summarised on every run from "
        f"`{settings.prediction_log_dir.name}/` under `LAIP_HOME`.",
        "",
        "## Who approves",
        "",
        "* The retrain branch trains, registers and moves the alias automatically (selection rule in "
        "`ml/config.yaml`: best primary-split ROC AUC, the baseline wins ties).",
        "* The **model owner** (ML engineer on duty) reviews every new version within two working days: the MLflow "
        "comparison, this model card (`laip model-card`) and the Model Monitoring tab. The **student-support "
        "lead** signs off before intervention teams act on a version whose threshold or risk bands changed.",
        "* Changes to thresholds, key features or splits go through a pull request on `ml/config.yaml`.",
        "",
        "## Rollback",
        "",
        f"Move the `{alias}` alias back to the previous version, then re-score and publish:",
        "",
        "```bash",
        f".venv/bin/python -c \"from mlflow import MlflowClient; from laip.config import load_settings; "
        f"import mlflow; mlflow.set_tracking_uri(load_settings().mlflow_tracking_uri); "
        f"MlflowClient().set_registered_model_alias('{name}', '{alias}', 'PREVIOUS_VERSION')\"",
        "laip score && laip insights && laip publish",
        "```",
        "",
        "Versions are never deleted, so any earlier version can be restored this way; the API picks the alias up on "
        "its next reload.",
        "",
        "## How to run",
        "",
        "```bash",
        "laip monitor            # drift, performance, API health and the decision -> ml.ml_monitoring_* tables",
        "laip run data/sample    # whole pipeline without Airflow: monitor, then retrain or keep, score, publish",
        "laip dag --retrain always   # through Airflow, forcing a retraining",
        "laip model-card         # regenerate docs/model_card.md and docs/retraining_plan.md",
        "```",
        "",
    ])


def write_model_docs(settings: Settings, orchestration: Orchestration, out_dir: Path | None = None, *,
                     log_to_run: bool = False) -> tuple[Path, Path]:
    """Write ``model_card.md`` and ``retraining_plan.md`` (default: ``docs/``); optionally log the card to the run."""
    run = load_champion_run(settings)
    out = Path(out_dir) if out_dir else settings.repo_root / "docs"
    out.mkdir(parents=True, exist_ok=True)
    card, plan = out / "model_card.md", out / "retraining_plan.md"
    card.write_text(render_model_card(run))
    plan.write_text(render_retraining_plan(run, settings, orchestration))
    if log_to_run:
        from mlflow import MlflowClient

        MlflowClient().log_artifact(run.training_run_id, str(card), "docs")
    return card, plan

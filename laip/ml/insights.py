"""Governed insight cards (``laip insights``): short plain-language findings for intervention teams and BI.

Cards are aggregates of approved marts and ML serving tables only. They are deterministic: the same inputs give
byte-identical JSON (sorted cards and keys, rounded numbers, ``generated_at`` = the time of the newest input, i.e.
the later of the data load and the model training, not the wall clock). Any group of fewer than
``min_group_size`` students is suppressed (the card is not produced). Written to
``$LAIP_HOME/insights/insight_cards.json`` and to ``ml.insight_cards`` (one transaction).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from laip.config import Settings
from laip.durable import atomic_write_text
from laip.ml.config import MLConfig, load_ml_config

DESCRIPTIVE = "Descriptive, not causal: shows what happened together, not why."
MODEL_OUTPUT = "Model output, not causal: a risk estimate from day-30 data to prioritise support, not a verdict."

SIGNAL_WORDS = {
    "signal_low_engagement": "were in the lowest third of online activity in their module run",
    "signal_low_early_engagement": "clicked fewer than 20 times online in the first 4 weeks",
    "signal_missed_first_assessment": "did not submit the first assessment",
    "signal_missed_assessments": "missed at least 2 assessments",
    "signal_late_submissions": "submitted at least 2 tutor-marked assignments late",
    "signal_low_scores": "averaged below the pass mark of 40",
    "signal_late_registration": "registered after the module started",
}


@dataclass
class InsightResult:
    path: Path
    cards: int
    suppressed: int
    model_version: int | None

    def summary(self) -> str:
        return (
            f"Wrote {self.cards} insight cards ({self.suppressed} suppressed: groups < min_group_size) "
            f"for model version {self.model_version} to ml.insight_cards and {self.path}"
        )

    def as_xcom(self) -> dict[str, Any]:
        """What the Airflow task keeps (JSON)."""
        return {"summary": self.summary()}


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _round(x: Any) -> Any:
    if isinstance(x, float):
        return None if math.isnan(x) else round(x, 4)
    return x


class _Cards:
    """Collects cards; refuses (suppresses) groups smaller than the minimum size."""

    def __init__(self, min_group_size: int, common: dict[str, Any]):
        self.min = min_group_size
        self.common = common
        self.cards: list[dict[str, Any]] = []
        self.suppressed = 0

    def add(self, *, n: int, groups: tuple[int, ...] = (), **card: Any) -> None:
        if n < self.min or any(g < self.min for g in groups):
            self.suppressed += 1
            return
        self.cards.append({"code_module": None, "code_presentation": None, **self.common, **card, "n": int(n)})


def _engagement_cards(con: duckdb.DuckDBPyConnection, cards: _Cards) -> None:
    rows = con.execute("""
        select engagement_band, count(*) as n, avg(is_withdrawn::int) as rate
        from marts.mart_student_success_features where has_click_data
        group by 1 order by 1""").fetchall()
    for band, n, rate in rows:
        cards.add(
            card_id=f"withdrawal_by_engagement_band.{band}",
            topic="engagement",
            title=f"Withdrawal rate, {band} online engagement",
            body=(
                f"Of {n:,} students in the {band} third of online activity in their module run, {_pct(rate)} withdrew."
            ),
            metric_name="withdrawal_rate",
            metric_value=rate,
            metric_unit="share",
            n=n,
            source_tables="marts.mart_student_success_features",
            caveat=DESCRIPTIVE,
        )


def _signal_cards(con: duckdb.DuckDBPyConnection, cards: _Cards) -> None:
    for signal, words in SIGNAL_WORDS.items():
        n, n_on, rate_on, rate_off = con.execute(f"""
            select count({signal}), count(*) filter (where {signal}),
                   avg(is_withdrawn::int) filter (where {signal}), avg(is_withdrawn::int) filter (where not {signal})
            from marts.mart_student_success_features""").fetchall()[0]
        if not n:
            continue
        cards.add(
            card_id=f"rule_signal_prevalence.{signal}",
            topic="rule_signals",
            title=f"Rule signal: {signal.removeprefix('signal_').replace('_', ' ')}",
            body=(
                f"{_pct(n_on / n)} of {n:,} students {words}. {_pct(rate_on or 0)} of them withdrew, "
                f"against {_pct(rate_off or 0)} of the others."
            ),
            metric_name="prevalence",
            metric_value=n_on / n,
            metric_unit="share",
            n=n,
            groups=(n_on, n - n_on),
            source_tables="marts.mart_student_success_features",
            caveat=DESCRIPTIVE,
        )


def _risk_by_module_cards(con: duckdb.DuckDBPyConnection, cards: _Cards, config: MLConfig) -> None:
    rows = con.execute("""
        with latest as (
            select code_module, max(code_presentation) as code_presentation
            from ml.ml_withdrawal_predictions group by 1)
        select p.code_module, p.code_presentation, count(*) as n, avg((p.risk_band = 'high')::int) as share_high
        from ml.ml_withdrawal_predictions p join latest using (code_module, code_presentation)
        group by 1, 2 order by 1, 2""").fetchall()
    for module, pres, n, share in rows:
        cards.add(
            card_id=f"high_risk_share_by_module.{module}_{pres}",
            topic="risk_by_module",
            title=f"High withdrawal risk, module {module} {pres}",
            body=(
                f"{_pct(share)} of the {n:,} students still enrolled on day {config.prediction_day} of "
                f"{module} {pres} are in the high model-risk band (probability >= "
                f"{config.risk_high:.2f})."
            ),
            metric_name="share_high_risk",
            metric_value=share,
            metric_unit="share",
            n=n,
            code_module=module,
            code_presentation=pres,
            source_tables="ml.ml_withdrawal_predictions",
            caveat=MODEL_OUTPUT,
        )


def _reason_cards(con: duckdb.DuckDBPyConnection, cards: _Cards) -> None:
    total = con.execute("select count(*) from ml.ml_withdrawal_predictions where risk_band = 'high'").fetchall()[0][0]
    rows = con.execute("""
        select reason_1_code, any_value(reason_1), count(*) from ml.ml_withdrawal_predictions
        where risk_band = 'high' and reason_1_code is not null group by 1 order by 1""").fetchall()
    for code, label, n in rows:
        cards.add(
            card_id=f"top_reason_high_risk.{code}",
            topic="reasons",
            title=f"Main reason among high-risk students: {label}",
            body=f"For {n:,} of {total:,} high-risk students ({_pct(n / total)}) the main reason is: {label}.",
            metric_name="share_of_high_risk",
            metric_value=n / total,
            metric_unit="share",
            n=n,
            source_tables="ml.ml_withdrawal_predictions",
            caveat=MODEL_OUTPUT,
        )


def _quality_cards(con: duckdb.DuckDBPyConnection, cards: _Cards, config: MLConfig) -> None:
    rows = con.execute(
        """select model_label, split, roc_auc, average_precision, base_rate, n_test
           from ml.ml_withdrawal_model_comparison where is_selected and prediction_day = ? order by split""",
        [config.prediction_day],
    ).fetchall()
    for label, split, auc, ap, base, n in rows:
        held_out = (
            "later presentations (" + ", ".join(config.temporal_test) + ")"
            if split == "temporal"
            else "students held out at random"
        )
        cards.add(
            card_id=f"model_quality.{split}",
            topic="model_quality",
            title=f"Model quality on {split.replace('_', ' ')} hold-out",
            body=(
                f"On {n:,} attempts of {held_out}, the {label.lower()} ranks a student who later withdrew "
                f"above one who did not {_pct(auc)} of the time (ROC AUC {auc:.3f}); average precision "
                f"{ap:.3f} against a base rate of {base:.3f}."
            ),
            metric_name="roc_auc",
            metric_value=auc,
            metric_unit="auc",
            n=n,
            source_tables="ml.ml_withdrawal_model_comparison",
            caveat=MODEL_OUTPUT,
        )


def build_insight_cards(settings: Settings) -> InsightResult:
    """Build the cards from marts and ML serving tables; write JSON and ``ml.insight_cards`` atomically."""
    from laip.ml.tables import SCHEMAS
    from laip.warehouse.tables import replace_tables

    config = load_ml_config(settings)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        try:
            model = con.execute(
                """select registered_model_name, model_version, mlflow_run_id, trained_at
                   from ml.ml_withdrawal_model_comparison where is_selected and prediction_day = ? limit 1""",
                [config.prediction_day],
            ).fetchall()
            loaded = con.execute("select max(loaded_at) from meta.load_manifest").fetchall()[0][0]
            con.execute("select count(*) from ml.ml_withdrawal_predictions").fetchall()
        except duckdb.CatalogException as exc:
            raise RuntimeError("insight cards need the ML tables; run `laip train` and `laip score` first") from exc
        if not model:
            raise RuntimeError("no selected model in ml.ml_withdrawal_model_comparison; run `laip train`")
        name, version, run_id, trained_at = model[0]
        generated_at = max(t for t in (loaded, trained_at) if t is not None).astimezone(UTC)
        cards = _Cards(
            settings.min_group_size,
            {"registered_model_name": name, "model_version": int(version), "mlflow_run_id": run_id},
        )
        _engagement_cards(con, cards)
        _signal_cards(con, cards)
        _risk_by_module_cards(con, cards, config)
        _reason_cards(con, cards)
        _quality_cards(con, cards, config)
    ordered = sorted(cards.cards, key=lambda c: c["card_id"])
    for card in ordered:
        card["generated_at"] = generated_at.isoformat()
        for key, value in card.items():
            card[key] = _round(value)
    doc = {
        "generated_at": generated_at.isoformat(),
        "min_group_size": settings.min_group_size,
        "registered_model_name": name,
        "model_version": int(version),
        "suppressed_cards": cards.suppressed,
        "cards": ordered,
    }
    frame = (
        pd.DataFrame(ordered).assign(generated_at=generated_at)
        if ordered
        else pd.DataFrame(
            columns=[
                "card_id",
                "topic",
                "title",
                "body",
                "metric_name",
                "metric_value",
                "metric_unit",
                "n",
                "code_module",
                "code_presentation",
                "source_tables",
                "caveat",
                "registered_model_name",
                "model_version",
                "mlflow_run_id",
                "generated_at",
            ]
        )
    )
    replace_tables(settings.warehouse, {"insight_cards": frame}, SCHEMAS)
    path = atomic_write_text(
        settings.home / "insights" / "insight_cards.json",
        json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
    )
    return InsightResult(path, len(ordered), cards.suppressed, int(version))

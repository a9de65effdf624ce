"""Every checkpoint's champion, as the API serves them together.

The default checkpoint (``problem.prediction_day``, day 30) must have a champion: without one the API answers 503 as
before. Another checkpoint without a champion (not trained yet, or its version cannot be loaded) is named in ``GET
/model`` (``unavailable_checkpoints``) and a request for it gets 503; a checkpoint that served before keeps its
previous champion when a reload of it fails. One request schema serves every checkpoint: the champions must take the
same features (a champion whose features differ from the default's is left out, with the reason); a field is
nullable when it is for any checkpoint, and a categorical accepts the categories any checkpoint's champion was
fitted on.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from laip.api import champion as champion_mod
from laip.api.champion import Champion, FieldSpec
from laip.config import Settings
from laip.ml.config import load_ml_config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Served:
    """The champions served, by checkpoint day, and why the other checkpoints are not."""

    champions: dict[int, Champion]
    unavailable: dict[int, str]
    default_day: int
    default_error: str | None = None  # the default checkpoint's load failed: its previous champion still serves
    checkpoints: tuple[int, ...] = ()  # every configured checkpoint (a request may name any of them)
    stricter: dict[int, tuple[FieldSpec, ...]] = field(default_factory=dict)  # set by the API (stricter_fields)

    @property
    def default(self) -> Champion:
        return self.champions[self.default_day]

    @property
    def days(self) -> tuple[int, ...]:
        return tuple(sorted(self.champions))


def load_all(settings: Settings, previous: Served | None = None, reuse: Collection[int] = ()) -> Served:
    """Load every checkpoint's champion; the checkpoints in ``reuse`` keep what ``previous`` had for them (its
    champion, or why it had none) without asking the registry. A checkpoint whose load fails keeps its previous
    champion (logged). Raises :class:`~laip.api.champion.ChampionUnavailable` when the default checkpoint has none
    to serve."""
    config = load_ml_config(settings)
    default = config.prediction_day
    before = previous.champions if previous else {}
    champions: dict[int, Champion] = {}
    unavailable: dict[int, str] = {}
    default_error = None
    for day in (default, *(d for d in config.checkpoints if d != default)):
        if previous is not None and day in reuse:
            if day in before:
                champions[day] = before[day]
            elif day in previous.unavailable:
                unavailable[day] = previous.unavailable[day]
            if day == default:
                default_error = previous.default_error
            if day in before or day in previous.unavailable:
                continue
        try:
            champions[day] = champion_mod.load(settings, day)
        except champion_mod.ChampionUnavailable as exc:
            if day in before:  # the version served keeps answering
                champions[day] = before[day]
                log.warning("day %s: %s; version %s keeps serving", day, exc, before[day].model_version)
            elif day != default:
                unavailable[day] = str(exc)
            if day == default:
                if day not in before:
                    raise
                default_error = str(exc)
    features = set(champions[default].fields)
    for day in [d for d, ch in champions.items() if set(ch.fields) != features]:
        del champions[day]
        unavailable[day] = f"its champion's features differ from the day-{default} champion's (retrain both)"
    return Served(champions, unavailable, default, default_error, tuple(sorted(config.checkpoints)))


def stricter_fields(champion: Champion, merged: dict[str, FieldSpec]) -> tuple[FieldSpec, ...]:
    """The champion's fields that accept less than the shared request schema (checked per request by
    :func:`field_errors`: scoring at one checkpoint is as strict as when that champion was served alone)."""
    return tuple(spec for name, spec in champion.fields.items() if spec != merged.get(name))


def field_errors(values: dict[str, Any], stricter: tuple[FieldSpec, ...], loc: tuple) -> list[dict[str, Any]]:
    """Validation errors (FastAPI's 422 format) of ``values`` against the champion's stricter fields."""
    errors: list[dict[str, Any]] = []
    for spec in stricter:
        value = values.get(spec.name)
        where = ("body", *loc, spec.name)
        if value is None:
            if not spec.nullable:
                errors.append({"type": "missing", "loc": where, "msg": "null is not accepted at this checkpoint"})
        elif spec.kind == "category" and spec.categories and value not in spec.categories:
            allowed = ", ".join(spec.categories)
            errors.append({"type": "literal_error", "loc": where, "msg": f"Input should be one of {allowed}"})
        elif spec.kind == "int" and isinstance(value, float) and not value.is_integer():
            errors.append({"type": "int_type", "loc": where, "msg": "Input should be a valid integer"})
    return errors


def merged_fields(served: Served) -> dict[str, FieldSpec]:
    """One request field per feature that every served checkpoint's champion accepts."""
    merged: dict[str, FieldSpec] = {}
    for name, spec in served.default.fields.items():
        specs = [ch.fields[name] for ch in served.champions.values()]
        kinds = {s.kind for s in specs}
        kind = spec.kind if len(kinds) == 1 else "float" if kinds <= {"int", "float"} else spec.kind
        categories = tuple(dict.fromkeys(c for s in specs for c in s.categories))
        merged[name] = dataclasses.replace(
            spec, kind=kind, nullable=any(s.nullable for s in specs), categories=categories
        )
    return merged

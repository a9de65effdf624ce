"""Every checkpoint's champion, as the API serves them together.

The default checkpoint (``problem.prediction_day``, day 30) must have a champion: without one the API answers 503
as before. Another checkpoint without a champion (not trained yet, or its version cannot be loaded) is left out and
named in ``GET /model`` (``unavailable_checkpoints``); a checkpoint that served before keeps its previous champion
when a reload of it fails. One request schema serves every checkpoint: the champions must take the same features
(a champion whose features differ from the default's is left out, with the reason); a field is nullable when it is
for any checkpoint, and a categorical accepts the categories any checkpoint's champion was fitted on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from laip.api import champion as champion_mod
from laip.api.champion import Champion, FieldSpec
from laip.config import Settings
from laip.ml.config import load_ml_config


@dataclass(frozen=True)
class Served:
    """The champions served, by checkpoint day, and why the other checkpoints are not."""

    champions: dict[int, Champion]
    unavailable: dict[int, str]
    default_day: int

    @property
    def default(self) -> Champion:
        return self.champions[self.default_day]

    @property
    def days(self) -> tuple[int, ...]:
        return tuple(sorted(self.champions))


def load_all(settings: Settings, previous: Mapping[int, Champion] | None = None, reuse: Collection[int] = ()) -> Served:
    """Load every checkpoint's champion (the ones in ``reuse`` are taken from ``previous`` when it has them);
    raises :class:`~laip.api.champion.ChampionUnavailable` when the default checkpoint's cannot be loaded."""
    previous = previous or {}
    config = load_ml_config(settings)
    default = config.prediction_day
    champions: dict[int, Champion] = {}
    unavailable: dict[int, str] = {}
    for day in (default, *(d for d in config.checkpoints if d != default)):
        if day in reuse and day in previous:
            champions[day] = previous[day]
            continue
        try:
            champions[day] = champion_mod.load(settings, day)
        except champion_mod.ChampionUnavailable as exc:
            if day == default:
                raise
            if day in previous:
                champions[day] = previous[day]
            unavailable[day] = str(exc)
    features = set(champions[default].fields)
    for day in [d for d, ch in champions.items() if set(ch.fields) != features]:
        del champions[day]
        unavailable[day] = f"its champion's features differ from the day-{default} champion's (retrain both)"
    return Served(champions, unavailable, default)


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

"""Read the day-P feature mart into model inputs (X, y, groups) and define the train/test splits.

The population and target are built in dbt (``mart_withdrawal_prediction_features``, one row per attempt and
checkpoint); this module reads the rows of one checkpoint (``config.prediction_day``) and re-checks them against
the definition in ``ml/config.yaml`` on every load (:func:`check_population_and_target`), so a mart built with
other checkpoints can never be trained on silently.
"""

from __future__ import annotations

import hashlib
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit

from laip.ingest.calendar import START_MONTHS
from laip.ingest.load import MANIFEST
from laip.ml.config import MLConfig

UNKNOWN = "unknown"  # value of a categorical feature that is NULL in the mart


class FeatureError(RuntimeError):
    pass


@dataclass
class FeatureData:
    """The mart as model input: ``frame`` (keys, flags, target), ``X`` (features only), ``y``, ``groups``."""

    frame: pd.DataFrame
    X: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray
    manifest: list[dict[str, object]]
    digest: str

    def __len__(self) -> int:
        return len(self.y)

    @property
    def has_click_data(self) -> np.ndarray:
        return self.frame["has_click_data"].to_numpy(dtype=bool)

    @property
    def is_labelled(self) -> np.ndarray:
        """Rows whose target is known (all of them unless loaded with ``unlabelled``)."""
        return ~np.isnan(self.y.astype(float))

    def labelled_only(self) -> FeatureData:
        """The rows with a known target, ``y`` as integers: the data training saw of this mart."""
        keep = self.is_labelled
        return FeatureData(
            frame=self.frame[keep].reset_index(drop=True),
            X=self.X[keep].reset_index(drop=True),
            y=self.y[keep].astype(int),
            groups=self.groups[keep],
            manifest=self.manifest,
            digest=self.digest,
        )


@dataclass(frozen=True)
class Split:
    """Row positions of one train/test split of a :class:`FeatureData`."""

    name: str
    train: np.ndarray
    test: np.ndarray
    description: str

    def summary(self) -> str:
        return f"{self.name}: {len(self.train):,} train / {len(self.test):,} test rows ({self.description})"


# --- population and target rules (the dbt macros is_enrolled_on_day / withdrew_after_day, in pandas) ---


def is_enrolled_on_day(registration_day: pd.Series, unregistration_day: pd.Series, day: int) -> pd.Series:
    """Enrolled on ``day``: registered by then (unknown registration counts) and not unregistered on or before it."""
    reg = pd.to_numeric(registration_day, errors="coerce")
    unreg = pd.to_numeric(unregistration_day, errors="coerce")
    return (reg.isna() | (reg <= day)) & (unreg.isna() | (unreg > day))


def withdrew_after_day(unregistration_day: pd.Series, final_result: pd.Series, day: int) -> pd.Series:
    """Target: unregistered after ``day``, or final result Withdrawn without an unregistration day."""
    unreg = pd.to_numeric(unregistration_day, errors="coerce")
    return ((unreg > day).fillna(False) | ((final_result == "Withdrawn") & unreg.isna())).astype(int)


def check_population_and_target(con: duckdb.DuckDBPyConnection, mart: pd.DataFrame, config: MLConfig) -> None:
    """Raise :class:`FeatureError` unless the mart holds exactly the configured population and target: the attempts
    enrolled on day P of the presentations that have reached it (all of them in a finished history; in an export as of
    a date, those whose observed course day is at least P), and the target wherever the final result is known."""
    attempts = con.execute(
        "select student_module_id, registration_day, unregistration_day, final_result, "
        "presentation_observed_through_day from intermediate.int_student_attempts_joined"
    ).df()
    observed = pd.to_numeric(attempts.presentation_observed_through_day, errors="coerce")
    reached = observed.isna() | (observed >= config.prediction_day)
    enrolled = attempts[
        is_enrolled_on_day(attempts.registration_day, attempts.unregistration_day, config.prediction_day) & reached
    ]
    if set(enrolled.student_module_id) != set(mart.student_module_id):
        raise FeatureError(
            f"{config.source_table} does not hold exactly the attempts enrolled on day {config.prediction_day} as "
            f"the rows of checkpoint {config.prediction_day}; rebuild it (laip build) with the same checkpoints"
        )
    labelled = enrolled[enrolled.final_result.notna()]
    expected = withdrew_after_day(labelled.unregistration_day, labelled.final_result, config.prediction_day)
    merged = mart[["student_module_id", config.target]].merge(
        labelled.assign(expected=expected.to_numpy())[["student_module_id", "expected"]], on="student_module_id"
    )
    if not (merged[config.target].astype(float) == merged.expected).all():
        raise FeatureError(f"{config.target} does not follow the configured target definition")
    if mart.loc[~mart.student_module_id.isin(labelled.student_module_id), config.target].notna().any():
        raise FeatureError(f"{config.target} holds a label of a presentation that has not ended")


def prepare_X(frame: pd.DataFrame, config: MLConfig) -> pd.DataFrame:
    """Model input: numeric features as float64 (NULL -> NaN, booleans -> 0/1), categoricals as str."""
    missing = [f for f in config.features if f not in frame.columns]
    if missing:
        raise FeatureError(f"{config.source_table} lacks configured features {missing}; run `laip build`")
    X = pd.DataFrame(index=frame.index)
    for f in config.features:
        col = frame[f]
        if f in config.categorical:
            X[f] = col.astype(object).where(col.notna(), UNKNOWN).astype(str).astype(object)
        else:
            X[f] = pd.to_numeric(col.astype(object).where(col.notna(), np.nan), errors="coerce").astype("float64")
    return X


def manifest_digest(manifest: list[dict[str, object]]) -> str:
    """Short sha256 over the raw files' names and sha256 (the load manifest): which data a model saw."""
    text = "\n".join(f"{m['file_name']}:{m['sha256']}" for m in sorted(manifest, key=lambda m: str(m["file_name"])))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_manifest(con: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    """The load manifest's rows as JSON-ready dicts (timestamps in ISO 8601)."""
    cur = con.execute(f"select * from {MANIFEST} order by file_name")
    names = [d[0] for d in cur.description or ()]
    return [
        {n: v.isoformat() if hasattr(v, "isoformat") else v for n, v in zip(names, row, strict=True)}
        for row in cur.fetchall()
    ]


def load_feature_data(warehouse: Path, config: MLConfig, *, unlabelled: bool = False) -> FeatureData:
    """Read and check the feature mart of ``warehouse`` (read-only; the connection is closed on return): its labelled
    rows (what training, evaluation and monitoring use), or with ``unlabelled`` every row (what scoring uses: in an
    export as of a date the running presentations have no label yet; ``y`` is then float with NaN for them)."""
    if not warehouse.is_file():
        raise FeatureError(f"no warehouse at {warehouse}; run `laip load` and `laip build` first")
    keys = list(config.key_columns)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        try:
            frame = con.execute(config.mart_query()).df()
        except duckdb.CatalogException as exc:
            raise FeatureError(f"{config.source_table} is missing; run `laip build` first") from exc
        except duckdb.BinderException as exc:
            raise FeatureError(f"{config.source_table} has no prediction_day column; run `laip build`") from exc
        if frame.empty:
            raise FeatureError(
                f"{config.source_table} has no rows for checkpoint {config.prediction_day}; rebuild it (laip build) "
                f"with checkpoints {list(config.checkpoints)}"
            )
        check_population_and_target(con, frame, config)
        manifest = read_manifest(con)
    if not unlabelled:
        frame = frame[frame[config.target].notna()].reset_index(drop=True)
        if frame.empty:
            raise FeatureError(f"{config.source_table} has no labelled rows for checkpoint {config.prediction_day}")
    X = prepare_X(frame, config)
    meta_cols = [*keys, "has_click_data", "presentation_year", "presentation_semester", config.target]
    slim = frame[[c for c in dict.fromkeys(meta_cols) if c in frame.columns]].copy()
    slim["has_click_data"] = slim["has_click_data"].astype(bool)
    return FeatureData(
        frame=slim.reset_index(drop=True),
        X=X.reset_index(drop=True),
        y=frame[config.target].to_numpy(dtype=float if unlabelled else int, na_value=np.nan if unlabelled else 0),
        groups=frame[config.group_column].to_numpy(),
        manifest=manifest,
        digest=manifest_digest(manifest),
    )


# OULAD's presentations start in February (B) or October (J) and last at most 241 (B) or 269 (J) days.
LONGEST_DAYS = {"B": 241, "J": 269}


def presentation_ended_before(earlier: str, later: str, prediction_day: int = 30) -> bool:
    """True when presentation ``earlier`` (e.g. ``2014B``) had certainly ended before day ``prediction_day`` of
    ``later``, so its final results (and every label of its attempts) were known by then.

    The rule of ``int_presentations_calendar_estimated`` in terms of codes, with OULAD's longest lengths: the
    latest possible end (last day of the start month + the longest length) is before the earliest possible day P
    (first day of the start month + P). A B presentation (Feb..Oct, ended by 27 October) has ended before any
    presentation of a later year, and before its own year's J from day 27 on; a J presentation (Oct..Jul, ended by
    27 July) before the J of a later year, the B of the year after next, and the next year's B from day 177 on.
    """
    ey, es, ly, ls = int(earlier[:4]), earlier[-1], int(later[:4]), later[-1]
    month = START_MONTHS[es]
    latest_end = date(ey, month, monthrange(ey, month)[1]) + timedelta(days=LONGEST_DAYS[es])
    return latest_end < date(ly, START_MONTHS[ls], 1) + timedelta(days=prediction_day)


def presentation_order(code: str) -> tuple[int, int]:
    """Sort key of a presentation code: year, then B (February) before J (October)."""
    return int(code[:4]), 0 if code[4:] == "B" else 1


def temporal_split(data: FeatureData, config: MLConfig) -> Split:
    """Train on the configured earlier presentations, test on the later ones.

    A training row is used only when its label was known at the test presentations' prediction point: its
    presentation had certainly ended before day P of every test presentation (as for the prior_* features). With
    P = 30 every 2013B, 2013J and 2014B row qualifies for a 2014J test (2014B ends by late October, 2014J's day 30
    is in November), including the earlier attempts of students who are also in the test set; a row of a
    presentation still running at the prediction point (e.g. 2014B for P = 14) is left out.

    In an export as of a date (a live term) the configured test presentations may have no label yet: then the test
    rows are those of the latest presentation code with labels that has an earlier code ended before its day P, and
    every earlier code is a training candidate.
    """
    pres = data.frame["code_presentation"].astype(str).to_numpy()
    test_codes, train_codes = config.temporal_test, config.temporal_train
    if not np.isin(pres, test_codes).any() and len(pres):
        # the latest code whose label was known with a training code ended before its day P
        for latest in sorted(set(pres), key=presentation_order, reverse=True):
            test_codes = (latest,)
            train_codes = tuple(p for p in set(pres) if presentation_order(p) < presentation_order(latest))
            if any(presentation_ended_before(p, latest, config.prediction_day) for p in train_codes):
                break
    test = np.flatnonzero(np.isin(pres, test_codes))
    test_presentations = sorted(set(pres[test]))
    candidates = np.flatnonzero(np.isin(pres, train_codes))
    known = {
        p: all(presentation_ended_before(p, t, config.prediction_day) for t in test_presentations)
        for p in set(pres[candidates])
    }
    train = np.asarray([i for i in candidates if known[pres[i]]], dtype=int)
    dropped = len(candidates) - len(train)
    if len(train) == 0 or len(test) == 0:
        raise FeatureError(f"temporal split is empty: train {sorted(train_codes)} / test {list(test_codes)}")
    return Split(
        "temporal",
        train,
        test,
        f"train {'+'.join(sorted(train_codes, key=presentation_order))}, test {'+'.join(test_codes)}; "
        f"{dropped:,} training rows of presentations not ended by the test day {config.prediction_day} "
        f"left out",
    )


def grouped_random_split(data: FeatureData, config: MLConfig) -> Split:
    """Random hold-out of whole students (every attempt of a student on the same side)."""
    splitter = GroupShuffleSplit(n_splits=1, test_size=config.random_test_size, random_state=config.seed)
    train, test = next(splitter.split(data.X, data.y, data.groups))
    return Split(
        "grouped_random", np.sort(train), np.sort(test), f"{config.random_test_size:.0%} of students held out at random"
    )


def make_splits(data: FeatureData, config: MLConfig) -> list[Split]:
    """Both splits, the primary one first."""
    splits = [temporal_split(data, config), grouped_random_split(data, config)]
    return sorted(splits, key=lambda s: s.name != config.primary_split)

"""The risk list: the latest presentation of each module, held-out rows only, every student, ranked and banded
within the module-presentation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from laip.ml.config import load_ml_config
from laip.ml.risk_list import presentation_order, risk_list


def _predictions() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    parts = []
    for module, pres, n, training in [
        ("AAA", "2013J", 50, True),
        ("AAA", "2014J", 40, False),
        ("BBB", "2014B", 30, False),
        ("BBB", "2013J", 20, True),
        ("CCC", "2014B", 25, True),  # its latest presentation trained the model: never listed
        ("GGG", "2014J", 1000, False),
    ]:
        parts.append(
            pd.DataFrame(
                {
                    "code_module": module,
                    "code_presentation": pres,
                    "student_module_id": [f"{module}-{pres}-{i}" for i in range(n)],
                    "id_student": range(n),
                    "withdrawal_probability": rng.uniform(0, 0.2 if module == "GGG" else 0.9, n),
                    "is_training_row": training,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_presentations_sort_by_year_then_february_before_october() -> None:
    assert sorted(["2014J", "2013J", "2014B", "2013B"], key=presentation_order) == ["2013B", "2013J", "2014B", "2014J"]


def test_latest_held_out_presentation_of_each_module_every_student() -> None:
    listed = risk_list(_predictions(), load_ml_config())
    assert sorted(set(zip(listed.code_module, listed.code_presentation, strict=True))) == [
        ("AAA", "2014J"),
        ("BBB", "2014B"),
        ("GGG", "2014J"),
    ]
    assert not listed.is_training_row.any()
    assert len(listed) == 40 + 30 + 1000  # no cap


def test_rank_percentile_and_relative_bands_within_the_module_presentation() -> None:
    config = dataclasses.replace(load_ml_config(), relative_high=0.10, relative_medium=0.20)
    listed = risk_list(_predictions(), config)
    ggg = listed[listed.code_module == "GGG"]
    assert ggg.rank_in_presentation.tolist() == list(range(1, 1001))
    assert ggg.withdrawal_probability.is_monotonic_decreasing
    assert ggg.risk_percentile.iloc[0] == 100.0 and ggg.risk_percentile.iloc[-1] == 0.1
    # every probability of GGG is below the absolute "medium" cut, yet its top 10 % are banded "top"
    assert ggg.withdrawal_probability.max() < config.risk_medium
    assert ggg.relative_band.value_counts().to_dict() == {"rest": 700, "next": 200, "top": 100}
    aaa = listed[listed.code_module == "AAA"]
    assert (aaa.relative_band == "top").sum() == 4 and (aaa.relative_band == "next").sum() == 8
    assert set(listed.relative_band_rule) == {"top 10% / next 20% of the module-presentation by probability"}
    # the drill-down's pick list, sorted as text, is each module-presentation in rank order
    assert ggg.attempt_label.iloc[0].startswith("GGG 2014J · #0001 · student ")
    assert sorted(ggg.attempt_label) == ggg.attempt_label.tolist()


@pytest.mark.parametrize(("top", "following"), [(0.0, 0.2), (0.9, 0.2), (0.1, -0.1)])
def test_relative_bands_are_validated(top: float, following: float, tmp_path) -> None:
    import yaml

    from laip.ml.config import ML_CONFIG_FILE, MLConfigError

    raw = yaml.safe_load(ML_CONFIG_FILE.read_text())
    raw["risk_bands"]["relative"] = {"top": top, "next": following}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(MLConfigError, match=r"risk_bands\.relative"):
        load_ml_config(path=path)

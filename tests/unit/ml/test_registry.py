"""The champion registry loads models that older versions of the package wrote (their class paths moved)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from laip.ml.modeling import CalibratedModel
from laip.ml.registry import LEGACY_MODULES, legacy_module_names


def _with_old_module_path(data: bytes) -> bytes:
    """The same skops file as an older package wrote it: CalibratedModel under ``laip.modeling``."""
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item)
            if item.filename == "schema.json":
                body = body.replace(b'"laip.ml.modeling"', b'"laip.modeling"')
            dst.writestr(item, body)
    return out.getvalue()


def test_a_model_written_before_the_package_moved_still_loads() -> None:
    X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    model = CalibratedModel(Pipeline([("clf", LogisticRegression())]).fit(X, y), 1.0, 0.0, 0.5, "lr")
    old = _with_old_module_path(sio.dumps(model))
    trusted = sio.get_untrusted_types(data=old)
    assert "laip.modeling.CalibratedModel" in trusted and "laip.modeling" in LEGACY_MODULES
    with pytest.raises(ModuleNotFoundError):
        sio.loads(old, trusted=trusted)
    with legacy_module_names():
        loaded = sio.loads(old, trusted=trusted)
    assert isinstance(loaded, CalibratedModel)
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))

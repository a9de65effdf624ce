"""Docstrings name only things that exist: every Sphinx-style reference (:func:, :meth:, :class:, :mod:, ...) in
``laip/`` resolves to a module attribute (relative references are looked up from their module)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from types import ModuleType

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "laip"
REFERENCE = re.compile(r":(?:func|meth|mod|class|data|attr|exc):`~?([\w.]+)`")


def _resolve(name: str) -> bool:
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def _module(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=_module)
def test_references_resolve(path: Path) -> None:
    module = _module(path)
    package = module.rpartition(".")[0]
    missing = []
    for ref in REFERENCE.findall(path.read_text()):
        candidates = [ref] if ref.startswith("laip") else [f"{module}.{ref}", f"{package}.{ref}", ref]
        if not any(_resolve(c) for c in candidates):
            missing.append(ref)
    assert not missing, f"{module} names what does not exist: {missing}"


def test_resolver_finds_a_missing_name() -> None:
    assert _resolve("laip.ingest.load.load") and not _resolve("laip.ingest.load.require_valid")
    assert isinstance(importlib.import_module("laip.ingest"), ModuleType)

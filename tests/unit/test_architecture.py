"""The package's dependencies point one way: each stage imports only itself and the stages below it.

    laip.config, laip.durable, laip.credentials,  shared (import nothing of laip but each other)
    laip.locks, laip.profile
    laip.ingest                                raw files -> validated load
    laip.spark                                 the Spark engine (session, raw load), optional
    laip.warehouse                             dbt build, publish, status
    laip.ml (and laip.ml.monitoring)           features, training, scoring, monitoring
    laip.api | laip.orchestration              the prediction API; Airflow and the steps (neither imports the other)
    laip.services                              make up / down, Superset
    laip.bench                                 benchmarks
    laip.cli, laip.__main__                    the command line

Every import is checked, also those inside functions (lazy imports are still dependencies).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "laip"

# (layer, rank): a module may import a module of a lower rank, or of its own layer.
LAYERS: dict[str, float] = {
    "laip.config": 0,
    "laip.durable": 0,
    "laip.credentials": 0,
    "laip.locks": 0,
    "laip.profile": 0,
    "laip.ingest": 1,
    "laip.spark": 1.5,
    "laip.warehouse": 2,
    "laip.ml": 3,
    "laip.api": 4,
    "laip.orchestration": 4,
    "laip.services": 5,
    "laip.bench": 6,
    "laip.cli": 7,
    "laip": 7,
    "laip.__main__": 8,
}


def layer_of(module: str) -> str:
    """The longest layer prefix of a dotted module name."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        if name in LAYERS:
            return name
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every ``laip`` import in the file, resolving relative imports."""
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            # ``from laip.x import y`` may name a submodule y: check the deepest name that is a module
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((node.lineno, candidate if _is_module(candidate) else base))
    return [(line, name) for line, name in found if name == "laip" or name.startswith("laip.")]


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (PACKAGE.parent / rel).with_suffix(".py").is_file() or (PACKAGE.parent / rel / "__init__.py").is_file()


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_imports_point_down(path: Path) -> None:
    me = module_name(path)
    mine = layer_of(me)
    wrong = []
    for line, target in imports_of(path):
        theirs = layer_of(target)
        if theirs == mine or target == "laip":
            continue
        if LAYERS[theirs] >= LAYERS[mine]:
            wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} {me} ({mine}) imports {target} ({theirs})")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_every_module_has_a_layer() -> None:
    for path in SOURCES:
        layer_of(module_name(path))


def test_top_of_package_is_small() -> None:
    """Only the config and truly shared helpers sit at the top of the package (the CLI is ``laip/cli/``)."""
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "config.py", "credentials.py", "durable.py", "locks.py", "profile.py"]


MAX_LINES = 300


def test_no_module_is_too_long() -> None:
    lines = {str(p.relative_to(PACKAGE.parent)): len(p.read_text().splitlines()) for p in SOURCES}
    long = sorted(f"{p}: {n} lines" for p, n in lines.items() if n > MAX_LINES)
    assert not long, "split these modules (one job each):\n" + "\n".join(long)

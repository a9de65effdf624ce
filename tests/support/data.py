"""Where the test data lives: the committed real sample and (when present) the full OULAD."""

from __future__ import annotations

from laip.config import REPO_ROOT

SAMPLE_DIR = REPO_ROOT / "data" / "sample"
FULL_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "oulad"

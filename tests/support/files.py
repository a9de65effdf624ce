"""Small file helpers the tests share."""

from __future__ import annotations

import hashlib
from pathlib import Path


def digest(path: Path) -> str:
    """SHA-256 of a file's bytes: "unchanged" means the same digest before and after."""
    return hashlib.sha256(path.read_bytes()).hexdigest()

"""Provenance of a model: only models this platform's training wrote are ever loaded.

Loading a model runs code named by its files (skops trusted types, or pickle), and the MLflow registry accepts new
versions and alias moves from anyone who can reach it. So training signs what it logged: an HMAC-SHA256, keyed by a
secret only the platform holds (``LAIP_MODEL_SIGNING_KEY``, else ``$LAIP_HOME/secrets/model_signing_key``), over
the digest of every file of the model's artifacts, recorded as the version tag ``laip.signature``. Before a load,
the version's artifacts are downloaded once, the digest recomputed and the signature checked; the model is then
loaded from exactly the files that were checked. A version without a valid signature is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from laip.credentials import read_or_create, secret_file

SIGNATURE_TAG = "laip.signature"
DIGEST_TAG = "laip.artifact_digest"
SIGNING_KEY_ENV = "LAIP_MODEL_SIGNING_KEY"
SIGNING_KEY_FILE = "model_signing_key"
SCHEME = "laip-model-v1"
# Written by MLflow into every download of a models:/ URI (the name and version it came from): not an artifact.
DOWNLOAD_METADATA = frozenset({"registered_model_meta"})


class UntrustedModel(RuntimeError):
    """A model version this platform's training did not write (or whose files changed since)."""


def signing_key(home: Path) -> bytes:
    return (os.environ.get(SIGNING_KEY_ENV) or read_or_create(secret_file(home, SIGNING_KEY_FILE))).encode()


def artifact_digest(model_dir: Path) -> str:
    """sha256 over every file of a model directory (but MLflow's download metadata): its relative path and the
    sha256 of its bytes, sorted."""
    root = Path(model_dir)
    h = hashlib.sha256()
    files = (p for p in root.rglob("*") if p.is_file() and p.relative_to(root).as_posix() not in DOWNLOAD_METADATA)
    for path in sorted(files):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).hexdigest().encode() + b"\n")
    return h.hexdigest()


def signature(key: bytes, digest: str) -> str:
    return hmac.new(key, f"{SCHEME}|{digest}".encode(), hashlib.sha256).hexdigest()


def signature_tags(model_dir: Path, home: Path) -> dict[str, str]:
    """The version tags that vouch for the model in ``model_dir`` (what training registers)."""
    digest = artifact_digest(model_dir)
    return {DIGEST_TAG: digest, SIGNATURE_TAG: signature(signing_key(home), digest)}


def verify(model_dir: Path, tags: dict[str, str], home: Path, name: str) -> None:
    """Raise :class:`UntrustedModel` unless ``tags`` carry a valid signature of exactly the files in ``model_dir``."""
    given = tags.get(SIGNATURE_TAG)
    if not given:
        raise UntrustedModel(
            f"{name} carries no {SIGNATURE_TAG} tag: it was not registered by this platform's training; refusing to "
            "load it (retrain, or move the alias back to a signed version)"
        )
    expected = signature(signing_key(home), artifact_digest(model_dir))
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise UntrustedModel(
            f"{name}: its files do not match the signature its training recorded (changed since, or signed with "
            "another key); refusing to load it"
        )

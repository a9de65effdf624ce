"""Find the raw OULAD files; download the official archive when they are absent; fall back to the sample.

Resolution order for the data directory the pipeline reads:

1. an explicitly given directory (argument or ``LAIP_DATA_DIR``) is used as it is, complete or not, so
   that validation can say exactly what is wrong with it;
2. the configured default (``data/raw``) when it holds all seven files;
3. otherwise the official OULAD archive is downloaded into the default directory;
4. when that fails (e.g. no internet), the committed deterministic sample of the real data is used, with a
   one-line message saying so, but only when the caller allows it (the interactive first ``make run``: see
   :func:`laip.orchestration.tasks.data_source`); otherwise the run fails saying where the data should be.
"""

from __future__ import annotations

import hashlib
import io
import logging
import shutil
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from laip.config import Settings
from laip.ingest.schema import TABLES

log = logging.getLogger(__name__)

EXTENSIONS = (".csv", ".csv.gz")


@dataclass(frozen=True)
class DataSource:
    path: Path
    kind: str  # "given", "raw", "downloaded" or "sample"
    message: str


class DataDirError(ValueError):
    """The raw-data directory cannot be used (it does not resolve: a symlink loop, ...)."""


def candidates(data_dir: Path, stem: str) -> list[Path]:
    """Every file present for ``stem`` (``X.csv`` and / or ``X.csv.gz``)."""
    return [data_dir / f"{stem}{ext}" for ext in EXTENSIONS if (data_dir / f"{stem}{ext}").is_file()]


def find_file(data_dir: Path, stem: str) -> Path | None:
    """The file for ``stem`` in ``data_dir`` (``.csv`` preferred over ``.csv.gz``), or None."""
    for ext in EXTENSIONS:
        candidate = data_dir / f"{stem}{ext}"
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class FileDigest:
    sha256: str  # of the file's bytes as stored (compressed for .csv.gz)
    lines: int  # lines of the text (decompressed); a last line without its newline counts


def sha256_of(path: Path) -> str:
    """sha256 of ``path``'s bytes as stored: what identifies a file (a manifest's entry), without decompressing it."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def digest_file(path: Path, chunk: int = 1 << 22) -> FileDigest:
    """sha256 of ``path`` and, in the same pass, its number of text lines (a ``.gz`` file is decompressed for it)."""
    h = hashlib.sha256()
    lines = count_lines(path, chunk, on_block=h.update)
    return FileDigest(h.hexdigest(), lines)


def count_lines(path: Path, chunk: int = 1 << 22, on_block: Callable[[bytes], Any] | None = None) -> int:
    """Text lines of ``path`` (a ``.gz`` file decompressed; a last line without its newline counts); ``on_block`` is
    given each block of the stored bytes on the way."""
    inflate = zlib.decompressobj(wbits=47) if path.name.endswith(".gz") else None
    lines, last = 0, b"\n"
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            if on_block is not None:
                on_block(block)
            text = block if inflate is None else _inflate(inflate, block)
            if text:
                lines += text.count(b"\n")
                last = text[-1:]
    if last != b"\n":
        lines += 1
    return lines


def _inflate(inflate: Any, block: bytes) -> bytes:
    try:
        return inflate.decompress(block)
    except zlib.error:
        return b""  # a corrupt stream: validation names it when it reads the file


def missing_files(data_dir: Path) -> list[str]:
    return [t.file_stem for t in TABLES if find_file(data_dir, t.file_stem) is None]


def download_official(urls: tuple[str, ...], dest: Path, timeout_s: float) -> str:
    """Download the OULAD zip from the first URL that answers and extract the seven CSVs into ``dest``.

    Returns the URL used. Raises ``OSError`` with every URL's failure when none worked.
    """
    failures: list[str] = []
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp:
                payload = resp.read()
            with zipfile.ZipFile(io.BytesIO(payload)) as archive:
                members = {Path(n).name: n for n in archive.namelist()}
                wanted = [f"{t.file_stem}.csv" for t in TABLES]
                absent = [w for w in wanted if w not in members]
                if absent:
                    raise OSError(f"archive lacks {', '.join(absent)}")
                dest.mkdir(parents=True, exist_ok=True)
                for name in wanted:
                    tmp = dest / f".{name}.part"
                    with archive.open(members[name]) as src, tmp.open("wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
                    tmp.replace(dest / name)
            return url
        except (OSError, zipfile.BadZipFile, ValueError) as exc:
            failures.append(f"{url}: {exc}")
    raise OSError("; ".join(failures) or "no download URL configured")


def resolve_data_dir(settings: Settings, data_dir: Path | None = None, *, allow_sample: bool = False) -> DataSource:
    """Decide which directory the pipeline reads (see the module docstring); raises :class:`DataDirError` when no
    data is found and the sample is not allowed."""
    if data_dir is not None or not settings.data_dir_is_default:
        given = data_dir or settings.data_dir
        try:
            path = given.resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop (RuntimeError before Python 3.13)
            raise DataDirError(f"raw-data directory {given} cannot be used: {exc}") from None
        return DataSource(path, "given", f"Using raw data in {path}")
    default = settings.data_dir
    if not missing_files(default):
        return DataSource(default, "raw", f"Using raw data in {default}")
    try:
        url = download_official(settings.download_urls, default, settings.download_timeout_s)
        return DataSource(default, "downloaded", f"Downloaded the official OULAD archive from {url} into {default}")
    except OSError as exc:
        log.debug("download failed: %s", exc)
        reason = str(exc).split(";")[0]
        if not allow_sample:
            raise DataDirError(
                f"OULAD not found in {default} and the download failed ({reason}): put the seven files there or give "
                f"the directory (data_dir); the bundled sample is used only by the first `make run` of a LAIP_HOME"
            ) from None
        return DataSource(
            settings.sample_dir,
            "sample",
            f"OULAD not found in {default} and the download failed ({reason}); "
            f"using the bundled real-data sample in {settings.sample_dir} instead.",
        )

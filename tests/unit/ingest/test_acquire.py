"""Data acquisition: explicit dirs, the official download (served from loopback), and the sample fallback (only
when allowed)."""

from __future__ import annotations

import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from laip.config import Settings, load_settings
from laip.ingest.acquire import DataDirError, missing_files, resolve_data_dir
from laip.services.net import free_port


@pytest.fixture
def zip_server(sample_dir: Path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving the sample as an OULAD-style zip (CSV files in a folder)."""
    import gzip

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for gz in sorted(sample_dir.glob("*.csv.gz")):
            zf.writestr(f"anonymisedData/{gz.name[:-3]}", gzip.decompress(gz.read_bytes()))
    payload = buf.getvalue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/oulad.zip"
    server.shutdown()


def _closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}/oulad.zip"


def _with_default_dir(settings: Settings, tmp_path: Path, urls: tuple[str, ...]) -> Settings:
    return replace(
        settings, data_dir=tmp_path / "raw", data_dir_is_default=True, download_urls=urls, download_timeout_s=5
    )


def test_explicit_dir_is_used_as_given(settings: Settings, tmp_path: Path) -> None:
    source = resolve_data_dir(settings, tmp_path / "empty")
    assert source.kind == "given" and source.path == tmp_path / "empty"


def test_env_var_sets_data_dir(monkeypatch: pytest.MonkeyPatch, home: Path, tmp_path: Path) -> None:
    monkeypatch.setenv("LAIP_DATA_DIR", str(tmp_path))
    s = load_settings()
    assert s.data_dir == tmp_path and not s.data_dir_is_default


def test_download_when_absent(settings: Settings, tmp_path: Path, zip_server: str) -> None:
    s = _with_default_dir(settings, tmp_path, (_closed_port_url(), zip_server))
    source = resolve_data_dir(s)
    assert source.kind == "downloaded" and zip_server in source.message
    assert missing_files(source.path) == []
    assert resolve_data_dir(s).kind == "raw"  # second time: already there


def test_fallback_to_sample_when_download_fails_only_if_allowed(settings: Settings, tmp_path: Path) -> None:
    s = _with_default_dir(settings, tmp_path, (_closed_port_url(),))
    with pytest.raises(DataDirError, match=r"OULAD not found in .*raw and the download failed .*first `make run`"):
        resolve_data_dir(s)
    source = resolve_data_dir(s, allow_sample=True)
    assert source.kind == "sample" and source.path == settings.sample_dir
    assert "download failed" in source.message and "sample" in source.message
    assert "\n" not in source.message

"""Screenshots of the real UIs for the README, taken by the integration tests with headless Chromium
(``superset/browser.py``, run in the Superset environment, which has its DevTools client)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from laip.config import REPO_ROOT
from laip.services.superset import SUPERSET_DIR, venv_python

SCREENSHOT_DIR = Path(os.environ.get("LAIP_SCREENSHOT_DIR", REPO_ROOT / ".laip" / "screenshots"))


def shot(url: str, name: str, *, wait_text: str, cookie: str | None = None) -> Path:
    """``url`` as ``SCREENSHOT_DIR/name.png`` once the page shows ``wait_text`` (a login token as ``cookie``,
    NAME=VALUE, never in the URL: it would reach the server's access log)."""
    out = SCREENSHOT_DIR / f"{name}.png"
    argv = [str(venv_python()), str(SUPERSET_DIR / "browser.py"), "shot", "--url", url, "--out", str(out)]
    argv += ["--wait-text", wait_text, *(["--cookie", cookie] if cookie else [])]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["screenshot"] == str(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000, out
    return out

"""Owner-only files under LAIP_HOME: ``keep_private`` sets the umask for the process and what it starts and closes the
home itself; atomic writes are owner-only by default."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from laip.durable import atomic_write_text

PROBE = """
import os, subprocess, sys
from pathlib import Path
from laip.durable import keep_private
home = Path(sys.argv[1])
keep_private(home)
(home / "made_here").write_text("x")
(home / "dir_here").mkdir()
subprocess.run(["touch", str(home / "made_by_a_child")], check=True)
"""


def test_keep_private_closes_home_and_what_is_created_after(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    (home / "before").write_text("x")
    subprocess.run([sys.executable, "-c", PROBE, str(home)], check=True)
    modes = {p.name: p.stat().st_mode & 0o777 for p in home.iterdir()}
    assert home.stat().st_mode & 0o777 == 0o700
    assert modes["made_here"] == modes["made_by_a_child"] == 0o600 and modes["dir_here"] == 0o700


def test_atomic_writes_are_owner_only(tmp_path: Path) -> None:
    assert atomic_write_text(tmp_path / "report.json", "{}").stat().st_mode & 0o777 == 0o600

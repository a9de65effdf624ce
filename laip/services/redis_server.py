"""A Redis server of the production profile on 127.0.0.1 (Debian's ``redis-server``; ``make setup-tools`` installs
it): Airflow's Celery broker, Superset's cache and Celery broker. ``make up-prod`` and the tests start their own.

It requires a password (``requirepass``), read from its configuration on standard input, so the password is on no
command line; it keeps nothing on disk (a broker's queue is rebuilt by the scheduler after a restart) but its pid
file (``redis.pid`` in its working directory), by which another process (``make down``) stops it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from laip.services.net import wait_listening

HOST = "127.0.0.1"


@dataclass
class LocalRedis:
    """``redis-server`` on ``HOST:port`` with ``password``, working directory ``work_dir`` (its log)."""

    work_dir: Path
    port: int
    password: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid_file(self) -> Path:
        return self.work_dir / "redis.pid"

    def url(self, db: int = 0) -> str:
        return f"redis://:{quote(self.password, safe='')}@{HOST}:{self.port}/{db}"

    def start(self, timeout_s: float = 30) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server is not installed (make setup-tools installs Debian's)")
        self.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        config = (
            f"bind {HOST}\nport {self.port}\nprotected-mode yes\nrequirepass {self.password}\n"
            f'save ""\nappendonly no\ndir {self.work_dir}\nlogfile {self.work_dir / "redis.log"}\n'
            f"pidfile {self.pid_file}\n"
        )
        self.process = subprocess.Popen([binary, "-"], stdin=subprocess.PIPE, start_new_session=True)
        assert self.process.stdin is not None
        self.process.stdin.write(config.encode())
        self.process.stdin.close()
        wait_listening(HOST, self.port, timeout_s, alive=self.process)

    def running_pid(self) -> int | None:
        """The pid of the server this directory's pid file names, if that process is still a ``redis-server``."""
        try:
            pid = int(self.pid_file.read_text().strip())
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"redis-server" in command else None

    def stop(self, timeout_s: float = 10) -> None:
        """SIGTERM (Redis shuts down cleanly), SIGKILL after ``timeout_s``; by handle, else by the pid file."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        pid = self.running_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while self.running_pid() == pid and time.monotonic() < deadline:
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            if self.running_pid() == pid:
                os.kill(pid, signal.SIGKILL)

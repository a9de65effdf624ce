"""``laip-dbt``: dbt under the warehouse's writer lock, for callers the platform does not run itself.

The Airflow DAG's Cosmos dbt group runs dbt as a subprocess; pointing it here (``dbt_executable_path``) makes its
``dbt build`` take the same lock as every other warehouse writer (:mod:`laip.locks`). Commands that do not write
the warehouse (``ls``, ``parse``, ``deps``, ...) run without it. The warehouse is ``LAIP_WAREHOUSE`` (what
``dbt/profiles.yml`` reads).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from laip.config import load_settings
from laip.locks import WriterBusy, warehouse_writer
from laip.warehouse.build import dbt_executable

WRITING_COMMANDS = frozenset({"build", "run", "test", "seed", "snapshot", "docs", "run-operation", "source"})


def locked_dbt_executable() -> str:
    """The ``laip-dbt`` installed beside the running interpreter."""
    candidate = Path(sys.executable).with_name("laip-dbt")
    return str(candidate) if candidate.exists() else "laip-dbt"


def _run(argv: list[str]) -> int:
    proc = subprocess.Popen([dbt_executable(), *argv])
    for sig in (signal.SIGTERM, signal.SIGINT):  # Airflow stops a task with SIGTERM: pass it on to dbt
        signal.signal(sig, lambda signum, _frame: proc.send_signal(signum))
    return proc.wait()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args if not a.startswith("-")), "")
    warehouse = os.environ.get("LAIP_WAREHOUSE")
    if command not in WRITING_COMMANDS or not warehouse:
        return _run(args)
    try:
        wait_s = load_settings().writer_wait_seconds  # laip.yaml (LAIP_WRITER_WAIT_SECONDS wins), like every writer
        with warehouse_writer(Path(warehouse), f"dbt {command} (laip-dbt)", wait_s):
            return _run(args)
    except WriterBusy as exc:
        print(str(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

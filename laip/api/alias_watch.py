"""The API follows the champion alias: a promotion is served without a restart.

Every ``api.champion_check_seconds`` (laip.yaml; env ``LAIP_API_CHAMPION_CHECK_SECONDS``; 0 = off) each worker
asks the registry which version carries the alias (one query, in a thread: requests are not held up) and, when it
is not the version served, loads it exactly like ``POST /model/reload`` (under the same lock; the previous
champion keeps answering until the new one is ready). A version that fails to load (untrusted, unreadable) is not
tried again until the alias moves on; ``GET /model`` says which version is served, when the alias was last checked
and any load error.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime

from fastapi import FastAPI

from laip.api.routes import load_into
from laip.api.state import ApiState
from laip.config import Settings
from laip.ml.config import load_ml_config
from laip.ml.registry import champion_version_number

log = logging.getLogger(__name__)

DEFAULT_CHECK_SECONDS = 15.0


def check_interval(settings: Settings) -> float:
    """Seconds between two alias checks (0 = the API never checks; ``POST /model/reload`` still works)."""
    env = os.environ.get("LAIP_API_CHAMPION_CHECK_SECONDS")
    value = env if env else (settings.raw.get("api", {}) or {}).get("champion_check_seconds", DEFAULT_CHECK_SECONDS)
    return max(0.0, float(value))


async def check_once(app: FastAPI, state: ApiState) -> bool:
    """Reload when the alias points at another version than the one served; True when a new version is served."""
    config = load_ml_config(state.settings)
    target = await asyncio.to_thread(champion_version_number, state.settings, config)
    state.alias_checked_at = datetime.now(UTC)
    served = state.champion.model_version if state.champion else None
    if target is None or target == served or target == state.failed_version:
        return False
    async with state.reload_lock:
        ok = await asyncio.to_thread(load_into, app, state)
    served_now = state.champion.model_version if state.champion else None
    if ok and served_now == target:
        log.info("champion alias moved: now serving version %s (was %s)", target, served)
        return True
    state.failed_version = target
    log.warning("champion alias points at version %s, which could not be loaded: %s", target, state.load_error)
    return False


async def follow_alias(app: FastAPI, state: ApiState, interval: float) -> None:
    """Check the alias every ``interval`` seconds until cancelled (app shutdown)."""
    while True:
        await asyncio.sleep(interval)
        try:
            await check_once(app, state)
        except Exception as exc:  # the registry unreachable for a moment: keep serving, try again later
            log.warning("champion alias check failed: %s", str(exc).splitlines()[0] if str(exc) else exc)

"""The API follows the champion alias: a promotion is served without a restart.

Every ``api.champion_check_seconds`` (laip.yaml; env ``LAIP_API_CHAMPION_CHECK_SECONDS``; 0 = off) each worker asks
the registry which version carries each checkpoint's alias (one query per checkpoint, in a thread: requests are not
held up) and, when it is not the version served, loads that checkpoint's like ``POST /model/reload`` (under the same
lock; the previous champion keeps answering until the new one is ready). A version that fails to load (untrusted,
unreadable) is not tried again until the alias moves on; ``GET /model`` says which version is served, when the alias
was last checked and any load error.
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


def alias_versions(settings: Settings) -> dict[int, int | None]:
    """The version each checkpoint's champion alias points at now (one registry query per checkpoint)."""
    config = load_ml_config(settings)
    return {day: champion_version_number(settings, config.at_checkpoint(day)) for day in config.checkpoints}


async def check_once(app: FastAPI, state: ApiState) -> bool:
    """Reload the checkpoints whose alias points at another version than the one served (the others are kept as
    they are); True when a new version is served."""
    targets = await asyncio.to_thread(alias_versions, state.settings)
    state.alias_checked_at = datetime.now(UTC)
    served = {day: ch.model_version for day, ch in state.champions.items()}
    moved = {
        day: v
        for day, v in targets.items()
        if v is not None and v != served.get(day) and v != state.failed_versions.get(day)
    }
    if not moved:
        return False
    async with state.reload_lock:  # the other checkpoints keep what they had (a failed version is not retried)
        await asyncio.to_thread(load_into, app, state, set(targets) - set(moved))
    now = {day: ch.model_version for day, ch in state.champions.items()}
    for day, target in moved.items():
        if now.get(day) == target:
            log.info("day-%s champion alias moved: now serving version %s (was %s)", day, target, served.get(day))
        else:
            state.failed_versions[day] = target
            served_now = state.served
            is_default = served_now is not None and day == served_now.default_day
            reason = state.load_error if is_default or served_now is None else served_now.unavailable.get(day)
            log.warning(
                "day-%s champion alias points at version %s, which could not be loaded: %s", day, target, reason
            )
    return any(now.get(day) == target for day, target in moved.items())


async def follow_alias(app: FastAPI, state: ApiState, interval: float) -> None:
    """Check the alias every ``interval`` seconds until cancelled (app shutdown)."""
    while True:
        await asyncio.sleep(interval)
        try:
            await check_once(app, state)
        except Exception as exc:  # the registry unreachable for a moment: keep serving, try again later
            log.warning("champion alias check failed: %s", str(exc).splitlines()[0] if str(exc) else exc)

"""Background jobs of the bot process; each is safe to run in several processes at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot import services
from bot.deps import Deps

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = 3600.0


async def housekeeping(deps: Deps) -> None:
    """Forget dedupe records past Slack's retry window (idempotent, so any process may run it)."""
    removed = await services.prune_dedupe(deps.ctx)
    if removed:
        log.info("pruned %d old dedupe records", removed)


def start_background(deps: Deps) -> list[asyncio.Task[None]]:
    """Start the periodic jobs; the caller cancels the tasks at shutdown."""
    return [asyncio.create_task(_every(HOUSEKEEPING_EVERY, lambda: housekeeping(deps)))]


async def _every(seconds: float, job: Callable[[], Awaitable[None]]) -> None:
    while True:
        try:
            await job()
        except Exception:  # a failed run must not stop the next one
            log.exception("background job failed; will retry")
        await asyncio.sleep(seconds)

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


async def resync_stale_cards(deps: Deps) -> None:
    """Bring up to date the copies a previous run could not update (Slack down, or a crash
    between a change and its card update). The card syncer serialises per deal, so this is
    harmless next to live traffic."""
    for deal_id in await services.deals_with_stale_copies(deps.ctx):
        await deps.cards.sync(deal_id)


def start_background(deps: Deps) -> list[asyncio.Task[None]]:
    """Start the background jobs; the caller cancels the tasks at shutdown."""
    return [
        asyncio.create_task(resync_stale_cards(deps)),
        asyncio.create_task(_every(HOUSEKEEPING_EVERY, lambda: housekeeping(deps))),
    ]


async def _every(seconds: float, job: Callable[[], Awaitable[None]]) -> None:
    while True:
        try:
            await job()
        except Exception:  # a failed run must not stop the next one
            log.exception("background job failed; will retry")
        await asyncio.sleep(seconds)

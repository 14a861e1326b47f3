"""Republish App Home tabs when a deal their owner belongs to changes, coalesced per user."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

log = logging.getLogger(__name__)

# publish(user id, notice): the notice is the answer to an admin's change of settings
Publisher = Callable[[str, str | None], Awaitable[None]]


class HomeRefresher:
    """A burst of changes republishes each affected Home tab once, after a short delay."""

    def __init__(self, publish: Publisher, *, delay: float = 1.0) -> None:
        self._publish = publish
        self.delay = delay
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def refresh(self, user_ids: Iterable[str]) -> None:
        for user_id in user_ids:
            if user_id not in self._pending:
                task = asyncio.create_task(self._later(user_id))
                self._pending[user_id] = task
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _later(self, user_id: str) -> None:
        try:
            await asyncio.sleep(self.delay)
        finally:
            # Changes from now on schedule a new publish, which will read them.
            self._pending.pop(user_id, None)
        try:
            await self._publish(user_id, None)
        except Exception:  # a Home tab is best effort: the next change or open redraws it
            log.exception("could not republish the Home tab of %s", user_id)

    async def publish_now(self, user_id: str, notice: str | None = None) -> None:
        """Draw one Home tab at once (the user just opened it, or changed a setting)."""
        await self._publish(user_id, notice)

    async def idle(self) -> None:
        while pending := list(self._tasks):
            await asyncio.gather(*pending, return_exceptions=True)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

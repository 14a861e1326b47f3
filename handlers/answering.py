"""Slack's 3-second rule, for every surface: answer in time, or hold and answer later.

Slack shows the user an error when a command or a modal submission is not acknowledged within
3 seconds, and then the work is usually done anyway. So a listener runs its work as a task and
gives it `ACK_BUDGET`; if the work is still busy (a deal under a burst of changes, a database
that another writer holds), the request is acknowledged with a holding note at once and the
real answer follows through `response_url` (commands) or an ephemeral (modals).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from blocks.replies import build_notice

ACK_BUDGET = 2.0
HOLDING_NOTE = "Working on it: this deal is busy right now. Your answer follows in a moment."


class CommandAnswer:
    """A slash command's one answer: the ack while it is still open, else a new ephemeral
    under the holding note (replacing a command's own ack is not something Slack promises)."""

    def __init__(self, ack: Any, respond: Any) -> None:
        self._ack, self._respond = ack, respond
        self.acked = False

    async def __call__(self, **message: Any) -> None:
        if not self.acked:
            self.acked = True  # set before the await: a holding note cannot slip in between
            await self._ack(**message)
        elif message:
            await self._respond(response_type="ephemeral", replace_original=False, **message)

    async def hold(self) -> None:
        if not self.acked:
            await self(**build_notice(HOLDING_NOTE))


async def within_budget(
    work: Awaitable[Any], on_late: Callable[[], Awaitable[None]], *, budget: float = ACK_BUDGET
) -> Any:
    """Run `work`; if it has not finished within `budget`, call `on_late` (the holding ack)
    and go on waiting. Returns the work's result or raises its error."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=budget)
    if not done:
        await on_late()
    return await task

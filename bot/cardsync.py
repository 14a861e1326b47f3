"""Keep every copy of a deal card identical: coalesced, serialised re-renders per deal."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from blocks.card import build_deal_card
from bot.services.cards import CardRender
from bot.slack import SlackGateway, UpdateResult

log = logging.getLogger(__name__)

Loader = Callable[[int], Awaitable[CardRender]]
Marker = Callable[[list[int], int], Awaitable[None]]


@dataclass
class _DealSync:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    requested: int = 0
    completed: int = 0


class CardSyncer:
    """`await sync(deal_id)` returns once every copy shows a state at least as new as the call.

    Passes for one deal run one at a time and each reads the latest state, so copies converge
    on the last version whatever order concurrent changes commit in; requests that arrive
    while a pass is waiting are served by the next single pass (coalescing a burst).
    """

    def __init__(
        self, gateway: SlackGateway, *, load: Loader, rendered: Marker, gone: Marker
    ) -> None:
        self.gateway = gateway
        self._load = load
        self._rendered = rendered
        self._gone = gone
        self._deals: dict[int, _DealSync] = {}

    async def sync(self, deal_id: int) -> None:
        state = self._deals.setdefault(deal_id, _DealSync())
        state.requested += 1
        ticket = state.requested
        try:
            async with state.lock:
                if state.completed >= ticket:
                    return
                target = state.requested
                await self._pass(deal_id)
                state.completed = target
        finally:
            if state.completed >= state.requested:
                self._deals.pop(deal_id, None)

    async def _pass(self, deal_id: int) -> None:
        render = await self._load(deal_id)
        messages = {
            internal: build_deal_card(render.internal if internal else render.shared)
            for internal in {t.internal for t in render.targets}
        }
        results = await asyncio.gather(
            *(self.gateway.update(t.channel_id, t.ts, messages[t.internal]) for t in render.targets)
        )
        pairs = list(zip(render.targets, results, strict=True))
        done = [t.copy_id for t, r in pairs if r is UpdateResult.OK]
        gone = [t.copy_id for t, r in pairs if r is UpdateResult.GONE]
        if done:
            await self._rendered(done, render.version)
        if gone:
            await self._gone(gone, render.version)

"""Keep every copy of a deal card identical: coalesced, serialised re-renders per deal, with
failed copies retried in the background until they converge."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from blocks.card import build_deal_card
from bot.adapters.slack import SlackGateway, UpdateResult
from bot.app.budget import BudgetTuning, UpdateBudget
from bot.app.deps import PROCESS_ID
from bot.services import cards, disclosures
from bot.services.common import Ctx
from bot.views.models import CardRender

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncTuning:
    """debounce: the least time between two passes over one deal's copies. A lone change goes
    out at once; during a burst each copy gets at most one update per `debounce` seconds, the
    last with the final state (Slack allows about one `chat.update` per message per second).
    retry_base / retry_cap: backoff (doubling, with jitter) for copies whose update failed."""

    debounce: float = 1.0
    retry_base: float = 2.0
    retry_cap: float = 600.0
    home_delay: float = 1.0  # App Home tabs: one republish per user per burst of changes
    # The workspace's chat.update budget (Slack's Tier 3), shared by every process.
    budget: BudgetTuning = field(default_factory=BudgetTuning)


@dataclass
class _DealSync:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    requested: int = 0
    completed: int = 0
    # Only the background re-sync asked: copies already at the deal's version are left alone.
    stale_only: bool = True


class CardSyncer:
    """`await sync(deal_id)` returns once every copy was sent a state at least as new as the call.

    Passes for one deal run one at a time and each reads the latest state, so copies converge
    on the last version whatever order concurrent changes commit in; requests that arrive
    while a pass is waiting are served by the next single pass (coalescing a burst).

    The storage side of a pass is one transaction to start it and one to end it
    (`bot.services.cards`): one process at a time updates a deal's copies (a lease in the
    database), so Slack gets each copy's updates in version order even with several PTM
    processes; a process that finds the lease taken hands its request to the holder, which
    passes once more before letting go.
    """

    def __init__(
        self,
        gateway: SlackGateway,
        ctx: Ctx,
        *,
        owner: str = PROCESS_ID,
        tuning: SyncTuning | None = None,
        homes: Callable[[tuple[str, ...]], None] | None = None,
        budget: UpdateBudget | None = None,
    ) -> None:
        self.gateway = gateway
        self.ctx = ctx
        self.owner = owner
        self.tuning = tuning or SyncTuning()
        # The workspace's chat.update budget, shared with other processes; None: unlimited.
        self.budget = budget
        self._changed: dict[int, float] = {}  # deal -> when a pass was last asked for it
        self._copies: dict[int, int] = {}  # deal -> how many copies its last pass updated
        # Told who has the deal in their App Home after each pass (their tab shows it too).
        self._homes = homes
        # Many workspaces: told the deal's people from other companies after each pass (their
        # own company's PTM refreshes their App Home, if it is our active partner).
        self.partner_homes: Callable[[tuple[tuple[str, str], ...]], Awaitable[None]] | None = None
        self._deals: dict[int, _DealSync] = {}
        self._retries: dict[int, asyncio.Task[None]] = {}
        self._last_pass: dict[int, float] = {}  # deal -> when its last pass ended (monotonic)

    async def sync(self, deal_id: int, *, stale_only: bool = False) -> bool:
        """Bring every copy up to date; False if some copy failed (a retry is then scheduled).
        `stale_only` (the background re-sync): only copies behind the deal's version are sent —
        a copy a pass brought up to date since the re-sync looked is not sent again."""
        state = self._deals.setdefault(deal_id, _DealSync())
        state.requested += 1
        state.stale_only = state.stale_only and stale_only
        self._changed[deal_id] = time.monotonic()  # its place in the budget's queue
        ticket = state.requested
        try:
            async with state.lock:
                if state.completed >= ticket:
                    return True
                wait = self._last_pass.get(deal_id, -math.inf) + self.tuning.debounce
                if wait > time.monotonic():  # a pass went out lately: this one gathers the rest
                    await asyncio.sleep(wait - time.monotonic())
                # Paid before reading the deal: a pass that waited for the budget sends the
                # state as it is when its turn comes, and serves every request made meanwhile.
                reserved = await self._reserve(deal_id, self._copies.get(deal_id, 1))
                target, stale_only = state.requested, state.stale_only
                state.stale_only = True  # for requests that come during this pass
                converged = await self._exclusive_pass(deal_id, reserved, stale_only)
                self._passed(deal_id)
                state.completed = target
        finally:
            if state.completed >= state.requested:
                self._deals.pop(deal_id, None)
        if not converged:
            self._schedule_retry(deal_id)
        return converged

    def _passed(self, deal_id: int) -> None:
        now = time.monotonic()
        self._last_pass[deal_id] = now
        if len(self._last_pass) > 10_000:  # forget deals that are quiet again
            quiet = now - self.tuning.debounce
            self._last_pass = {d: t for d, t in self._last_pass.items() if t > quiet}
            self._changed = {d: t for d, t in self._changed.items() if t > quiet}
            self._copies = {d: n for d, n in self._copies.items() if d in self._changed}

    async def _exclusive_pass(self, deal_id: int, reserved: int, stale_only: bool = False) -> bool:
        """A pass under the deal's lease. If another process holds it, its pass may have read
        the deal before the change this call must show: ask it for one more pass instead."""
        ctx, owner = self.ctx, self.owner
        while (render := await cards.start_card_pass(ctx, deal_id, owner)) is None:
            if await cards.hand_over_card_sync(ctx, deal_id):
                self._refund(reserved)
                return True
            # The lease ended between the two statements: try to take it again.
        try:
            while True:
                converged, done, gone = await self._send(render, reserved, stale_only)
                if await cards.end_card_pass(ctx, deal_id, owner, render.version, done, gone):
                    break
                # Asked for one more pass (another process's change): the lease is still
                # ours; each copy still gets at most one update per `debounce`.
                await asyncio.sleep(self.tuning.debounce)
                reserved = await self._reserve(deal_id, len(render.targets))
                next_render = await cards.start_card_pass(ctx, deal_id, owner)
                assert next_render is not None
                render = next_render
        except BaseException:
            await asyncio.shield(cards.release_card_sync(ctx, [deal_id], owner))
            raise
        if self._homes is not None and render.home_viewers:
            self._homes(render.home_viewers)
        if self.partner_homes is not None and render.partner_viewers:
            await self.partner_homes(render.partner_viewers)
        return converged

    async def _reserve(self, deal_id: int, copies: int) -> int:
        if self.budget is not None:
            await self.budget.acquire(copies, self._changed.get(deal_id, time.monotonic()))
        return copies

    def _refund(self, tokens: int) -> None:
        if self.budget is not None:
            self.budget.refund(tokens)

    async def _send(
        self, render: CardRender, reserved: int, stale_only: bool = False
    ) -> tuple[bool, list[int], list[int]]:
        """Update every copy; returns (all took it or are gone, copies updated, copies gone).
        What shared copies will show is in the disclosure ledger first."""
        self._copies[render.deal_id] = len(render.targets)
        if stale_only:
            render = replace(
                render, targets=tuple(t for t in render.targets if t.rendered < render.version)
            )
        copies = len(render.targets)
        if copies > reserved:
            await self._reserve(render.deal_id, copies - reserved)
        else:
            self._refund(reserved - copies)
        await disclosures.record_card_pass(self.ctx, render)
        # One message per audience: our own org, a guest, each partner company's policy.
        built: dict[int, dict[str, Any]] = {}
        messages = []
        for target in render.targets:
            view = render.view_for(target)
            if id(view) not in built:
                built[id(view)] = build_deal_card(view)
            messages.append(built[id(view)])
        results = await asyncio.gather(
            *(
                self.gateway.update(t.channel_id, t.ts, message)
                for t, message in zip(render.targets, messages, strict=True)
            )
        )
        pairs = list(zip(render.targets, results, strict=True))
        done = [t.copy_id for t, r in pairs if r is UpdateResult.OK]
        gone = [t.copy_id for t, r in pairs if r is UpdateResult.GONE]
        return all(r is not UpdateResult.FAILED for r in results), done, gone

    def _schedule_retry(self, deal_id: int) -> None:
        if deal_id in self._retries and not self._retries[deal_id].done():
            return
        self._retries[deal_id] = asyncio.create_task(self._retry(deal_id))

    async def _retry(self, deal_id: int) -> None:
        """Re-sync a deal whose copies failed, backing off, until every copy took the update."""
        delay = self.tuning.retry_base
        while True:
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            try:
                # A regular sync: serialised with live traffic; while this task runs, a failure
                # inside it schedules nothing new.
                if await self.sync(deal_id):
                    return
            except Exception:  # the database or Slack may be down: keep trying, slower
                log.exception("card re-sync of deal %s failed", deal_id)
            delay = min(delay * 2, self.tuning.retry_cap)

    async def close(self) -> None:
        """Stop background retries and wait until they have stopped (at shutdown; the next
        start re-syncs stale copies). Waiting matters: a retry cut off mid-transaction must
        let go of its database connection before the engine is disposed."""
        tasks = [t for t in self._retries.values() if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.budget is not None:
            await self.budget.close()

    async def idle(self) -> None:
        """Wait for scheduled retries (tests and shutdown)."""
        while pending := [t for t in self._retries.values() if not t.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

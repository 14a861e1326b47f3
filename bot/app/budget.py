"""One workspace's budget of `chat.update` calls (Slack's Tier 3: about 50 a minute sustained,
short bursts allowed), shared by every PTM process through the database (`store.budget`), and
spent on the most recently changed deals first.

However many deals change at once, card passes wait here for tokens; when tokens come, the
waiting pass whose deal changed last goes first, reading the deal's latest state then (a deal
that changed again while it waited sends one update, not two). Every copy still converges:
a waiting pass only waits.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

# Tokens the database grants for `want`, plus `extra` to keep while it has plenty.
Take = Callable[[int, int], Awaitable[int]]


@dataclass(frozen=True)
class BudgetTuning:
    rate: float = 50 / 60  # tokens per second, sustained
    burst: int = 20  # tokens the bucket holds at most
    prefetch: int = 3  # extra tokens a process takes while the bucket is over half full
    keep: float = 5.0  # seconds a process keeps unspent tokens (no hoarding for later bursts)


@dataclass(order=True)
class _Waiter:
    rank: tuple[float, int]  # (-priority, arrival): the highest priority, then the first
    need: int = field(compare=False)
    done: asyncio.Future[None] = field(compare=False)


class UpdateBudget:
    """`await acquire(n, priority)` returns once `n` updates may be sent; a higher priority (a
    later change, in monotonic seconds) is served first."""

    def __init__(self, take: Take, tuning: BudgetTuning | None = None) -> None:
        self._take = take
        self.tuning = tuning or BudgetTuning()
        self._pool = 0
        self._pool_since = 0.0
        self._waiters: list[_Waiter] = []
        self._order = itertools.count()
        self._drainer: asyncio.Task[None] | None = None

    async def acquire(self, n: int, priority: float) -> None:
        # More than the bucket can ever hold at once (a deal with very many copies): in turns.
        while n > self.tuning.burst:
            await self._acquire(self.tuning.burst, priority)
            n -= self.tuning.burst
        await self._acquire(n, priority)

    async def _acquire(self, n: int, priority: float) -> None:
        if n <= 0:
            return
        self._lapse()
        if not self._waiters and self._pool >= n:  # the common case: no wait, no query
            self._pool -= n
            return
        waiter = _Waiter(
            (-priority, next(self._order)), n, asyncio.get_running_loop().create_future()
        )
        self._waiters.append(waiter)
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        try:
            await asyncio.shield(waiter.done)
        except asyncio.CancelledError:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def refund(self, tokens: int) -> None:
        """Tokens reserved and not spent (a pass found fewer copies than it paid for)."""
        if tokens > 0:
            self._pool += tokens

    def _lapse(self) -> None:
        """Spare tokens (no one waiting for them) are not kept long: a process must not save
        them up and spend them on top of a fresh burst."""
        if (
            self._pool
            and not self._waiters
            and time.monotonic() - self._pool_since > self.tuning.keep
        ):
            self._pool = 0

    async def _drain(self) -> None:
        """Serve waiters, the highest priority first, taking grants from the database; when
        the bucket is empty, wait for about one token's refill and ask again."""
        while self._waiters:
            waiter = min(self._waiters)
            if self._pool < waiter.need:
                got = await self._take(waiter.need - self._pool, self.tuning.prefetch)
                if got:
                    self._pool_since = time.monotonic()
                    self._pool += got
                if self._pool < waiter.need:
                    await asyncio.sleep(1.0 / self.tuning.rate)
                    continue
            waiter = min(self._waiters)  # a newer change may have come meanwhile
            if self._pool < waiter.need:
                continue
            self._pool -= waiter.need
            self._waiters.remove(waiter)
            if not waiter.done.done():
                waiter.done.set_result(None)

    async def close(self) -> None:
        if self._drainer is not None and not self._drainer.done():
            self._drainer.cancel()
            await asyncio.gather(self._drainer, return_exceptions=True)

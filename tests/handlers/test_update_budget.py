"""The workspace's `chat.update` budget (Slack's Tier 3): however many deals change at once,
card updates stay within the budget's rate and burst, the most recently changed deals go
first, and every copy converges; processes share one budget through the database."""

from __future__ import annotations

import asyncio
import time

from bot.app.budget import BudgetTuning, UpdateBudget
from bot.app.cardsync import SyncTuning
from bot.app.deps import SystemClock
from bot.services.cards import take_update_tokens
from tests.fakes.slack_api import FakeSlack
from tests.support.cards import card_stage
from tests.support.harness import TEST_TUNING, start_bot

TIGHT = BudgetTuning(rate=5.0, burst=3, prefetch=0)
DEALS = 8


def most_in_a_window(times: list[float], window: float) -> int:
    """The most calls within any `window` seconds."""
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t - start <= window) for i, start in enumerate(times))


async def test_many_deals_at_once_stay_within_the_budget_most_recent_first(
    fake_slack: FakeSlack, db_url: str
) -> None:
    tuning = SyncTuning(debounce=TEST_TUNING.debounce, retry_base=0.05, retry_cap=0.2, budget=TIGHT)
    bot = await start_bot(fake_slack, db_url, clock=SystemClock(), tuning=tuning)  # type: ignore[arg-type]
    try:
        for n in range(1, DEALS + 1):
            await bot.slack.command(f"new Deal {n}", channel=f"CROOM{n}")
        cards = dict(bot.posted_cards())
        assert len(cards) == DEALS
        # The workspace spent its burst on something else a moment ago.
        await take_update_tokens(bot.runtime.deps.ctx, TIGHT.burst, 0, rate=TIGHT.rate,
                                 burst=TIGHT.burst)  # fmt: skip
        bot.fake.calls.clear()

        async def move(n: int) -> None:
            await asyncio.sleep(0.02 * n)  # deal n changes after deal n - 1
            await bot.slack.command(f"stage PTM-{n} Validate", channel=f"CROOM{n}")

        started = time.monotonic()
        await asyncio.gather(*(move(n) for n in range(1, DEALS + 1)))
        took = time.monotonic() - started
        updates = bot.fake.of_calls("chat.update")
        # Every copy converged on its deal's change.
        assert len(updates) == DEALS
        for channel, ts in cards.items():
            assert card_stage(bot.card(channel, ts)) == "Validate", channel
        # Within the budget: an empty bucket refills 5 a second, and nothing more went out.
        assert most_in_a_window([c.at for c in updates], 1.0) <= TIGHT.rate + 1
        assert took >= (DEALS - 1) / TIGHT.rate * 0.8
        # The first change waited for the first token; by then the others had come: they
        # went out most recently changed first.
        changed = dict(await bot.rows("SELECT number, updated_at FROM deals"))
        order = [changed[int(c.payload["channel"].removeprefix("CROOM"))] for c in updates]
        assert order[1:] == sorted(order[1:], reverse=True), order
    finally:
        await bot.stop()


async def test_processes_share_one_budget(fake_slack: FakeSlack, db_url: str) -> None:
    """Two processes' budgets (each its own pool and queue) over one database: together they
    get no more than the bucket's burst plus its rate."""
    bot = await start_bot(fake_slack, db_url, clock=SystemClock())  # type: ignore[arg-type]
    tuning = BudgetTuning(rate=10.0, burst=4, prefetch=2)
    ctx = bot.runtime.deps.ctx

    async def take(want: int, extra: int) -> int:
        return await take_update_tokens(ctx, want, extra, rate=tuning.rate, burst=tuning.burst)

    processes = [UpdateBudget(take, tuning), UpdateBudget(take, tuning)]
    granted: list[float] = []

    async def spend(budget: UpdateBudget) -> None:
        for _ in range(8):
            await budget.acquire(1, priority=time.monotonic())
            granted.append(time.monotonic())

    try:
        started = time.monotonic()
        await asyncio.gather(*(spend(p) for p in processes))
        took = time.monotonic() - started
        # 16 updates from a bucket of 4 refilled at 10 a second: at least 1.2 s, whoever asks.
        assert took >= (16 - tuning.burst) / tuning.rate * 0.9, took
        for window in (0.5, 1.0):
            assert most_in_a_window(granted, window) <= tuning.burst + tuning.rate * window + 1
    finally:
        for budget in processes:
            await budget.close()
        await bot.stop()


async def test_the_background_resync_sends_only_copies_still_behind(
    fake_slack: FakeSlack, db_url: str
) -> None:
    """A copy that a pass brought up to date since the re-sync looked costs no second update
    (the workspace's budget is spent once per copy and version)."""
    from bot.app.scheduling import resync_stale_cards

    bot = await start_bot(fake_slack, db_url)
    try:
        await bot.slack.command("new Acme")
        await bot.slack.command("card PTM-1", channel="COTHER")
        await bot.slack.command("stage Discover")
        # One copy missed the change (Slack was down for it, say); the other has it.
        await bot.write("UPDATE card_copies SET rendered_version = 1 WHERE channel_id = 'COTHER'")
        bot.fake.calls.clear()
        await resync_stale_cards(bot.runtime.deps)
        assert [c.payload["channel"] for c in bot.fake.of_calls("chat.update")] == ["COTHER"]
        # Nothing is behind any more: the next re-sync sends nothing.
        bot.fake.calls.clear()
        await resync_stale_cards(bot.runtime.deps)
        assert not bot.fake.of_calls("chat.update")
    finally:
        await bot.stop()

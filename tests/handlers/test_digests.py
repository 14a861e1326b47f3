"""Daily digests end to end: due in each person's time zone, sent once, never twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.app.scheduling import run_digests
from tests.fakes.clock import FixedClock
from tests.fakes.slack_api import FakeSlack
from tests.support.harness import RunningBot, start_bot

# 06:30 UTC: 07:30 in Paris (not due at 8), 15:30 in Tokyo (due).
EARLY = datetime(2026, 11, 24, 6, 30, tzinfo=UTC)


def dms(fake: FakeSlack, user: str) -> list[dict[str, Any]]:
    return [p for p in fake.of("chat.postMessage") if p["channel"] == user]


async def setup_deal(bot: RunningBot) -> None:
    bot.fake.users.update({"USELLER": "T0URS", "UALLY": "T0URS", "UPARTNER": "TPARTNER"})
    await bot.slack.command("new Acme expansion")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    await bot.slack.command("next send the pricing for <@USELLER> by 2026-11-30")


@pytest.fixture
async def early_bot(fake_slack: FakeSlack, sqlite_url: str) -> AsyncIterator[RunningBot]:
    fake_slack.timezones = {"USELLER": "Europe/Paris", "UALLY": "Asia/Tokyo"}
    running = await start_bot(fake_slack, sqlite_url, clock=FixedClock(EARLY))
    await setup_deal(running)
    yield running
    await running.stop()


async def test_each_person_gets_one_digest_at_their_local_hour(early_bot: RunningBot) -> None:
    bot = early_bot
    report = await run_digests(bot.runtime.deps)
    # Tokyo is past 8:00, Paris is not; the partner rep never gets a DM.
    assert report.sent == ["UALLY"]
    [ally] = dms(bot.fake, "UALLY")
    assert "Waiting on others" in ally["text"] or "Waiting on others" in str(ally["blocks"])
    assert "send the pricing" in str(ally["blocks"]) and "<@USELLER>" in str(ally["blocks"])
    assert "Seller activation on your deals*: *100%* — 1 of 1 seller on open" in str(ally["blocks"])
    assert dms(bot.fake, "USELLER") == [] and dms(bot.fake, "UPARTNER") == []

    bot.clock.advance(hours=1)  # 08:30 in Paris
    report = await run_digests(bot.runtime.deps)
    assert report.sent == ["USELLER"]
    assert "Your moves" in str(dms(bot.fake, "USELLER")[0]["blocks"])
    for _ in range(3):  # later ticks the same day send nothing more
        bot.clock.advance(hours=3)
        assert (await run_digests(bot.runtime.deps)).sent == []
    assert len(dms(bot.fake, "UALLY")) == 1 and len(dms(bot.fake, "USELLER")) == 1


async def test_next_day_brings_changes_and_an_empty_day_sends_nothing(
    early_bot: RunningBot,
) -> None:
    bot = early_bot
    bot.clock.advance(hours=2)
    await run_digests(bot.runtime.deps)
    bot.clock.advance(hours=1)
    await bot.slack.command("stage negotiate", user="UALLY")
    bot.clock.advance(days=1)
    await run_digests(bot.runtime.deps)
    [_, second] = dms(bot.fake, "USELLER")
    assert "Changed since your last digest" in str(second["blocks"]) and "stage" in str(
        second["blocks"]
    )
    await bot.slack.command("done")  # nothing left to say to anyone
    bot.clock.advance(days=1)
    report = await run_digests(bot.runtime.deps)
    assert "USELLER" in report.empty or "USELLER" in report.sent
    # The seller's own "done" is not news to them, and they own no step any more.
    assert len(dms(bot.fake, "USELLER")) == 2
    assert await bot.rows(
        "SELECT status FROM digest_runs WHERE user_id='USELLER' ORDER BY day"
    ) == [("sent",), ("sent",), ("empty",)]


async def test_crash_between_choosing_and_sending(early_bot: RunningBot) -> None:
    bot = early_bot
    bot.clock.advance(hours=2)
    deps = bot.runtime.deps
    from bot import services

    # A process chose the digests and took the claim, then died before sending.
    await services.plan_digests(deps.ctx, hour=8)
    async with deps.ctx.uow() as uow:
        runs = await uow.digests.runs_to_send(bot.clock.now())
        for user, day in runs:
            assert await uow.digests.claim(
                user,
                day,
                owner="dead-process",
                now=bot.clock.now(),
                lease_until=bot.clock.now() + timedelta(minutes=5),
            )
        await uow.commit()
    assert (await run_digests(deps)).sent == []  # its lease still holds
    bot.clock.advance(minutes=6)
    report = await run_digests(deps)  # the restarted process picks the unsent ones up
    assert sorted(report.sent) == ["UALLY", "USELLER"]
    bot.clock.advance(minutes=10)
    assert (await run_digests(deps)).sent == []  # and a sent one is never sent again
    assert len(dms(bot.fake, "USELLER")) == 1


async def test_pause_and_resume_from_the_digest(early_bot: RunningBot) -> None:
    bot = early_bot
    bot.clock.advance(hours=2)
    await run_digests(bot.runtime.deps)
    [digest] = dms(bot.fake, "USELLER")
    status, _ = await bot.slack.click(
        digest, "ptm_digest_pause", channel="USELLER", ts="1700000000.000009"
    )
    assert status == 200
    assert await bot.rows("SELECT digests_paused FROM user_prefs WHERE user_id='USELLER'") == [
        (True,)
    ]
    assert "Resume digests" in str(dms(bot.fake, "USELLER")[-1]["blocks"])
    bot.clock.advance(days=1)
    report = await run_digests(bot.runtime.deps)
    assert "USELLER" not in report.sent
    notice = dms(bot.fake, "USELLER")[-1]
    await bot.slack.click(notice, "ptm_digest_resume", channel="USELLER", ts="1700000000.000010")
    bot.clock.advance(days=1)
    assert "USELLER" in (await run_digests(bot.runtime.deps)).sent


async def test_ptm_digest_command(early_bot: RunningBot) -> None:
    bot = early_bot
    _, body = await bot.slack.command("digest")
    assert "on its way" in body["text"]
    assert len(dms(bot.fake, "USELLER")) == 1
    _, body = await bot.slack.command("digest")
    assert "already got today's digest" in body["text"] and "send the pricing" in body["text"]
    bot.clock.advance(hours=2)  # the scheduled run of the same day sends nothing more
    await run_digests(bot.runtime.deps)
    assert len(dms(bot.fake, "USELLER")) == 1
    _, body = await bot.slack.command("digest", user="UNOBODY")
    assert "Nothing to report" in body["text"]


async def test_two_schedulers_at_once_send_one_digest_each(
    fake_slack: FakeSlack, db_url: str
) -> None:
    fake_slack.timezones = {"USELLER": "Europe/Paris", "UALLY": "Asia/Tokyo"}
    clock = FixedClock(EARLY + timedelta(hours=2))
    one = await start_bot(fake_slack, db_url, clock=clock)
    two = await start_bot(fake_slack, db_url, clock=clock)
    try:
        await setup_deal(one)
        reports = await asyncio.gather(*(run_digests(b.runtime.deps) for b in [one, two] * 3))
        sent = sorted(u for r in reports for u in r.sent)
        assert sent == ["UALLY", "USELLER"]
        assert len(dms(fake_slack, "USELLER")) == 1 and len(dms(fake_slack, "UALLY")) == 1
    finally:
        await one.stop()
        await two.stop()


async def test_partner_rep_gets_one_deal_room_nudge_a_day(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    bot = await start_bot(fake_slack, sqlite_url, clock=FixedClock(EARLY + timedelta(hours=2)))
    try:
        fake_slack.shared_channels.add("CSHARED")
        await bot.slack.command("new Acme expansion")
        await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
        await bot.slack.command("card PTM-1", channel="CSHARED")
        await bot.slack.command("next send the security questionnaire for partner by 2026-11-24")
        await run_digests(bot.runtime.deps)
        nudges = [p for p in fake_slack.of("chat.postMessage") if p.get("thread_ts")]
        [nudge] = nudges
        shared_ts = next(ts for ch, ts in bot.posted_cards() if ch == "CSHARED")
        assert (nudge["channel"], nudge["thread_ts"]) == ("CSHARED", shared_ts)
        assert nudge["text"].startswith("<@UPARTNER> your next step on *PTM-1*")
        assert "<@USELLER>" not in nudge["text"] and "<@UALLY>" not in nudge["text"]
        assert dms(fake_slack, "UPARTNER") == []
        # The disclosure ledger: what the reply told the partner's company.
        assert await bot.rows(
            "SELECT field, surface, receiving_team FROM disclosures WHERE surface = 'reply'"
        ) == [("next_step", "reply", "TPARTNER")]
        bot.clock.advance(hours=4)
        await run_digests(bot.runtime.deps)  # same day: no second nudge
        bot.clock.advance(days=1)
        await run_digests(bot.runtime.deps)
        nudges = [p for p in fake_slack.of("chat.postMessage") if p.get("thread_ts")]
        assert len(nudges) == 2 and ":warning: *overdue*" in nudges[-1]["text"]
        # Once the step is theirs no more, the nudges stop.
        await bot.slack.command("next draft the proposal for seller")
        bot.clock.advance(days=1)
        await run_digests(bot.runtime.deps)
        assert len([p for p in fake_slack.of("chat.postMessage") if p.get("thread_ts")]) == 2
    finally:
        await bot.stop()


async def test_app_home_shows_the_live_picture_and_follows_changes(early_bot: RunningBot) -> None:
    bot = early_bot
    status, _ = await bot.slack.event(
        {
            "type": "app_home_opened",
            "user": "UALLY",
            "channel": "DALLY",
            "tab": "home",
            "event_ts": "1.1",
        },
        event_id="EvHome",
    )
    assert status == 200
    [published] = bot.fake.of("views.publish")
    assert published["user_id"] == "UALLY"
    home = str(published["view"]["blocks"])
    assert "Waiting on others* (1)" in home and "send the pricing" in home
    assert "*Seller activation*" in home and "Weekly since" in home
    # A burst of changes to a deal of theirs republishes their Home once.
    for stage in ("discover", "validate", "propose"):
        await bot.slack.command(f"stage {stage}")
    await bot.runtime.deps.homes.idle()
    assert bot.fake.count("views.publish") == 2
    # Someone who never opened the Home tab is not published to.
    assert {p["user_id"] for p in bot.fake.of("views.publish")} == {"UALLY"}


async def test_rate_limited_digest_is_retried_not_dropped(early_bot: RunningBot) -> None:
    from tests.fakes.slack_api import Fault

    bot = early_bot
    bot.clock.advance(hours=2)
    # More 429s than the client's own retries absorb: the digest stays pending...
    bot.fake.fail("chat.postMessage", *[Fault(status=429, error="ratelimited", retry_after=0)] * 8)
    report = await run_digests(bot.runtime.deps)
    assert report.failed and not set(report.failed) & set(report.sent)
    assert await bot.rows("SELECT count(*) FROM digest_runs WHERE status = 'pending'") != [(0,)]
    # ...and goes out once its claim lapses, exactly once per person.
    bot.clock.advance(minutes=6)
    await run_digests(bot.runtime.deps)
    delivered = [channel for channel, _ts in bot.fake.messages if channel.startswith("U")]
    assert sorted(delivered) == ["UALLY", "USELLER"]


async def test_pacer_spaces_a_batch() -> None:
    import time as _time

    from bot.adapters.slack import Pacer

    pacer = Pacer(per_second=50)
    started = _time.monotonic()
    await asyncio.gather(*(pacer.wait() for _ in range(11)))
    assert _time.monotonic() - started >= 0.19  # ten intervals of 20 ms after the first


async def test_the_digest_counts_seller_activation_as_ptm_metrics_does(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    """One definition: UTC days, the 30 days up to today. USELLER last acted late on the 31st
    UTC day back — inside a rolling 30 × 24 h, outside the 30 days — and USELLER2 today."""
    import re

    from tests.handlers.test_metrics import metrics_answer

    fake_slack.users.update({"USELLER": "T0URS", "USELLER2": "T0URS", "UALLY": "T0URS"})
    fake_slack.timezones = {"UALLY": "Asia/Tokyo"}
    bot = await start_bot(
        fake_slack, sqlite_url, clock=FixedClock(datetime(2026, 10, 25, 23, 0, tzinfo=UTC))
    )
    try:
        await bot.slack.command("new Acme expansion", channel="CROOM1")
        await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>", channel="CROOM1")
        await bot.slack.command("next send the pricing by 2026-12-30", channel="CROOM1")
        bot.clock.at = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # 16:00 in Tokyo
        await bot.slack.command("new Initech", channel="CROOM2", user="USELLER2")
        await bot.slack.command(
            "trio <@USELLER2> <@UALLY> <@UPARTNER>", channel="CROOM2", user="USELLER2"
        )
        assert "UALLY" in (await run_digests(bot.runtime.deps)).sent
        [digest] = dms(bot.fake, "UALLY")
        figures = re.compile(r"Seller activation[^:]*\*: .*?\b(\d+) of (\d+)")
        said = figures.search(str(digest["blocks"]))
        shown = figures.search(await metrics_answer(bot, "UALLY"))
        assert said and shown
        assert said.groups() == shown.groups() == ("1", "2")
        assert "*50%* — 1 of 2 sellers on open deals" in str(digest["blocks"])
    finally:
        await bot.stop()


async def test_digests_are_composed_a_batch_of_people_at_a_time(early_bot: RunningBot) -> None:
    """A morning of many digests is composed in batches (memory does not grow with the whole
    day); each person's digest is the same whatever batch they fall in."""
    from bot.services.digests import compose_batches, compose_many

    deps = early_bot.runtime.deps
    assert deps is not None
    day = EARLY.date()
    runs = [(u, day) for u in ("UALLY", "USELLER", "UNOBODY")]
    batches = [(batch, views) async for batch, views in compose_batches(deps.ctx, runs, size=2)]
    assert [b for b, _ in batches] == [runs[:2], runs[2:]]
    whole = await compose_many(deps.ctx, runs)
    assert {u: v for _, views in batches for u, v in views.items()} == whole
    assert not whole["USELLER"].is_empty and whole["UNOBODY"].is_empty

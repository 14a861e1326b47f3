"""Concurrent changes: compare-and-swap, re-application on fresh state, copies converge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.fakes.slack_api import FakeSlack
from tests.support.cards import card_text, card_version
from tests.support.harness import RunningBot, start_bot


@pytest.fixture
async def any_db_bot(fake_slack: FakeSlack, db_url: str) -> AsyncIterator[RunningBot]:
    running = await start_bot(fake_slack, db_url)
    yield running
    await running.stop()


async def test_twenty_concurrent_next_steps(any_db_bot: RunningBot) -> None:
    bot = any_db_bot
    await bot.slack.command("new Acme expansion")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    await bot.slack.command("card PTM-1", channel="CSHARED")
    [(version_before,)] = await bot.rows("SELECT version FROM deals")

    users = ["USELLER", "UALLY", "UPARTNER"]
    answers = await asyncio.gather(
        *(bot.slack.command(f"next step number {i}", user=users[i % 3]) for i in range(20))
    )
    assert all(status == 200 for status, _ in answers)
    texts = [body["text"] for _, body in answers]
    successes = [t for t in texts if t.startswith("Next step on PTM-1")]
    conflicts = [t for t in texts if "did not get in" in t]
    assert len(successes) + len(conflicts) == 20, texts
    assert successes

    [(version_after,)] = await bot.rows("SELECT version FROM deals")
    assert version_after - version_before == len(successes)
    assert await bot.rows("SELECT count(*) FROM next_steps WHERE status = 'open'") == [(1,)]
    events = await bot.rows(
        "SELECT version FROM deal_events WHERE CAST(changes AS TEXT) LIKE '%next_step%'"
    )
    assert sorted(v for (v,) in events) == list(range(version_before + 1, version_after + 1))

    copies = bot.posted_cards()
    assert len(copies) == 2
    shown = [bot.card(ch, ts) for ch, ts in copies]
    assert card_text(shown[0]) == card_text(shown[1])
    assert {card_version(m) for m in shown} == {version_after}
    [(open_text,)] = await bot.rows("SELECT text FROM next_steps WHERE status = 'open'")
    assert f"*Next step*: {open_text}" in card_text(shown[0])
    # Coalescing: far fewer updates than 2 copies x 20 changes would need one by one.
    assert bot.fake.count("chat.update") <= 2 * (len(successes) + 1)


async def test_concurrent_clicks_on_both_copies_converge(any_db_bot: RunningBot) -> None:
    bot = any_db_bot
    await bot.slack.command("new Acme expansion")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    await bot.slack.command("card PTM-1", channel="CSHARED")
    (c1, t1), (c2, t2) = bot.posted_cards()
    stages = ["Discover", "Validate", "Propose", "Negotiate"] * 3
    await asyncio.gather(
        *(
            bot.slack.click(
                bot.card(c, t),
                "ptm_card_stage",
                channel=c,
                ts=t,
                option=stage,
                user="USELLER" if i % 2 else "UPARTNER",
                user_team="T0URS" if i % 2 else "TPARTNER",
            )
            for i, (stage, (c, t)) in enumerate(zip(stages, [(c1, t1), (c2, t2)] * 6, strict=True))
        )
    )
    [(version, stage)] = await bot.rows("SELECT version, stage FROM deals")
    for channel, ts in ((c1, t1), (c2, t2)):
        assert card_version(bot.card(channel, ts)) == version
        assert f"*Stage*\n{stage}" in card_text(bot.card(channel, ts))

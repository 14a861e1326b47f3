"""Bad input gets a clear ephemeral answer saying what is accepted, and changes nothing."""

from __future__ import annotations

import pytest

from tests.support.harness import RunningBot


async def snapshot(bot: RunningBot) -> list[object]:
    return [
        await bot.rows("SELECT * FROM deals"),
        await bot.rows("SELECT * FROM next_steps"),
        await bot.rows("SELECT * FROM trio_members"),
        await bot.rows("SELECT count(*) FROM deal_events"),
        bot.fake.count("chat.update"),
        bot.fake.count("chat.postMessage"),
    ]


@pytest.fixture
async def deal(bot: RunningBot) -> RunningBot:
    await bot.slack.command("new Acme expansion")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    return bot


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "stage Prospecting",
            "is not a stage. Stages are: Qualify, Discover, Validate, Propose, "
            "Negotiate, Closed Won, Closed Lost",
        ),
        ("stage closed", "could be Closed Won or Closed Lost"),
        ("stage", "Which stage?"),
        ("next call them by 2026-13-45", "cannot read “2026-13-45” as a date. Use `YYYY-MM-DD`"),
        ("next call them by 2026-02-30", "cannot read “2026-02-30” as a date"),
        ("next call them by 12/01", "`tomorrow`, a weekday"),
        ("next call them by tomorow", "`in 3 days`, `in 2 weeks`"),
        ("next call them by 2020-01-01", "is in the past"),
        ("next", "The next step is empty"),
        ("next by 2026-12-01", "The next step is empty"),
        ("next " + "x" * 600, "the limit is 500"),
        ("next call for <@UNOBODY>", "is not in the trio of PTM-1"),
        ("trio @bob", "I could not read that trio"),
        ("trio manager <@UALLY>", "I could not read that trio"),
        ("frobnicate", "is not a PTM command"),
        ("done now", "was not expected here"),
    ],
)
async def test_bad_command_input(deal: RunningBot, text: str, expected: str) -> None:
    before = await snapshot(deal)
    status, body = await deal.slack.command(text)
    assert status == 200
    assert expected in body["text"], body["text"]
    assert await snapshot(deal) == before


async def test_unknown_deal_key_lists_callers_deals(deal: RunningBot) -> None:
    before = await snapshot(deal)
    _, body = await deal.slack.command("stage PTM-99 Propose", channel="CELSEWHERE")
    assert "There is no deal PTM-99. Your open deals: PTM-1 (Acme expansion)" in body["text"]
    assert await snapshot(deal) == before


async def test_no_deal_in_channel_lists_callers_deals(deal: RunningBot) -> None:
    _, body = await deal.slack.command("stage Propose", channel="CELSEWHERE")
    assert "This channel has no deal" in body["text"] and "PTM-1 (Acme expansion)" in body["text"]
    _, body = await deal.slack.command("next x", channel="CELSEWHERE", user="UNEWBIE")
    assert "Your open deals: none yet" in body["text"]


async def test_outsider_is_told_who_can_change(deal: RunningBot) -> None:
    before = await snapshot(deal)
    _, body = await deal.slack.command("stage Propose", user="UOUTSIDER")
    assert (
        "Only the trio of PTM-1 (seller <@USELLER>, alliance <@UALLY>, partner <@UPARTNER>)"
        in body["text"]
    )
    assert await snapshot(deal) == before


async def test_outsider_click_is_refused_ephemerally(deal: RunningBot) -> None:
    ts = deal.posted_cards()[0][1]
    before = await snapshot(deal)
    await deal.slack.click(
        deal.card("CROOM", ts),
        "ptm_card_stage",
        channel="CROOM",
        ts=ts,
        option="Propose",
        user="UOUTSIDER",
        user_team="TOTHER",
    )
    [ephemeral] = deal.fake.of("chat.postEphemeral")
    assert ephemeral["user"] == "UOUTSIDER" and "Only the trio of PTM-1" in ephemeral["text"]
    assert await snapshot(deal) == before


async def test_admin_may_change_any_deal(fake_slack, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    from tests.support.harness import start_bot

    bot = await start_bot(fake_slack, sqlite_url, PTM_ADMINS="UADMIN, UBOSS")
    try:
        await bot.slack.command("new Acme")
        await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
        _, body = await bot.slack.command("stage Propose", user="UBOSS")
        assert "moved to *Propose*" in body["text"]
    finally:
        await bot.stop()


async def test_hostile_text_cannot_forge_mentions_or_links(deal: RunningBot) -> None:
    hostile = "&lt;!channel&gt; &lt;@UALLY&gt; &lt;https://evil.example|click&gt; &amp; *bold*"
    _, body = await deal.slack.command(f"next {hostile}")
    ts = deal.posted_cards()[0][1]
    blocks = str(deal.card("CROOM", ts)["blocks"])
    assert "<!channel>" not in blocks and "<https://evil" not in blocks
    assert (
        "&lt;!channel&gt; &lt;@UALLY&gt; &lt;https://evil.example|click&gt; &amp; *bold*" in blocks
    )
    assert "<!channel>" not in body["text"]


async def test_long_name_is_cut_with_ellipsis(bot: RunningBot) -> None:
    _, body = await bot.slack.command("new " + "Enormous " * 22)
    assert "Created PTM-1" in body["text"]
    header = bot.fake.of("chat.postMessage")[0]["blocks"][0]["text"]["text"]
    assert header.endswith("…") and len(header) <= 150
    _, body = await bot.slack.command("new " + "y" * 201)
    assert "the limit is 200" in body["text"]


async def test_a_command_that_cannot_finish_in_time_is_acked_then_answered(
    bot: RunningBot, sqlite_url: str
) -> None:
    """Slack gives a command 3 seconds: if the deal is locked up longer, PTM acks with a
    holding note and sends the real answer through response_url."""
    import asyncio

    from tests.support.databases import sqlite_write_lock

    await bot.slack.command("new Acme expansion")
    async with sqlite_write_lock(sqlite_url):  # another writer holds the database
        command = asyncio.create_task(bot.slack.command("stage propose"))
        await asyncio.sleep(3.5)
    status, body = await command
    assert status == 200 and "Working on it" in body["text"]
    [answer] = bot.fake.of("response_url")
    assert "moved to *Propose*" in answer["text"] and answer["response_type"] == "ephemeral"
    assert await bot.rows("SELECT stage FROM deals") == [("Propose",)]

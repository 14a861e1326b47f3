"""Text PostgreSQL cannot store (a NUL byte, a lone surrogate, control characters) is refused with
a clear answer on every surface, on both databases, and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot import services
from tests.fakes.slack_api import BOT_USER, FakeSlack
from tests.support.harness import RunningBot, start_bot


@pytest.fixture
async def any_db_bot(fake_slack: FakeSlack, db_url: str) -> AsyncIterator[RunningBot]:
    running = await start_bot(fake_slack, db_url)
    await running.slack.command("new Acme expansion")
    await running.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    yield running
    await running.stop()


async def _state(bot: RunningBot) -> list[object]:
    return [
        await bot.rows("SELECT name, version, trigger_reason, internal_notes FROM deals"),
        await bot.rows("SELECT count(*) FROM outcomes"),
        await bot.rows("SELECT count(*) FROM next_steps"),
    ]


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\ud800"])
async def test_commands_modals_and_mentions_refuse_unstorable_text(
    any_db_bot: RunningBot, bad: str
) -> None:
    bot = any_db_bot
    before = await _state(bot)
    # A lone surrogate can only come inside JSON (modals, events): a form body is UTF-8.
    commands = (
        []
        if bad == "\ud800"
        else [
            f"new Globex{bad}renewal",
            f"next call{bad}them",
            f"log met{bad}them",
            f"trigger cloud{bad}migration",
            f"lost no{bad}budget",
            f"brief ask{bad}it",
        ]
    )
    for text in commands:
        status, body = await bot.slack.command(text)
        assert status == 200 and "cannot be stored" in body["text"], (text, body)
    # A modal...
    [(channel, ts)] = bot.posted_cards()
    await bot.slack.click(
        bot.card(channel, ts), "ptm_card_more", channel=channel, ts=ts, option="edit"
    )
    modal = bot.fake.of("views.open")[-1]["view"]
    status, body = await bot.slack.submit(
        modal, {"name": "Acme expansion", "internal_notes": f"margin{bad}floor"}
    )
    assert body["response_action"] == "errors"
    assert "cannot be stored" in body["errors"]["internal_notes"]
    # ...and a mention.
    event = {
        "type": "app_mention",
        "channel": "CROOM",
        "user": "UPARTNER",
        "text": f"<@{BOT_USER}> next: call{bad}them",
        "ts": "1700000100.000001",
        "user_team": "TPARTNER",
    }
    assert (await bot.slack.event(event, event_id="EvNul"))[0] == 200
    answer = bot.fake.of("chat.postMessage")[-1]
    assert "cannot be stored" in answer["text"]
    assert await _state(bot) == before


async def test_a_partner_map_row_with_a_nul_is_reported_the_others_import(
    any_db_bot: RunningBot,
) -> None:
    csv = (
        "name,industries,buyer_levels,competencies,geographies,contacts,slack_team_id\n"
        "Good One,healthcare,VP,data,EU,,\n"
        "Bad\x00One,healthcare,VP,data,EU,,\n"
        "Good Two,retail,CIO,ml,US,,\n"
    )
    report = await services.import_partners(any_db_bot.runtime.deps.ctx, csv)
    assert [r.line for r in report.rejected] == [3]
    assert "NUL" in report.rejected[0].reason
    assert sorted(await any_db_bot.rows("SELECT name FROM partners")) == [
        ("Good One",),
        ("Good Two",),
    ]

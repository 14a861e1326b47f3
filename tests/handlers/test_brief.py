"""The co-sell brief: posted under the card, shared fields only where the partner reads it."""

from __future__ import annotations

from tests.handlers.test_visibility import SECRET, deal_in_two_rooms, set_internal_fields
from tests.support.cards import card_text, card_version
from tests.support.harness import RunningBot


def briefs(bot: RunningBot) -> list[dict]:  # type: ignore[type-arg]
    return [p for p in bot.fake.of("chat.postMessage") if "Co-sell brief" in p.get("text", "")]


async def prepared(bot: RunningBot) -> tuple[str, str]:
    room, shared = await deal_in_two_rooms(bot)
    await set_internal_fields(bot, room)
    await bot.slack.command("trigger stuck at VP level in healthcare")
    await bot.slack.command("next book the joint call for <@UALLY> by 2026-12-01")
    return room, shared


async def test_brief_in_our_room_is_complete_and_marks_the_step(bot: RunningBot) -> None:
    room, _ = await prepared(bot)
    _, body = await bot.slack.command("brief intro to the CMO &lt;asap&gt;")
    assert "Posted the co-sell brief of PTM-1" in body["text"]
    [brief] = briefs(bot)
    assert brief["channel"] == "CROOM" and brief["thread_ts"] == room
    text = str(brief["blocks"])
    for part in (
        "stuck at VP level in healthcare",
        "intro to the CMO &lt;asap&gt;",
        "seller: <@USELLER>",
        "partner: <@UPARTNER>",
        "book the joint call",
        "due 2026-12-01",
        SECRET,
    ):
        assert part in text, part
    assert ":white_check_mark: brief" in card_text(bot.card("CROOM", room))


async def test_brief_where_the_partner_reads_holds_shared_fields_only(bot: RunningBot) -> None:
    _, shared = await prepared(bot)
    await bot.slack.click(
        bot.card("CSHARED", shared),
        "ptm_card_more",
        channel="CSHARED",
        ts=shared,
        option="brief",
        user="UPARTNER",
        user_team="TPARTNER",
    )
    [brief] = briefs(bot)
    assert brief["channel"] == "CSHARED" and brief["thread_ts"] == shared
    assert SECRET not in str(brief) and "Internal" not in str(brief)
    assert "stuck at VP level in healthcare" in str(brief["blocks"])
    assert ":white_check_mark: brief" in card_text(bot.card("CSHARED", shared))
    # Our own people posting in the shared channel get the shared version too.
    await bot.slack.command("brief PTM-1 the ask", channel="CSHARED")
    assert SECRET not in str(briefs(bot)[-1])


async def test_preview_shows_the_partner_version_and_changes_nothing(bot: RunningBot) -> None:
    room, _ = await prepared(bot)
    before = card_version(bot.card("CROOM", room))
    _, body = await bot.slack.command("brief preview intro to the CMO")
    assert "Preview: this is exactly what the partner's side will see" in str(body["blocks"])
    assert "intro to the CMO" in str(body["blocks"]) and SECRET not in str(body)
    assert briefs(bot) == []
    assert await bot.rows("SELECT version FROM deals") == [(before,)]

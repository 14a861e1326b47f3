"""Events API: deal-room messages count as activity, bounded in writes, whatever Slack retries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.support.harness import RunningBot


def message(
    bot: RunningBot, user: str, text: str = "hello", channel: str = "CROOM", **extra: Any
) -> dict[str, Any]:
    """A message event posted now (by the test clock)."""
    return {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": f"{bot.clock.now().timestamp():.6f}",
        "team": "T0URS",
        **extra,
    }


async def acted(bot: RunningBot, user: str) -> datetime | None:
    [(value,)] = await bot.rows("SELECT last_acted_at FROM trio_members WHERE user_id = :u", u=user)
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def test_trio_message_counts_as_activity_once_despite_retries(bot: RunningBot) -> None:
    await bot.slack.command("new Acme")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    bot.clock.advance(hours=5)
    event = message(bot, "UPARTNER", user_team="TPARTNER")
    status, _ = await bot.slack.event(event, event_id="Ev1")
    assert status == 200
    assert await acted(bot, "UPARTNER") == bot.clock.now()

    bot.clock.advance(hours=1)
    for retry in (1, 2, 3):
        status, _ = await bot.slack.event(event, event_id="Ev1", retry_num=retry)
        assert status == 200
    # Activity is the message's own time: a re-delivery an hour later changes nothing.
    assert await acted(bot, "UPARTNER") == bot.clock.now().replace(hour=bot.clock.now().hour - 1)
    # Plain messages leave no dedupe record behind, and activity is not a change of the deal.
    assert await bot.rows("SELECT count(*) FROM processed_events") == [(0,)]
    assert await bot.rows("SELECT version FROM deals") == [(2,)]


async def test_activity_writes_at_most_once_per_member_per_five_minutes(bot: RunningBot) -> None:
    await bot.slack.command("new Acme")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    first = bot.clock.now()
    await bot.slack.event(message(bot, "UALLY"), event_id="Ev1")
    assert await acted(bot, "UALLY") == first
    for i in range(2, 6):  # a chatty minute: no further writes
        bot.clock.advance(seconds=50)
        await bot.slack.event(message(bot, "UALLY", text=f"msg {i}"), event_id=f"Ev{i}")
    assert await acted(bot, "UALLY") == first
    bot.clock.advance(minutes=2)
    await bot.slack.event(message(bot, "UALLY", text="later"), event_id="Ev9")
    assert await acted(bot, "UALLY") == bot.clock.now()


async def test_bot_and_edited_messages_are_ignored(bot: RunningBot) -> None:
    await bot.slack.command("new Acme")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    before = await acted(bot, "USELLER")
    bot.clock.advance(hours=1)
    await bot.slack.event(message(bot, "USELLER", bot_id="BOTHER"), event_id="Ev2")
    await bot.slack.event(message(bot, "USELLER", subtype="message_changed"), event_id="Ev3")
    await bot.slack.event(message(bot, "UPTMBOT", text="<@UPTMBOT> done"), event_id="Ev4")
    assert await acted(bot, "USELLER") == before
    assert bot.fake.count("chat.postMessage") == 1  # only the card: no reply to bots


async def test_message_outside_a_deal_room_changes_nothing(bot: RunningBot) -> None:
    await bot.slack.command("new Acme")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    bot.clock.advance(hours=1)
    status, _ = await bot.slack.event(message(bot, "UPARTNER", channel="CRANDOM"), event_id="Ev4")
    assert status == 200
    assert await acted(bot, "UPARTNER") is None

"""Events API: messages in a deal room count as activity, once per event, whatever Slack retries."""

from __future__ import annotations

from tests.support.harness import RunningBot


def message(
    user: str, text: str = "hello", channel: str = "CROOM", **extra: object
) -> dict[str, object]:
    return {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": "1700000100.000100",
        "team": "T0URS",
        **extra,
    }


async def test_trio_message_counts_as_activity_once_despite_retries(bot: RunningBot) -> None:
    await bot.slack.command("new Acme")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    bot.clock.advance(hours=5)
    status, _ = await bot.slack.event(message("UPARTNER", user_team="TPARTNER"), event_id="Ev1")
    assert status == 200
    [(acted,)] = await bot.rows("SELECT last_acted_at FROM trio_members WHERE user_id = 'UPARTNER'")
    assert acted is not None and str(acted).startswith("2026-11-24 14:00")

    bot.clock.advance(hours=1)
    for retry in (1, 2, 3):
        status, _ = await bot.slack.event(message("UPARTNER"), event_id="Ev1", retry_num=retry)
        assert status == 200
    [(again,)] = await bot.rows("SELECT last_acted_at FROM trio_members WHERE user_id = 'UPARTNER'")
    assert again == acted
    assert await bot.rows("SELECT event_id FROM processed_events") == [("Ev1",)]
    # Activity is not a change of the deal: no new version, no card update.
    assert await bot.rows("SELECT version FROM deals") == [(2,)]


async def test_bot_and_edited_messages_are_ignored(bot: RunningBot) -> None:
    await bot.slack.command("new Acme")
    await bot.slack.event(message("UPTMBOT", bot_id="BPTM"), event_id="Ev2")
    await bot.slack.event(message("USELLER", subtype="message_changed"), event_id="Ev3")
    assert await bot.rows("SELECT count(*) FROM processed_events") == [(0,)]


async def test_message_outside_a_deal_room_changes_nothing(bot: RunningBot) -> None:
    status, _ = await bot.slack.event(message("USELLER", channel="CRANDOM"), event_id="Ev4")
    assert status == 200
    assert await bot.rows("SELECT count(*) FROM trio_members") == [(0,)]

"""Mentioning the bot works like a command, for partner reps who cannot use /ptm."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack_api import BOT_USER, Fault
from tests.support.cards import card_stage, card_text
from tests.support.harness import RunningBot, start_bot

PARTNER = {"user": "UPARTNER", "user_team": "TPARTNER"}


def mention(
    bot: RunningBot,
    text: str,
    *,
    user: str = "UPARTNER",
    channel: str = "CSHARED",
    kind: str = "app_mention",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": kind,
        "channel": channel,
        "user": user,
        "text": f"<@{BOT_USER}> {text}",
        "ts": f"{bot.clock.now().timestamp():.6f}",
        "team": "TPARTNER" if user == "UPARTNER" else "T0URS",
        "user_team": "TPARTNER" if user == "UPARTNER" else "T0URS",
        **extra,
    }


def replies(bot: RunningBot) -> list[dict[str, Any]]:
    return [p for p in bot.fake.of("chat.postMessage") if p.get("thread_ts")]


async def shared_room(bot: RunningBot) -> str:
    """PTM-1 whose deal room is a Slack Connect channel with the partner rep."""
    bot.fake.shared_channels.add("CSHARED")
    await bot.slack.command("new Acme expansion", channel="CSHARED")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>", channel="CSHARED")
    return bot.posted_cards()[0][1]


async def test_partner_sets_next_step_by_mention_and_gets_a_thread_answer(bot: RunningBot) -> None:
    card_ts = await shared_room(bot)
    event = mention(bot, "next: send the security questionnaire by 2026-12-01")
    status, _ = await bot.slack.event(event, event_id="Ev1")
    assert status == 200
    [reply] = replies(bot)
    assert reply["channel"] == "CSHARED" and reply["thread_ts"] == event["ts"]
    assert "send the security questionnaire" in reply["text"] and "2026-12-01" in reply["text"]
    text = card_text(bot.card("CSHARED", card_ts))
    assert "*Next step*: send the security questionnaire" in text
    [(source, team)] = await bot.rows(
        "SELECT source, actor_team FROM deal_events ORDER BY id DESC LIMIT 1"
    )
    assert (source, team) == ("message", "TPARTNER")


async def test_one_message_changes_the_deal_once_whatever_slack_delivers(bot: RunningBot) -> None:
    await shared_room(bot)
    [(before,)] = await bot.rows("SELECT version FROM deals")
    app_mention = mention(bot, "stage: Validate")
    as_message = {**app_mention, "type": "message"}
    # Slack sends the mention twice (app_mention + message) and retries each up to 3 times.
    await bot.slack.event(app_mention, event_id="EvA")
    await bot.slack.event(as_message, event_id="EvB")
    for retry in (1, 2, 3):
        await bot.slack.event(app_mention, event_id="EvA", retry_num=retry)
        await bot.slack.event(as_message, event_id="EvB", retry_num=retry)
    assert await bot.rows("SELECT version FROM deals") == [(before + 1,)]
    assert len(replies(bot)) == 1
    assert await bot.rows("SELECT count(*) FROM deal_events WHERE source = 'message'") == [(1,)]


async def test_the_dedupe_record_survives_a_restart(fake_slack, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    first = await start_bot(fake_slack, sqlite_url)
    await shared_room(first)
    event = mention(first, "next: book the joint call")
    await first.slack.event(event, event_id="EvR")
    await first.stop()
    second = await start_bot(fake_slack, sqlite_url, clock=first.clock)
    try:
        await second.slack.event(event, event_id="EvR", retry_num=3)
        assert await second.rows("SELECT count(*) FROM next_steps") == [(1,)]
        assert len(replies(second)) == 1
    finally:
        await second.stop()


async def test_stage_done_synced_and_help_by_mention(bot: RunningBot) -> None:
    card_ts = await shared_room(bot)
    await bot.slack.event(mention(bot, "stage validate"), event_id="E1")
    assert card_stage(bot.card("CSHARED", card_ts)) == "Validate"
    bot.clock.advance(seconds=1)
    await bot.slack.event(mention(bot, "next call the CISO"), event_id="E2")
    bot.clock.advance(seconds=1)
    await bot.slack.event(mention(bot, "done"), event_id="E3")
    assert await bot.rows("SELECT text, status, done_by FROM next_steps") == [
        ("call the CISO", "done", "UPARTNER")
    ]
    bot.clock.advance(seconds=1)
    await bot.slack.event(mention(bot, "synced"), event_id="E4")
    [(version,)] = await bot.rows("SELECT version FROM deals")
    assert await bot.rows("SELECT synced_version FROM trio_members WHERE role='partner'") == [
        (version,)
    ]
    assert "Partner: <@UPARTNER> (partner org) · :white_check_mark: synced" in card_text(
        bot.card("CSHARED", card_ts)
    )
    bot.clock.advance(seconds=1)
    await bot.slack.event(mention(bot, "help"), event_id="E5")
    assert "`next: &lt;text&gt;" in replies(bot)[-1]["text"]


async def test_mention_in_a_thread_is_answered_in_that_thread(bot: RunningBot) -> None:
    card_ts = await shared_room(bot)
    await bot.slack.event(mention(bot, "done", thread_ts=card_ts), event_id="E1")
    [reply] = replies(bot)
    assert reply["thread_ts"] == card_ts and "no open next step" in reply["text"]


async def test_bad_mentions_get_clear_answers_and_change_nothing(bot: RunningBot) -> None:
    await shared_room(bot)
    before = await bot.rows("SELECT version, stage FROM deals")
    cases = [
        ("stage: Prospecting", "UPARTNER", "CSHARED", "Stages are: Qualify, Discover"),
        ("next: call them by 2026-02-30", "UPARTNER", "CSHARED", "as a date. Use `YYYY-MM-DD`"),
        ("frobnicate", "UPARTNER", "CSHARED", "Mention me with one of"),
        ("stage: Propose", "USELLER", "CRANDOM", "This channel has no deal"),
    ]
    for i, (text, user, channel, expected) in enumerate(cases):
        bot.clock.advance(seconds=1)
        await bot.slack.event(mention(bot, text, user=user, channel=channel), event_id=f"E{i}")
        assert expected in replies(bot)[-1]["text"], text
    assert len(replies(bot)) == len(cases)
    # Someone outside the trio is told privately, and nothing changes.
    bot.clock.advance(seconds=1)
    await bot.slack.event(mention(bot, "stage: Propose", user="UOUTSIDER"), event_id="Eout")
    [whisper] = bot.fake.of("chat.postEphemeral")
    assert whisper["user"] == "UOUTSIDER" and "Only the trio of PTM-1" in whisper["text"]
    assert len(replies(bot)) == len(cases)
    # If Slack cannot whisper to them (another org), the answer goes in the thread instead.
    bot.fake.fail("chat.postEphemeral", Fault(error="user_not_in_channel"))
    bot.clock.advance(seconds=1)
    await bot.slack.event(mention(bot, "done", user="UOUTSIDER"), event_id="Eout2")
    assert "Only the trio of PTM-1" in replies(bot)[-1]["text"]
    assert await bot.rows("SELECT version, stage FROM deals") == before


async def test_mention_may_name_the_deal_anywhere_the_bot_is(bot: RunningBot) -> None:
    await shared_room(bot)
    await bot.slack.event(
        mention(bot, "stage: PTM-1 Propose", user="USELLER", channel="CGENERAL"), event_id="Ek"
    )
    assert "moved to *Propose*" in replies(bot)[-1]["text"]
    assert replies(bot)[-1]["channel"] == "CGENERAL"


async def test_old_dedupe_records_are_pruned(bot: RunningBot) -> None:
    from bot import services

    await shared_room(bot)
    await bot.slack.event(mention(bot, "synced"), event_id="E1")
    assert await bot.rows("SELECT count(*) FROM processed_events") == [(1,)]
    bot.clock.advance(hours=23)
    assert await services.prune_dedupe(bot.runtime.deps.ctx) == 0
    bot.clock.advance(hours=2)
    assert await services.prune_dedupe(bot.runtime.deps.ctx) == 1
    assert await bot.rows("SELECT count(*) FROM processed_events") == [(0,)]


async def test_questions_to_the_bot_get_the_deal_state_not_a_shrug(bot: RunningBot) -> None:
    await bot.slack.command("new Acme expansion")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    await bot.slack.command("next send the deck for partner by 2026-12-01")
    await bot.slack.event(
        mention(bot, "what is the status?", user="UPARTNER", channel="CROOM"), event_id="EQ1"
    )
    answer = replies(bot)[-1]["text"]
    assert "did not understand" not in answer
    assert "*PTM-1 Acme expansion* is at *Qualify*" in answer
    assert "send the deck — <@UPARTNER> (partner), due 2026-12-01" in answer
    assert "next:" in answer  # ...and what a mention can do


async def test_a_mention_taken_over_from_a_slow_process_is_applied_once(bot: RunningBot) -> None:
    """Process A took a mention, then stalled past its lease; B took it over and applied it.
    When A's change finally commits, it is refused whole: the mention changed the deal once."""
    import pytest

    from bot import services
    from bot.domain.model import Actor, MessageAlreadyApplied, Source, Stage
    from bot.services import Caller
    from store.uow import finishing

    await bot.slack.command("new Acme expansion")
    ctx = bot.runtime.deps.ctx
    key, payload = "msg:CROOM:1800000001.000001", "{}"
    assert await services.take_message(ctx, key, payload)  # A
    assert not await services.take_message(ctx, key, payload)  # not while A's lease holds
    bot.clock.advance(seconds=20)
    assert await services.take_message(ctx, key, payload)  # B, after A's lease lapsed
    [(deal_id, version)] = await bot.rows("SELECT id, version FROM deals")
    caller = Caller(Actor("USELLER", team_id="T0URS", internal=True), channel_id="CROOM")
    with finishing(key):  # B applies it
        await services.move_stage(ctx, caller, deal_id, Stage.VALIDATE, source=Source.MESSAGE)
    with finishing(key), pytest.raises(MessageAlreadyApplied):  # A, late
        await services.move_stage(ctx, caller, deal_id, Stage.PROPOSE, source=Source.MESSAGE)
    assert await bot.rows("SELECT stage, version FROM deals") == [("Validate", version + 1)]

"""Sweep every surface the bot produces in a shared-channel scenario for a planted marker."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.slack_api import Call
from tests.handlers.test_mentions import mention
from tests.handlers.test_visibility import deal_in_two_rooms, set_internal_fields, view
from tests.support.harness import RunningBot

MARKER = "ZZ-INTERNAL-7f3a9c"
PARTNER = {"user": "UPARTNER", "user_team": "TPARTNER"}


def partner_facing(bot: RunningBot, call: Call) -> bool:
    """Would the partner's org see what this call sends?"""
    p = call.payload
    if call.method in ("chat.postMessage", "chat.update", "chat.scheduleMessage"):
        return p.get("channel") == "CSHARED"
    if call.method == "chat.postEphemeral":
        return p.get("user") == "UPARTNER"
    if call.method in ("views.open", "views.push", "views.update"):
        return bot.slack.trigger_users.get(p.get("trigger_id", "")) == "UPARTNER"
    if call.method == "response_url":
        return False  # only our own /ptm users get response_url answers
    return call.method not in ("auth.test", "users.info", "conversations.info")


async def partner_session(bot: RunningBot, shared: str) -> None:
    """The partner rep uses every control of the shared copy, and our people change things too."""

    async def click(action: str, **kw: Any) -> None:
        status, _ = await bot.slack.click(
            bot.card("CSHARED", shared), action, channel="CSHARED", ts=shared, **kw
        )
        assert status == 200

    await click("ptm_card_stage", option="Validate", **PARTNER)
    await click("ptm_card_step_set", **PARTNER)
    await bot.slack.submit(
        view(bot), {"step_text": "security questionnaire", "step_owner": "partner"}, **PARTNER
    )
    await click("ptm_card_synced", **PARTNER)
    await click("ptm_card_step_done", **PARTNER)
    for option in ("find", "brief", "history", "internal", "edit"):
        await click("ptm_card_more", option=option, **PARTNER)
    await bot.slack.submit(
        view(bot), {"name": "Acme expansion", "account": "Acme AG", "currency": "USD"}, **PARTNER
    )
    # The partner rep's other path: mentioning the bot (answered in thread).
    for i, text in enumerate(
        [
            "next: send the SOW by 2026-12-03",
            "stage: Negotiate",
            "synced",
            "done",
            "help",
            "stage: nonsense",
        ]
    ):
        bot.clock.advance(seconds=1)
        event = mention(bot, text)
        status, _ = await bot.slack.event(event, event_id=f"EvSweep{i}")
        assert status == 200
    # Our own people act in the shared channel and elsewhere; every change re-renders the copy.
    await click("ptm_card_stage", option="Propose", user="USELLER")
    await bot.slack.command("next send pricing by 2026-12-01", channel="CSHARED")
    await bot.slack.command("card", channel="CSHARED")
    await bot.slack.command("stage negotiate")


async def test_marker_in_internal_fields_never_reaches_the_partner(bot: RunningBot) -> None:
    room, shared = await deal_in_two_rooms(bot)
    await set_internal_fields(bot, room, notes=f"floor price {MARKER}")
    await partner_session(bot, shared)

    facing = [c for c in bot.fake.calls if partner_facing(bot, c)]
    leaks = [c for c in facing if MARKER in json.dumps(c.payload)]
    assert not leaks, leaks
    # The sweep saw every kind of surface, and the marker really is in the internal copy.
    kinds = {c.method for c in facing}
    assert {"chat.update", "chat.postMessage", "chat.postEphemeral", "views.open"} <= kinds
    assert len([c for c in facing if c.payload.get("thread_ts")]) == 7  # 6 mention answers + brief
    assert len(facing) >= 20
    assert MARKER in json.dumps(bot.card("CROOM", room))
    assert "commit" in json.dumps(bot.card("CROOM", room))
    assert all("Forecast" not in json.dumps(c.payload) for c in facing)

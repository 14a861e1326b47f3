"""Internal-only fields never reach the partner's org, on any surface; our own people see them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.cards import card_text
from tests.support.harness import RunningBot

SECRET = "ZQ-MARGIN-FLOOR-17"


def view(bot: RunningBot) -> dict[str, Any]:
    return bot.fake.of("views.open")[-1]["view"]


def inputs(modal: dict[str, Any]) -> set[str]:
    return {b["block_id"] for b in modal["blocks"] if b["type"] == "input"}


async def deal_in_two_rooms(bot: RunningBot) -> tuple[str, str]:
    """PTM-1 with an internal room (CROOM) and a Slack Connect room (CSHARED)."""
    bot.fake.shared_channels.add("CSHARED")
    await bot.slack.command("new Acme expansion")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    await bot.slack.command("card PTM-1", channel="CSHARED")
    room = next(ts for ch, ts in bot.posted_cards() if ch == "CROOM")
    shared = next(ts for ch, ts in bot.posted_cards() if ch == "CSHARED")
    return room, shared


async def set_internal_fields(bot: RunningBot, room_ts: str, notes: str = SECRET) -> None:
    await bot.slack.click(
        bot.card("CROOM", room_ts), "ptm_card_more", channel="CROOM", ts=room_ts, option="edit"
    )
    modal = view(bot)
    assert {"internal_notes", "forecast_category"} <= inputs(modal)
    status, body = await bot.slack.submit(
        modal,
        {
            "name": "Acme expansion",
            "currency": "USD",
            "internal_notes": notes,
            "forecast_category": "commit",
        },
    )
    assert status == 200 and not body, body


async def test_internal_copy_shows_internal_fields_shared_copy_does_not(bot: RunningBot) -> None:
    room, shared = await deal_in_two_rooms(bot)
    await set_internal_fields(bot, room)
    await bot.slack.command("trigger the customer asked for a cloud partner")  # no hints left
    internal_card = card_text(bot.card("CROOM", room))
    assert SECRET in internal_card and "Forecast: commit" in internal_card
    shared_card = card_text(bot.card("CSHARED", shared))
    assert SECRET not in shared_card and "commit" not in shared_card
    # Everything shared is identical in both copies.
    assert shared_card in internal_card.replace(
        "\n:lock: *Internal — our org only*\nForecast: commit\nNotes: " + SECRET, ""
    )
    assert await bot.rows("SELECT channel_id, is_shared FROM card_copies ORDER BY id") == [
        ("CROOM", False),
        ("CSHARED", True),
    ]


async def test_unknown_sharing_counts_as_shared(bot: RunningBot) -> None:
    from tests.fakes.slack_api import Fault

    bot.fake.fail("conversations.info", Fault(error="channel_not_found"))
    await bot.slack.command("new Acme expansion", channel="CMYSTERY")
    await bot.slack.click(
        bot.card("CMYSTERY", bot.posted_cards()[0][1]),
        "ptm_card_more",
        channel="CMYSTERY",
        ts=bot.posted_cards()[0][1],
        option="edit",
    )
    await bot.slack.submit(view(bot), {"name": "Acme expansion", "internal_notes": SECRET})
    [(channel, ts)] = bot.posted_cards()
    assert SECRET not in str(bot.card(channel, ts))
    assert await bot.rows("SELECT is_shared FROM card_copies") == [(None,)]


async def test_channel_becoming_shared_strips_internal_fields_at_once(bot: RunningBot) -> None:
    await bot.slack.command("new Acme expansion")
    [(channel, ts)] = bot.posted_cards()
    await set_internal_fields(bot, ts)
    assert SECRET in card_text(bot.card(channel, ts))
    bot.fake.shared_channels.add(channel)
    status, _ = await bot.slack.event(
        {
            "type": "channel_shared",
            "connected_team_id": "TPARTNER",
            "channel": channel,
            "event_ts": "1.2",
        },
        event_id="EvShare",
    )
    assert status == 200
    assert SECRET not in card_text(bot.card(channel, ts))
    assert await bot.rows("SELECT is_shared FROM card_copies") == [(True,)]
    # And back when the partner's org leaves, once Slack confirms no other org remains.
    bot.fake.shared_channels.discard(channel)
    await bot.slack.event(
        {
            "type": "channel_unshared",
            "previously_connected_team_id": "TPARTNER",
            "channel": channel,
            "is_ext_shared": False,
            "event_ts": "1.3",
        },
        event_id="EvUnshare",
    )
    assert SECRET in card_text(bot.card(channel, ts))


async def test_partner_edit_modal_has_shared_fields_only_and_forgery_is_refused(
    bot: RunningBot,
) -> None:
    room, shared = await deal_in_two_rooms(bot)
    await set_internal_fields(bot, room)
    await bot.slack.click(
        bot.card("CSHARED", shared),
        "ptm_card_more",
        channel="CSHARED",
        ts=shared,
        option="edit",
        user="UPARTNER",
        user_team="TPARTNER",
    )
    modal = view(bot)
    assert not {"internal_notes", "forecast_category"} & inputs(modal)
    assert SECRET not in str(modal)
    # The partner's own edit is accepted...
    _, body = await bot.slack.submit(
        modal,
        {"name": "Acme expansion", "account": "Acme GmbH", "currency": "USD"},
        user="UPARTNER",
        user_team="TPARTNER",
    )
    assert not body
    assert "Acme GmbH" in card_text(bot.card("CSHARED", shared))
    # ...but a forged submission carrying an internal field changes nothing.
    forged = dict(modal)
    forged["blocks"] = modal["blocks"] + [
        {
            "type": "input",
            "block_id": "internal_notes",
            "label": {"type": "plain_text", "text": "x"},
            "element": {"type": "plain_text_input", "action_id": "value"},
        }
    ]
    before = await bot.rows("SELECT internal_notes, version FROM deals")
    _, body = await bot.slack.submit(
        forged,
        {"name": "Acme expansion", "internal_notes": "overwritten"},
        user="UPARTNER",
        user_team="TPARTNER",
    )
    [(ephemeral)] = bot.fake.of("chat.postEphemeral")[-1:]
    assert "our own org only" in ephemeral["text"]
    assert await bot.rows("SELECT internal_notes, version FROM deals") == before


async def test_internal_view_button_answers_privately(bot: RunningBot) -> None:
    room, shared = await deal_in_two_rooms(bot)
    await set_internal_fields(bot, room)
    card = bot.card("CSHARED", shared)
    await bot.slack.click(
        card, "ptm_card_more", channel="CSHARED", ts=shared, option="internal", user="UALLY"
    )
    mine = bot.fake.of("chat.postEphemeral")[-1]
    assert mine["user"] == "UALLY" and SECRET in str(mine["blocks"])
    await bot.slack.click(
        card,
        "ptm_card_more",
        channel="CSHARED",
        ts=shared,
        option="internal",
        user="UPARTNER",
        user_team="TPARTNER",
    )
    theirs = bot.fake.of("chat.postEphemeral")[-1]
    assert theirs["user"] == "UPARTNER" and SECRET not in str(theirs)
    assert "our own org only" in theirs["text"]


async def test_history_hides_internal_changes_from_the_partner(bot: RunningBot) -> None:
    room, shared = await deal_in_two_rooms(bot)
    await set_internal_fields(bot, room)
    card = bot.card("CSHARED", shared)
    await bot.slack.click(
        card,
        "ptm_card_more",
        channel="CSHARED",
        ts=shared,
        option="history",
        user="UPARTNER",
        user_team="TPARTNER",
    )
    theirs = str(bot.fake.of("chat.postEphemeral")[-1])
    assert SECRET not in theirs and "forecast" not in theirs and "trio.partner" in theirs
    await bot.slack.click(card, "ptm_card_more", channel="CSHARED", ts=shared, option="history")
    assert SECRET in str(bot.fake.of("chat.postEphemeral")[-1])


async def test_partner_click_records_their_org(bot: RunningBot) -> None:
    bot.fake.users.pop("UPARTNER")  # users.info cannot see the partner's user
    room, shared = await deal_in_two_rooms(bot)
    assert await bot.rows("SELECT team_id, is_external FROM trio_members WHERE role='partner'") == [
        (None, True)
    ]
    await bot.slack.click(
        bot.card("CSHARED", shared),
        "ptm_card_stage",
        channel="CSHARED",
        ts=shared,
        option="Discover",
        user="UPARTNER",
        user_team="TPARTNER",
    )
    assert await bot.rows("SELECT team_id, is_external FROM trio_members WHERE role='partner'") == [
        ("TPARTNER", True)
    ]
    [(team,)] = await bot.rows("SELECT actor_team FROM deal_events ORDER BY id DESC LIMIT 1")
    assert team == "TPARTNER"


@pytest.mark.parametrize("who", ["UOUTSIDER", "UPARTNER"])
async def test_nobody_outside_the_trio_changes_the_deal(bot: RunningBot, who: str) -> None:
    room, shared = await deal_in_two_rooms(bot)
    await bot.slack.command("trio partner <@UPARTNER2>")  # the old partner rep leaves the trio
    before = await bot.rows("SELECT version FROM deals")
    await bot.slack.click(
        bot.card("CSHARED", shared),
        "ptm_card_stage",
        channel="CSHARED",
        ts=shared,
        option="Propose",
        user=who,
        user_team="TOTHER",
    )
    assert "Only the trio of PTM-1" in bot.fake.of("chat.postEphemeral")[-1]["text"]
    assert await bot.rows("SELECT version FROM deals") == before


async def test_missed_channel_shared_event_never_leaks_internal_fields(bot: RunningBot) -> None:
    """Slack did not deliver channel_shared: before a copy shows internal fields again, the
    channel's sharing is checked unless it was checked moments ago."""
    await bot.slack.command("new Acme expansion")
    [(channel, ts)] = bot.posted_cards()
    await set_internal_fields(bot, ts)
    assert SECRET in card_text(bot.card(channel, ts))
    bot.fake.shared_channels.add(channel)  # ...and no event arrives
    bot.clock.advance(minutes=2)
    await bot.slack.command("stage Validate")
    assert "Validate" in card_text(bot.card(channel, ts))
    assert SECRET not in card_text(bot.card(channel, ts))
    assert await bot.rows("SELECT is_shared FROM card_copies") == [(True,)]


async def test_fresh_sharing_is_not_asked_again_on_every_change(bot: RunningBot) -> None:
    await bot.slack.command("new Acme expansion")
    asked = bot.fake.count("conversations.info")
    for stage in ("Discover", "Validate", "Propose"):
        await bot.slack.command(f"stage {stage}")
    assert bot.fake.count("conversations.info") == asked


async def test_the_callers_org_comes_from_the_installation_not_the_payload(
    bot: RunningBot,
) -> None:
    """A partner's submission whose payload names the partner's own team as the workspace
    (no app_installed_team_id) still counts as external: our org is what auth.test says."""
    room, shared = await deal_in_two_rooms(bot)
    await set_internal_fields(bot, room)
    await bot.slack.click(
        bot.card("CROOM", room), "ptm_card_more", channel="CROOM", ts=room, option="edit"
    )
    modal = view(bot)  # our edit modal, with the internal inputs
    before = await bot.rows("SELECT internal_notes, version FROM deals")
    state = {
        "name": {"value": {"type": "plain_text_input", "value": "Acme expansion"}},
        "internal_notes": {"value": {"type": "plain_text_input", "value": "overwritten"}},
    }
    payload = {
        "type": "view_submission",
        "team": {"id": "TPARTNER", "domain": "partner"},
        "user": {"id": "UPARTNER", "username": "upartner", "team_id": "TPARTNER"},
        "api_app_id": "APTM",
        "token": "legacy",
        "trigger_id": "t-forged",
        "view": {**modal, "id": "V9", "team_id": "TPARTNER", "state": {"values": state}},
    }
    await bot.slack.interaction(payload)
    assert await bot.rows("SELECT internal_notes, version FROM deals") == before


async def test_a_shared_copy_never_points_to_the_slash_command(bot: RunningBot) -> None:
    """The partner rep cannot use `/ptm`: hints in a shared copy point to the card's own
    controls instead; the copy only our org sees keeps the quicker `/ptm` hints."""
    bot.fake.shared_channels.add("CSHARED")
    await bot.slack.command("new Acme expansion")
    await bot.slack.command("card PTM-1", channel="CSHARED")
    shared = next(ts for ch, ts in bot.posted_cards() if ch == "CSHARED")
    room = next(ts for ch, ts in bot.posted_cards() if ch == "CROOM")
    assert "/ptm" not in card_text(bot.card("CSHARED", shared))
    assert "/ptm trio" in card_text(bot.card("CROOM", room))
    await bot.slack.command("brief PTM-1", channel="CSHARED")
    [brief] = [m for m in bot.fake.of("chat.postMessage") if "Co-sell brief" in m["text"]]
    assert "/ptm" not in str(brief["blocks"])


async def test_every_card_carries_its_shared_state_as_message_metadata(bot: RunningBot) -> None:
    """`ptm_deal_card` metadata on every post and update of every copy: key, version, stage,
    the next step's owner role and due date, shared fields only (any app in the channel can
    read it, so not even our internal copy puts internal fields there)."""
    room, _shared = await deal_in_two_rooms(bot)
    await set_internal_fields(bot, room)
    await bot.slack.command("trigger the customer asked for a cloud partner")
    await bot.slack.command("next send the deck for partner by 2026-12-04")
    sent = [
        c.payload
        for c in bot.fake.calls
        if c.method in ("chat.postMessage", "chat.update") and c.payload.get("blocks")
        and "ptm_card" in str(c.payload["blocks"])
    ]  # fmt: skip
    assert {p["channel"] for p in sent} == {"CROOM", "CSHARED"}
    assert all(p["metadata"]["event_type"] == "ptm_deal_card" for p in sent)
    latest = {p["channel"]: p["metadata"]["event_payload"] for p in sent}
    [(version,)] = await bot.rows("SELECT version FROM deals")
    for payload in latest.values():
        assert payload["deal_key"] == "PTM-1" and payload["version"] == version
        assert payload["stage"] == "Qualify" and payload["name"] == "Acme expansion"
        assert payload["next_step_owner_role"] == "partner"
        assert payload["next_step_due"] == "2026-12-04"
    everything = str([p["metadata"] for p in sent])
    for internal in (SECRET, "commit", "cloud partner", "internal"):
        assert internal not in everything

"""The partnership, end to end, as two companies live it: two workspaces with their own
installations and bot users, a Slack Connect channel between them, events that name one
arbitrary installation, and a fake Slack that refuses `chat.update` with another installation's
token. Propose → accept → their rep sets the next step with `/ptm next` from their own
workspace → every copy converges → each company's digests go out through its own installation
→ neither company's internal notes reach the other → a pause stops anything new from crossing
→ the disclosure ledger lists exactly what crossed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fakes.slack_api import Call, FakeSlack
from tests.handlers.test_admin_home import open_home
from tests.handlers.test_partnerships import SHARED, accepted
from tests.handlers.test_shared_deals import two_installed
from tests.handlers.test_visibility import set_internal_fields
from tests.support.cards import card_stage, card_text
from tests.support.cli import run_ptm
from tests.support.harness import RunningBot

OUR_NOTE = "Ourmarginnote"  # our internal notes on the deal
THEIR_NOTE = "Theirmarginnote"  # their company's own notes on the same deal
OUR_PEOPLE = {"UINSTALLER", "USELLER"}
THEIR_PEOPLE = {"UTHEIRS", "UREP"}
# Which ledger field each key of the card's metadata tells.
METADATA_KEYS = {
    "name": "name", "stage": "stage", "status": "status", "account": "account",
    "amount": "amount", "close_date": "close_date", "attribution": "attribution",
    "next_step_owner_role": "next_step", "next_step_due": "next_step",
}  # fmt: skip


@pytest.fixture
async def two_companies(fake_slack: FakeSlack, db_url: str) -> AsyncIterator[RunningBot]:
    bot = await two_installed(fake_slack, db_url)
    yield bot
    await bot.stop()


def _crossed(call: Call) -> bool:
    """Whether this call showed something to the other company: anything in the shared
    channel, anything to one of their people, anything their installation sent."""
    payload = call.payload
    where = {str(payload.get(k)) for k in ("channel", "user", "user_id")}
    return call.token == "xoxb-theirs-1" or SHARED in where or bool(where & THEIR_PEOPLE)


def _ours_only(call: Call) -> bool:
    """Sent by our installation to our own people or channels."""
    payload = call.payload
    where = {str(payload.get(k)) for k in ("channel", "user", "user_id")}
    return call.token == "xoxb-ours-1" and SHARED not in where and not where & THEIR_PEOPLE


def _last_metadata(bot: RunningBot, channel: str, ts: str) -> dict[str, Any]:
    """The metadata the card at (channel, ts) was last sent with (its post or an update)."""
    sent = [
        c.payload for c in bot.fake.calls_ever
        if (c.method == "chat.update" and (c.payload["channel"], c.payload["ts"]) == (channel, ts))
        or (c.method == "chat.postMessage" and c.payload.get("channel") == channel)
    ]  # fmt: skip
    updates = [p for p in sent if p.get("ts") == ts]
    return dict((updates or sent)[-1]["metadata"]["event_payload"])


async def _run_digests(bot: RunningBot) -> None:
    from bot.app.scheduling import run_digests

    assert bot.runtime.tenants is not None
    for deps in await bot.runtime.tenants.each():
        await run_digests(deps)


async def test_two_companies_share_a_deal_from_proposal_to_pause(
    two_companies: RunningBot, db_url: str
) -> None:
    bot = two_companies
    # Proposed by our admin in the shared channel, accepted by theirs through their own PTM;
    # we share name, stage, next step, trio and outcomes — not account, amount or dates.
    await accepted(bot)
    bot.fake.calls.clear()

    # Our deal, its room the shared channel, their rep on it; a copy in our own channel.
    await bot.slack.command("new Acme expansion", user="USELLER", channel=SHARED)
    await bot.slack.command("trio <@USELLER> <@UINSTALLER> <@UREP>", user="USELLER", channel=SHARED)
    await bot.slack.command("card PTM-1", user="USELLER", channel="CROOM")
    shared_ts = next(t for c, t in bot.posted_cards() if c == SHARED)
    room_ts = next(t for c, t in bot.posted_cards() if c == "CROOM")
    await set_internal_fields(bot, room_ts, notes=OUR_NOTE)
    # Their company keeps its own notes on our deal, from the shared card, in their PTM.
    await bot.slack.click(
        bot.card(SHARED, shared_ts), "ptm_card_more", channel=SHARED, ts=shared_ts,
        option="internal", user="UREP", user_team="TPARTNER", team="TPARTNER",
    )  # fmt: skip
    [form] = [c for c in bot.fake.of_calls("views.open") if c.token == "xoxb-theirs-1"]
    status, answer = await bot.slack.submit(
        form.payload["view"],
        {"internal_notes": THEIR_NOTE, "forecast_category": "commit", "crm_id": ""},
        user="UREP", user_team="TPARTNER", installed_team="TPARTNER",
    )  # fmt: skip
    assert status == 200 and not (answer or {}).get("errors"), answer

    # Their rep sets the next step with /ptm from a channel of their own workspace.
    status, answer = await bot.slack.command(
        "next PTM-1 Send the security questionnaire for partner by 2026-12-01",
        user="UREP", team="TPARTNER", channel="CTHEIRS",
    )  # fmt: skip
    assert status == 200 and "Send the security questionnaire" in str(answer), answer
    [(version,)] = await bot.rows("SELECT version FROM deals")
    # Every copy converges on that version, each updated by the installation that posted it.
    for channel, ts in ((SHARED, shared_ts), ("CROOM", room_ts)):
        card = bot.card(channel, ts)
        assert "Send the security questionnaire" in card_text(card), channel
        assert _last_metadata(bot, channel, ts)["version"] == version, channel
    updates = [c for c in bot.fake.of_calls("chat.update") if c.payload["channel"] == SHARED]
    assert updates and {c.token for c in updates} == {"xoxb-ours-1"}
    assert not bot.fake.refused_updates
    assert await bot.rows(
        "SELECT t.team_id, e.actor, e.actor_team FROM deal_events e "
        "JOIN tenants t ON t.id = e.tenant_id WHERE e.version = :v",
        v=version,
    ) == [("T0URS", "UREP", "TPARTNER")]

    # Each company's digests go out through its own installation.
    bot.fake.calls.clear()
    await _run_digests(bot)
    dms = {c.payload["channel"]: c.token for c in bot.fake.of_calls("chat.postMessage")}
    assert dms.get("USELLER") == "xoxb-ours-1", dms
    assert dms.get("UREP") == "xoxb-theirs-1", dms
    [their_dm] = [
        c for c in bot.fake.of_calls("chat.postMessage") if c.payload["channel"] == "UREP"
    ]
    assert "Send the security questionnaire" in str(their_dm.payload)

    # Pause, by their admin from their App Home: the shared copy says so and shows nothing new.
    home = await open_home(bot, "UTHEIRS", team="TPARTNER")
    await bot.slack.click_home(home, "ptm_partnership_pause", user="UTHEIRS", team="TPARTNER")
    assert "is paused" in card_text(bot.card(SHARED, shared_ts))
    await bot.slack.command("stage PTM-1 Propose", user="USELLER", channel="CROOM")
    assert card_stage(bot.card("CROOM", room_ts)) == "Propose"
    assert "Propose" not in str(bot.card(SHARED, shared_ts)["blocks"])
    [(paused_at,)] = await bot.rows("SELECT version FROM deals")
    # Nor do digests carry it: their rep gets nothing the next day.
    bot.clock.advance(days=1)
    bot.fake.calls.clear()
    await _run_digests(bot)
    assert not [c for c in bot.fake.of_calls("chat.postMessage") if c.payload["channel"] == "UREP"]
    # Their rep can change nothing across a paused partnership.
    _, answer = await bot.slack.command(
        "next PTM-1 Something else", user="UREP", team="TPARTNER", channel="CTHEIRS"
    )
    assert "paused" in str(answer)
    assert await bot.rows("SELECT version FROM deals") == [(paused_at,)]

    # Neither company's internal notes ever reached the other, on any surface.
    for call in bot.fake.calls_ever:
        if _crossed(call):
            assert OUR_NOTE not in str(call.payload), (call.method, call.payload.get("channel"))
        if _ours_only(call) or call.token == "xoxb-ours-1":
            assert THEIR_NOTE not in str(call.payload), (call.method, call.payload.get("channel"))
    ours = await bot.rows(
        "SELECT e.changes FROM deal_events e JOIN tenants t ON t.id = e.tenant_id "
        "WHERE t.team_id = 'T0URS'"
    )
    assert THEIR_NOTE not in str(ours)

    # The ledger lists exactly what crossed: each shared copy's metadata, field by field and
    # version by version; a card row for every version a shared copy showed; nothing internal,
    # nothing we do not share, and only the name while paused.
    assert bot.runtime.tenants is not None
    for deps in bot.runtime.tenants.known():  # App Home redraws (their Home lists our deal)
        await deps.homes.idle()
        await deps.cards.idle()
    ledger = await bot.rows(
        "SELECT field, version, surface, receiving_team FROM disclosures d "
        "JOIN tenants t ON t.id = d.tenant_id WHERE t.team_id = 'T0URS'"
    )
    assert {team for *_, team in ledger} == {"TPARTNER"}
    sent_meta = set()
    for copy in _shared_copies_ever(bot):
        payload = copy["metadata"]["event_payload"]
        fields = {METADATA_KEYS[k] for k in payload if k in METADATA_KEYS}
        sent_meta |= {(f, payload["version"]) for f in fields}
    recorded_meta = {(f, v) for f, v, s, _ in ledger if s == "metadata"}
    assert recorded_meta == sent_meta
    shown_versions = {c["metadata"]["event_payload"]["version"] for c in _shared_copies_ever(bot)}
    assert {v for _, v, s, _ in ledger if s == "card"} == shown_versions
    assert not {f for f, *_ in ledger} & {"internal_notes", "forecast_category", "crm_id",
                                          "account", "amount", "close_date"}  # fmt: skip
    assert {f for f, v, s, _ in ledger if v == paused_at and s == "card"} == {"name"}
    assert ("next_step", version, "dm", "TPARTNER") in ledger  # their rep's digest
    # The answer to their rep's /ptm next: the deal's name and the step they set.
    assert {(f, v) for f, v, s, _ in ledger if s == "reply"} == {
        ("name", version), ("next_step", version)
    }  # fmt: skip
    code, out, err = await run_ptm(bot.fake, db_url, "disclosures", "--team", "T0URS", "--to",
                                   "TPARTNER", "--deal", "PTM-1")  # fmt: skip
    assert code == 0, err
    assert f"{len(ledger)} disclosure(s)" in out


def _shared_copies_ever(bot: RunningBot) -> list[dict[str, Any]]:
    return [
        c.payload for c in bot.fake.calls_ever
        if c.method in ("chat.postMessage", "chat.update") and c.payload.get("channel") == SHARED
        and (c.payload.get("metadata") or {}).get("event_type") == "ptm_deal_card"
    ]  # fmt: skip

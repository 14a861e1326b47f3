"""Shared deals when both companies installed PTM: a click, a modal, a command or a message about
our deal may reach PTM through the partner company's installation (Slack picks it: SLACK.md §9).
PTM finds whose deal it is, applies it there once with the actor classified against the deal's
own company, updates the cards with the token that posted them, and answers through the
installation Slack requires."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fakes.slack_api import FakeSlack, Workspace
from tests.handlers.test_install import MANY, OURS, install
from tests.handlers.test_partnerships import SHARED, accepted
from tests.support.cards import card_stage, card_text
from tests.support.harness import RunningBot, start_bot

# Their installation has its own bot user, as every installation does.
THEIRS = Workspace(
    "TPARTNER", "Partner Co", installer="UTHEIRS", bot_token="xoxb-theirs-1", bot_user="UPTMTHEM"
)


async def two_installed(fake_slack: FakeSlack, db_url: str) -> RunningBot:
    """Our company and theirs, each with its own installation, sharing SHARED."""
    fake_slack.install_codes = {"code-ours": OURS, "code-theirs": THEIRS}
    fake_slack.users.update(
        {"UINSTALLER": "T0URS", "USELLER": "T0URS", "UTHEIRS": "TPARTNER", "UREP": "TPARTNER"}
    )
    fake_slack.channel_teams[SHARED] = ["T0URS", "TPARTNER"]
    bot = await start_bot(fake_slack, db_url, **MANY)
    await install(bot, "code-ours")
    await install(bot, "code-theirs")
    return bot


@pytest.fixture
async def partnered(fake_slack: FakeSlack, db_url: str) -> AsyncIterator[RunningBot]:
    bot = await two_installed(fake_slack, db_url)
    await accepted(bot)
    yield bot
    await bot.stop()


async def our_shared_deal(bot: RunningBot) -> str:
    """PTM-1 of ours, its deal room the shared channel, their UREP its partner rep."""
    await bot.slack.command("new Acme expansion", user="USELLER", channel=SHARED)
    await bot.slack.command("trio <@USELLER> <@UINSTALLER> <@UREP>", user="USELLER", channel=SHARED)
    await bot.slack.command("stage Discover", user="USELLER", channel=SHARED)
    [(channel, ts)] = bot.posted_cards()
    assert channel == SHARED
    return ts


def updates_of(bot: RunningBot, ts: str) -> list[str]:
    """The tokens each chat.update of the card at `ts` was made with."""
    return [c.token for c in bot.fake.of_calls("chat.update") if c.payload["ts"] == ts]


def metadata_of(bot: RunningBot, channel: str, ts: str) -> dict[str, Any]:
    """The message metadata the card at (channel, ts) was last sent with."""
    sent = [
        c.payload for c in bot.fake.calls
        if c.method == "chat.update" and (c.payload["channel"], c.payload["ts"]) == (channel, ts)
    ]  # fmt: skip
    return dict(sent[-1]["metadata"])


async def last_event(bot: RunningBot) -> tuple[Any, ...]:
    [row] = await bot.rows(
        "SELECT t.team_id, e.actor, e.actor_team, e.source FROM deal_events e "
        "JOIN tenants t ON t.id = e.tenant_id ORDER BY e.id DESC LIMIT 1"
    )
    return tuple(row)


async def test_their_rep_works_our_card_through_their_own_installation(
    partnered: RunningBot,
) -> None:
    bot = partnered
    ts = await our_shared_deal(bot)
    bot.fake.calls.clear()
    # Slack sends their rep's click to their installation; the card is ours.
    status, _ = await bot.slack.click(
        bot.card(SHARED, ts), "ptm_card_stage", channel=SHARED, ts=ts, option="Validate",
        user="UREP", user_team="TPARTNER", team="TPARTNER",
    )  # fmt: skip
    assert status == 200
    assert card_stage(bot.card(SHARED, ts)) == "Validate"
    assert updates_of(bot, ts) and set(updates_of(bot, ts)) == {"xoxb-ours-1"}
    assert await last_event(bot) == ("T0URS", "UREP", "TPARTNER", "button")
    # They are the partner, not one of us, whichever installation carried the click.
    assert await bot.rows("SELECT count(*) FROM deals") == [(1,)]

    # A modal from our card opens through their installation and comes back to our deal.
    bot.fake.calls.clear()
    await bot.slack.click(
        bot.card(SHARED, ts), "ptm_card_step_set", channel=SHARED, ts=ts,
        user="UREP", user_team="TPARTNER", team="TPARTNER",
    )  # fmt: skip
    [opened] = bot.fake.of_calls("views.open")
    assert opened.token == "xoxb-theirs-1"
    view = opened.payload["view"]
    status, answer = await bot.slack.submit(
        view, {"step_text": "Send the security questionnaire", "step_owner": "partner",
               "step_due": "2026-12-01"},
        user="UREP", user_team="TPARTNER", installed_team="TPARTNER",
    )  # fmt: skip
    assert status == 200 and not (answer or {}).get("errors"), answer
    assert "Send the security questionnaire" in card_text(bot.card(SHARED, ts))
    assert set(updates_of(bot, ts)) == {"xoxb-ours-1"}
    steps = "SELECT t.team_id, s.owner_user FROM next_steps s JOIN tenants t ON t.id = s.tenant_id"
    assert await bot.rows(steps) == [("T0URS", "UREP")]

    # A modal's routing mark cannot be moved onto another user: the seal is theirs alone.
    status, answer = await bot.slack.submit(
        view, {"step_text": "forged", "step_owner": "partner", "step_due": "2026-12-01"},
        user="UINSTALLER", user_team="T0URS", installed_team="T0URS",
    )  # fmt: skip
    assert "forged" not in card_text(bot.card(SHARED, ts))


async def test_messages_in_the_shared_room_apply_once_to_the_deals_company(
    partnered: RunningBot,
) -> None:
    bot = partnered
    ts = await our_shared_deal(bot)
    bot.fake.calls.clear()
    # Their rep mentions their own bot user; Slack delivers it through their installation.
    event = {
        "type": "app_mention", "channel": SHARED, "user": "UREP",
        "text": "<@UPTMTHEM> stage: Propose", "ts": f"{bot.clock.now().timestamp():.6f}",
        "team": "TPARTNER", "user_team": "TPARTNER",
    }  # fmt: skip
    status, _ = await bot.slack.event(event, event_id="EvShared1", team="TPARTNER", ext_shared=True)
    assert status == 200
    assert card_stage(bot.card(SHARED, ts)) == "Propose"
    assert await last_event(bot) == ("T0URS", "UREP", "TPARTNER", "message")
    [reply] = [c for c in bot.fake.of_calls("chat.postMessage") if c.payload.get("thread_ts")]
    assert reply.token == "xoxb-ours-1" and "Propose" in reply.payload["text"]
    # Slack re-delivers it (through our installation this time): nothing happens twice.
    await bot.slack.event(event, event_id="EvShared1", retry_num=1, team="T0URS", ext_shared=True)
    await bot.slack.event(
        {**event, "type": "message"}, event_id="EvShared1b", team="T0URS", ext_shared=True
    )
    assert len(await bot.rows("SELECT id FROM deal_events WHERE source = 'message'")) == 1
    assert (
        len([c for c in bot.fake.of_calls("chat.postMessage") if c.payload.get("thread_ts")]) == 1
    )

    # Our seller's message, delivered through their installation, is our seller's activity.
    said = {
        "type": "message", "channel": SHARED, "user": "USELLER", "text": "call moved to 3pm",
        "ts": f"{bot.clock.now().timestamp() + 1:.6f}", "team": "T0URS", "user_team": "T0URS",
    }  # fmt: skip
    await bot.slack.event(said, event_id="EvShared2", team="TPARTNER", ext_shared=True)
    assert await bot.rows(
        "SELECT t.team_id, a.user_id FROM room_activity a JOIN tenants t ON t.id = a.tenant_id "
        "WHERE a.user_id = 'USELLER'"
    ) == [("T0URS", "USELLER")]


async def test_their_people_use_ptm_on_the_shared_deal_from_their_own_workspace(
    partnered: RunningBot, fake_slack: FakeSlack
) -> None:
    bot = partnered
    ts = await our_shared_deal(bot)
    # In the shared channel, and by key in a channel of their own.
    status, answer = await bot.slack.command(
        "stage Validate", user="UREP", team="TPARTNER", channel=SHARED
    )
    assert status == 200 and card_stage(bot.card(SHARED, ts)) == "Validate"
    await bot.slack.command(
        "next Book the joint demo by 2026-12-03", user="UREP", team="TPARTNER", channel=SHARED
    )
    assert "Book the joint demo" in card_text(bot.card(SHARED, ts))
    _, answer = await bot.slack.command(
        "stage PTM-1 Propose", user="UREP", team="TPARTNER", channel="CTHEIRS"
    )
    assert card_stage(bot.card(SHARED, ts)) == "Propose", answer
    assert await last_event(bot) == ("T0URS", "UREP", "TPARTNER", "command")

    # Someone else of theirs, not on the deal, may not change it.
    fake_slack.users["UOTHER"] = "TPARTNER"
    _, answer = await bot.slack.command(
        "stage PTM-1 Negotiate", user="UOTHER", team="TPARTNER", channel="CTHEIRS"
    )
    assert card_stage(bot.card(SHARED, ts)) == "Propose"

    # Once the partnership ends, our deal's key means nothing in their workspace.
    await bot.write("UPDATE partnerships SET state = 'ended'")
    _, answer = await bot.slack.command(
        "stage PTM-1 Negotiate", user="UREP", team="TPARTNER", channel="CTHEIRS"
    )
    assert card_stage(bot.card(SHARED, ts)) == "Propose"
    assert "Acme" not in str(answer)


async def test_their_rep_is_nudged_by_dm_from_their_own_ptm_and_answers_from_there(
    partnered: RunningBot,
) -> None:
    from bot.app.scheduling import run_digests

    bot = partnered
    ts = await our_shared_deal(bot)
    await bot.slack.command(
        "next Send the security questionnaire for partner by 2026-11-30",
        user="USELLER", channel=SHARED,
    )  # fmt: skip
    # A second deal of ours with them, its step overdue.
    await bot.slack.command("new Second deal", user="USELLER", channel="CSHARED2")
    await bot.slack.command(
        "trio <@USELLER> <@UINSTALLER> <@UREP>", user="USELLER", channel="CSHARED2"
    )
    await bot.slack.command(
        "next Call the CFO for partner by 2026-11-25", user="USELLER", channel="CSHARED2"
    )
    await bot.write("UPDATE next_steps SET due = '2026-11-20' WHERE text = 'Call the CFO'")
    bot.fake.calls.clear()
    assert bot.runtime.tenants is not None
    for deps in await bot.runtime.tenants.each():
        await run_digests(deps)
    [dm] = [c for c in bot.fake.of_calls("chat.postMessage") if c.payload["channel"] == "UREP"]
    assert dm.token == "xoxb-theirs-1"  # their own PTM, where /ptm works for them
    assert "*Your moves on deals Ours shares with you* (2)" in dm.payload["text"]
    # Overdue first, each with its card; one DM for all of them.
    moves = dm.payload["text"].split("\n")[1:]
    assert moves[0].startswith("• :warning: *overdue* *PTM-2* Call the CFO")
    assert "*PTM-1* Send the security questionnaire · due 2026-11-30" in moves[1]
    assert "`/ptm done PTM-2`" in str(dm.payload["blocks"])
    assert not [c for c in bot.fake.of_calls("chat.postMessage") if c.payload.get("thread_ts")]
    assert (
        await bot.rows(
            "SELECT field, surface, receiving_team, receiving_company FROM disclosures "
            "WHERE surface = 'dm'"
        )
        == [("next_step", "dm", "TPARTNER", "Partner Co")] * 2
    )
    # Once a day; and while the partnership is paused, not at all (nothing new crosses).
    for deps in await bot.runtime.tenants.each():
        await run_digests(deps)
    await bot.write("UPDATE partnerships SET state = 'paused', paused_by = 1")
    bot.clock.advance(days=1)
    for deps in await bot.runtime.tenants.each():
        await run_digests(deps)
    assert not [c for c in bot.fake.of_calls("chat.postMessage") if c.payload.get("thread_ts")]
    await bot.write("UPDATE partnerships SET state = 'active', paused_by = NULL")
    assert (
        len([c for c in bot.fake.of_calls("chat.postMessage") if c.payload["channel"] == "UREP"])
        == 1
    )

    _, answer = await bot.slack.command("done PTM-1", user="UREP", team="TPARTNER", channel="DREP")
    assert await bot.rows("SELECT status, done_by FROM next_steps WHERE text LIKE 'Send%'") == [
        ("done", "UREP")
    ], answer
    assert "*Next step*: Send the security" not in card_text(bot.card(SHARED, ts))


async def test_their_list_shows_our_shared_deal_as_our_policy_shares_it(
    partnered: RunningBot,
) -> None:
    bot = partnered
    await our_shared_deal(bot)
    await bot.slack.command(
        "next Send the security questionnaire for partner by 2026-11-30",
        user="USELLER", channel=SHARED,
    )  # fmt: skip
    await bot.slack.command("new Their own deal", user="UREP", team="TPARTNER", channel="CTHEIRS")

    def listed(answer: Any) -> str:
        return " ".join(b["text"]["text"] for b in answer["blocks"] if b["type"] == "section")

    _, answer = await bot.slack.command("list", user="UREP", team="TPARTNER", channel="CTHEIRS")
    text = listed(answer)
    assert "*PTM-1* Their own deal" in text
    assert "*PTM-1* Acme expansion · Discover · shared by *Ours*" in text
    assert "Next: Send the security questionnaire" in text
    # In our ledger: what their list told them of our deal.
    assert await bot.rows(
        "SELECT field, receiving_team, receiving_company FROM disclosures "
        "WHERE surface = 'list' ORDER BY field"
    ) == [("name", "TPARTNER", "Partner Co"), ("next_step", "TPARTNER", "Partner Co"),
          ("stage", "TPARTNER", "Partner Co")]  # fmt: skip

    # We share the name only: the rest is "not shared".
    await bot.write("UPDATE partnerships SET proposer_shares = '[\"name\"]'")
    text = listed((await bot.slack.command("list", user="UREP", team="TPARTNER"))[1])
    assert "*PTM-1* Acme expansion · not shared · shared by *Ours*" in text
    assert "Send the security" not in text and "_Next step not shared._" in text
    # Paused: nothing new crosses; ended: gone from their list.
    await bot.write("UPDATE partnerships SET state = 'paused'")
    text = listed((await bot.slack.command("list", user="UREP", team="TPARTNER"))[1])
    assert "Acme expansion" in text and "Partnership paused" in text and "Discover" not in text
    await bot.write("UPDATE partnerships SET state = 'ended'")
    text = listed((await bot.slack.command("list", user="UREP", team="TPARTNER"))[1])
    assert "Acme expansion" not in text and "Their own deal" in text


async def test_their_app_home_shows_our_shared_deal_and_follows_its_changes(
    partnered: RunningBot,
) -> None:
    from tests.handlers.test_admin_home import home_of, open_home, text_of

    bot = partnered
    await our_shared_deal(bot)
    home = text_of(await open_home(bot, "UREP", team="TPARTNER"))
    assert "Shared by partner companies* (1)" in home
    assert "*PTM-1* Acme expansion · Discover · shared by *Ours*" in home
    # Our seller moves the deal: their Home is redrawn by their own installation.
    bot.fake.calls.clear()
    await bot.slack.command("stage Validate", user="USELLER", channel=SHARED)
    assert bot.runtime.tenants is not None
    for deps in bot.runtime.tenants.known():  # their Home is redrawn after a short delay
        await deps.homes.idle()
    published = [c for c in bot.fake.of_calls("views.publish") if c.payload["user_id"] == "UREP"]
    assert published and {c.token for c in published} == {"xoxb-theirs-1"}
    assert "Acme expansion · Validate · shared by *Ours*" in text_of(home_of(bot, "UREP"))


async def test_a_shared_copy_shows_only_what_our_policy_shares_and_says_so_when_paused(
    partnered: RunningBot,
) -> None:
    from tests.handlers.test_admin_home import open_home

    bot = partnered
    # We share name, stage, next step, trio and outcomes: not the account, amount or dates.
    ts = await our_shared_deal(bot)
    await bot.write("UPDATE deals SET account = 'Globex Health', amount = 250000")
    await bot.slack.command("card PTM-1", user="USELLER", channel="CROOM")  # our own channel
    await bot.slack.command("stage Validate", user="USELLER", channel=SHARED)
    room_ts = next(t for c, t in bot.posted_cards() if c == "CROOM")
    ours, shared = bot.card("CROOM", room_ts), bot.card(SHARED, ts)
    assert "Globex Health" in card_text(ours) and "250,000" in card_text(ours)
    text = card_text(shared)
    assert "Globex Health" not in text and "250,000" not in text
    assert "_Account not shared_" in text and "*Amount*\n_not shared_" in text
    assert card_stage(shared) == "Validate"
    meta = metadata_of(bot, SHARED, ts)["event_payload"]
    assert "amount" not in meta and "account" not in meta and meta["stage"] == "Validate"
    ledger = {f for (f,) in await bot.rows(
        "SELECT DISTINCT field FROM disclosures WHERE receiving_team = 'TPARTNER'")}  # fmt: skip
    assert "stage" in ledger and not ledger & {"amount", "account"}

    # Paused (by them): our shared copy shows nothing new and says why; ours is unchanged.
    their_home = await open_home(bot, "UTHEIRS", team="TPARTNER")
    await bot.slack.click_home(their_home, "ptm_partnership_pause", user="UTHEIRS", team="TPARTNER")
    paused = bot.card(SHARED, ts)
    assert "partnership with Partner Co is paused (they paused it)" in card_text(paused)
    assert "Validate" not in str(paused["blocks"]) and "Acme expansion" in card_text(paused)
    [(paused_at,)] = await bot.rows("SELECT version FROM deals")
    assert metadata_of(bot, SHARED, ts)["event_payload"] == {
        "deal_key": "PTM-1", "version": paused_at, "paused": True
    }  # fmt: skip
    assert not [b for b in paused["blocks"] if b["type"] == "actions"]
    await bot.slack.command("stage Propose", user="USELLER", channel=SHARED)
    assert "Propose" not in str(bot.card(SHARED, ts)["blocks"])
    assert card_stage(bot.card("CROOM", room_ts)) == "Propose"
    # Resumed: the copy catches up.
    await bot.slack.click_home(
        await open_home(bot, "UTHEIRS", team="TPARTNER"), "ptm_partnership_resume",
        user="UTHEIRS", team="TPARTNER",
    )  # fmt: skip
    assert card_stage(bot.card(SHARED, ts)) == "Propose"


async def test_their_people_cannot_change_what_we_do_not_share_with_them(
    partnered: RunningBot,
) -> None:
    bot = partnered
    ts = await our_shared_deal(bot)
    await bot.write('UPDATE partnerships SET proposer_shares = \'["name", "next_step"]\'')
    before = await bot.rows("SELECT version, stage FROM deals")
    _, answer = await bot.slack.command(
        "stage Negotiate", user="UREP", team="TPARTNER", channel=SHARED
    )
    assert "stage is not shared with your company" in str(answer)
    assert "Discover" not in str(answer)  # the refusal does not tell the old value either
    await bot.slack.click(
        bot.card(SHARED, ts), "ptm_card_more", channel=SHARED, ts=ts, option="history",
        user="UREP", user_team="TPARTNER", team="TPARTNER",
    )  # fmt: skip
    history = str(bot.fake.of("chat.postEphemeral")[-1])
    assert "History of PTM-1" in history and "Discover" not in history
    assert "next_step" not in history or "stage" not in history
    # What we share they may change; paused, nothing at all.
    await bot.slack.command("next Send the NDA", user="UREP", team="TPARTNER", channel=SHARED)
    assert "*Next step*: Send the NDA" in card_text(bot.card(SHARED, ts))
    await bot.write("UPDATE partnerships SET state = 'paused', paused_by = 1")
    _, answer = await bot.slack.command(
        "next Something else", user="UREP", team="TPARTNER", channel=SHARED
    )
    assert "is paused: nothing changes across it" in str(answer)
    assert "Something else" not in str(await bot.rows("SELECT text FROM next_steps"))
    assert (await bot.rows("SELECT stage FROM deals")) == [before[0][1:]]


async def test_their_company_keeps_its_own_internal_notes_on_our_deal(
    partnered: RunningBot, db_url: str
) -> None:
    bot = partnered
    ts = await our_shared_deal(bot)
    await bot.slack.command("card PTM-1", user="USELLER", channel="CROOM")
    bot.fake.calls.clear()
    await bot.slack.click(
        bot.card(SHARED, ts), "ptm_card_more", channel=SHARED, ts=ts, option="internal",
        user="UREP", user_team="TPARTNER", team="TPARTNER",
    )  # fmt: skip
    [opened] = bot.fake.of_calls("views.open")
    assert opened.token == "xoxb-theirs-1"
    view = opened.payload["view"]
    assert "is Ours's deal" in str(view["blocks"]) and "never sees it" in str(view["blocks"])
    status, answer = await bot.slack.submit(
        view, {"internal_notes": "Margin is thin; push services", "forecast_category": "commit",
               "crm_id": "006TheirCrm"},
        user="UREP", user_team="TPARTNER", installed_team="TPARTNER",
    )  # fmt: skip
    assert status == 200 and not (answer or {}).get("errors"), answer
    assert await bot.rows(
        "SELECT t.team_id, o.internal_notes, o.forecast_category, o.crm_id, o.version "
        "FROM own_deal_fields o JOIN tenants t ON t.id = o.tenant_id"
    ) == [("TPARTNER", "Margin is thin; push services", "commit", "006TheirCrm", 1)]

    # Their colleague sees the company's notes; a stale form cannot overwrite them.
    bot.fake.users["UTHEIRS"] = "TPARTNER"
    bot.fake.calls.clear()
    await bot.slack.click(
        bot.card(SHARED, ts), "ptm_card_more", channel=SHARED, ts=ts, option="internal",
        user="UTHEIRS", user_team="TPARTNER", team="TPARTNER",
    )  # fmt: skip
    [again] = bot.fake.of_calls("views.open")
    assert "Margin is thin" in str(again.payload["view"]["blocks"])
    _, refused = await bot.slack.submit(
        view, {"internal_notes": "stale", "forecast_category": "pipeline", "crm_id": ""},
        user="UREP", user_team="TPARTNER", installed_team="TPARTNER",
    )  # fmt: skip
    assert "saved these notes meanwhile" in str(refused)
    assert await bot.rows("SELECT internal_notes FROM own_deal_fields") == [
        ("Margin is thin; push services",)
    ]

    # We never see them: not on any card, our internal view, history, or App Home.
    room_ts = next(t for c, t in bot.posted_cards() if c == "CROOM")
    await bot.slack.command("stage Validate", user="USELLER", channel=SHARED)
    await bot.slack.click(
        bot.card("CROOM", room_ts), "ptm_card_more", channel="CROOM", ts=room_ts,
        option="history", user="USELLER",
    )  # fmt: skip
    from tests.handlers.test_admin_home import open_home, text_of

    ours = [
        str(bot.card("CROOM", room_ts)), str(bot.card(SHARED, ts)),
        str(bot.fake.of("chat.postEphemeral")), text_of(await open_home(bot, "UINSTALLER")),
    ]  # fmt: skip
    for seen in ours:
        assert "Margin is thin" not in seen and "006TheirCrm" not in seen
    # Their audit says who kept notes and when, never what they say.
    audit = await bot.rows(
        "SELECT t.team_id, e.action, e.detail FROM tenant_events e "
        "JOIN tenants t ON t.id = e.tenant_id WHERE e.action = 'kept own notes'"
    )
    assert [(team, action) for team, action, _ in audit] == [("TPARTNER", "kept own notes")]
    assert "Margin" not in str(audit)

    # Our company leaves PTM for good: their notes on our deals go with the deals.
    from tests.support.cli import run_ptm

    code, _, err = await run_ptm(bot.fake, db_url, "org", "purge", "T0URS")
    assert code == 0, err
    assert await bot.rows("SELECT count(*) FROM own_deal_fields") == [(0,)]
    assert await bot.rows("SELECT count(*) FROM deals") == [(0,)]


async def test_answers_in_the_shared_room_follow_the_policy_and_are_in_the_ledger(
    partnered: RunningBot,
) -> None:
    bot = partnered
    await our_shared_deal(bot)
    await bot.write('UPDATE partnerships SET proposer_shares = \'["name", "next_step"]\'')
    ts = f"{bot.clock.now().timestamp():.6f}"
    # Their rep asks where the deal stands: the stage is not theirs to see.
    asked = {
        "type": "app_mention", "channel": SHARED, "user": "UREP", "text": "<@UPTMTHEM> status?",
        "ts": ts, "team": "TPARTNER", "user_team": "TPARTNER",
    }  # fmt: skip
    bot.fake.calls.clear()
    await bot.slack.event(asked, event_id="EvStatus", team="TPARTNER", ext_shared=True)
    [reply] = [
        c.payload for c in bot.fake.of_calls("chat.postMessage") if c.payload.get("thread_ts")
    ]
    assert "stage not shared" in reply["text"] and "Discover" not in reply["text"]
    assert await bot.rows(
        "SELECT field FROM disclosures WHERE surface = 'reply' AND receiving_team = 'TPARTNER' "
        "ORDER BY field"
    ) == [("name",), ("next_step",), ("status",)]
    # Our seller moves the stage by a mention there: the answer is for them alone.
    moved = {**asked, "user": "USELLER", "text": "<@UPTMBOT> stage: Negotiate", "ts": ts + "1",
             "team": "T0URS", "user_team": "T0URS"}  # fmt: skip
    bot.fake.calls.clear()
    await bot.slack.event(moved, event_id="EvMoved", team="T0URS", ext_shared=True)
    assert not [c for c in bot.fake.of_calls("chat.postMessage") if c.payload.get("thread_ts")]
    [private] = bot.fake.of("chat.postEphemeral")
    assert private["user"] == "USELLER" and "Negotiate" in private["text"]


async def test_a_failure_of_their_crm_tells_us_nothing_of_their_connector(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    from bot.app.scheduling import deliver_outbox
    from tests.handlers.test_admin_home import open_home
    from tests.handlers.test_partnerships import opened

    fake_slack.install_codes = {"code-ours": OURS, "code-theirs": THEIRS}
    fake_slack.users.update({"UINSTALLER": "T0URS", "UTHEIRS": "TPARTNER"})
    fake_slack.channel_teams[SHARED] = ["T0URS", "TPARTNER"]
    bot = await start_bot(fake_slack, sqlite_url, PTM_CRM_ALLOW_PRIVATE="1", **MANY)
    try:
        await install(bot, "code-ours")
        await install(bot, "code-theirs")
        await accepted(bot)
        home = await open_home(bot, "UTHEIRS", team="TPARTNER")
        await bot.slack.click_home(
            home, "ptm_admin_crm", user="UTHEIRS", team="TPARTNER", value="ours"
        )
        modal, _ = opened(bot)
        closed_port = "http://127.0.0.1:9/their-secret-path"  # nothing listens there
        await bot.slack.submit(
            modal, {"crm_kind": "webhook", "crm_url": closed_port, "crm_secret": "s" * 20},
            user="UTHEIRS", user_team="TPARTNER", installed_team="TPARTNER",
        )  # fmt: skip
        await bot.slack.command("new Acme", user="UINSTALLER")
        await bot.slack.command("trio <@UINSTALLER> <@UINSTALLER> <@UTHEIRS>", user="UINSTALLER")
        await bot.slack.command("log joint call held", user="UINSTALLER")
        assert bot.runtime.tenants is not None
        for deps in await bot.runtime.tenants.each():
            await deliver_outbox(deps)
        [(error,)] = await bot.rows(
            "SELECT last_error FROM crm_outbox WHERE target_tenant IS NOT NULL"
        )
        assert "the partner company's own CRM connector" in error
        assert "127.0.0.1" not in error and "their-secret-path" not in error and ":9" not in error
    finally:
        await bot.stop()


async def test_their_metrics_count_their_people_on_the_deals_we_share(
    partnered: RunningBot,
) -> None:
    from tests.handlers.test_admin_home import open_home, text_of

    bot = partnered
    ts = await our_shared_deal(bot)
    # Their rep acted on our deal (through their installation); their admin did not.
    await bot.slack.command("new Second deal", user="USELLER", channel="CSHARED2")
    await bot.slack.command(
        "trio <@USELLER> <@UINSTALLER> <@UTHEIRS>", user="USELLER", channel="CSHARED2"
    )
    await bot.slack.click(
        bot.card(SHARED, ts), "ptm_card_synced", channel=SHARED, ts=ts,
        user="UREP", user_team="TPARTNER", team="TPARTNER",
    )  # fmt: skip

    async def metrics(user: str, team: str) -> str:
        bot.fake.calls.clear()
        await bot.slack.command("metrics", user=user, team=team, channel="C1")
        return str(bot.fake.of("response_url")[-1]["blocks"])

    answer = await metrics("UTHEIRS", "TPARTNER")
    assert "*On deals partners share with you*: *50%* — 1 of 2 of your people" in answer
    # A non-admin sees their own; our side's metrics do not count them as ours.
    assert "1 of 1 of your people" in await metrics("UREP", "TPARTNER")
    assert "On deals partners share with you" not in await metrics("UINSTALLER", "T0URS")
    home = text_of(await open_home(bot, "UREP", team="TPARTNER"))
    assert "On deals partners share with you" in home

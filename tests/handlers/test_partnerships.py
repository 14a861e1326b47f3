"""Partnerships between two companies that both installed PTM: proposed by an admin in a Slack
Connect channel, answered by the other company's admins through their own installation,
paused, resumed and ended from App Home; every move audited, each side moving only its own."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fakes.slack_api import FakeSlack, Workspace
from tests.handlers.test_admin_home import home_of, open_home, text_of
from tests.handlers.test_install import MANY, OURS, THEIRS, install
from tests.support.harness import RunningBot, start_bot

SHARED = "CSHARED"
ADDRESS = "https://ptm.example.com"  # where this PTM is served (SLACK_REDIRECT_URI's origin)


@pytest.fixture
async def two(fake_slack: FakeSlack, sqlite_url: str) -> AsyncIterator[RunningBot]:
    fake_slack.install_codes = {"code-ours": OURS, "code-theirs": THEIRS}
    fake_slack.users.update({"UINSTALLER": "T0URS", "USELLER": "T0URS", "UTHEIRS": "TPARTNER"})
    fake_slack.channel_teams[SHARED] = ["T0URS", "TPARTNER"]
    running = await start_bot(
        fake_slack, sqlite_url, SLACK_REDIRECT_URI=f"{ADDRESS}/slack/oauth_redirect", **MANY
    )
    await install(running, "code-ours")
    await install(running, "code-theirs")
    yield running
    await running.stop()


def opened(bot: RunningBot) -> tuple[dict[str, Any], str]:
    [call] = bot.fake.of_calls("views.open")
    return call.payload["view"], call.token


async def propose(bot: RunningBot, shares: list[str]) -> Any:
    bot.fake.calls.clear()
    status, answer = await bot.slack.command(
        "partnership", user="UINSTALLER", team="T0URS", channel=SHARED
    )
    assert status == 200, answer
    modal, token = opened(bot)
    assert token == "xoxb-ours-1" and modal["callback_id"] == "ptm_partnership_propose"
    _, answer = await bot.slack.submit(
        modal, {"shares": shares}, user="UINSTALLER", user_team="T0URS"
    )
    return answer


def dm_to(bot: RunningBot, user: str) -> tuple[dict[str, Any], str]:
    [call] = [c for c in bot.fake.of_calls("chat.postMessage") if c.payload["channel"] == user]
    return call.payload, call.token


async def test_a_partnership_is_proposed_answered_paused_and_ended_by_each_side(
    two: RunningBot,
) -> None:
    bot = two
    answer = await propose(bot, ["name", "stage", "next_step", "trio"])
    assert answer is None or "errors" not in answer
    [(state, ours, theirs)] = await bot.rows(
        "SELECT state, proposer_shares, partner_shares FROM partnerships"
    )
    assert state == "proposed" and "stage" in ours and theirs == "[]"

    # Their admin hears of it through their own installation, and reviews it there.
    message, token = dm_to(bot, "UTHEIRS")
    assert token == "xoxb-theirs-1" and "*Ours* proposes a PTM partnership" in message["text"]
    assert "deal name, stage, next step" in message["text"]
    bot.fake.calls.clear()
    await bot.slack.click(
        message, "ptm_partnership_review", channel="DUTHEIRS", ts="1.1", user="UTHEIRS",
        user_team="TPARTNER", team="TPARTNER",
    )  # fmt: skip
    modal, token = opened(bot)
    assert token == "xoxb-theirs-1" and modal["callback_id"] == "ptm_partnership_accept"
    # Sharing nothing at all is refused in the form; then they accept, sharing less.
    _, refused = await bot.slack.submit(
        modal, {"shares": []}, user="UTHEIRS", user_team="TPARTNER", installed_team="TPARTNER"
    )
    assert "at least the deal name" in refused["errors"]["shares"]
    bot.fake.calls.clear()
    await bot.slack.submit(
        modal, {"shares": ["name", "stage"]}, user="UTHEIRS", user_team="TPARTNER",
        installed_team="TPARTNER",
    )  # fmt: skip
    [(state, theirs)] = await bot.rows("SELECT state, partner_shares FROM partnerships")
    assert state == "active" and "stage" in theirs and "trio" not in theirs
    told, token = dm_to(bot, "UINSTALLER")
    assert token == "xoxb-ours-1" and "*Partner Co* accepted your PTM partnership" in told["text"]

    # Both App Homes show it, each from its own side.
    mine = text_of(await open_home(bot, "UINSTALLER"))
    assert "*Partner Co* · :handshake: active" in mine
    assert (
        "We share: deal name, stage, next step" in mine and "They share: deal name, stage" in mine
    )
    theirs_home = await open_home(bot, "UTHEIRS", team="TPARTNER")
    assert "*Ours* · :handshake: active" in text_of(theirs_home)

    # They pause it; only they can resume; we can end it.
    await bot.slack.click_home(
        theirs_home, "ptm_partnership_pause", user="UTHEIRS", team="TPARTNER"
    )
    assert await bot.rows("SELECT state FROM partnerships") == [("paused",)]
    mine_home = await open_home(bot, "UINSTALLER")
    assert "paused by them" in text_of(mine_home)
    assert "ptm_partnership_resume" not in text_of(mine_home)
    forged = {"blocks": [{"type": "actions", "elements": [
        {"type": "button", "action_id": "ptm_partnership_resume",
         "value": find_value(mine_home, "ptm_partnership_end")}]}]}  # fmt: skip
    await bot.slack.click_home(forged, "ptm_partnership_resume", user="UINSTALLER")
    assert "only they can resume it" in text_of(home_of(bot, "UINSTALLER"))
    await bot.slack.click_home(mine_home, "ptm_partnership_end", user="UINSTALLER")
    assert await bot.rows("SELECT state FROM partnerships") == [("ended",)]
    assert "*Ours* ended your PTM partnership" in dm_to(bot, "UTHEIRS")[0]["text"]

    audit = await bot.rows(
        "SELECT t.team_id, e.actor, e.action, e.state FROM partnership_events e "
        "JOIN tenants t ON t.id = e.tenant_id ORDER BY e.id"
    )
    assert audit == [
        ("T0URS", "UINSTALLER", "proposed", "proposed"),
        ("TPARTNER", "UTHEIRS", "accepted", "active"),
        ("TPARTNER", "UTHEIRS", "paused", "paused"),
        ("T0URS", "UINSTALLER", "ended", "ended"),
    ]
    # A stale button (the version it carries is old) changes nothing.
    await bot.slack.click_home(theirs_home, "ptm_partnership_end", user="UTHEIRS", team="TPARTNER")
    assert "changed while you were looking" in text_of(home_of(bot, "UTHEIRS"))
    assert len(await bot.rows("SELECT id FROM partnership_events")) == 4


def find_value(view: dict[str, Any], action_id: str) -> str:
    for block in view["blocks"]:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(action_id)


async def test_who_may_propose_and_to_whom(two: RunningBot, fake_slack: FakeSlack) -> None:
    bot = two
    # Not an admin.
    _, answer = await bot.slack.command("partnership", user="USELLER", team="T0URS", channel=SHARED)
    assert "Only PTM admins" in str(answer)
    # Not a shared channel.
    _, answer = await bot.slack.command("partnership", user="UINSTALLER", channel="CROOM")
    assert "not shared with another company" in str(answer)
    # Shared with a company that has not installed PTM.
    fake_slack.channel_teams["CGUEST"] = ["T0URS", "TNOPTM"]
    _, answer = await bot.slack.command("partnership", user="UINSTALLER", channel="CGUEST")
    assert "has not installed PTM yet" in str(answer)
    assert f"<{ADDRESS}/slack/install|Add to Slack page>" in str(answer)  # the install link
    # A second proposal while one waits: where it stands, nothing proposed twice.
    await propose(bot, ["name"])
    bot.fake.calls.clear()
    _, answer = await bot.slack.command("partnership", user="UINSTALLER", channel=SHARED)
    assert "You proposed a partnership to Partner Co, sharing deal name; their admins have " \
        "not answered yet" in str(answer)  # fmt: skip
    assert not bot.fake.of_calls("views.open")
    assert await bot.rows("SELECT count(*) FROM partnerships") == [(1,)]
    # Their admin reviews it with the same command in the shared channel: the answer form,
    # through their own installation.
    _, answer = await bot.slack.command(
        "partnership", user="UTHEIRS", team="TPARTNER", channel=SHARED
    )
    modal, token = opened(bot)
    assert (modal["callback_id"], token) == ("ptm_partnership_accept", "xoxb-theirs-1")
    assert "would share: deal name" in str(modal["blocks"])
    # Their non-admin cannot answer; the proposer cannot accept its own proposal.
    [(p_id,)] = await bot.rows("SELECT id FROM partnerships")
    forged = {"blocks": [{"type": "actions", "elements": [
        {"type": "button", "action_id": "ptm_partnership_review",
         "value": f'{{"p":{p_id},"v":1}}'}]}]}  # fmt: skip
    fake_slack.users["UOTHER"] = "TPARTNER"
    await bot.slack.click_home(forged, "ptm_partnership_review", user="UOTHER", team="TPARTNER")
    assert "Only PTM admins" in text_of(home_of(bot, "UOTHER"))
    await bot.slack.click_home(forged, "ptm_partnership_review", user="UINSTALLER")
    assert "Only the other company's admins can answer" in text_of(home_of(bot, "UINSTALLER"))
    # A third company cannot see or move it at all.
    third = Workspace("TTHIRD", "Third", installer="UTHIRD", bot_token="xoxb-third-1")
    fake_slack.install_codes["code-third"] = third
    fake_slack.users["UTHIRD"] = "TTHIRD"
    await install(bot, "code-third")
    end = {"blocks": [{"type": "actions", "elements": [
        {"type": "button", "action_id": "ptm_partnership_withdraw",
         "value": f'{{"p":{p_id},"v":1}}'}]}]}  # fmt: skip
    await bot.slack.click_home(end, "ptm_partnership_withdraw", user="UTHIRD", team="TTHIRD")
    assert "no longer exists" in text_of(home_of(bot, "UTHIRD"))
    assert await bot.rows("SELECT state FROM partnerships") == [("proposed",)]


async def test_an_admin_proposes_from_app_home_to_a_company_we_work_with(
    two: RunningBot, fake_slack: FakeSlack
) -> None:
    bot = two
    # A third company installed PTM but nobody of it works on our deals: it is not offered.
    third = Workspace("TTHIRD", "Third Co", installer="UTHIRD", bot_token="xoxb-third-1")
    fake_slack.install_codes["code-third"] = third
    fake_slack.users.update({"UTHIRD": "TTHIRD", "UREP": "TPARTNER"})
    await install(bot, "code-third")
    home = await open_home(bot, "UINSTALLER")
    await bot.slack.click_home(home, "ptm_partnership_start", user="UINSTALLER")
    said = text_of(home_of(bot, "UINSTALLER"))
    assert "No company whose people work on your deals has PTM installed" in said
    assert f"<{ADDRESS}/slack/install|Add to Slack page>" in said
    assert not bot.fake.of_calls("views.open")

    # Their rep is on one of our deals: their company is offered, and only it.
    await bot.slack.command("new Acme expansion", user="UINSTALLER", channel=SHARED)
    await bot.slack.command("trio partner <@UREP>", user="UINSTALLER", channel=SHARED)
    bot.fake.calls.clear()
    await bot.slack.click_home(home, "ptm_partnership_start", user="UINSTALLER")
    modal, token = opened(bot)
    assert (modal["callback_id"], token) == ("ptm_partnership_propose", "xoxb-ours-1")
    [pick] = [b for b in modal["blocks"] if b.get("block_id") == "partnership_with"]
    assert [o["text"]["text"] for o in pick["element"]["options"]] == ["Partner Co"]

    # A company slipped into the form that was not offered: refused, nothing proposed.
    [(third_id,)] = await bot.rows("SELECT id FROM tenants WHERE team_id = 'TTHIRD'")
    forged = json.loads(json.dumps(modal))
    [block] = [b for b in forged["blocks"] if b.get("block_id") == "partnership_with"]
    block["element"]["options"].append({"text": {"type": "plain_text", "text": "Third"},
                                        "value": str(third_id)})  # fmt: skip
    _, answer = await bot.slack.submit(
        forged, {"partnership_with": str(third_id), "shares": ["name"]}, user="UINSTALLER"
    )
    assert "cannot be proposed to" in str(answer)
    assert await bot.rows("SELECT count(*) FROM partnerships") == [(0,)]

    # Proposed to the company picked; their admins are asked through their installation.
    value = pick["element"]["options"][0]["value"]
    bot.fake.calls.clear()
    _, answer = await bot.slack.submit(
        modal, {"partnership_with": value, "shares": ["name", "stage"]}, user="UINSTALLER"
    )
    assert not (answer or {}).get("errors"), answer
    assert await bot.rows("SELECT state, proposer_shares FROM partnerships") in (
        [("proposed", ["name", "stage"])], [("proposed", '["name", "stage"]')]
    )  # fmt: skip
    message, token = dm_to(bot, "UTHEIRS")
    assert token == "xoxb-theirs-1" and "proposes a PTM partnership" in str(message)
    assert "Proposed a partnership to Partner Co" in text_of(home_of(bot, "UINSTALLER"))
    # Offered no more: the partnership is live.
    await bot.slack.click_home(home, "ptm_partnership_start", user="UINSTALLER")
    assert "No company whose people work on your deals" in text_of(home_of(bot, "UINSTALLER"))


async def test_one_workspace_says_partnerships_need_both_companies(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    fake_slack.users["UADMIN"] = "T0URS"
    fake_slack.channel_teams[SHARED] = ["T0URS", "TPARTNER"]
    bot = await start_bot(fake_slack, sqlite_url, PTM_ADMINS="UADMIN")
    try:
        _, answer = await bot.slack.command("partnership", user="UADMIN", channel=SHARED)
        assert "need PTM installed by both companies" in str(answer)
        assert "Partnerships" not in text_of(await open_home(bot, "UADMIN"))
    finally:
        await bot.stop()


async def accepted(bot: RunningBot) -> None:
    """A proposal from us, accepted by them with everything shared both ways."""
    await propose(bot, ["name", "stage", "next_step", "trio", "outcomes"])
    message, _ = dm_to(bot, "UTHEIRS")
    bot.fake.calls.clear()
    await bot.slack.click(
        message, "ptm_partnership_review", channel="DUTHEIRS", ts="1.1", user="UTHEIRS",
        user_team="TPARTNER", team="TPARTNER",
    )  # fmt: skip
    modal, _ = opened(bot)
    await bot.slack.submit(
        modal, {"shares": ["name", "stage"]}, user="UTHEIRS", user_team="TPARTNER",
        installed_team="TPARTNER",
    )  # fmt: skip
    assert await bot.rows("SELECT state FROM partnerships") == [("active",)]


async def test_the_partner_side_of_log_to_both_is_the_partner_companys_own_crm(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    from bot.app.scheduling import deliver_outbox
    from tests.fakes.crm import FakeCrm
    from tests.handlers.test_crm_log import signed

    crm = FakeCrm()
    await crm.start()
    fake_slack.install_codes = {"code-ours": OURS, "code-theirs": THEIRS}
    fake_slack.users.update({"UINSTALLER": "T0URS", "UTHEIRS": "TPARTNER"})
    fake_slack.channel_teams[SHARED] = ["T0URS", "TPARTNER"]
    bot = await start_bot(fake_slack, sqlite_url, PTM_CRM_ALLOW_PRIVATE="1", **MANY)
    try:
        await install(bot, "code-ours")
        await install(bot, "code-theirs")
        await accepted(bot)
        # Their admin connects their CRM in their own App Home.
        home = await open_home(bot, "UTHEIRS", team="TPARTNER")
        await bot.slack.click_home(
            home, "ptm_admin_crm", user="UTHEIRS", team="TPARTNER", value="ours"
        )
        modal, token = opened(bot)
        assert token == "xoxb-theirs-1"
        theirs = {"crm_kind": "webhook", "crm_url": crm.url("theirs")}
        await bot.slack.submit(
            modal, {**theirs, "crm_secret": "their-own-secret-key"},
            user="UTHEIRS", user_team="TPARTNER", installed_team="TPARTNER",
        )  # fmt: skip
        # Our deal with their rep; our side has no connector, theirs is their own CRM.
        await bot.slack.command("new Acme", user="UINSTALLER", team="T0URS")
        await bot.slack.command("trio <@UINSTALLER> <@UINSTALLER> <@UTHEIRS>", user="UINSTALLER")
        await bot.write("UPDATE deals SET account = 'Globex Health', amount = 250000")
        await bot.slack.command("attribution co-sell", user="UINSTALLER")
        _, logged = await bot.slack.command("log joint call held", user="UINSTALLER")
        assert "No CRM connector for ours:" in str(logged)
        assert bot.runtime.tenants is not None
        for deps in await bot.runtime.tenants.each():
            await deliver_outbox(deps)
        [received] = crm.delivered("theirs")
        assert received.signature == signed("their-own-secret-key", received.body)
        assert b"joint call held" in received.body
        # Only what we share with them: not the account, amount or attribution.
        body = json.loads(received.body)
        assert body["name"] == "Acme" and body["stage"] == "Qualify"
        assert not {"account", "amount", "currency", "attribution"} & set(body)
        assert b"Globex" not in received.body and b"250000" not in received.body
        told = {f for (f,) in await bot.rows("SELECT field FROM disclosures WHERE surface = 'crm'")}
        assert {"name", "stage", "outcome"} <= told and not told & {"account", "amount"}
        # Their address and secret never show on our side.
        ours = text_of(await open_home(bot, "UINSTALLER"))
        assert crm.url("theirs") not in ours and "their-own-secret" not in ours
        crm_ledger = await bot.rows(
            "SELECT DISTINCT receiving_team FROM disclosures WHERE surface = 'crm'"
        )
        assert crm_ledger == [("TPARTNER",)]

        # Paused: nothing new crosses; the outcome waits for export as without a partnership.
        await bot.slack.click_home(
            await open_home(bot, "UINSTALLER"), "ptm_partnership_pause", user="UINSTALLER"
        )
        _, logged = await bot.slack.command("log second call", user="UINSTALLER")
        assert "No CRM connector for ours, partner" in str(logged)
        assert await bot.rows(
            "SELECT status, target_tenant IS NOT NULL FROM crm_outbox WHERE side = 'partner' "
            "ORDER BY id"
        ) == [("delivered", 1), ("export", 0)]

        # Resumed, one more waits for their CRM; then their company leaves PTM for good.
        await bot.slack.click_home(
            await open_home(bot, "UINSTALLER"), "ptm_partnership_resume", user="UINSTALLER"
        )
        crm.script = ["500"]  # their CRM is down: it waits for a retry
        await bot.slack.command("log third call", user="UINSTALLER")
        from tests.support.cli import run_ptm

        code, _, err = await run_ptm(bot.fake, sqlite_url, "org", "purge", "TPARTNER")
        assert code == 0, err
        assert await bot.rows(
            "SELECT status, target_tenant, last_error FROM crm_outbox WHERE side = 'partner' "
            "ORDER BY id"
        ) == [
            ("delivered", None, None),
            ("export", None, None),
            ("dead", None, "the partner company left PTM"),
        ]
        assert await bot.rows("SELECT count(*) FROM partnerships") == [(0,)]
    finally:
        await bot.stop()
        await crm.stop()

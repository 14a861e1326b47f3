"""Many workspaces: "Add to Slack" end to end against a fake Slack, one tenant per workspace,
each served with its own token; uninstalling deletes the tokens at once."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from cryptography.fernet import Fernet

from tests.fakes.slack_api import FakeSlack, Workspace
from tests.support.harness import RunningBot, start_bot

KEY = Fernet.generate_key().decode()
MANY = {
    "SLACK_BOT_TOKEN": "",
    "SLACK_CLIENT_ID": "1111.2222",
    "SLACK_CLIENT_SECRET": "client-secret",
    "PTM_SECRET_KEY": KEY,
}
OURS = Workspace("T0URS", "Ours", installer="UINSTALLER", bot_token="xoxb-ours-1")
THEIRS = Workspace("TPARTNER", "Partner Co", installer="UTHEIRS", bot_token="xoxb-theirs-1")


@pytest.fixture
async def many(fake_slack: FakeSlack, sqlite_url: str) -> AsyncIterator[RunningBot]:
    fake_slack.install_codes = {"code-ours": OURS, "code-theirs": THEIRS}
    fake_slack.users.update({"UINSTALLER": "T0URS", "UTHEIRS": "TPARTNER"})
    running = await start_bot(fake_slack, sqlite_url, **MANY)
    yield running
    await running.stop()


def site(bot: RunningBot) -> str:
    return bot.slack.url.removesuffix("/slack/events")


async def install(bot: RunningBot, code: str) -> str:
    return await install_at(site(bot), code)


async def install_at(base: str, code: str) -> str:
    """Follow "Add to Slack" as a browser does: the install page sets the state cookie, Slack
    sends the browser back with a code and that state."""
    async with aiohttp.ClientSession() as browser:
        async with browser.get(f"{base}/slack/install") as page:
            html = await page.text()
            assert page.status == 200 and "slack.com/oauth/v2/authorize" in html
            # A Secure cookie (https in production), handed back as the browser would.
            cookie = page.headers["Set-Cookie"].split(";")[0]
        state = re.search(r"state=([\w-]+)", html)
        assert state is not None and "client_id=1111.2222" in html
        back = f"{base}/slack/oauth_redirect?code={code}&state={state.group(1)}"
        async with browser.get(back, headers={"Cookie": cookie}) as done:
            return f"{done.status} {await done.text()}"


async def test_two_workspaces_install_and_each_is_served_with_its_own_token(
    many: RunningBot,
) -> None:
    bot = many
    assert (await install(bot, "code-ours")).startswith("200")
    assert (await install(bot, "code-theirs")).startswith("200")
    # Each workspace's /ptm works, with that workspace's token, numbering its own deals.
    _, ours = await bot.slack.command("new Acme", user="UINSTALLER", team="T0URS")
    _, theirs = await bot.slack.command(
        "new Globex", user="UTHEIRS", team="TPARTNER", channel="CTHEIRS"
    )
    assert "Created PTM-1" in str(ours) and "Created PTM-1" in str(theirs)
    posted = {
        c.payload["channel"]: c.token for c in bot.fake.calls if c.method == "chat.postMessage"
    }
    assert posted == {"CROOM": "xoxb-ours-1", "CTHEIRS": "xoxb-theirs-1"}
    # Each sees only its own deal.
    _, listed = await bot.slack.command("list", user="UTHEIRS", team="TPARTNER")
    assert "Globex" in str(listed) and "Acme" not in str(listed)
    # The installers are their tenants' first admins; tokens are stored encrypted.
    assert await bot.rows(
        "SELECT t.team_id, a.user_id FROM tenant_admins a JOIN tenants t ON t.id = a.tenant_id "
        "ORDER BY t.team_id"
    ) == [("T0URS", "UINSTALLER"), ("TPARTNER", "UTHEIRS")]
    stored = await bot.rows(
        "SELECT bot_token FROM slack_bots UNION ALL SELECT bot_token FROM slack_installations"
    )
    assert len(stored) == 4 and not any("xoxb" in token for (token,) in stored)


async def test_uninstall_deletes_the_tokens_and_the_workspace_is_asked_to_reinstall(
    many: RunningBot,
) -> None:
    bot = many
    await install(bot, "code-ours")
    await install(bot, "code-theirs")
    status, _ = await bot.slack.event(
        {"type": "app_uninstalled", "event_ts": "1.1"}, event_id="EvGone", team="TPARTNER"
    )
    assert status == 200
    assert await bot.rows("SELECT count(*) FROM slack_bots WHERE team_id = 'TPARTNER'") == [(0,)]
    assert await bot.rows(
        "SELECT count(*) FROM slack_installations WHERE team_id = 'TPARTNER'"
    ) == [(0,)]
    status, _ = await bot.slack.command("list", user="UTHEIRS", team="TPARTNER")
    [answer] = bot.fake.of("response_url")
    assert status == 200 and "reinstall" in answer["text"]
    # The other workspace is untouched.
    _, ours = await bot.slack.command("new Acme", user="UINSTALLER", team="T0URS")
    assert "Created PTM-1" in str(ours)


async def test_a_forged_or_replayed_state_installs_nothing(many: RunningBot) -> None:
    bot = many
    async with aiohttp.ClientSession() as browser:
        forged = f"{site(bot)}/slack/oauth_redirect?code=code-ours&state=made-up"
        async with browser.get(forged) as done:
            assert done.status in (400, 401, 403) or "error" in (await done.text()).lower()
    assert not [c for c in bot.fake.calls if c.method == "oauth.v2.access"]
    assert await bot.rows("SELECT count(*) FROM slack_bots") == [(0,)]


async def test_rotating_tokens_are_refreshed_and_stored_encrypted(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    """Token rotation on: a token close to expiry is renewed before the request is served
    (Bolt's rotator), the new one used at once and stored encrypted with its refresh token."""
    rotating = Workspace("T0URS", "Ours", "UINSTALLER", bot_token="unused", expires_in=60)
    fake_slack.install_codes = {"code-ours": rotating}
    fake_slack.users["UINSTALLER"] = "T0URS"
    bot = await start_bot(fake_slack, sqlite_url, **MANY)
    try:
        assert (await install(bot, "code-ours")).startswith("200")
        first = fake_slack.issued[-1]
        _, made = await bot.slack.command("new Acme", user="UINSTALLER", team="T0URS")
        assert "Created PTM-1" in str(made)
        renewed = fake_slack.issued[-1]
        assert renewed != first and renewed.startswith("xoxe.xoxb-")
        [post] = bot.fake.of_calls("chat.postMessage")
        assert post.token == renewed
        stored = await bot.rows("SELECT bot_token, bot_refresh_token FROM slack_bots")
        assert stored and all("xoxe" not in str(v) for row in stored for v in row)
    finally:
        await bot.stop()


async def test_purge_exports_then_deletes_one_workspace_and_nothing_else(
    many: RunningBot, sqlite_url: str, tmp_path: Path
) -> None:
    from tests.support.cli import run_ptm

    bot = many
    await install(bot, "code-ours")
    await install(bot, "code-theirs")
    await bot.slack.command("new Acme", user="UINSTALLER", team="T0URS")
    await bot.slack.command("new Globex", user="UTHEIRS", team="TPARTNER", channel="CTHEIRS")
    await bot.slack.command(
        "next send the deck", user="UTHEIRS", team="TPARTNER", channel="CTHEIRS"
    )
    theirs = await bot.rows("SELECT id FROM tenants WHERE team_id = 'TPARTNER'")

    # An export that cannot be written deletes nothing.
    code, _, err = await run_ptm(
        bot.fake, sqlite_url, "org", "purge", "TPARTNER", "--export", str(tmp_path / "no/such.json")
    )
    assert code == 2 and "nothing deleted" in err
    assert await bot.rows("SELECT count(*) FROM deals") == [(2,)]

    export = tmp_path / "partner.json"
    code, out, err = await run_ptm(
        bot.fake, sqlite_url, "org", "purge", "TPARTNER", "--export", str(export)
    )
    assert code == 0, err
    assert "purged TPARTNER: 1 deals" in out
    data = json.loads(export.read_text())
    assert [d["name"] for d in data["tables"]["deals"]] == ["Globex"]
    assert [s["text"] for s in data["tables"]["next_steps"]] == ["send the deck"]
    assert "xoxb" not in export.read_text() and "tenant_id" not in data["tables"]["deals"][0]
    # Nothing of theirs is left anywhere; ours is untouched.
    for table in ("deals", "deal_events", "next_steps", "card_copies", "channel_bindings",
                  "trio_members", "tenant_admins", "user_prefs", "processed_events"):  # fmt: skip
        assert await bot.rows(
            f"SELECT count(*) FROM {table} WHERE tenant_id = :t", t=theirs[0][0]
        ) == [(0,)]
    assert await bot.rows("SELECT team_id FROM tenants") == [("T0URS",)]
    assert await bot.rows("SELECT DISTINCT team_id FROM slack_bots") == [("T0URS",)]
    _, ours = await bot.slack.command("list", user="UINSTALLER", team="T0URS")
    assert "Acme" in str(ours)
    code, _, err = await run_ptm(bot.fake, sqlite_url, "org", "purge", "TNOBODY")
    assert code == 2 and "No workspace TNOBODY" in err


async def test_background_work_runs_for_every_installed_workspace_with_its_token(
    many: RunningBot,
) -> None:
    """Digests (and every periodic job) go through each installed tenant in turn with that
    tenant's own token; copies are updated by the installation that posted them; an
    uninstalled workspace gets nothing."""
    from bot.app.scheduling import run_digests

    bot = many
    await install(bot, "code-ours")
    await install(bot, "code-theirs")
    for who, team, room in (("UINSTALLER", "T0URS", "CROOM"), ("UTHEIRS", "TPARTNER", "CTHEIRS")):
        await bot.slack.command("new Deal", user=who, team=team, channel=room)
        await bot.slack.command(
            f"trio <@{who}> <@{who}> <@UPARTNER>", user=who, team=team, channel=room
        )
        await bot.slack.command(f"next call them for <@{who}>", user=who, team=team, channel=room)
    assert bot.runtime.tenants is not None
    updated = {(c.payload["channel"], c.token) for c in bot.fake.of_calls("chat.update")}
    assert updated == {("CROOM", "xoxb-ours-1"), ("CTHEIRS", "xoxb-theirs-1")}

    for deps in await bot.runtime.tenants.each():
        await run_digests(deps, hour=0)
    dms = {(c.payload["channel"], c.token) for c in bot.fake.of_calls("chat.postMessage")
           if c.payload["channel"].startswith("U")}  # fmt: skip
    # UPARTNER works at the partner company: one of theirs, so their tenant's digest reaches
    # them (with their token), and ours, for whom they are external, does not.
    assert dms == {
        ("UINSTALLER", "xoxb-ours-1"),
        ("UTHEIRS", "xoxb-theirs-1"),
        ("UPARTNER", "xoxb-theirs-1"),
    }
    for deps in await bot.runtime.tenants.each():  # once a day, however often it runs
        assert (await run_digests(deps, hour=0)).sent == []

    revoked = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UPTMBOT"]}}
    status, _ = await bot.slack.event(revoked, event_id="EvRev", team="TPARTNER")
    assert status == 200
    assert [d.ctx.uow.tenant_id for d in await bot.runtime.tenants.each()] == [
        (await bot.rows("SELECT id FROM tenants WHERE team_id = 'T0URS'"))[0][0]
    ]


async def test_the_installer_is_an_admin_of_their_workspace_only(many: RunningBot) -> None:
    bot = many
    await install(bot, "code-ours")
    await install(bot, "code-theirs")
    bot.fake.users.update({"UOTHER": "T0URS", "UTHEIRS2": "TPARTNER"})
    await bot.slack.command("new Acme", user="UOTHER", team="T0URS")
    await bot.slack.command("trio <@UOTHER> <@UOTHER> <@UPARTNER>", user="UOTHER", team="T0URS")
    # Not in the trio, but their workspace's admin: the installer may change it...
    _, moved = await bot.slack.command("stage propose", user="UINSTALLER", team="T0URS")
    assert "moved to *Propose*" in str(moved)
    # ...while in the partner's workspace, someone not in the trio and no admin may not.
    await bot.slack.command("new Globex", user="UTHEIRS2", team="TPARTNER", channel="CTHEIRS")
    await bot.slack.command(
        "trio <@UTHEIRS2> <@UTHEIRS2> <@UPARTNER>",
        user="UTHEIRS2",
        team="TPARTNER",
        channel="CTHEIRS",
    )
    _, refused = await bot.slack.command(
        "stage propose", user="UOUTSIDE", team="TPARTNER", channel="CTHEIRS"
    )
    assert "PTM admins can change it" in str(refused)
    _, theirs = await bot.slack.command(
        "stage propose", user="UTHEIRS", team="TPARTNER", channel="CTHEIRS"
    )
    assert "moved to *Propose*" in str(theirs)


async def test_an_org_wide_install_is_one_tenant_for_all_its_workspaces(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    """Enterprise Grid: installed once for the org, PTM serves every workspace of it as one
    company (one tenant, one numbering), with the org's token."""
    org = Workspace("T0URS", "Grid Org", "UINSTALLER", bot_token="xoxb-org-1", org="E0ORG")
    fake_slack.install_codes = {"code-org": org}
    fake_slack.users.update({"UINSTALLER": "T0URS", "UEAST": "T0EAST"})
    bot = await start_bot(fake_slack, sqlite_url, **MANY)
    try:
        assert (await install(bot, "code-org")).startswith("200")
        _, first = await bot.slack.command(
            "new Acme", user="UINSTALLER", team="T0URS", org_install="E0ORG"
        )
        _, second = await bot.slack.command(
            "new Initech", user="UEAST", team="T0EAST", org_install="E0ORG", channel="CEAST"
        )
        assert "Created PTM-1" in str(first) and "Created PTM-2" in str(second)
        assert await bot.rows("SELECT team_id FROM tenants") == [("E0ORG",)]
        posted = {c.token for c in bot.fake.of_calls("chat.postMessage")}
        assert posted == {"xoxb-org-1"}
    finally:
        await bot.stop()


async def test_command_line_jobs_work_for_the_workspace_named(
    many: RunningBot, sqlite_url: str, tmp_path: Path
) -> None:
    from tests.support.cli import run_ptm

    bot = many
    await install(bot, "code-ours")
    await install(bot, "code-theirs")
    csv_file = tmp_path / "map.csv"
    csv_file.write_text(
        "name,industries,buyer_levels,competencies,geographies,contacts,slack_team_id\n"
        "MedData,healthcare,VP,data,EMEA,,\n",
        encoding="utf-8",
    )
    # Which workspace? A job does not guess.
    code, _, err = await run_ptm(bot.fake, sqlite_url, "partners", "import", str(csv_file), **MANY)
    assert code == 2 and "--team" in err and len(err.strip().splitlines()) == 1, err
    code, _, err = await run_ptm(bot.fake, sqlite_url, "report", "--team", "TNOBODY", **MANY)
    assert code == 2 and "no workspace TNOBODY" in err, err
    code, out, err = await run_ptm(
        bot.fake, sqlite_url, "partners", "import", str(csv_file), "--team", "TPARTNER", **MANY
    )
    assert code == 0 and "partners added: 1" in out, err
    # Their map has it; ours does not.
    _, theirs = await bot.slack.command("find healthcare data", user="UTHEIRS", team="TPARTNER")
    _, ours = await bot.slack.command("find healthcare data", user="UINSTALLER", team="T0URS")
    assert "MedData" in str(theirs) and "MedData" not in str(ours)
    code, out, err = await run_ptm(bot.fake, sqlite_url, "report", "--team", "T0URS", **MANY)
    assert code == 0 and "Seller activation" in out, err

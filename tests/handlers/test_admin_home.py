"""The admin section of App Home: admins, the digest hour and the CRM connector, per tenant,
changed by clicks on the Home tab, honoured at once and audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.app.scheduling import deliver_outbox, run_digests
from tests.fakes.clock import FixedClock
from tests.fakes.crm import FakeCrm
from tests.fakes.slack_api import FakeSlack
from tests.handlers.test_crm_log import signed
from tests.handlers.test_install import MANY, OURS, THEIRS, install
from tests.support.harness import RunningBot, start_bot


def home_of(bot: RunningBot, user: str) -> dict[str, Any]:
    """The last Home tab published for `user`."""
    views = [p["view"] for p in bot.fake.of("views.publish") if p["user_id"] == user]
    assert views, f"no Home published for {user}"
    return views[-1]


def text_of(view: dict[str, Any]) -> str:
    return str(view["blocks"])


async def open_home(bot: RunningBot, user: str, team: str = "T0URS") -> dict[str, Any]:
    bot.fake.calls.clear()
    opened = {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home"}
    status, _ = await bot.slack.event(opened, event_id=f"EvHome-{user}-{id(opened)}", team=team)
    assert status == 200
    return home_of(bot, user)


@pytest.fixture
async def crm() -> AsyncIterator[FakeCrm]:
    fake = FakeCrm()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def many(fake_slack: FakeSlack, sqlite_url: str) -> AsyncIterator[RunningBot]:
    fake_slack.install_codes = {"code-ours": OURS, "code-theirs": THEIRS}
    fake_slack.users.update(
        {"UINSTALLER": "T0URS", "USELLER": "T0URS", "UALLY": "T0URS", "UTHEIRS": "TPARTNER"}
    )
    running = await start_bot(fake_slack, sqlite_url, PTM_CRM_ALLOW_PRIVATE="1", **MANY)
    await install(running, "code-ours")
    await install(running, "code-theirs")
    yield running
    await running.stop()


async def test_the_installer_manages_admins_from_app_home_and_rights_follow_at_once(
    many: RunningBot,
) -> None:
    bot = many
    home = await open_home(bot, "UINSTALLER")
    shown = text_of(home)
    assert "PTM settings · admins only" in shown and "<@UINSTALLER>" in shown
    assert "08:00 (the default)" in shown and "not connected" in shown
    # Someone who is not an admin sees their deals, not the settings.
    assert "PTM settings" not in text_of(await open_home(bot, "USELLER"))

    # The seller's deal: the ally is not on its trio and may not change it yet.
    await bot.slack.command("new Acme", user="USELLER", team="T0URS")
    await bot.slack.command("trio <@USELLER> <@USELLER> <@UTHEIRS>", user="USELLER")
    _, refused = await bot.slack.command("stage PTM-1 Discover", user="UALLY")
    assert "Only the trio of PTM-1" in str(refused)

    home = await open_home(bot, "UINSTALLER")
    await bot.slack.click_home(home, "ptm_admin_add", user="UINSTALLER", selected_user="UALLY")
    assert "<@UALLY> is a PTM admin now" in text_of(home_of(bot, "UINSTALLER"))
    _, allowed = await bot.slack.command("stage PTM-1 Discover", user="UALLY")
    assert "Discover" in str(allowed) and "Only the trio" not in str(allowed)

    # Someone from another company, a bot, or an admin already: refused, nothing stored.
    for chosen, why in (
        ("UTHEIRS", "is from another company"),
        ("UALLY", "is a PTM admin already"),
    ):
        await bot.slack.click_home(
            home_of(bot, "UINSTALLER"), "ptm_admin_add", user="UINSTALLER", selected_user=chosen
        )
        assert why in text_of(home_of(bot, "UINSTALLER"))
    ours = "SELECT a.user_id FROM tenant_admins a JOIN tenants t ON t.id = a.tenant_id " \
        "WHERE t.team_id = 'T0URS' ORDER BY a.user_id"  # fmt: skip
    assert await bot.rows(ours) == [("UALLY",), ("UINSTALLER",)]

    # A non-admin's forged click changes nothing.
    await bot.slack.click_home(home, "ptm_admin_add", user="USELLER", selected_user="USELLER")
    assert "Only PTM admins" in text_of(home_of(bot, "USELLER"))
    assert await bot.rows(ours) == [("UALLY",), ("UINSTALLER",)]

    # The ally removes the installer; the last admin left cannot remove themselves.
    home = await open_home(bot, "UALLY")
    await bot.slack.click_home(home, "ptm_admin_remove", user="UALLY", value="UINSTALLER")
    assert "<@UINSTALLER> is no longer a PTM admin" in text_of(home_of(bot, "UALLY"))
    await bot.slack.click_home(home, "ptm_admin_remove", user="UALLY", value="UALLY")
    assert "is the last PTM admin here" in text_of(home_of(bot, "UALLY"))
    assert await bot.rows(ours) == [("UALLY",)]
    # ... and the removed admin's rights end at once.
    _, refused = await bot.slack.command("stage PTM-1 Validate", user="UINSTALLER")
    assert "Only the trio of PTM-1" in str(refused)

    # The other workspace's admins are its own.
    theirs = await open_home(bot, "UTHEIRS", team="TPARTNER")
    assert "<@UTHEIRS>" in text_of(theirs) and "UALLY" not in text_of(theirs)
    # ... and an admin there cannot remove one here, nor set our digest hour.
    forged = {"blocks": [{"type": "actions", "elements": [
        {"type": "button", "action_id": "ptm_admin_remove", "value": "UALLY"}]}]}  # fmt: skip
    await bot.slack.click_home(forged, "ptm_admin_remove", user="UTHEIRS", team="TPARTNER")
    assert "<@UALLY> is not a PTM admin" in text_of(home_of(bot, "UTHEIRS"))
    await bot.slack.click_home(
        theirs, "ptm_admin_digest_hour", user="UTHEIRS", team="TPARTNER", option="6"
    )
    assert await bot.rows(ours) == [("UALLY",)]
    assert await bot.rows("SELECT team_id, digest_hour FROM tenants ORDER BY team_id") == [
        ("T0URS", None),
        ("TPARTNER", 6),
    ]
    audit = await bot.rows("SELECT actor, action, detail FROM tenant_events ORDER BY id")
    assert [(a, b) for a, b, _ in audit] == [
        ("UINSTALLER", "admin_added"),
        ("UALLY", "admin_removed"),
        ("UTHEIRS", "digest_hour"),
    ]


async def test_the_digest_hour_is_the_tenants_own(many: RunningBot) -> None:
    bot = many
    bot.fake.timezones.update({"UINSTALLER": "UTC", "UTHEIRS": "UTC", "UPARTNER": "UTC"})
    home = await open_home(bot, "UINSTALLER")
    await bot.slack.click_home(home, "ptm_admin_digest_hour", user="UINSTALLER", option="10")
    assert "Digests now go out at 10:00" in text_of(home_of(bot, "UINSTALLER"))
    assert await bot.rows("SELECT team_id, digest_hour FROM tenants ORDER BY team_id") == [
        ("T0URS", 10),
        ("TPARTNER", None),
    ]
    for who, team, room in (("UINSTALLER", "T0URS", "CROOM"), ("UTHEIRS", "TPARTNER", "CTH")):
        await bot.slack.command("new Deal", user=who, team=team, channel=room)
        await bot.slack.command(
            f"trio <@{who}> <@{who}> <@UPARTNER>", user=who, team=team, channel=room
        )
        await bot.slack.command(f"next call for <@{who}>", user=who, team=team, channel=room)
    assert bot.runtime.tenants is not None

    async def digests_at(hour: int) -> set[str]:
        bot.clock.at = datetime(2026, 12, 1, hour, 30, tzinfo=UTC)
        sent: set[str] = set()
        for deps in await bot.runtime.tenants.each():  # type: ignore[union-attr]
            sent |= set((await run_digests(deps)).sent)
        return sent

    # The partner company's people at the default hour; ours wait for 10.
    assert await digests_at(8) == {"UTHEIRS", "UPARTNER"}

    assert await digests_at(9) == set()
    assert await digests_at(10) == {"UINSTALLER"}


async def test_a_tenants_crm_connector_is_set_in_app_home_sealed_and_used(
    many: RunningBot, crm: FakeCrm
) -> None:
    bot = many
    home = await open_home(bot, "UINSTALLER")
    await bot.slack.click_home(home, "ptm_admin_crm", user="UINSTALLER", value="ours")
    [opened] = bot.fake.of("views.open")
    modal = opened["view"]
    assert modal["callback_id"] == "ptm_crm_connector" and "Required." in str(modal)

    async def submit(url: str, secret: str | None, view: dict[str, Any] = modal) -> Any:
        values = {"crm_kind": "webhook", "crm_url": url, "crm_secret": secret}
        _, answer = await bot.slack.submit(view, values, user="UINSTALLER", user_team="T0URS")
        return answer

    answer = await submit("ftp://crm.example.com", "0123456789abcdef")
    assert "must be an https address" in answer["errors"]["crm_url"]
    answer = await submit(crm.url("ours"), "short")
    assert "16 to 500 characters" in answer["errors"]["crm_secret"]
    assert await bot.rows("SELECT count(*) FROM crm_connectors") == [(0,)]

    answer = await submit(crm.url("ours"), "a-very-secret-signing-key")
    assert answer is None or "errors" not in answer
    assert "Outcomes now go to our CRM" in text_of(home_of(bot, "UINSTALLER"))
    [(url, sealed, version)] = await bot.rows("SELECT url, secret, version FROM crm_connectors")
    assert url == crm.url("ours") and version == 1 and "secret" not in sealed
    assert "a-very-secret" not in str(await bot.rows("SELECT detail FROM tenant_events"))

    # A form opened before the change cannot overwrite it.
    answer = await submit("https://other.example.com/hook", "another-secret-key-123")
    assert answer["response_action"] == "update" and "Another admin changed" in str(answer)

    # Our outcomes go to it, signed with its secret; the other workspace has no connector.
    await bot.slack.command("new Acme", user="UINSTALLER", team="T0URS")
    _, logged = await bot.slack.command("log call held", user="UINSTALLER", team="T0URS")
    assert "No CRM connector for partner" in str(logged)
    await bot.slack.command("new Globex", user="UTHEIRS", team="TPARTNER", channel="CTH")
    _, theirs = await bot.slack.command(
        "log met them", user="UTHEIRS", team="TPARTNER", channel="CTH"
    )
    assert "No CRM connector for ours, partner" in str(theirs)
    assert bot.runtime.tenants is not None
    for deps in await bot.runtime.tenants.each():
        await deliver_outbox(deps)
    [received] = crm.delivered("ours")
    assert received.signature == signed("a-very-secret-signing-key", received.body)
    assert b"Acme" in received.body and b"Globex" not in received.body

    # Emptying the URL disconnects it (from a fresh form).
    await bot.slack.click_home(
        await open_home(bot, "UINSTALLER"), "ptm_admin_crm", user="UINSTALLER", value="ours"
    )
    [fresh] = bot.fake.of("views.open")
    assert "Leave blank to keep the current one" in str(fresh["view"])
    await submit("", None, view=fresh["view"])
    assert await bot.rows("SELECT count(*) FROM crm_connectors") == [(0,)]


async def test_one_workspace_keeps_its_environment_and_shows_it(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    """Single workspace: PTM_ADMINS are admins (not removable in Slack), the connectors are
    the PTM_CRM_* variables (shown, not editable), the digest hour can be set in App Home."""
    fake_slack.users.update({"UADMIN": "T0URS", "USELLER": "T0URS"})
    fake_slack.timezones["USELLER"] = "UTC"
    clock = FixedClock(datetime(2026, 12, 1, 8, 30, tzinfo=UTC))
    bot = await start_bot(
        fake_slack,
        sqlite_url,
        clock=clock,
        PTM_ADMINS="UADMIN",
        PTM_CRM_OURS_URL="https://crm.example.com/ptm",
        PTM_CRM_OURS_SECRET="s3cret-s3cret-s3cret",
    )
    try:
        home = await open_home(bot, "UADMIN")
        shown = text_of(home)
        assert "<@UADMIN> · set by `PTM_ADMINS`" in shown
        assert "`https://crm.example.com/ptm`" in shown and "PTM_CRM_OURS_URL" in shown
        assert "ptm_admin_crm" not in shown and "ptm_admin_remove" not in shown
        await bot.slack.command("new Acme", user="USELLER")
        await bot.slack.command("trio <@USELLER> <@USELLER> <@UPARTNER>", user="USELLER")
        await bot.slack.command("next call them for <@USELLER>", user="USELLER")
        await bot.slack.click_home(home, "ptm_admin_digest_hour", user="UADMIN", option="9")
        assert bot.runtime.deps is not None
        assert (await run_digests(bot.runtime.deps)).sent == []  # 08:30, the hour is 9 now
        clock.advance(hours=1)
        assert (await run_digests(bot.runtime.deps)).sent == ["USELLER"]
        # No Remove button for them; a forged click is refused all the same.
        forged = {"blocks": [{"type": "actions", "elements": [
            {"type": "button", "action_id": "ptm_admin_remove", "value": "UADMIN"}]}]}  # fmt: skip
        await bot.slack.click_home(forged, "ptm_admin_remove", user="UADMIN")
        assert "through PTM_ADMINS" in text_of(home_of(bot, "UADMIN"))
    finally:
        await bot.stop()

"""Background work over many tenants: each job runs only for the tenants with work, found in a
fixed number of statements per batch of tenants (never one per idle tenant)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from bot.app.scheduling import deliver_outbox, digest_gate, run_digests
from bot.app.tenancy import Gate, TenantDeps
from bot.services import batches
from tests.fakes.clock import FixedClock
from tests.fakes.slack_api import FakeSlack, Workspace
from tests.handlers.test_install import MANY, install
from tests.support.harness import RunningBot, start_bot

TEAMS = [f"T{i:04d}" for i in range(8)]
MORNING = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # before anyone's digest hour (UTC)


@pytest.fixture
async def eight(fake_slack: FakeSlack, sqlite_url: str) -> AsyncIterator[RunningBot]:
    fake_slack.install_codes = {
        f"code-{t}": Workspace(t, f"Co {t}", installer=f"U{t}", bot_token=f"xoxb-{t}")
        for t in TEAMS
    }
    fake_slack.users.update({f"U{t}": t for t in TEAMS})
    fake_slack.timezones.update({f"U{t}": "UTC" for t in TEAMS})
    running = await start_bot(fake_slack, sqlite_url, clock=FixedClock(MORNING), **MANY)
    yield running
    await running.stop()


async def with_deal(bot: RunningBot, team: str) -> None:
    who, room = f"U{team}", f"C{team}"
    await bot.slack.command("new Deal", user=who, team=team, channel=room)
    await bot.slack.command(
        f"trio <@{who}> <@{who}> <@UPARTNER>", user=who, team=team, channel=room
    )
    await bot.slack.command(f"next call them for <@{who}>", user=who, team=team, channel=room)


def counting(bot: RunningBot) -> list[str]:
    seen: list[str] = []
    event.listen(
        bot.runtime.engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cur, sql, *_a: seen.append(sql),
    )
    return seen


async def busy(tenants: TenantDeps, gate: Gate) -> set[str]:
    keys = {tenant: key for batch in await tenants.batches() for tenant, key in batch}
    return {keys[deps.ctx.uow.tenant_id] for deps in await tenants.each(gate)}


async def test_jobs_run_only_for_tenants_with_work_at_a_fixed_cost_per_batch(
    eight: RunningBot,
) -> None:
    bot = eight
    for team in TEAMS[:2]:
        assert (await install(bot, f"code-{team}")).startswith("200")
    for team in TEAMS[:2]:
        await with_deal(bot, team)
    tenants = bot.runtime.tenants
    assert tenants is not None
    gates = {
        "digests": digest_gate(tenants),
        "outbox": batches.tenants_with_due_outbox,
        "cards": batches.tenants_with_stale_cards,
        "mentions": batches.tenants_with_stalled_mentions,
    }
    # Their digest hour (8) has not come; nothing else waits: no tenant has work... except
    # that PTM has not learnt its people's time zones yet, which it does first.
    assert await busy(tenants, gates["digests"]) == {"T0000", "T0001"}
    for deps in await tenants.each():
        await run_digests(deps)  # learns the zones; sends nothing before 8:00
    for name, gate in gates.items():
        assert await busy(tenants, gate) == set(), name

    # An idle pass costs the same with 2 tenants as with 8.
    seen = counting(bot)
    for gate in gates.values():
        await tenants.each(gate)
    with_two = len(seen)
    for team in TEAMS[2:]:
        await install(bot, f"code-{team}")
    seen.clear()
    for gate in gates.values():
        await tenants.each(gate)
    assert len(seen) == with_two <= 4 * 8, seen

    # Work in one tenant makes it, and only it, busy for that job.
    await bot.slack.command("log met them", user="UT0001", team="T0001", channel="CT0001")
    assert await busy(tenants, gates["outbox"]) == set()  # no connector: kept for export
    await bot.write("UPDATE crm_outbox SET status = 'pending' WHERE side = 'ours'")
    assert await busy(tenants, gates["outbox"]) == {"T0001"}
    bot.clock.at = MORNING.replace(hour=8)
    assert await busy(tenants, gates["digests"]) == {"T0000", "T0001"}
    for deps in await tenants.each(gates["digests"]):
        assert (await run_digests(deps)).sent
    assert await busy(tenants, gates["digests"]) == set()  # once a day
    for deps in await tenants.each(gates["outbox"]):
        await deliver_outbox(deps)  # it has no connector: retried later, not due now
    assert await busy(tenants, gates["outbox"]) == set()
    await bot.write("UPDATE card_copies SET rendered_version = 0 WHERE channel_id = 'CT0000'")
    assert await busy(tenants, gates["cards"]) == {"T0000"}

"""Salesforce, both directions, through the real connector against a local stand-in of its
REST API: link and import, signed notifications and the reconciliation pass (CRM → card),
compare-and-set write-backs (card → CRM), outcomes as one composite request, credentials."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest

from bot.app.scheduling import deliver_outbox, reconcile_crm
from bot.domain.outbox import signature
from tests.fakes.salesforce import FakeSalesforce
from tests.fakes.slack_api import FakeSlack
from tests.support.cards import card_text
from tests.support.cli import run_ptm
from tests.support.harness import RunningBot, start_bot

HOOK_SECRET = "salesforce-flow-hmac-secret"


@pytest.fixture
async def sf() -> AsyncIterator[FakeSalesforce]:
    fake = FakeSalesforce()
    await fake.start()
    fake.add(1, "Acme expansion", Account="Acme Corp", Amount=120000.0, CloseDate="2026-12-20",
             StageName="Needs Analysis")  # fmt: skip
    fake.add(2, "Globex renewal", Account="Globex", Amount=50000.0, StageName="Prospecting")
    yield fake
    await fake.stop()


def sf_env(sf: FakeSalesforce, **extra: str) -> dict[str, str]:
    return {
        "PTM_CRM_OURS_KIND": "salesforce",
        "PTM_CRM_OURS_URL": sf.url,
        "PTM_CRM_OURS_CLIENT_ID": sf.client_id,
        "PTM_CRM_OURS_SECRET": sf.client_secret,
        "PTM_CRM_OURS_WEBHOOK_SECRET": HOOK_SECRET,
        **extra,
    }


@pytest.fixture
async def bot(fake_slack: FakeSlack, db_url: str, sf: FakeSalesforce) -> AsyncIterator[RunningBot]:
    running = await start_bot(fake_slack, db_url, **sf_env(sf))
    yield running
    await running.stop()


OPP1 = "006000000000001AAA"
OPP2 = "006000000000002AAA"


def lightning(sf: FakeSalesforce, record_id: str) -> str:
    return f"{sf.url}/lightning/r/Opportunity/{record_id}/view"


async def linked_deal(bot: RunningBot, sf: FakeSalesforce) -> str:
    await bot.slack.command("new Placeholder")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    _, answer = await bot.slack.command(f"link <{lightning(sf, OPP1)}>")
    assert "Linked PTM-1 to Salesforce opportunity" in answer["text"], answer
    return bot.posted_cards()[0][1]


async def notify(bot: RunningBot, body: object, *, secret: str | None = HOOK_SECRET) -> int:
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-PTM-Signature"] = signature(secret, raw)
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{bot.base_url}/crm/salesforce", data=raw, headers=headers) as r:
            return r.status


def stamp_of(sf: FakeSalesforce, record_id: str) -> str:
    at = sf.opportunities[record_id].SystemModstamp
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


async def deal_row(bot: RunningBot) -> tuple[object, ...]:
    [row] = await bot.rows(
        "SELECT name, account, amount, stage, status, version, close_date FROM deals"
    )
    return tuple(row)


# --- 2. link and import ----------------------------------------------------------------------


async def test_link_by_url_takes_the_record_and_every_bad_reference_changes_nothing(
    bot: RunningBot, sf: FakeSalesforce
) -> None:
    ts = await linked_deal(bot, sf)
    name, account, amount, stage, status, version, close = await deal_row(bot)
    assert (name, account, Decimal(str(amount)), stage, str(close)) == (
        "Acme expansion",
        "Acme Corp",
        Decimal("120000.00"),
        "Discover",
        "2026-12-20",
    )
    text = card_text(bot.card("CROOM", ts))
    assert "Acme expansion" in text and "Discover" in text
    [(source, actor)] = await bot.rows(
        "SELECT source, actor FROM deal_events WHERE CAST(changes AS TEXT) LIKE '%crm_link%'"
    )
    assert (source, actor) == ("command", "USELLER")

    bad = {
        "link https://other-org.lightning.force.com/lightning/r/Opportunity/006000000000002AAA/view":
            "another Salesforce org",
        "link 006000000000009AAA": "no opportunity",
        "link https://example.com/some/page": "does not point at",
        "link hello": "not a CRM record id or URL",
        "link 1234": "This side's CRM is Salesforce",
        f"link {OPP2}x": "not a CRM record",
    }  # fmt: skip
    sf.hidden.add(OPP2)
    bad[f"link {OPP2}"] = "may not see"
    for command, expected in bad.items():
        _, answer = await bot.slack.command(command)
        assert expected in answer["text"], (command, answer["text"])
    assert await deal_row(bot) == (name, account, amount, stage, status, version, close)
    [(record,)] = await bot.rows("SELECT record_id FROM crm_links")
    assert record == OPP1


async def test_new_from_url_creates_the_deal_from_the_record_once(
    bot: RunningBot, sf: FakeSalesforce
) -> None:
    _, answer = await bot.slack.command(f"new <{lightning(sf, OPP2)}|Globex renewal>")
    assert "Created PTM-1" in answer["text"] and "Linked PTM-1" in answer["text"], answer
    name, account, amount, stage, *_ = await deal_row(bot)
    assert (name, account, Decimal(str(amount)), stage) == (
        "Globex renewal",
        "Globex",
        Decimal("50000.00"),
        "Qualify",
    )
    assert bot.posted_cards(), "the new deal's card is posted in the channel"
    _, again = await bot.slack.command(f"new {lightning(sf, OPP2)}")
    assert "already PTM-1" in again["text"]
    assert len(await bot.rows("SELECT id FROM deals")) == 1


async def test_a_webhook_side_links_nothing(fake_slack: FakeSlack, sqlite_url: str) -> None:
    running = await start_bot(
        fake_slack, sqlite_url, PTM_CRM_OURS_URL="https://crm.example/ptm",
        PTM_CRM_OURS_SECRET="a-secret-of-some-length",
    )  # fmt: skip
    try:
        await running.slack.command("new Acme")
        _, answer = await running.slack.command(f"link {OPP1}")
        assert "signed webhook" in answer["text"]
        assert await running.rows("SELECT id FROM crm_links") == []
    finally:
        await running.stop()


# --- 3. CRM → card ---------------------------------------------------------------------------


async def test_signed_notifications_update_the_card_once_and_never_roll_back(
    bot: RunningBot, sf: FakeSalesforce
) -> None:
    ts = await linked_deal(bot, sf)
    *_, version_before, _ = await deal_row(bot)
    sf.change(OPP1, Amount=150000.0, StageName="Proposal/Price Quote")
    first = {"Id": OPP1, "SystemModstamp": stamp_of(sf, OPP1), "Amount": 150000}
    sf.change(OPP1, Amount=175000.0)
    second = {"Id": OPP1, "SystemModstamp": stamp_of(sf, OPP1), "Amount": 175000}

    # Refused: unsigned, wrongly signed, unreadable. Nothing read, nothing changed.
    reads = len(sf.requests("/query"))
    assert await notify(bot, second, secret=None) == 401
    assert await notify(bot, second, secret="not-the-secret") == 401
    assert await notify(bot, {"nothing": "useful"}) == 400
    assert len(sf.requests("/query")) == reads
    assert (await deal_row(bot))[5] == version_before

    # The newer one first, then the older one late, then the newer again: one change.
    assert await notify(bot, second) == 204
    _, _, amount, stage, _, version, _ = await deal_row(bot)
    assert (Decimal(str(amount)), stage, version) == (
        Decimal("175000.00"),
        "Propose",
        version_before + 1,
    )
    assert await notify(bot, first) == 204
    assert await notify(bot, second) == 204
    assert (await deal_row(bot))[5] == version_before + 1
    text = card_text(bot.card("CROOM", ts))
    assert "175,000" in text and "Propose" in text
    [(source, actor)] = await bot.rows(
        "SELECT source, actor FROM deal_events WHERE version = :v", v=version_before + 1
    )
    assert (source, actor) == ("crm", "crm")  # nobody's activation


async def test_reconciliation_catches_missed_changes_in_one_query(
    bot: RunningBot, sf: FakeSalesforce
) -> None:
    await linked_deal(bot, sf)
    deps = bot.runtime.deps
    assert deps is not None
    await reconcile_crm(deps)  # the first pass sets the mark
    sf.change(OPP1, Name="Acme expansion (EMEA)", CloseDate="2027-01-15")
    sf.change(OPP2, Name="Unlinked record")  # not ours: read, not applied
    before = len(sf.calls)
    report = await reconcile_crm(deps)
    assert report.changed == {1} and report.seen == 2
    assert len(sf.calls) - before == 1  # one SOQL query (token and describe are cached)
    name, *_, close = await deal_row(bot)
    assert (name, str(close)) == ("Acme expansion (EMEA)", "2027-01-15")
    again = await reconcile_crm(deps)
    assert again.changed == set()


# --- 4. card → CRM ---------------------------------------------------------------------------


async def test_changes_in_ptm_are_written_back_with_a_compare_and_set(
    bot: RunningBot, sf: FakeSalesforce
) -> None:
    ts = await linked_deal(bot, sf)
    deps = bot.runtime.deps
    assert deps is not None
    await bot.slack.command("stage Negotiate")
    await deliver_outbox(deps)
    assert sf.opportunities[OPP1].StageName == "Negotiation/Review"
    patches = [c for c in sf.calls if c[0] == "PATCH"]
    assert len(patches) == 1
    # The record's own write comes back as a notification: nothing changes twice.
    *_, version, _ = await deal_row(bot)
    assert await notify(bot, {"Id": OPP1, "SystemModstamp": stamp_of(sf, OPP1)}) == 204
    assert (await deal_row(bot))[5] == version

    # Someone changes the amount in Salesforce; before PTM hears of it, a PTM user moves the
    # stage. The write finds the record changed (412): Salesforce's newer record wins.
    sf.change(OPP1, Amount=99000.0, StageName="Closed Lost")
    await bot.slack.command("stage Propose")
    await deliver_outbox(deps)
    assert sf.opportunities[OPP1].StageName == "Closed Lost"  # not overwritten
    _, _, amount, stage, status, *_ = await deal_row(bot)
    assert (Decimal(str(amount)), stage, status) == (Decimal("99000.00"), "Closed Lost", "lost")
    [(changes,)] = await bot.rows(
        "SELECT changes FROM deal_events WHERE CAST(changes AS TEXT) LIKE '%crm_conflict%'"
    )
    assert "kept Salesforce's newer value" in str(changes)
    [(note,)] = await bot.rows(
        "SELECT last_error FROM crm_outbox WHERE kind = 'update' ORDER BY id DESC LIMIT 1"
    )
    assert note.startswith("conflict")
    assert "Closed Lost" in card_text(bot.card("CROOM", ts))

    # The record cannot be written now (deleted in Salesforce): the write waits and retries,
    # and the card says so to our people.
    sf.hidden.add(OPP1)
    await bot.slack.command("reopen")
    await deliver_outbox(deps)
    assert "our CRM record: retrying (1)" in card_text(bot.card("CROOM", ts))


async def test_a_slow_read_of_an_older_record_never_overwrites_a_newer_one(
    bot: RunningBot, sf: FakeSalesforce
) -> None:
    """Two notifications race: the first reads the record, its answer is slow; meanwhile the
    record changes again and the second applies the newer state. The first then arrives with
    the older record, and changes nothing (checked under the deal's row lock)."""
    await linked_deal(bot, sf)
    *_, version, _ = await deal_row(bot)
    sf.change(OPP1, Amount=1.0)
    first = {"Id": OPP1, "SystemModstamp": stamp_of(sf, OPP1)}
    sf.slow_once = 0.6
    slow = asyncio.create_task(notify(bot, first))
    await asyncio.sleep(0.2)  # the slow read has the record as it was
    sf.change(OPP1, Amount=2.0)
    assert await notify(bot, {"Id": OPP1, "SystemModstamp": stamp_of(sf, OPP1)}) == 204
    assert await slow == 204
    _, _, amount, *_, after, _ = await deal_row(bot)
    assert Decimal(str(amount)) == Decimal("2.00") and after == version + 1


# --- 5. outcomes -----------------------------------------------------------------------------


async def test_an_outcome_is_one_composite_task_and_next_step_never_twice(
    bot: RunningBot, sf: FakeSalesforce
) -> None:
    await linked_deal(bot, sf)
    deps = bot.runtime.deps
    assert deps is not None
    sf.fail_composite = 1  # the first attempt fails as a whole (allOrNone)
    _, answer = await bot.slack.command("log joint call held, CFO wants a pilot")
    assert "Logged on PTM-1" in answer["text"]
    assert sf.tasks == []
    await bot.write("UPDATE crm_outbox SET next_attempt_at = '2000-01-01 00:00:00'")
    await deliver_outbox(deps)
    [task] = sf.tasks
    assert task["WhatId"] == OPP1 and task["Status"] == "Completed"
    assert "joint call held, CFO wants a pilot" in task["Subject"]
    assert sf.opportunities[OPP1].NextStep == "joint call held, CFO wants a pilot"
    assert len(sf.requests("/composite")) == 2  # the failed one and the one that worked
    # Its answer was lost: the outbox sends it again. The Task is found, not created twice.
    await bot.write(
        "UPDATE crm_outbox SET status = 'pending', next_attempt_at = '2000-01-01 00:00:00' "
        "WHERE side = 'ours'"
    )
    await deliver_outbox(deps)
    assert len(sf.tasks) == 1 and len(sf.requests("/composite")) == 2


# --- 6. credentials --------------------------------------------------------------------------


async def test_tokens_refresh_once_and_refused_credentials_need_attention(
    fake_slack: FakeSlack, sqlite_url: str, sf: FakeSalesforce
) -> None:
    running = await start_bot(fake_slack, sqlite_url, **sf_env(sf))
    try:
        await running.slack.command("new Acme")
        _, answer = await running.slack.command(f"link {OPP1}")
        assert "Linked PTM-1" in answer["text"]
        issued = sf.issued
        sf.expire_tokens()  # the session timed out: one new token, the call goes through
        _, answer = await running.slack.command(f"link {OPP2}")
        assert "Linked PTM-1" in answer["text"] and sf.issued == issued + 1
    finally:
        await running.stop()
    sf.client_secret = "rotated-by-the-admin"
    sf.expire_tokens()
    running = await start_bot(fake_slack, sqlite_url, **sf_env(sf, PTM_CRM_OURS_SECRET="stale"))
    try:
        _, answer = await running.slack.command(f"link {OPP1}")
        assert "refused the connector's client credentials" in answer["text"]
        assert "stale" not in answer["text"]
        [(attention, detail)] = await running.rows("SELECT needs_attention, detail FROM crm_health")
        assert attention and "client credentials" in detail
        # Nothing else waits on it: cards and commands work, and the card says it.
        _, answer = await running.slack.command("stage Validate")
        assert "moved to *Validate*" in answer["text"]
        text = card_text(running.card("CROOM", running.posted_cards()[0][1]))
        assert "our CRM: needs attention" in text
    finally:
        await running.stop()
    code, out, _ = await run_ptm(
        fake_slack, sqlite_url, "outbox", **sf_env(sf, PTM_CRM_OURS_SECRET="stale")
    )
    assert code == 1 and "needs attention: the ours CRM connector" in out, out
    assert "stale" not in out

"""Meeting and log: outcomes reach both CRMs once, signed, retried through failures."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator

import pytest

from bot.app.scheduling import deliver_outbox
from tests.fakes.crm import FakeCrm
from tests.fakes.slack_api import FakeSlack
from tests.support.cards import card_text
from tests.support.harness import RunningBot, start_bot


@pytest.fixture
async def crm() -> AsyncIterator[FakeCrm]:
    fake = FakeCrm()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def crm_bot(
    fake_slack: FakeSlack, sqlite_url: str, crm: FakeCrm
) -> AsyncIterator[RunningBot]:
    bot = await start_bot(
        fake_slack,
        sqlite_url,
        PTM_CRM_OURS_URL=crm.url("ours"),
        PTM_CRM_OURS_SECRET="our-secret",
        PTM_CRM_PARTNER_URL=crm.url("partner"),
        PTM_CRM_PARTNER_SECRET="their-secret",
    )
    bot.runtime.deps.crm.timeout = 0.5  # seconds: a hanging CRM fails fast here
    await bot.slack.command("new Acme expansion")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    yield bot
    await bot.stop()


def signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_outcome_goes_to_both_crms_signed_and_shown_on_the_card(
    crm_bot: RunningBot, crm: FakeCrm
) -> None:
    bot = crm_bot
    ts = bot.posted_cards()[0][1]
    _, body = await bot.slack.command("log joint call held, CFO wants a pilot")
    assert "Logged on PTM-1" in body["text"] and "Sending to both CRMs" in body["text"]
    [ours], [theirs] = crm.delivered("ours"), crm.delivered("partner")
    assert ours.signature == signed("our-secret", ours.body)
    assert theirs.signature == signed("their-secret", theirs.body)
    assert ours.key != theirs.key
    sent = json.loads(ours.body)
    assert {
        "deal_key",
        "name",
        "account",
        "stage",
        "amount",
        "currency",
        "attribution",
        "partner",
        "outcome",
        "meeting_date",
        "result",
        "logged_by",
        "logged_at",
    } <= set(sent)
    assert sent["outcome"] == "joint call held, CFO wants a pilot" and sent["deal_key"] == "PTM-1"
    assert "internal_notes" in sent and "internal_notes" not in json.loads(theirs.body)
    text = card_text(bot.card("CROOM", ts))
    assert "our CRM: delivered" in text and "partner CRM: delivered" in text
    assert ":white_check_mark: meeting" in text and ":white_check_mark: log" in text
    await deliver_outbox(bot.runtime.deps)  # nothing is ever sent twice
    assert len(crm.received) == 2


async def test_failures_are_retried_with_backoff_under_one_key(
    crm_bot: RunningBot, crm: FakeCrm
) -> None:
    bot = crm_bot
    ts = bot.posted_cards()[0][1]
    crm.script = ["500", "ok", "hang", "500"]  # ours fails, partner ok; then ours hangs, fails
    await bot.slack.command("log pilot agreed")
    assert "our CRM: retrying (1)" in card_text(bot.card("CROOM", ts))
    assert "partner CRM: delivered" in card_text(bot.card("CROOM", ts))
    await deliver_outbox(bot.runtime.deps)  # not due yet: about 2 s after the failure
    assert len(crm.received) == 2
    for expected in (3, 4):
        bot.clock.advance(seconds=60)
        await deliver_outbox(bot.runtime.deps)
        assert len(crm.received) == expected
    assert "our CRM: retrying (3)" in card_text(bot.card("CROOM", ts))
    bot.clock.advance(seconds=60)
    await deliver_outbox(bot.runtime.deps)
    attempts = [r for r in crm.received if r.path == "ours"]
    assert len(attempts) == 4 and len(crm.delivered("ours")) == 1
    # Every retry sent the same bytes; the idempotency key of the delivery never changed.
    assert {r.body for r in attempts} == {attempts[0].body}
    [(key,)] = await bot.rows("SELECT idempotency_key FROM crm_outbox WHERE side = 'ours'")
    assert {r.key for r in attempts} == {key}
    assert "our CRM: delivered" in card_text(bot.card("CROOM", ts))
    rows = await bot.rows("SELECT side, status, attempts FROM crm_outbox ORDER BY side")
    assert rows == [("ours", "delivered", 4), ("partner", "delivered", 1)]


async def test_a_side_without_connector_keeps_an_importable_record(
    fake_slack: FakeSlack, sqlite_url: str, crm: FakeCrm
) -> None:
    bot = await start_bot(
        fake_slack, sqlite_url, PTM_CRM_OURS_URL=crm.url("ours"), PTM_CRM_OURS_SECRET="our-secret"
    )
    try:
        await bot.slack.command("new Acme")
        _, body = await bot.slack.command("log intro call done")
        assert "No CRM connector for partner" in body["text"]
        assert len(crm.delivered("ours")) == 1
        rows = await bot.rows("SELECT side, status FROM crm_outbox ORDER BY side")
        assert rows == [("ours", "delivered"), ("partner", "export")]
        ts = bot.posted_cards()[0][1]
        assert "partner CRM: no connector (export)" in card_text(bot.card("CROOM", ts))
    finally:
        await bot.stop()


async def test_outbox_command_line(fake_slack: FakeSlack, tmp_path, crm: FakeCrm) -> None:  # type: ignore[no-untyped-def]
    from tests.support.cli import run_ptm

    db = f"sqlite+aiosqlite:///{tmp_path}/ptm.db"
    extra = {"PTM_CRM_OURS_URL": crm.url("ours"), "PTM_CRM_OURS_SECRET": "our-secret"}
    bot = await start_bot(fake_slack, db, **extra)
    crm.script = ["500"]
    await bot.slack.command("new Acme")
    await bot.slack.command("log kickoff held")
    await bot.stop()
    # Pretend every attempt failed: the ours delivery is a dead letter now.
    import sqlite3

    with sqlite3.connect(f"{tmp_path}/ptm.db") as conn:
        conn.execute("UPDATE crm_outbox SET status='dead', attempts=12 WHERE side='ours'")

    async def ptm(*args: str) -> tuple[int, str]:
        code, out, _ = await run_ptm(fake_slack, db, *args, **extra)
        return code, out

    code, out = await ptm("outbox")
    assert (
        code == 1
        and "dead letters: 1" in out
        and "PTM-1 → ours CRM after 12 attempts: HTTP 500" in out
    )
    code, out = await ptm("outbox", "retry")
    assert "dead letters queued again: 1" in out
    code, out = await ptm("outbox")
    assert code == 0 and "dead letters: 0" in out
    target = tmp_path / "partner.jsonl"
    code, out = await ptm("outbox", "export", str(target))
    assert "outcomes exported: 1" in out
    [record] = [json.loads(line) for line in target.read_text().splitlines()]
    assert record["side"] == "partner" and record["record"]["outcome"] == "kickoff held"
    assert "internal_notes" not in record["record"]


async def test_two_workers_never_deliver_the_same_outcome_twice(
    fake_slack: FakeSlack, db_url: str, crm: FakeCrm
) -> None:
    import asyncio

    from tests.fakes.clock import FixedClock

    extra = {
        "PTM_CRM_OURS_URL": crm.url("ours"),
        "PTM_CRM_OURS_SECRET": "s1",
        "PTM_CRM_PARTNER_URL": crm.url("partner"),
        "PTM_CRM_PARTNER_SECRET": "s2",
    }
    clock = FixedClock()
    one = await start_bot(fake_slack, db_url, clock=clock, **extra)
    two = await start_bot(fake_slack, db_url, clock=clock, **extra)
    try:
        await one.slack.command("new Acme")
        crm.script = ["500"] * 12  # the first round fails: everything is due again later
        for n in range(6):
            await one.slack.command(f"log outcome number {n}")
        clock.advance(seconds=120)
        await asyncio.gather(*(deliver_outbox(b.runtime.deps) for b in [one, two] * 3))
        for side in ("ours", "partner"):
            outcomes = [json.loads(r.body)["outcome"] for r in crm.delivered(side)]
            assert sorted(outcomes) == sorted(f"outcome number {n}" for n in range(6)), side
        rows = await one.rows("SELECT DISTINCT status FROM crm_outbox")
        assert rows == [("delivered",)]
    finally:
        await one.stop()
        await two.stop()


async def test_log_outcome_modal_from_the_card_partner_included(
    crm_bot: RunningBot, crm: FakeCrm
) -> None:
    bot = crm_bot
    ts = bot.posted_cards()[0][1]
    partner = {"user": "UPARTNER", "user_team": "TPARTNER"}
    await bot.slack.click(
        bot.card("CROOM", ts), "ptm_card_log_outcome", channel="CROOM", ts=ts, **partner
    )
    view = bot.fake.of("views.open")[-1]["view"]
    _, body = await bot.slack.submit(view, {"outcome": "", "meeting_date": "2026-13-01"}, **partner)
    assert body["response_action"] == "errors" and {"outcome", "meeting_date"} <= set(
        body["errors"]
    )
    _, body = await bot.slack.submit(
        view,
        {"outcome": "workshop held", "meeting_date": "2026-11-23", "result": "positive"},
        **partner,
    )
    assert not body
    sent = json.loads(crm.delivered("partner")[0].body)
    assert (sent["outcome"], sent["meeting_date"], sent["result"], sent["logged_by"]) == (
        "workshop held",
        "2026-11-23",
        "positive",
        "UPARTNER",
    )
    assert "partner CRM: delivered" in card_text(bot.card("CROOM", ts))


async def test_dead_letter_after_the_last_attempt_and_delivery_after_restart(
    fake_slack: FakeSlack, sqlite_url: str, crm: FakeCrm
) -> None:
    extra = {
        "PTM_CRM_OURS_URL": crm.url("ours"),
        "PTM_CRM_OURS_SECRET": "s1",
        "PTM_CRM_PARTNER_URL": crm.url("partner"),
        "PTM_CRM_PARTNER_SECRET": "s2",
    }
    first = await start_bot(fake_slack, sqlite_url, **extra)
    await first.slack.command("new Acme")
    crm.script = ["500", "500"]
    await first.slack.command("log first call")
    ts = first.posted_cards()[0][1]
    # The ours side is on its last attempt; it fails again and becomes a dead letter.
    async with first.runtime.engine.begin() as conn:
        await conn.exec_driver_sql("UPDATE crm_outbox SET attempts = 11 WHERE side = 'ours'")
    first.clock.advance(minutes=30)
    crm.script = ["500", "500"]  # both sides fail once more
    await deliver_outbox(first.runtime.deps)
    assert "our CRM: failed" in card_text(first.card("CROOM", ts))
    await first.stop()  # the partner side is still pending when the process stops

    second = await start_bot(fake_slack, sqlite_url, clock=first.clock, **extra)
    try:
        second.clock.advance(minutes=1)
        await deliver_outbox(second.runtime.deps)
        rows = await second.rows("SELECT side, status FROM crm_outbox ORDER BY side")
        assert rows == [("ours", "dead"), ("partner", "delivered")]
        assert len(crm.delivered("partner")) == 1 and crm.delivered("ours") == []
    finally:
        await second.stop()


async def test_the_partner_sees_only_whether_our_side_was_delivered(
    crm_bot: RunningBot, crm: FakeCrm
) -> None:
    """Our CRM failing, retrying or not connected is ours to know: a copy the partner can see
    says delivered or waiting for our side; their side's state shows in full."""
    bot = crm_bot
    bot.fake.shared_channels.add("CSHARED")
    await bot.slack.command("card PTM-1", channel="CSHARED")
    room = next(ts for ch, ts in bot.posted_cards() if ch == "CROOM")
    shared = next(ts for ch, ts in bot.posted_cards() if ch == "CSHARED")
    crm.script = ["500", "500"]  # ours fails, theirs fails
    await bot.slack.command("log pilot agreed")
    assert "our CRM: retrying (1)" in card_text(bot.card("CROOM", room))
    outside = card_text(bot.card("CSHARED", shared))
    assert "our CRM: waiting" in outside and "retrying" not in outside.split("partner CRM")[0]
    assert "partner CRM: retrying (1)" in outside
    bot.clock.advance(seconds=60)
    await deliver_outbox(bot.runtime.deps)
    assert "our CRM: delivered" in card_text(bot.card("CSHARED", shared))

"""HubSpot, both directions, through the real connector against a local stand-in of its CRM v3
API: link by URL (its account checked), signed v3 webhook batches with duplicates, reordering
and stale or forged signatures, write-backs after a last-modified check, outcomes as notes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest

from bot.app.scheduling import deliver_outbox, reconcile_crm
from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.slack_api import FakeSlack
from tests.support.cards import card_text
from tests.support.harness import RunningBot, start_bot


@pytest.fixture
async def hs() -> AsyncIterator[FakeHubSpot]:
    fake = FakeHubSpot()
    await fake.start()
    fake.add(501, "Initech platform", company="Initech", amount="80000",
             closedate="2026-12-31T00:00:00.000Z", dealstage="qualifiedtobuy",
             deal_currency_code="EUR")  # fmt: skip
    fake.add(502, "Hooli pilot", company="Hooli", amount="10000", dealstage="appointmentscheduled")
    fake.add(503, "Umbrella", amount="5000")
    yield fake
    await fake.stop()


@pytest.fixture
async def bot(fake_slack: FakeSlack, sqlite_url: str, hs: FakeHubSpot) -> AsyncIterator[RunningBot]:
    running = await start_bot(
        fake_slack, sqlite_url, PTM_CRM_OURS_KIND="hubspot", PTM_CRM_OURS_URL=hs.url,
        PTM_CRM_OURS_SECRET=hs.token, PTM_CRM_OURS_WEBHOOK_SECRET=hs.client_secret,
    )  # fmt: skip
    yield running
    await running.stop()


def deal_url(hs: FakeHubSpot, deal_id: str, portal: int | None = None) -> str:
    return f"https://app.hubspot.com/contacts/{portal or hs.portal_id}/record/0-3/{deal_id}"


async def three_linked_deals(bot: RunningBot, hs: FakeHubSpot) -> None:
    for n, deal_id in enumerate(("501", "502", "503"), start=1):
        _, answer = await bot.slack.command(f"new {deal_url(hs, deal_id)}", channel=f"CROOM{n}")
        assert f"Linked PTM-{n}" in answer["text"], answer


async def rows(bot: RunningBot) -> list[tuple[object, ...]]:
    found = await bot.rows(
        "SELECT number, name, account, amount, stage, currency, version FROM deals ORDER BY number"
    )
    return [tuple(r) for r in found]


async def test_link_by_url_checks_the_account_and_imports(bot: RunningBot, hs: FakeHubSpot) -> None:
    await bot.slack.command("new Placeholder")
    _, answer = await bot.slack.command(f"link {deal_url(hs, '501', portal=999)}")
    assert "another" not in answer["text"] and "account 999" in answer["text"]
    _, answer = await bot.slack.command("link 777")
    assert "HubSpot has no deal 777" in answer["text"]
    assert (await rows(bot))[0][1] == "Placeholder"
    _, answer = await bot.slack.command(f"link <{deal_url(hs, '501')}>")
    assert "Linked PTM-1 to HubSpot deal 501" in answer["text"]
    [(_, name, account, amount, stage, currency, _)] = await rows(bot)
    assert (name, account, Decimal(str(amount)), stage, currency) == (
        "Initech platform",
        "Initech",
        Decimal("80000.00"),
        "Discover",
        "EUR",
    )


async def test_signed_batches_apply_once_whatever_the_order(
    bot: RunningBot, hs: FakeHubSpot
) -> None:
    await three_linked_deals(bot, hs)
    before = await rows(bot)
    url = f"{bot.base_url}/crm/hubspot"
    now = bot.clock.now()
    hs.change("501", amount="81000")
    first = hs.event("501")
    hs.change("501", amount="82000", dealstage="contractsent")
    second = hs.event("501", "dealstage")
    hs.change("502", dealname="Hooli pilot (phase 2)")
    third = hs.event("502", "dealname")

    assert await hs.notify(url, [second], now=now, signature="forged") == 401
    assert await hs.notify(url, [second], now=now, secret="someone-else") == 401
    assert await hs.notify(url, [second], now=now - timedelta(minutes=6)) == 401  # stale
    assert await rows(bot) == before
    reads = len(hs.requests("/deals/batch/read"))
    # Reordered, duplicated, in one batch: each deal changes once, to its newest state.
    assert await hs.notify(url, [third, second, first, second, third], now=now) == 204
    assert len(hs.requests("/deals/batch/read")) - reads == 1  # one read for the batch
    after = await rows(bot)
    assert Decimal(str(after[0][3])) == Decimal("82000.00") and after[0][4] == "Negotiate"
    assert after[1][1] == "Hooli pilot (phase 2)"
    assert [r[6] for r in after] == [before[0][6] + 1, before[1][6] + 1, before[2][6]]
    # HubSpot retries the batch for days: the same events again change nothing.
    bot.clock.advance(hours=1)
    assert await hs.notify(url, [first, second, third], now=bot.clock.now()) == 204
    assert await rows(bot) == after


async def test_reconciliation_and_write_back_after_a_last_modified_check(
    bot: RunningBot, hs: FakeHubSpot
) -> None:
    await three_linked_deals(bot, hs)
    deps = bot.runtime.deps
    assert deps is not None
    await reconcile_crm(deps)
    hs.change("503", dealname="Umbrella Corp rollout")
    before = len(hs.calls)
    report = await reconcile_crm(deps)
    assert report.changed == {3} and len(hs.calls) - before <= 3
    assert (await rows(bot))[2][1] == "Umbrella Corp rollout"

    await bot.slack.command("stage PTM-1 Propose", channel="CROOM1")
    await deliver_outbox(deps)
    assert hs.deals["501"]["dealstage"] == "decisionmakerboughtin"
    # Changed in HubSpot meanwhile: PTM's write is not made, HubSpot's value stays.
    hs.change("502", amount="12345")
    await bot.slack.command("stage PTM-2 Validate", channel="CROOM2")
    await deliver_outbox(deps)
    assert hs.deals["502"]["dealstage"] == "appointmentscheduled"
    assert Decimal(str((await rows(bot))[1][3])) == Decimal("12345.00")
    assert "Qualify" in card_text(bot.card("CROOM2", bot.posted_cards()[1][1]))


async def test_an_outcome_is_one_note_on_the_deal(bot: RunningBot, hs: FakeHubSpot) -> None:
    await three_linked_deals(bot, hs)
    deps = bot.runtime.deps
    assert deps is not None
    await bot.slack.command("log PTM-1 exec sponsor met, <b>budget</b> approved", channel="CROOM1")
    await deliver_outbox(deps)
    [note] = hs.notes
    assert note["properties"]["hs_timestamp"].endswith("Z")
    assert "&lt;b&gt;budget&lt;/b&gt;" in note["properties"]["hs_note_body"]
    assert note["associations"][0]["to"]["id"] == "501"
    await bot.write(
        "UPDATE crm_outbox SET status = 'pending', next_attempt_at = '2000-01-01 00:00:00' "
        "WHERE side = 'ours'"
    )
    await deliver_outbox(deps)
    assert len(hs.notes) == 1


async def test_a_refused_token_needs_attention_and_blocks_nothing(
    fake_slack: FakeSlack, sqlite_url: str, hs: FakeHubSpot
) -> None:
    running = await start_bot(
        fake_slack, sqlite_url, PTM_CRM_OURS_KIND="hubspot", PTM_CRM_OURS_URL=hs.url,
        PTM_CRM_OURS_SECRET="pat-revoked",
    )  # fmt: skip
    try:
        await running.slack.command("new Acme")
        _, answer = await running.slack.command("link 501")
        assert "refused the private app's access token" in answer["text"]
        [(attention, detail)] = await running.rows("SELECT needs_attention, detail FROM crm_health")
        assert attention and "access token" in detail and "pat-revoked" not in detail
        _, answer = await running.slack.command("log kickoff held")
        assert "Logged on PTM-1" in answer["text"]
        deps = running.runtime.deps
        assert deps is not None
        await deliver_outbox(deps)
        [(status, error)] = await running.rows(
            "SELECT status, last_error FROM crm_outbox WHERE side = 'ours'"
        )
        assert status == "pending" and "not linked" in error
        _, answer = await running.slack.command("stage Validate")
        assert "moved to *Validate*" in answer["text"]
    finally:
        await running.stop()


async def test_the_partners_own_hubspot_gets_their_outcomes_on_the_deal_they_linked(
    fake_slack: FakeSlack, sqlite_url: str, hs: FakeHubSpot
) -> None:
    """The partner side can be a CRM too: their rep links the deal to their company's record
    (it does not change our card), and logged outcomes become notes there."""
    running = await start_bot(
        fake_slack, sqlite_url, PTM_CRM_PARTNER_KIND="hubspot", PTM_CRM_PARTNER_URL=hs.url,
        PTM_CRM_PARTNER_SECRET=hs.token,
    )  # fmt: skip
    try:
        await running.slack.command("new Our own name for it")
        await running.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
        _, answer = await running.slack.command("link 502", user="UPARTNER", team="TPARTNER")
        assert "Linked PTM-1 to HubSpot deal 502" in answer["text"]
        assert "your company's record" in answer["text"]
        [(name,)] = await running.rows("SELECT name FROM deals")
        assert name == "Our own name for it"
        _, answer = await running.slack.command("link 501")  # ours: no connector of that kind
        assert "no connector for our CRM" in answer["text"]
        await running.slack.command("log partner pitched the add-on", user="UALLY")
        deps = running.runtime.deps
        assert deps is not None
        await deliver_outbox(deps)
        [note] = hs.notes
        assert note["associations"][0]["to"]["id"] == "502"
        assert "partner pitched the add-on" in note["properties"]["hs_note_body"]
    finally:
        await running.stop()

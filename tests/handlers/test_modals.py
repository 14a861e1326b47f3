"""Modals: new deal, set next step, edit deal — opened by command or card, submitted signed."""

from __future__ import annotations

from typing import Any

from tests.support.cards import card_text, card_version
from tests.support.harness import RunningBot


def last_view(bot: RunningBot) -> dict[str, Any]:
    return bot.fake.of("views.open")[-1]["view"]


async def started_deal(bot: RunningBot) -> str:
    await bot.slack.command("new Acme expansion")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    return [ts for (ch, ts) in bot.posted_cards() if ch == "CROOM"][0]


async def test_new_without_name_opens_modal_and_submission_creates_deal(bot: RunningBot) -> None:
    status, body = await bot.slack.command("new")
    assert status == 200 and body is None
    [opened] = bot.fake.of("views.open")
    assert opened["trigger_id"].startswith("trigger-")
    view = last_view(bot)
    assert {b["block_id"] for b in view["blocks"]} >= {
        "name",
        "account",
        "amount",
        "close_date",
        "stage",
    }

    status, body = await bot.slack.submit(
        view,
        {
            "name": "Globex renewal",
            "account": "Globex",
            "amount": "250,000",
            "currency": "eur",
            "close_date": "2027-01-15",
            "stage": "Discover",
            "attribution": "co-sell",
        },
    )
    assert status == 200 and not body, body
    [posted] = bot.fake.of("chat.postMessage")
    text = card_text(posted)
    assert "PTM-1 · Globex renewal" in text and "*Globex*" in text
    assert "EUR 250,000" in text and "2027-01-15" in text and "co-sell" in text
    assert "*Stage*\nDiscover" in text
    assert posted["channel"] == "CROOM"


async def test_new_deal_modal_errors_stay_in_the_modal(bot: RunningBot) -> None:
    await bot.slack.command("new")
    status, body = await bot.slack.submit(
        last_view(bot),
        {
            "name": "  ",
            "amount": "lots",
            "currency": "euros",
            "stage": "Qualify",
        },
    )
    assert status == 200
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"name", "amount", "currency"}
    assert "120000" in body["errors"]["amount"] and "3-letter" in body["errors"]["currency"]
    assert await bot.rows("SELECT count(*) FROM deals") == [(0,)]


async def test_set_next_step_by_modal(bot: RunningBot) -> None:
    ts = await started_deal(bot)
    await bot.slack.click(
        bot.card("CROOM", ts),
        "ptm_card_step_set",
        channel="CROOM",
        ts=ts,
        user="UPARTNER",
        user_team="TPARTNER",
    )
    view = last_view(bot)
    status, body = await bot.slack.submit(
        view,
        {
            "step_text": "Send <!channel> the questionnaire",
            "step_owner": "partner",
            "step_due": "2026-12-01",
        },
        user="UPARTNER",
        user_team="TPARTNER",
    )
    assert status == 200 and not body, body
    text = card_text(bot.card("CROOM", ts))
    assert "Send &lt;!channel&gt; the questionnaire" in text
    assert "Owner <@UPARTNER> (partner) · due 2026-12-01" in text
    assert await bot.rows(
        "SELECT source, actor_team FROM deal_events ORDER BY id DESC LIMIT 1"
    ) == [("modal", "TPARTNER")]


async def test_next_step_modal_rejects_past_date_and_empty_text(bot: RunningBot) -> None:
    ts = await started_deal(bot)
    await bot.slack.click(bot.card("CROOM", ts), "ptm_card_step_set", channel="CROOM", ts=ts)
    _, body = await bot.slack.submit(last_view(bot), {"step_text": "", "step_due": "2020-01-01"})
    assert body["response_action"] == "errors"
    assert "empty" in body["errors"]["step_text"] and "past" in body["errors"]["step_due"]
    assert await bot.rows("SELECT count(*) FROM next_steps") == [(0,)]


async def test_edit_deal_modal_saves_changed_fields(bot: RunningBot) -> None:
    ts = await started_deal(bot)
    await bot.slack.click(
        bot.card("CROOM", ts), "ptm_card_more", channel="CROOM", ts=ts, option="edit"
    )
    view = last_view(bot)
    initial = {
        b["block_id"]: b["element"].get("initial_value")
        for b in view["blocks"]
        if b["type"] == "input"
    }
    assert initial["name"] == "Acme expansion"
    status, body = await bot.slack.submit(
        view,
        {
            "name": "Acme expansion EMEA",
            "account": "Acme",
            "amount": "120000",
            "currency": "USD",
            "close_date": "2027-03-31",
            "attribution": "sourced",
        },
    )
    assert status == 200 and not body, body
    text = card_text(bot.card("CROOM", ts))
    assert "Acme expansion EMEA" in text and "USD 120,000" in text and "sourced" in text
    [(changes,)] = await bot.rows("SELECT changes FROM deal_events WHERE source = 'modal'")
    assert "Acme expansion EMEA" in changes and "120000.00" in changes


async def test_concurrent_edits_merge_or_conflict_never_overwrite(bot: RunningBot) -> None:
    ts = await started_deal(bot)
    card = bot.card("CROOM", ts)
    await bot.slack.click(card, "ptm_card_more", channel="CROOM", ts=ts, option="edit")
    seller_view = last_view(bot)
    await bot.slack.click(
        card, "ptm_card_more", channel="CROOM", ts=ts, option="edit", user="UALLY"
    )
    ally_view = last_view(bot)
    base = {"name": "Acme expansion", "account": "", "amount": "", "currency": "USD"}

    _, body = await bot.slack.submit(seller_view, {**base, "name": "Acme by seller"})
    assert not body
    # The alliance manager changed another field: re-applied on the fresh state, both kept.
    _, body = await bot.slack.submit(ally_view, {**base, "amount": "5000"}, user="UALLY")
    assert not body
    text = card_text(bot.card("CROOM", ts))
    assert "Acme by seller" in text and "USD 5,000" in text
    # A third, stale edit of the same field is refused in the modal, and nothing changes.
    _, body = await bot.slack.submit(ally_view, {**base, "name": "Acme by ally"}, user="UALLY")
    assert (
        body["response_action"] == "errors"
        and "someone else changed name" in body["errors"]["name"]
    )
    assert await bot.rows("SELECT name, version FROM deals") == [("Acme by seller", 4)]
    assert card_version(bot.card("CROOM", ts)) == 4


async def test_a_modal_submitted_by_another_or_altered_changes_nothing(bot: RunningBot) -> None:
    """Modal metadata is sealed to the person it was opened for: another submitter, or a
    metadata naming another channel, posts nothing anywhere and says why in the modal."""
    await bot.slack.command("new", channel="CROOM")
    [opened] = bot.fake.of("views.open")
    modal = opened["view"]
    posted = bot.fake.count("chat.postMessage")
    # Someone else submits the seller's modal.
    status, body = await bot.slack.submit(modal, {"name": "Hijack"}, user="UOTHER")
    assert status == 200 and body["response_action"] == "update"
    assert "opened for someone else" in str(body["view"])
    # The seller submits it with the channel in its metadata swapped for one they are not in.
    tag, _, raw = modal["private_metadata"].partition(".")
    altered = {**modal, "private_metadata": tag + "." + raw.replace("CROOM", "CSECRET")}
    status, body = await bot.slack.submit(altered, {"name": "Hijack"})
    assert body["response_action"] == "update"
    assert bot.fake.count("chat.postMessage") == posted
    assert await bot.rows("SELECT count(*) FROM deals") == [(0,)]
    # The untouched modal, from its own user, works.
    status, body = await bot.slack.submit(modal, {"name": "Acme expansion"})
    assert status == 200 and not body
    assert await bot.rows("SELECT name FROM deals") == [("Acme expansion",)]
    assert [ch for ch, _ in bot.posted_cards()] == ["CROOM"]


async def test_edit_modal_opens_for_any_values_within_the_limits(bot: RunningBot) -> None:
    """The longest values the product accepts, full of quotes, line breaks and non-ASCII,
    still fit the modal's metadata; the modal opens again and again, and saves."""
    from bot.domain.model import MAX_ACCOUNT, MAX_NAME, MAX_NOTES, MAX_TRIGGER

    await bot.slack.command("new Acme expansion")
    [(channel, ts)] = bot.posted_cards()
    quote = '"é\\'
    values = {
        "name": (quote * MAX_NAME)[:MAX_NAME],
        "account": ("“ü”" * MAX_ACCOUNT)[:MAX_ACCOUNT],
        "currency": "EUR",
        "trigger_reason": ('"\\' * MAX_TRIGGER)[:MAX_TRIGGER],
        "internal_notes": ('"line"\n' * MAX_NOTES)[: MAX_NOTES - 1],
    }
    for round_ in range(2):
        await bot.slack.click(
            bot.card(channel, ts), "ptm_card_more", channel=channel, ts=ts, option="edit"
        )
        assert bot.fake.count("views.open") == round_ + 1, "the modal did not open"
        modal = bot.fake.of("views.open")[-1]["view"]
        assert len(modal["private_metadata"]) <= 3000
        status, body = await bot.slack.submit(modal, values)
        assert status == 200 and not body, (round_, body)
    [(name, notes, version)] = await bot.rows("SELECT name, internal_notes, version FROM deals")
    assert name == values["name"] and notes == values["internal_notes"].strip()
    assert version == 2  # the second save changed nothing

"""Co-sell engine on the card: trigger and attribution."""

from __future__ import annotations

from tests.support.cards import card_text
from tests.support.harness import RunningBot


async def started(bot: RunningBot) -> str:
    await bot.slack.command("new Acme expansion")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    return bot.posted_cards()[0][1]


async def test_trigger_by_command_marks_the_step_and_shows_why(bot: RunningBot) -> None:
    ts = await started(bot)
    assert ":white_circle: trigger" in card_text(bot.card("CROOM", ts))
    _, body = await bot.slack.command("trigger stuck at VP level &lt;healthcare&gt;")
    assert "Recorded why a partner is pulled into PTM-1" in body["text"]
    text = card_text(bot.card("CROOM", ts))
    assert ":white_check_mark: trigger" in text
    assert "Why a partner: stuck at VP level &lt;healthcare&gt;" in text
    [(changes,)] = await bot.rows("SELECT changes FROM deal_events ORDER BY id DESC LIMIT 1")
    assert "trigger_reason" in changes
    _, body = await bot.slack.command("trigger")
    assert "trigger reason is empty" in body["text"]


async def test_trigger_from_the_edit_modal_and_cleared_again(bot: RunningBot) -> None:
    ts = await started(bot)
    await bot.slack.click(
        bot.card("CROOM", ts), "ptm_card_more", channel="CROOM", ts=ts, option="edit"
    )
    view = bot.fake.of("views.open")[-1]["view"]
    base = {"name": "Acme expansion", "currency": "USD"}
    await bot.slack.submit(view, {**base, "trigger_reason": "needs a data partner"})
    assert ":white_check_mark: trigger" in card_text(bot.card("CROOM", ts))
    await bot.slack.click(
        bot.card("CROOM", ts), "ptm_card_more", channel="CROOM", ts=ts, option="edit"
    )
    view = bot.fake.of("views.open")[-1]["view"]
    await bot.slack.submit(view, {**base, "trigger_reason": ""})
    assert ":white_circle: trigger" in card_text(bot.card("CROOM", ts))


async def test_new_deal_modal_takes_a_trigger(bot: RunningBot) -> None:
    await bot.slack.command("new")
    view = bot.fake.of("views.open")[-1]["view"]
    await bot.slack.submit(
        view,
        {
            "name": "Globex",
            "stage": "Qualify",
            "currency": "USD",
            "trigger_reason": "competitive, needs SI",
        },
    )
    text = card_text(bot.fake.of("chat.postMessage")[-1])
    assert ":white_check_mark: trigger" in text and "competitive, needs SI" in text


async def test_attribution_by_command(bot: RunningBot) -> None:
    ts = await started(bot)
    _, body = await bot.slack.command("attribution co-sell")
    assert "Attribution of PTM-1: co-sell" in body["text"]
    assert "*Attribution*\nco-sell" in card_text(bot.card("CROOM", ts))
    _, body = await bot.slack.command("attribution partner")
    assert "Use sourced, co-sell or influenced" in body["text"]
    _, body = await bot.slack.command("attribution")
    assert "/ptm attribution sourced" in body["text"]
    [(changes, version)] = await bot.rows(
        "SELECT changes, version FROM deal_events ORDER BY id DESC LIMIT 1"
    )
    assert "attribution" in changes and version == 3

"""`/ptm won|lost`, `/ptm metrics` (scoped, with its period), the chart upload and the App Home
activation line — driven as Slack drives them, over deals that lived through real changes."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import services
from bot.domain.model import Actor, NotAllowed
from tests.fakes.clock import FixedClock
from tests.fakes.slack_api import FakeSlack
from tests.handlers.test_events import message
from tests.support.cards import card_text
from tests.support.cli import run_ptm
from tests.support.harness import RunningBot, start_bot
from tests.unit.test_capability import SAMPLE

AUGUST = datetime(2026, 8, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
async def summer_bot(fake_slack: FakeSlack, sqlite_url: str) -> AsyncIterator[RunningBot]:
    fake_slack.users.update({"USELLER2": "T0URS", "UADMIN": "T0URS"})
    running = await start_bot(fake_slack, sqlite_url, clock=FixedClock(AUGUST), PTM_ADMINS="UADMIN")
    yield running
    await running.stop()


async def co_sell_deal(bot: RunningBot, room: str, name: str, seller: str = "USELLER") -> None:
    """A deal with the trio, a trigger, a matched partner and a logged outcome."""
    await bot.slack.command(f"new {name}", channel=room, user=seller)
    await bot.slack.command(f"trio <@{seller}> <@UALLY> <@UPARTNER>", channel=room, user=seller)
    await bot.slack.command("trigger stuck at VP level in healthcare", channel=room, user=seller)
    _, found = await bot.slack.command("find healthcare VP data", channel=room, user="UALLY")
    await bot.slack.click(
        {"blocks": found["blocks"], "text": found["text"]},
        "ptm_attach_partner",
        channel=room,
        ts="1.1",
        user="UALLY",
    )
    await bot.slack.command("log joint call held, POC agreed", channel=room, user="UALLY")


async def metrics_answer(bot: RunningBot, user: str) -> str:
    before = bot.fake.count("response_url")
    status, body = await bot.slack.command("metrics", user=user)
    assert status == 200 and not body  # acked at once; the figures follow through response_url
    [answer] = bot.fake.of("response_url")[before:]
    assert answer["response_type"] == "ephemeral"
    return str(answer["blocks"])


@pytest.fixture
async def lived(summer_bot: RunningBot) -> RunningBot:
    """Three co-sell deals of USELLER in Q3, one of USELLER2; two close in November."""
    bot = summer_bot
    await services.import_partners(bot.runtime.deps.ctx, SAMPLE)
    for n, room in enumerate(("CROOM1", "CROOM2", "CROOM3"), start=1):
        await co_sell_deal(bot, room, f"Deal {n}")
        bot.clock.advance(days=1)
    await bot.slack.command("new Initech", channel="CROOM4", user="USELLER2")
    await bot.slack.command(
        "trio <@USELLER2> <@UALLY> <@UPARTNER>", channel="CROOM4", user="USELLER2"
    )
    await bot.slack.command("attribution co-sell", channel="CROOM4", user="USELLER2")
    await bot.slack.command("attribution sourced", channel="CROOM1", user="UALLY")
    # November: the seller works PTM-1 and the alliance manager closes it; PTM-2 is lost with
    # no seller action since August.
    bot.clock.at = datetime(2026, 11, 9, 15, 0, tzinfo=UTC)
    await bot.slack.command("next send the order form", channel="CROOM1")
    bot.clock.advance(days=1)
    _, won = await bot.slack.command("won", channel="CROOM1", user="UALLY")
    assert "PTM-1 is closed won" in won["text"]
    _, lost = await bot.slack.command("lost PTM-2 went with &lt;a competitor&gt;", user="UALLY")
    assert "PTM-2 is closed lost" in lost["text"] and "&lt;a competitor&gt;" in lost["text"]
    # A message of the seller in PTM-3's deal room is activity; USELLER2 stays quiet.
    bot.clock.at = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    await bot.slack.event(message(bot, "USELLER", channel="CROOM3"), event_id="EvMsg")
    bot.clock.at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    return bot


async def test_won_and_lost_close_the_deal_on_every_copy(lived: RunningBot) -> None:
    bot = lived
    rows = await bot.rows(
        "SELECT key, status, stage, close_reason, closed_at FROM deals ORDER BY id"
    )
    assert [r[:4] for r in rows[:2]] == [
        ("PTM-1", "won", "Closed Won", ""),
        ("PTM-2", "lost", "Closed Lost", "went with <a competitor>"),
    ]
    assert all(r[4] is not None for r in rows[:2]) and rows[2][4] is None
    [(ts,)] = await bot.rows("SELECT ts FROM card_copies WHERE channel_id = 'CROOM2'")
    text = card_text(bot.card("CROOM2", ts))
    assert "*Lost* — went with &lt;a competitor&gt;" in text
    _, again = await bot.slack.command("won PTM-1", user="UALLY")
    assert "PTM-1 is already won" in again["text"]
    _, bad = await bot.slack.command("won PTM-3 today", user="UALLY")
    assert "`today` was not expected here" in bad["text"]
    [(status,)] = await bot.rows("SELECT status FROM deals WHERE key = 'PTM-3'")
    assert status == "open"


async def test_metrics_for_a_seller_are_their_deals_with_the_period(lived: RunningBot) -> None:
    blocks = await metrics_answer(lived, "USELLER")
    assert "Co-sell metrics — your deals" in blocks
    assert "Period 2026-08-27 – 2026-11-24 (90 days)" in blocks
    # Open deals of USELLER: PTM-3 only, and they wrote in its room on Nov 20.
    assert "*Seller activation*: *100%* — 1 of 1 sellers" in blocks
    # PTM-1: seller acted the day before the close; PTM-2: not since August.
    assert "Seller activated: *100%* (1 won of 1)" in blocks
    assert "Not activated: *0%* (0 won of 1)" in blocks
    assert "*Sourced*: pipeline —; won USD (1 deal, 1 without amount)" in blocks
    assert "Initech" not in blocks and "*Co-sell*: pipeline —" in blocks
    # All three co-sell deals were active in Q3 with a trigger, partner and outcome.
    assert "*Operator check* Q3 2026 (2026-07-01 – 2026-09-30)" in blocks
    assert ":white_check_mark: *passes* — 3 deals" in blocks
    assert "*PTM-1* Deal 1, *PTM-2* Deal 2, *PTM-3* Deal 3" in blocks


async def test_metrics_for_an_admin_cover_every_deal(lived: RunningBot) -> None:
    blocks = await metrics_answer(lived, "UADMIN")
    assert "Co-sell metrics — all deals" in blocks
    assert "1 of 2 sellers" in blocks  # USELLER2 has been quiet since August
    assert "*Co-sell*: pipeline USD (1 deal, 1 without amount)" in blocks


async def test_metrics_are_for_our_org_only(lived: RunningBot) -> None:
    # /ptm only reaches us from our own workspace; the use case refuses anyone else all the same.
    partner = services.Caller(Actor("UPARTNER", "TPARTNER", internal=False))
    with pytest.raises(NotAllowed, match="Metrics are for our own org"):
        await services.measure(lived.runtime.deps.ctx, partner)
    _, body = await lived.slack.command("metrics weekly")
    assert "`weekly` was not expected here" in body["text"] and "/ptm metrics chart" in body["text"]


async def test_metrics_chart_goes_to_the_callers_dm_as_a_png(lived: RunningBot) -> None:
    _, body = await lived.slack.command("metrics chart")
    assert "in your DMs with PTM" in body["text"]
    [opened] = lived.fake.of("conversations.open")
    assert opened["users"] == "USELLER"
    [upload] = lived.fake.files
    assert upload["channel"] == "DUSELLER"
    assert "Seller activation" in upload["comment"] and "Weekly since" in upload["comment"]
    [picture] = [data for data in lived.fake.uploads.values() if data]
    assert picture.startswith(b"\x89PNG\r\n\x1a\n") and len(picture) > 10_000


async def test_chart_upload_refused_by_slack_is_explained(lived: RunningBot) -> None:
    from tests.fakes.slack_api import Fault

    lived.fake.fail("files.getUploadURLExternal", Fault(error="not_allowed_token_type"))
    await lived.slack.command("metrics chart")
    [notice] = lived.fake.of("response_url")
    assert "Slack did not take the picture (not_allowed_token_type)" in notice["text"]


async def test_app_home_shows_activation_and_its_trend(lived: RunningBot) -> None:
    await lived.slack.event(
        {"type": "app_home_opened", "user": "UADMIN", "channel": "DADM", "tab": "home"},
        event_id="EvHome",
    )
    [published] = lived.fake.of("views.publish")
    home: Any = str(published["view"]["blocks"])
    assert "*Seller activation*: *50%* — 1 of 2 sellers" in home
    # Eight weekly points: the seller's Nov 9 action and Nov 20 message move the last ones.
    assert "Weekly since 2026-10-06: `" in home and "0% → 50%" in home
    assert "Over all deals." in home


async def test_an_admins_home_counts_every_deal_at_most_once_a_minute(lived: RunningBot) -> None:
    from sqlalchemy import event

    counted: list[str] = []
    event.listen(
        lived.runtime.engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cur, sql, *_a: (
            counted.append(sql)
            if sql.startswith("SELECT room_activity.deal_id, room_activity.day")
            else None
        ),
    )
    opened = {"type": "app_home_opened", "user": "UADMIN", "channel": "DADM", "tab": "home"}
    await lived.slack.event(opened, event_id="EvHome1")
    await lived.slack.event(opened, event_id="EvHome2")
    assert len(counted) == 1  # the second Home reused the minute-old count
    lived.clock.advance(minutes=2)
    await lived.slack.event(opened, event_id="EvHome3")
    assert len(counted) == 2
    # A seller's own Home is counted afresh each time (their deals are few).
    seller = {**opened, "user": "USELLER", "channel": "DSELL"}
    await lived.slack.event(seller, event_id="EvHome4")
    await lived.slack.event(seller, event_id="EvHome5")
    assert len(counted) == 4
    assert lived.fake.count("views.publish") == 5


async def test_ptm_report_prints_the_table_and_writes_csv_and_chart(
    lived: RunningBot, sqlite_url: str, tmp_path: Path
) -> None:
    csv_file, chart = tmp_path / "figures.csv", tmp_path / "trend.png"
    code, out, err = await run_ptm(
        lived.fake,
        sqlite_url,
        "report",
        "--since",
        "2026-08-27",
        "--until",
        "2026-11-24",
        "--csv",
        str(csv_file),
        "--chart",
        str(chart),
    )
    assert code == 0, err
    assert "PTM report — all deals" in out and "Period 2026-08-27 – 2026-11-24 (90 days)" in out
    assert " 50%  1 of 2 sellers on open deals" in out
    assert "seller activated       100%  1 won of 1 closed" in out
    assert "seller not activated     0%  0 won of 1 closed" in out
    assert "Operator check Q3 2026 (2026-07-01 – 2026-09-30): PASS — 3 deal(s)" in out
    rows = list(csv.DictReader(csv_file.open()))
    assert {
        "metric": "win_rate",
        "segment": "activated",
        "value": "1.0000",
        "count": "1",
        "of": "1",
    }.items() <= rows[[r["metric"] for r in rows].index("win_rate")].items()
    operator = next(r for r in rows if r["metric"] == "operator_check")
    assert (operator["segment"], operator["value"], operator["count"]) == ("Q3 2026", "1", "3")
    weeks = [r["segment"] for r in rows if r["metric"] == "seller_activation_week"]
    assert weeks[0] == "2026-09-01" and weeks[-1] == "2026-11-24" and len(weeks) == 13
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--since", "2026-02-30"], "--since '2026-02-30' is not a date. Use YYYY-MM-DD"),
        (["--since", "2026-11-01", "--until", "2026-10-01"], "starts (2026-11-01) after it ends"),
        (["--csv", "/nonexistent/dir/x.csv"], "cannot write /nonexistent/dir/x.csv"),
    ],
)
async def test_ptm_report_bad_arguments_say_what_is_accepted(
    fake_slack: FakeSlack, sqlite_url: str, args: list[str], says: str
) -> None:
    code, out, err = await run_ptm(fake_slack, sqlite_url, "report", *args)
    assert code == 2 and says in err


async def test_a_lost_reason_past_the_limit_is_refused_and_changes_nothing(
    summer_bot: RunningBot,
) -> None:
    bot = summer_bot
    await bot.slack.command("new Acme expansion")
    _, body = await bot.slack.command("lost " + "x" * 301)
    assert "The reason is 301 characters; the limit is 300." in body["text"]
    assert await bot.rows("SELECT status, close_reason, closed_at FROM deals") == [
        ("open", "", None)
    ]


async def test_app_home_of_someone_from_another_company_shows_no_metrics(
    lived: RunningBot,
) -> None:
    await lived.slack.event(
        {"type": "app_home_opened", "user": "UPARTNER", "channel": "DPART", "tab": "home"},
        event_id="EvHomePartner",
    )
    [published] = lived.fake.of("views.publish")
    home = str(published["view"]["blocks"])
    assert "activation" not in home.lower() and "PTM-" not in home
    assert "@PTM" in home  # ...and says what they can do instead


async def test_a_closed_deal_reopens_only_on_purpose(bot: RunningBot) -> None:
    """`/ptm stage` on a won deal is refused with the way to reopen; `/ptm reopen` (or the
    card's *Reopen*) goes back to the stage it was closed from, says so in the audit and
    clears the closing time, so metrics stop counting it as won."""
    await bot.slack.command("new Acme expansion")
    await bot.slack.command("stage Propose")
    await bot.slack.command("won")
    before = await bot.rows("SELECT stage, status, version FROM deals")
    _, body = await bot.slack.command("stage Validate")
    assert "is closed won" in body["text"] and "/ptm reopen" in body["text"]
    assert await bot.rows("SELECT stage, status, version FROM deals") == before
    [(channel, ts)] = bot.posted_cards()
    card = bot.card(channel, ts)
    assert "ptm_card_stage" not in str(card)  # no stage menu on a closed card...
    await bot.slack.click(card, "ptm_card_reopen", channel=channel, ts=ts)  # ...but Reopen
    assert await bot.rows("SELECT stage, status, closed_at FROM deals") == [
        ("Propose", "open", None)
    ]
    [(changes,)] = await bot.rows("SELECT changes FROM deal_events ORDER BY version DESC LIMIT 1")
    assert "reopened" in str(changes)
    assert "ptm_card_stage" in str(bot.card(channel, ts))
    _, body = await bot.slack.command("reopen")
    assert "is open already" in body["text"]

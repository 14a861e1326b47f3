"""The deal card end to end: signed /ptm commands in, card copies out, every copy in step."""

from __future__ import annotations

from tests.support.cards import card_stage, card_text, card_version
from tests.support.harness import RunningBot


async def new_deal(bot: RunningBot, name: str = "Acme expansion", channel: str = "CROOM") -> str:
    status, body = await bot.slack.command(f"new {name}", channel=channel)
    assert status == 200 and "Created PTM-" in body["text"], body
    return bot.fake.of("chat.postMessage")[-1]["channel"]


def card_ts(bot: RunningBot, channel: str, index: int = -1) -> str:
    return [ts for (ch, ts) in bot.posted_cards() if ch == channel][index]


async def test_new_posts_card_and_binds_channel(bot: RunningBot) -> None:
    await new_deal(bot)
    [posted] = bot.fake.of("chat.postMessage")
    assert posted["channel"] == "CROOM"
    text = card_text(posted)
    assert "PTM-1 · Acme expansion" in text and "*Stage*\nQualify" in text
    assert "v1 · last change by <@USELLER>" in text
    rows = await bot.rows("SELECT channel_id, deal_id FROM channel_bindings")
    assert rows == [("CROOM", 1)]
    copies = await bot.rows("SELECT channel_id, ts, rendered_version FROM card_copies")
    assert copies == [("CROOM", card_ts(bot, "CROOM"), 1)]
    events = await bot.rows("SELECT version, actor, actor_team, source FROM deal_events")
    assert events == [(1, "USELLER", "T0URS", "command")]


async def test_trio_updates_the_same_message_in_place(bot: RunningBot) -> None:
    await new_deal(bot)
    ts = card_ts(bot, "CROOM")
    status, body = await bot.slack.command("trio <@USELLER|sel> <@UALLY|ally> <@UPARTNER|pat>")
    assert status == 200 and "Trio of PTM-1" in body["text"]
    assert bot.fake.count("chat.postMessage") == 1
    [update] = bot.fake.of("chat.update")
    assert (update["channel"], update["ts"]) == ("CROOM", ts)
    text = card_text(bot.card("CROOM", ts))
    assert "Seller: <@USELLER>" in text and "Alliance: <@UALLY>" in text
    assert "Partner: <@UPARTNER> (partner org)" in text
    members = await bot.rows(
        "SELECT role, user_id, team_id, is_external FROM trio_members ORDER BY role"
    )
    assert members == [
        ("alliance", "UALLY", "T0URS", False),
        ("partner", "UPARTNER", "TPARTNER", True),
        ("seller", "USELLER", "T0URS", False),
    ]
    assert card_version(bot.card("CROOM", ts)) == 2


async def test_one_role_at_a_time(bot: RunningBot) -> None:
    await new_deal(bot)
    status, body = await bot.slack.command("trio partner <@UPARTNER>")
    assert "partner <@UPARTNER>" in body["text"]
    assert "Seller: _not named" in card_text(bot.card("CROOM", card_ts(bot, "CROOM")))


async def test_second_copy_then_stage_from_first_updates_both(bot: RunningBot) -> None:
    await new_deal(bot)
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    status, body = await bot.slack.command("card PTM-1", channel="CSHARED")
    assert status == 200 and "Posted PTM-1" in body["text"]
    first, second = card_ts(bot, "CROOM"), card_ts(bot, "CSHARED")
    assert card_text(bot.card("CROOM", first)) == card_text(bot.card("CSHARED", second))

    status, _ = await bot.slack.click(
        bot.card("CROOM", first), "ptm_card_stage", channel="CROOM", ts=first, option="Propose"
    )
    assert status == 200
    for channel, ts in (("CROOM", first), ("CSHARED", second)):
        assert card_stage(bot.card(channel, ts)) == "Propose"
        assert card_version(bot.card(channel, ts)) == 3
    assert card_text(bot.card("CROOM", first)) == card_text(bot.card("CSHARED", second))
    rendered = await bot.rows("SELECT rendered_version FROM card_copies")
    assert rendered == [(3,), (3,)]
    last = (await bot.rows("SELECT version, changes, source FROM deal_events ORDER BY id DESC"))[0]
    assert last[0] == 3 and "Propose" in last[1] and last[2] == "button"


async def test_stage_by_command_accepts_prefix_and_key(bot: RunningBot) -> None:
    await new_deal(bot)
    status, body = await bot.slack.command("stage PTM-1 neg", channel="CELSEWHERE")
    assert "moved to *Negotiate*" in body["text"]
    assert card_stage(bot.card("CROOM", card_ts(bot, "CROOM"))) == "Negotiate"


async def test_same_stage_changes_nothing(bot: RunningBot) -> None:
    await new_deal(bot)
    _, body = await bot.slack.command("stage qualify")
    assert "already at *Qualify*" in body["text"]
    assert bot.fake.count("chat.update") == 0
    assert await bot.rows("SELECT version FROM deals") == [(1,)]


async def test_next_step_by_command_with_default_owner_and_done_by_button(bot: RunningBot) -> None:
    await new_deal(bot)
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    await bot.slack.command("stage validate")
    _, body = await bot.slack.command("next send the security questionnaire by 2026-12-01")
    # At Validate the partner is best placed to move, so the partner owns it by default; the
    # answer says so and offers a one-click change of owner.
    assert "for <@UPARTNER> (partner, the default at Validate) by 2026-12-01" in body["text"]
    assert "`for @user`" in body["text"]
    await bot.slack.click(body, "ptm_card_step_set", channel="CROOM", ts="0")
    [opened] = bot.fake.of("views.open")
    assert opened["view"]["callback_id"] == "ptm_next_step"
    ts = card_ts(bot, "CROOM")
    text = card_text(bot.card("CROOM", ts))
    assert "*Next step*: send the security questionnaire" in text
    assert "Owner <@UPARTNER> (partner) · due 2026-12-01" in text

    status, _ = await bot.slack.click(
        bot.card("CROOM", ts),
        "ptm_card_step_done",
        channel="CROOM",
        ts=ts,
        user="UPARTNER",
        user_team="TPARTNER",
    )
    assert status == 200
    assert "*Next step*: none yet" in card_text(bot.card("CROOM", ts))
    steps = await bot.rows("SELECT text, status, done_by FROM next_steps")
    assert steps == [("send the security questionnaire", "done", "UPARTNER")]
    team = await bot.rows("SELECT actor_team FROM deal_events ORDER BY id DESC LIMIT 1")
    assert team == [("TPARTNER",)]


async def test_next_step_owner_by_mention_or_role_and_done_by_command(bot: RunningBot) -> None:
    await new_deal(bot)
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    _, body = await bot.slack.command("next book the joint call for <@UALLY|ally>")
    assert "for <@UALLY>" in body["text"]
    _, body = await bot.slack.command("next draft the proposal for seller")
    assert "for <@USELLER>" in body["text"]
    steps = await bot.rows("SELECT text, owner_role, status FROM next_steps ORDER BY id")
    assert steps == [
        ("book the joint call", "alliance", "replaced"),
        ("draft the proposal", "seller", "open"),
    ]
    _, body = await bot.slack.command("done")
    assert body["text"].startswith("Done.")
    _, body = await bot.slack.command("done")
    assert "has no open next step" in body["text"]


async def test_overdue_step_is_flagged(bot: RunningBot) -> None:
    await new_deal(bot)
    await bot.slack.command("next call the CFO by 2026-11-25")
    bot.clock.advance(days=3)
    await bot.slack.command("stage discover")
    assert ":warning: *overdue*" in card_text(bot.card("CROOM", card_ts(bot, "CROOM")))


async def test_synced_marks_member_and_card(bot: RunningBot) -> None:
    await new_deal(bot)
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    ts = card_ts(bot, "CROOM")
    await bot.slack.click(
        bot.card("CROOM", ts),
        "ptm_card_synced",
        channel="CROOM",
        ts=ts,
        user="UPARTNER",
        user_team="TPARTNER",
    )
    [ephemeral] = bot.fake.of("chat.postEphemeral")
    assert ephemeral["user"] == "UPARTNER" and "synced with PTM-1 v2" in ephemeral["text"]
    text = card_text(bot.card("CROOM", ts))
    assert "Partner: <@UPARTNER> (partner org) · :white_check_mark: synced" in text
    # The seller named the trio (v2): they saw the version they made.
    assert "Seller: <@USELLER> · :white_check_mark: synced" in text
    assert "Alliance: <@UALLY> · :hourglass: not synced yet" in text
    # Syncing is an acknowledgement, not a change: the version stays.
    assert await bot.rows("SELECT version FROM deals") == [(2,)]
    await bot.slack.command("stage discover")  # the seller's own change: they saw what they made
    text = card_text(bot.card("CROOM", ts))
    assert "Partner: <@UPARTNER> (partner org) · :hourglass: behind (saw v2)" in text
    assert "Seller: <@USELLER> · :white_check_mark: synced" in text
    assert "Alliance: <@UALLY> · :hourglass: not synced yet" in text
    # A click is a change too: the partner rep who sets the stage from the card is synced.
    await bot.slack.click(
        bot.card("CROOM", ts), "ptm_card_stage", channel="CROOM", ts=ts, option="Validate",
        user="UPARTNER", user_team="TPARTNER",
    )  # fmt: skip
    text = card_text(bot.card("CROOM", ts))
    assert "Partner: <@UPARTNER> (partner org) · :white_check_mark: synced" in text
    assert "Seller: <@USELLER> · :hourglass: behind (saw v3)" in text


async def test_list_shows_callers_open_deals(bot: RunningBot) -> None:
    await new_deal(bot, "First")
    await new_deal(bot, "Second", channel="COTHER")
    await bot.slack.command("next ring them", channel="COTHER")
    _, body = await bot.slack.command("list")
    text = str(body["blocks"])
    assert "PTM-1" in text and "PTM-2" in text and "ring them" in text
    _, body = await bot.slack.command("list", user="USTRANGER")
    assert "no open deals" in body["text"]


async def test_help(bot: RunningBot) -> None:
    for text in ("", "help"):
        _, body = await bot.slack.command(text)
        assert "/ptm new" in str(body["blocks"]) and "/ptm next" in str(body["blocks"])


async def test_history_shows_who_changed_what(bot: RunningBot) -> None:
    await new_deal(bot)
    await bot.slack.command("stage discover")
    ts = card_ts(bot, "CROOM")
    await bot.slack.click(
        bot.card("CROOM", ts), "ptm_card_more", channel="CROOM", ts=ts, option="history"
    )
    [ephemeral] = bot.fake.of("chat.postEphemeral")
    assert "stage: Qualify → Discover" in str(ephemeral["blocks"])
    assert "<@USELLER> (our org) via command" in str(ephemeral["blocks"])


async def test_card_not_postable_says_how_to_fix(bot: RunningBot) -> None:
    bot.fake.cannot_post.add("CLOCKED")
    _, body = await bot.slack.command("new Locked deal", channel="CLOCKED")
    assert "Created PTM-1" in body["text"]
    [answer] = bot.fake.of("response_url")
    assert "/invite @PTM" in answer["text"]


async def test_done_clicked_on_a_stale_card_is_refused_and_card_refreshed(bot: RunningBot) -> None:
    await new_deal(bot)
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    await bot.slack.command("next first step")
    ts = card_ts(bot, "CROOM")
    stale = bot.card("CROOM", ts)
    await bot.slack.command("next second step", user="UALLY")
    updates_before = bot.fake.count("chat.update")
    await bot.slack.click(stale, "ptm_card_step_done", channel="CROOM", ts=ts)
    [ephemeral] = bot.fake.of("chat.postEphemeral")
    assert "changed since you looked: it is now “second step”" in ephemeral["text"]
    assert await bot.rows("SELECT text, status FROM next_steps ORDER BY id") == [
        ("first step", "replaced"),
        ("second step", "open"),
    ]
    assert bot.fake.count("chat.update") == updates_before + 1
    assert "*Next step*: second step" in card_text(bot.card("CROOM", ts))


async def test_web_api_calls_reuse_kept_alive_connections(bot: RunningBot) -> None:
    """Every Slack client of the process shares one HTTP session: a burst of card updates
    comes over a connection or two, not one connection (and, against Slack, a TLS handshake)
    per call."""
    await bot.slack.command("new Acme")
    bot.fake.peers.clear()
    for stage in ("Discover", "Validate", "Propose", "Negotiate", "Discover", "Validate"):
        await bot.slack.command(f"stage {stage}")
    updates = bot.fake.of("chat.update")
    assert len(updates) >= 6
    assert len(set(bot.fake.peers)) <= 2 < len(bot.fake.peers)

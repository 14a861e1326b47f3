"""State lives in the database: a restarted bot keeps updating the cards it posted before."""

from __future__ import annotations

from tests.fakes.slack_api import FakeSlack
from tests.support.cards import card_stage
from tests.support.harness import start_bot


async def test_restart_keeps_updating_the_original_message(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    first = await start_bot(fake_slack, sqlite_url)
    await first.slack.command("new Acme expansion")
    [(channel, ts)] = first.posted_cards()
    await first.stop()

    second = await start_bot(fake_slack, sqlite_url)
    try:
        _, body = await second.slack.command("stage propose")
        assert "moved to *Propose*" in body["text"]
        assert fake_slack.count("chat.postMessage") == 1
        update = fake_slack.of("chat.update")[-1]
        assert (update["channel"], update["ts"]) == (channel, ts)
        assert card_stage(second.card(channel, ts)) == "Propose"
        _, body = await second.slack.command("new Second deal", channel="COTHER")
        assert "Created PTM-2" in body["text"]
    finally:
        await second.stop()

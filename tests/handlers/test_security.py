"""Requests Slack did not sign (or signed too long ago) are rejected and change nothing."""

from __future__ import annotations

import time

from tests.support.harness import RunningBot


async def test_bad_signature_is_rejected(bot: RunningBot) -> None:
    status, _ = await bot.slack.command("new Forged deal", signature="v0=" + "0" * 64)
    assert status == 401
    assert await bot.rows("SELECT count(*) FROM deals") == [(0,)]
    assert bot.fake.count("chat.postMessage") == 0


async def test_ten_minute_old_timestamp_is_rejected(bot: RunningBot) -> None:
    # Correctly signed, but replayed ten minutes later.
    status, _ = await bot.slack.command("new Replayed deal", timestamp=int(time.time()) - 600)
    assert status == 401
    assert await bot.rows("SELECT count(*) FROM deals") == [(0,)]


async def test_signed_with_another_secret_is_rejected(bot: RunningBot) -> None:
    from slack_sdk.signature import SignatureVerifier

    ts = str(int(time.time()))
    forged = SignatureVerifier("not-our-secret").generate_signature(timestamp=ts, body="x")
    status, _ = await bot.slack.send(
        "x", "application/x-www-form-urlencoded", timestamp=int(ts), signature=forged
    )
    assert status == 401


async def test_healthz(bot: RunningBot) -> None:
    import aiohttp

    url = bot.slack.url.replace("/slack/events", "/healthz")
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 200 and (await resp.json()) == {"ok": True}

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


import json  # noqa: E402
from urllib.parse import urlencode  # noqa: E402

import aiohttp  # noqa: E402
import pytest  # noqa: E402

from tests.support.slack_requests import SECRET, command_form  # noqa: E402


def calls_since_start(bot: RunningBot) -> list[object]:
    """What the bot asked of Slack after it started (at start it asks auth.test who it is)."""
    return [c for c in bot.fake.calls if c.at > bot.started_at]


def _forged_command(bot: RunningBot) -> str:
    form = command_form(
        "new Forged deal",
        user="USELLER",
        channel="CROOM",
        team="T0URS",
        response_url=bot.fake.response_url("attacker"),
        trigger_id="t-1",
    )
    return urlencode(form)


async def _raw_post(bot: RunningBot, body: bytes, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.post(bot.slack.url, data=body, headers=headers) as resp:
            await resp.read()
            return resp.status


@pytest.mark.parametrize(
    "timestamp", ["", "abc", "1.5", " ", "1e9", "-1", "99999999999999999999999", "١٢٣"]
)
async def test_malformed_timestamp_is_rejected_without_any_outbound_call(
    bot: RunningBot, timestamp: str
) -> None:
    body = _forged_command(bot)
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": "v0=" + "0" * 64,
    }
    assert await _raw_post(bot, body.encode(), headers) == 401
    assert calls_since_start(bot) == [], "an unverified request made PTM call out"
    assert await bot.rows("SELECT count(*) FROM deals") == [(0,)]


def _signed_headers(body: bytes, content_type: str) -> dict[str, str]:
    from slack_sdk.signature import SignatureVerifier

    ts = str(int(time.time()))
    sig = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body.decode("latin-1"))
    return {"content-type": content_type, "x-slack-request-timestamp": ts, "x-slack-signature": sig}


async def test_every_way_of_failing_verification_gets_401_and_no_call(bot: RunningBot) -> None:
    body = _forged_command(bot).encode()
    good = _signed_headers(body, "application/x-www-form-urlencoded")
    cases: list[tuple[bytes, dict[str, str]]] = [
        (body, {"content-type": "application/x-www-form-urlencoded"}),  # no headers
        (body, {**good, "x-slack-signature": ""}),
        (body, {**good, "x-slack-signature": "v1=" + "0" * 64}),
        (body, {k: v for k, v in good.items() if k != "x-slack-signature"}),
        (body, {k: v for k, v in good.items() if k != "x-slack-request-timestamp"}),
        (body[: len(body) // 2], good),  # truncated after signing
        (b"\xff\xfe" + body, good),  # bad encoding
    ]
    for raw, headers in cases:
        assert await _raw_post(bot, raw, headers) == 401, headers
    assert calls_since_start(bot) == []
    assert await bot.rows("SELECT count(*) FROM deals") == [(0,)]


async def test_signed_but_unreadable_bodies_change_nothing(bot: RunningBot) -> None:
    """Even a correctly signed body that is not valid JSON / UTF-8 is refused quietly."""
    for body, kind in [
        (b'{"type": "event_callback", "event": ', "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        (urlencode({"payload": json.dumps([1, 2])}).encode(), "application/x-www-form-urlencoded"),
    ]:
        status = await _raw_post(bot, body, _signed_headers(body, kind))
        assert status in (400, 401), (body, status)
    assert calls_since_start(bot) == []
    assert await bot.rows("SELECT count(*) FROM deals") == [(0,)]

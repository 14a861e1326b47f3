"""HTTP mode: aiohttp serving Slack's POSTs at /slack/events and a health check at /healthz."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import parse_qs

import sqlalchemy as sa
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.adapters.prompt_ack import PromptAck
from bot.domain.crm import Notification

EVENTS_PATH = "/slack/events"
# Slack's own replay window: a request signed longer ago than this is refused.
MAX_REQUEST_AGE = 5 * 60


def is_signed_by_slack(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    now: Callable[[], float] = time.time,
) -> bool:
    """Slack's v0 request signature, checked strictly: any missing or malformed part is a
    plain "no", never an exception (Bolt's own check raises on a non-integer timestamp, and its
    error path would then answer through a response_url the sender chose)."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    if abs(now() - int(timestamp)) > MAX_REQUEST_AGE or not signature.startswith("v0="):
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def is_readable(body: bytes, content_type: str) -> bool:
    """A signed body that Bolt can parse: UTF-8, and JSON where JSON is expected."""
    try:
        text = body.decode("utf-8")
        if content_type.startswith("application/json"):
            return isinstance(json.loads(text), dict)
        payload = parse_qs(text, strict_parsing=False).get("payload")
        return payload is None or isinstance(json.loads(payload[0]), dict)
    except (UnicodeDecodeError, ValueError):
        return False


CRM_PATH = "/crm/{kind}"  # /crm/salesforce, /crm/hubspot


# -> the HTTP status to answer (401 unsigned, 400 unreadable, 404 no such kind, 503 "try
# again", 204 done)
CrmInbound = Callable[[Notification], Awaitable[int]]


def called_uri(request: web.Request) -> str:
    """The URL the sender called, as it saw it: behind a TLS-terminating proxy the scheme and
    host come from the proxy's X-Forwarded-* headers (the signature check makes forging them
    pointless)."""
    scheme = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    return f"{scheme}://{host}{request.rel_url}"


def make_web_app(
    app: AsyncApp,
    engine: AsyncEngine,
    *,
    signing_secret: str,
    crm: CrmInbound | None = None,
) -> web.Application:
    async def slack_events(request: web.Request) -> web.Response:
        arrived = time.perf_counter()
        body = await request.read()
        # Verified here, before Bolt sees anything: an unverified request gets 401 and makes
        # PTM do nothing at all (no listener, no error handler, no outbound call).
        if not signing_secret or not is_signed_by_slack(body, request.headers, signing_secret):
            return web.Response(status=401)
        if not is_readable(body, request.headers.get("Content-Type", "")):
            return web.Response(status=400)
        bolt_request = await to_bolt_request(request)
        ack = bolt_request.context["ack"] = PromptAck(arrived)
        answer = await to_aiohttp_response(await app.async_dispatch(bolt_request))
        if ack.took_ms is not None:  # PTM's own time from arrival to its ack (benchmarks read it)
            answer.headers["Server-Timing"] = f"ack;dur={ack.took_ms:.3f}"
        return answer

    async def healthz(_request: web.Request) -> web.Response:
        try:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except Exception as err:  # noqa: BLE001  (any DB failure means "not healthy")
            return web.json_response({"ok": False, "database": type(err).__name__}, status=503)
        return web.json_response({"ok": True})

    async def crm_notification(request: web.Request) -> web.Response:
        if crm is None:
            return web.Response(status=404)
        call = Notification(request.match_info["kind"], await request.read(), request.headers,
                            request.method, called_uri(request))  # fmt: skip
        return web.Response(status=await crm(call))

    web_app = web.Application(client_max_size=1024**2)
    web_app.router.add_post(EVENTS_PATH, slack_events)
    web_app.router.add_post(CRM_PATH, crm_notification)
    web_app.router.add_get("/healthz", healthz)
    flow = app.oauth_flow
    if flow is not None:
        # Many workspaces: "Add to Slack" and Slack's redirect back, browser requests that
        # Bolt's OAuth flow checks itself (the state it set in a cookie and in the database).
        async def install(request: web.Request) -> web.Response:
            return await to_aiohttp_response(
                await flow.handle_installation(await to_bolt_request(request))
            )

        async def redirected(request: web.Request) -> web.Response:
            return await to_aiohttp_response(
                await flow.handle_callback(await to_bolt_request(request))
            )

        web_app.router.add_get(flow.install_path, install)
        web_app.router.add_get(flow.redirect_uri_path, redirected)
    return web_app

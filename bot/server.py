"""HTTP mode: aiohttp serving Slack's POSTs at /slack/events and a health check at /healthz."""

from __future__ import annotations

import sqlalchemy as sa
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncEngine

EVENTS_PATH = "/slack/events"


def make_web_app(app: AsyncApp, engine: AsyncEngine) -> web.Application:
    async def slack_events(request: web.Request) -> web.Response:
        bolt_response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    async def healthz(_request: web.Request) -> web.Response:
        try:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except Exception as err:  # noqa: BLE001  (any DB failure means "not healthy")
            return web.json_response({"ok": False, "database": type(err).__name__}, status=503)
        return web.json_response({"ok": True})

    web_app = web.Application(client_max_size=1024**2)
    web_app.router.add_post(EVENTS_PATH, slack_events)
    web_app.router.add_get("/healthz", healthz)
    return web_app

"""A bare Bolt AsyncApp, the yardstick of bench/http_latency.py: it verifies the same signed
requests and acks `/ptm` and the card's stage menu at once, served by the same aiohttp stack.

    python bench/bare_bolt.py PORT
"""

from __future__ import annotations

import asyncio
import os
import sys

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def main() -> None:
    port = int(sys.argv[1])
    # The same Web API base URL as PTM: Bolt checks the token once (auth.test) and caches it.
    client = AsyncWebClient(token="xoxb-bench", base_url=os.environ["SLACK_API_URL"])
    app = AsyncApp(signing_secret=os.environ["SLACK_SIGNING_SECRET"], client=client)

    @app.command("/ptm")
    async def command(ack):  # type: ignore[no-untyped-def]
        await ack(text="ok")

    @app.action("ptm_card_stage")
    async def stage(ack):  # type: ignore[no-untyped-def]
        await ack()

    try:  # the same event loop as PTM's server (bot.app.cli), where uvloop is installed
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    web.run_app(app.web_app(path="/slack/events"), host="127.0.0.1", port=port, print=None)


if __name__ == "__main__":
    main()

"""Benchmark: Slack Web API calls over one kept-alive HTTP session, against a connection per
call (issue 18: "reuse one HTTP session for Slack API calls ... and measure it").

    python bench/slack_session.py [--calls 300]

A local Web API stand-in (plain HTTP, so the saving shown is the TCP setup alone: against real
Slack each new connection also costs a TLS handshake, tens of milliseconds) answers
`chat.update`; PTM's own `SlackGateway.update` makes the calls, one after another, first with a
client as before (no session: slack_sdk opens a connection per call), then with the shared
session the runtime now gives every client. The stand-in counts the distinct connections.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402

from bench.live import machine  # noqa: E402
from bot.adapters.slack import SlackGateway, make_client  # noqa: E402
from bot.app.factory import slack_http_session  # noqa: E402


async def run(calls: int) -> None:
    peers: set[object] = set()

    async def update(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        await request.read()
        return web.json_response({"ok": True, "channel": "C1", "ts": "1.1"})

    app = web.Application()
    app.router.add_post("/api/chat.update", update)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}/api/"
    message = {
        "text": "card",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}],
    }
    print(f"machine: {machine()}")
    for label, session in (
        ("a connection per call", None),
        ("one shared session", slack_http_session()),
    ):
        gateway = SlackGateway(make_client("xoxb-bench", base, session))
        peers.clear()
        timings = []
        for _ in range(calls):
            started = time.perf_counter()
            await gateway.update("C1", "1.1", message)
            timings.append(time.perf_counter() - started)
        ms = sorted(t * 1000 for t in timings)
        print(
            f"{label}: {calls} chat.update, {len(peers)} connections, "
            f"p50 {statistics.median(ms):.2f} ms, p95 {ms[int(len(ms) * 0.95) - 1]:.2f} ms, "
            f"total {sum(ms):.0f} ms"
        )
        if session is not None:
            await session.close()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    asyncio.run(run(parser.parse_args().calls))


if __name__ == "__main__":
    main()

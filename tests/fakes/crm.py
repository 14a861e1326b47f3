"""A local HTTP "CRM" receiving PTM's webhooks: records them, and can fail, hang or recover."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Received:
    path: str
    body: bytes
    signature: str
    key: str
    ok: bool = True


@dataclass
class FakeCrm:
    received: list[Received] = field(default_factory=list)
    script: list[str] = field(default_factory=list)  # per request: "ok", "500", "hang"
    port: int = 0
    _runner: web.AppRunner | None = None

    def url(self, side: str) -> str:
        return f"http://127.0.0.1:{self.port}/{side}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{side}", self._hook)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def delivered(self, side: str) -> list[Received]:
        return [r for r in self.received if r.path == side and r.ok]

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        action = self.script.pop(0) if self.script else "ok"
        record = Received(
            request.match_info["side"],
            body,
            request.headers.get("X-PTM-Signature", ""),
            request.headers.get("X-PTM-Idempotency-Key", ""),
        )
        if action != "ok":
            record.ok = False
            self.received.append(record)
            if action == "hang":
                await asyncio.sleep(5)  # longer than PTM waits: a timeout on its side
            return web.Response(status=500 if action == "500" else 504)
        self.received.append(record)
        return web.json_response({"ok": True})

"""A local stand-in for AWS Partner Central's selling API, reached the way botocore reaches AWS
(AWS_ENDPOINT_URL_PARTNERCENTRAL_SELLING): JSON 1.0 protocol, the operation in `X-Amz-Target`,
a SigV4 `Authorization` header. It answers a submission's three calls and records them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PREFIX = "AWSPartnerCentralSelling."


@dataclass
class FakePartnerCentral:
    calls: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)  # op, body, auth
    opportunities: dict[str, str] = field(default_factory=dict)  # client token -> id
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/", self._call)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def operations(self) -> list[str]:
        return [op for op, _, _ in self.calls]

    async def _call(self, request: web.Request) -> web.Response:
        target = request.headers.get("X-Amz-Target", "")
        body = json.loads(await request.read() or b"{}")
        operation = target.removeprefix(PREFIX)
        self.calls.append((operation, body, request.headers.get("Authorization", "")))
        if operation == "CreateOpportunity":
            # Idempotent by ClientToken, as AWS is: the same token, the same opportunity.
            token = body["ClientToken"]
            found = self.opportunities.setdefault(token, f"O{len(self.opportunities) + 1000}")
            return self._json({"Id": found, "LastModifiedDate": 1764500000})
        if operation == "AssociateOpportunity":
            return self._json({})
        if operation == "StartEngagementFromOpportunityTask":
            return self._json({"TaskId": "task-local", "TaskStatus": "IN_PROGRESS",
                               "OpportunityId": body["Identifier"]})  # fmt: skip
        return web.json_response(
            {"__type": "ValidationException", "message": f"unknown operation {operation}"},
            status=400,
            content_type="application/x-amz-json-1.0",
        )

    def _json(self, payload: dict[str, Any]) -> web.Response:
        return web.json_response(payload, content_type="application/x-amz-json-1.0")

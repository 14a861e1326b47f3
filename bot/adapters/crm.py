"""CRM connectors: a signed JSON webhook per side, as PRODUCT.md specifies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from bot.domain.outbox import Side, signature


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    secret: str


class WebhookConnectors:
    """POSTs the exact outbox body with `X-PTM-Signature` and `X-PTM-Idempotency-Key`."""

    def __init__(self, targets: Mapping[Side, WebhookTarget], *, timeout: float = 10.0) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.targets = dict(targets)

    @property
    def connected(self) -> frozenset[Side]:
        return frozenset(self.targets)

    async def post(self, side: Side, raw: bytes, key: str) -> int:
        target = self.targets[side]
        headers = {
            "Content-Type": "application/json",
            "X-PTM-Signature": signature(target.secret, raw),
            "X-PTM-Idempotency-Key": key,
        }
        async with aiohttp.ClientSession(timeout=self.timeout) as session:
            async with session.post(target.url, data=raw, headers=headers) as response:
                return response.status

"""CRM connectors: a signed JSON webhook per side, as PRODUCT.md specifies."""

from __future__ import annotations

import aiohttp

from bot.app.config import CrmTarget, Settings
from bot.domain.outbox import Side, signature


class WebhookConnectors:
    """POSTs the exact outbox body with `X-PTM-Signature` and `X-PTM-Idempotency-Key`."""

    def __init__(self, settings: Settings, *, timeout: float = 10.0) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.targets: dict[Side, CrmTarget] = {
            side: target
            for side, target in (
                (Side.OURS, settings.crm_ours),
                (Side.PARTNER, settings.crm_partner),
            )
            if target is not None
        }

    @property
    def connected(self) -> frozenset[Side]:
        return frozenset(self.targets)

    async def post(self, side: Side, raw: bytes, key: str) -> int:
        target = self.targets[side]
        headers = {
            "Content-Type": "application/json",
            "X-PTM-Signature": signature(target.secret.get_secret_value(), raw),
            "X-PTM-Idempotency-Key": key,
        }
        async with aiohttp.ClientSession(timeout=self.timeout) as session:
            async with session.post(target.url, data=raw, headers=headers) as response:
                return response.status

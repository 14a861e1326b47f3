"""CRM connectors: a signed JSON webhook per side, as PRODUCT.md specifies.

Single workspace: the two sides come from the environment (`PTM_CRM_OURS_*`,
`PTM_CRM_PARTNER_*`). Many workspaces: each tenant's admins set theirs in App Home; they are
read from the database at each use (another process may have changed them), their secrets
opened with PTM_SECRET_KEY only at the moment of sending.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from bot.domain.outbox import Side, signature

TIMEOUT = 10.0


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    secret: str


class CrmConnectors(Protocol):
    async def connected(self) -> frozenset[Side]: ...

    async def post(self, side: Side, raw: bytes, key: str, target: int | None = None) -> int: ...


async def post_webhook(target: WebhookTarget, raw: bytes, key: str, *, timeout: float) -> int:
    """POST the exact outbox body with `X-PTM-Signature` and `X-PTM-Idempotency-Key`."""
    headers = {
        "Content-Type": "application/json",
        "X-PTM-Signature": signature(target.secret, raw),
        "X-PTM-Idempotency-Key": key,
    }
    # No redirects: a signed outcome goes to the address its admins set, nowhere else.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async with session.post(
            target.url, data=raw, headers=headers, allow_redirects=False
        ) as response:
            return response.status


class WebhookConnectors:
    """The environment's webhooks (single workspace)."""

    def __init__(self, targets: Mapping[Side, WebhookTarget], *, timeout: float = TIMEOUT) -> None:
        self.timeout = timeout
        self.targets = dict(targets)

    async def connected(self) -> frozenset[Side]:
        return frozenset(self.targets)

    async def post(self, side: Side, raw: bytes, key: str, target: int | None = None) -> int:
        if target is not None:  # partnerships exist with many workspaces only
            raise LookupError("a partner company's own connector needs many workspaces")
        return await post_webhook(self.targets[side], raw, key, timeout=self.timeout)


# side -> (URL, sealed secret), as the tenant's admins set them
StoredTargets = Callable[[], Awaitable[Mapping[Side, tuple[str, str]]]]


class StoredWebhookConnectors:
    """A tenant's webhooks as its admins set them in App Home (many workspaces)."""

    def __init__(
        self,
        load: StoredTargets,
        open_secret: Callable[[str], str],
        partner: Callable[[int], Awaitable[tuple[str, str] | None]] | None = None,
        *,
        timeout: float = TIMEOUT,
    ) -> None:
        self._load = load
        self._open = open_secret
        self._partner = partner  # a partner company's own connector, by its tenant
        self.timeout = timeout

    async def connected(self) -> frozenset[Side]:
        return frozenset(await self._load())

    async def post(self, side: Side, raw: bytes, key: str, target: int | None = None) -> int:
        if target is not None:
            stored = await self._partner(target) if self._partner is not None else None
            if stored is None:  # paused, ended, or their connector removed: retried later
                raise LookupError("the partner company's connector is not available now")
        else:
            stored = (await self._load()).get(side)
        if stored is None:
            raise LookupError(f"no {side.value} CRM connector is set any more")
        url, sealed = stored
        target = WebhookTarget(url, self._open(sealed))
        return await post_webhook(target, raw, key, timeout=self.timeout)

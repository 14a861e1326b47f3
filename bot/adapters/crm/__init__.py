"""CRM connectors, one module per kind behind `bot.domain.crm.Connector`: the signed JSON
webhook (here), Salesforce (`salesforce.py`), HubSpot (`hubspot.py`). A new CRM is a module
and a line in `KINDS`; no listener, card or outbox code knows which kind a side is.

Single workspace: the two sides come from the environment (`PTM_CRM_OURS_*`,
`PTM_CRM_PARTNER_*`). Many workspaces: each tenant's admins set theirs in App Home; they are
read from the database at each use (another process may have changed them), their secrets
opened with PTM_SECRET_KEY only then. A connector object lives as long as its settings do, so
a Salesforce token is fetched once, not per call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import aiohttp

from bot.adapters.crm.salesforce import SalesforceConnector, SalesforceNotifications
from bot.domain.crm import (
    Connector,
    ConnectorConfig,
    CrmError,
    CrmKind,
    CrmRecord,
    CrmRef,
    Notification,
    NotificationFormat,
    OutcomeNote,
)
from bot.domain.outbox import Side, signature

TIMEOUT = 10.0


class WebhookConnector:
    """PRODUCT.md's signed JSON webhook: receives outcomes, holds no records."""

    kind = CrmKind.WEBHOOK

    def __init__(
        self, url: str, secret: str, *, session: aiohttp.ClientSession, timeout: float
    ) -> None:
        self.url = url
        self._secret = secret
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def resolve(self, ref: CrmRef) -> str:
        raise CrmError(
            "This side's CRM connector is a signed webhook: it receives outcomes but holds no "
            "records to link. An admin can make it a Salesforce or HubSpot connector."
        )

    async def fetch(self, record_id: str) -> CrmRecord:
        raise self._no_records()

    async def fetch_many(self, record_ids: Sequence[str]) -> list[CrmRecord]:
        return []

    async def changed_since(self, since: datetime) -> list[CrmRecord]:
        return []

    async def update(
        self, record_id: str, values: Mapping[str, object], held: datetime
    ) -> CrmRecord:
        raise self._no_records()

    async def log_outcome(
        self, record_id: str | None, note: OutcomeNote, raw: bytes, key: str
    ) -> None:
        """POST the exact outbox body with `X-PTM-Signature` and `X-PTM-Idempotency-Key`."""
        headers = {
            "Content-Type": "application/json",
            "X-PTM-Signature": signature(self._secret, raw),
            "X-PTM-Idempotency-Key": key,
        }
        # No redirects: a signed outcome goes to the address its admins set, nowhere else.
        async with self._session.post(
            self.url, data=raw, headers=headers, allow_redirects=False, timeout=self._timeout
        ) as response:
            if not 200 <= response.status < 300:
                raise CrmError(f"HTTP {response.status}")

    def _no_records(self) -> CrmError:
        return CrmError("A webhook connector holds no CRM records.")


Builder = Callable[[ConnectorConfig, aiohttp.ClientSession, float], Connector]
KINDS: dict[CrmKind, Builder] = {
    CrmKind.WEBHOOK: lambda c, session, timeout: WebhookConnector(
        c.url, c.secret, session=session, timeout=timeout
    ),
    CrmKind.SALESFORCE: lambda c, session, timeout: SalesforceConnector(
        c.url, c.client_id, c.secret, session=session, timeout=timeout
    ),
    CrmKind.HUBSPOT: lambda c, session, timeout: _hubspot().HubSpotConnector(
        c.url, c.secret, session=session, timeout=timeout
    ),
}


def _hubspot() -> Any:
    """hubspot-api-client's models are many thousands of objects: loaded on first use only,
    so a PTM that does not connect HubSpot neither starts slower nor carries them."""
    from bot.adapters.crm import hubspot

    return hubspot


class _LazyHubSpotNotifications:
    def record_ids(self, raw: bytes) -> list[str] | None:
        return _hubspot().HubSpotNotifications.record_ids(raw)  # type: ignore[no-any-return]

    def signed(self, call: Notification, secret: str, now: datetime) -> bool:
        return _hubspot().HubSpotNotifications.signed(call, secret, now)  # type: ignore[no-any-return]

    def fresh(self, raw: bytes, now: datetime) -> bool:
        return _hubspot().HubSpotNotifications.fresh(raw, now)  # type: ignore[no-any-return]


# The kinds that tell PTM when their records change (POST /crm/<kind>).
NOTIFICATIONS: dict[CrmKind, NotificationFormat] = {
    CrmKind.SALESFORCE: SalesforceNotifications(),
    CrmKind.HUBSPOT: _LazyHubSpotNotifications(),
}

# What a tenant's admins stored for a side: the config with its secrets still sealed.
StoredConfigs = Callable[[], Awaitable[Mapping[Side, ConnectorConfig]]]
PartnerConfig = Callable[[int], Awaitable[ConnectorConfig | None]]


class CrmConnectors:
    """Each side's connector, built once per configuration and reused."""

    def __init__(
        self,
        configs: Mapping[Side, ConnectorConfig] | None = None,
        *,
        load: StoredConfigs | None = None,
        partner: PartnerConfig | None = None,
        open_secret: Callable[[str], str] = lambda sealed: sealed,
        timeout: float = TIMEOUT,
    ) -> None:
        self._fixed = dict(configs or {})
        self._load = load
        self._partner = partner  # a partner company's own connector, by its tenant
        self._open = open_secret
        self.timeout = timeout
        self._built: dict[tuple[object, ...], Connector] = {}
        self._session: aiohttp.ClientSession | None = None

    async def configs(self) -> Mapping[Side, ConnectorConfig]:
        return self._fixed if self._load is None else await self._load()

    async def connected(self) -> frozenset[Side]:
        return frozenset(await self.configs())

    async def connector(self, side: Side, target: int | None = None) -> Connector | None:
        """The connector of `side`, or of partner tenant `target`'s own side; None when there
        is none (now: a paused partnership, a connector an admin removed)."""
        if target is not None:
            config = await self._partner(target) if self._partner is not None else None
        else:
            config = (await self.configs()).get(side)
        if config is None:
            return None
        key = (target, side, config.kind, config.url, config.client_id, config.secret)
        built = self._built.get(key)
        if built is None:
            opened = replace(config, secret=self._open(config.secret))
            built = KINDS[config.kind](opened, self._client(), self.timeout)
            self._built[key] = built
        return built

    async def webhook_secret(self, side: Side, kind: CrmKind) -> str | None:
        """The secret a CRM of `kind` signs its notifications to PTM with, if that side is
        such a connector."""
        config = (await self.configs()).get(side)
        if config is None or config.kind is not kind or not config.webhook_secret:
            return None
        return self._open(config.webhook_secret)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._built.clear()

"""Which company each request acts for, and everything it needs bound to that company.

Single workspace: one tenant, one set of Deps, built at start. Many workspaces: a request's
installation (Bolt's authorization: `authorize_result`, from the installation store) names the
workspace or Grid org; its tenant's Deps — units of work scoped to it, a Slack gateway on that
installation's token, its own card syncer — are built on first use and kept. The token of a
kept gateway is refreshed from every request, so a rotated token is picked up at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot import services
from bot.app.deps import DEPS_KEY, Clock, Deps
from store import UowFactory

log = logging.getLogger(__name__)

DepsMaker = Callable[[int, AsyncWebClient, tuple[str | None, str | None]], Awaitable[Deps]]
# The current bot token of each tenant of a batch (refreshed if it was about to expire), with
# its team and Grid org, by tenant key; a tenant without one (uninstalled) is left out.
TokenFinder = Callable[[list[str]], Awaitable[dict[str, tuple[str, str | None, str | None]]]]
# Which tenants of a batch have work for a job: (the batch's units of work, now).
Gate = Callable[[UowFactory, datetime], Awaitable[set[int]]]
BATCH = 500  # tenants per batch: bounded IN lists, bounded memory


def tenant_key(team_id: str | None, enterprise_id: str | None, org_wide: bool) -> str | None:
    """The id a tenant is known by: the Grid org for an org-wide install, else the workspace."""
    return enterprise_id if org_wide else team_id


class TenantDeps:
    """Deps per tenant (many-workspace mode)."""

    def __init__(
        self,
        root: UowFactory,
        make: DepsMaker,
        clock: Clock,
        token_for: TokenFinder,
        *,
        digest_hour: int = 8,
    ) -> None:
        self.digest_hour = digest_hour  # PTM_DIGEST_HOUR: a tenant's until its admins choose
        self._root = root
        self._make = make
        self._token_for = token_for
        self._clock = clock
        self._tenant_of: dict[str, int] = {}
        self._deps: dict[int, Deps] = {}
        self._lock = asyncio.Lock()

    async def _made(
        self, tenant: int, client: AsyncWebClient, home: tuple[str | None, str | None]
    ) -> Deps:
        deps = await self._make(tenant, client, home)
        deps.peer = self.peer
        return deps

    async def tenant_for(self, key: str) -> int:
        tenant = self._tenant_of.get(key)
        if tenant is None:
            tenant = await services.workspace_tenant(self._root, key, now=self._clock.now())
            self._tenant_of[key] = tenant
        return tenant

    async def for_request(self, context: Any) -> Deps | None:
        result = context.get("authorize_result")
        if result is None:
            return None
        org_wide = bool(context.get("is_enterprise_install"))
        enterprise_id = result.enterprise_id or context.get("enterprise_id")
        key = tenant_key(result.team_id, enterprise_id, org_wide)
        if key is None:
            return None
        tenant = await self.tenant_for(key)
        client = context["client"]
        deps = self._deps.get(tenant)
        if deps is None:
            async with self._lock:
                deps = self._deps.get(tenant)
                if deps is None:
                    home = (result.team_id, result.enterprise_id)
                    deps = self._deps[tenant] = await self._made(tenant, client, home)
        deps.slack.client.token = client.token  # a rotated token takes effect at once
        return deps

    async def for_job(self, key: str) -> Deps | None:
        """A command-line job's deps for the workspace (or Grid org) `key`: None when it never
        installed PTM. Its current token if it has one (a database-only job needs none)."""
        async with self._root.unscoped().reads() as tx:
            tenant = await tx.tenants.by_team(key)
        if tenant is None:
            return None
        token = (await self._token_for([key])).get(key)
        client = AsyncWebClient(token=token[0] if token else None)
        home = (token[1], token[2]) if token else (key, None)
        deps = self._deps[tenant] = await self._made(tenant, client, home)
        return deps

    async def peer(self, tenant: int) -> Deps | None:
        """Another tenant's deps with its current token (None when it has none any more)."""
        async with self._root.unscoped().reads() as tx:
            row = await tx.tenants.get(tenant)
            key = row.team_id if row is not None else None
        if key is None:
            return None
        found = await self.deps_for([(tenant, key)])
        return found[0] if found else None

    def known(self) -> list[Deps]:
        """The tenants this process has served so far."""
        return list(self._deps.values())

    @property
    def root(self) -> UowFactory:
        return self._root

    def now(self) -> datetime:
        return self._clock.now()

    async def batches(self, size: int = BATCH) -> list[list[tuple[int, str]]]:
        """Every installed tenant (id, key), in batches: one query."""
        async with self._root.unscoped().reads() as tx:
            installed = await tx.tenants.installed()
        return [installed[i : i + size] for i in range(0, len(installed), size)]

    async def deps_for(self, batch: list[tuple[int, str]]) -> list[Deps]:
        """The deps of these tenants with their current tokens (one query for the batch);
        tenants without a token are left out."""
        if not batch:
            return []
        tokens = await self._token_for([key for _, key in batch])
        found = []
        for tenant, key in batch:
            token = tokens.get(key)
            if token is None:
                continue
            bot_token, team_id, enterprise_id = token
            deps = self._deps.get(tenant)
            if deps is None:
                client = AsyncWebClient(token=bot_token)
                deps = self._deps[tenant] = await self._made(
                    tenant, client, (team_id, enterprise_id)
                )
            deps.slack.client.token = bot_token
            found.append(deps)
        return found

    async def each(self, gate: Gate | None = None) -> list[Deps]:
        """The deps of every installed tenant — or, with `gate`, of those it says have work:
        what the periodic jobs run for. A fixed number of queries per batch of tenants (the
        tenants, the gate, their tokens), none per idle tenant."""
        found = []
        for batch in await self.batches():
            if gate is not None:
                ids = [tenant for tenant, _ in batch]
                busy = await gate(self._root.for_tenants(ids), self.now())
                batch = [(tenant, key) for tenant, key in batch if tenant in busy]
            found += await self.deps_for(batch)
        return found

    async def close(self) -> None:
        for deps in self._deps.values():
            await deps.cards.close()
            await deps.homes.close()


def tenant_middleware(tenants: TenantDeps) -> Callable[..., Awaitable[Any]]:
    """A global middleware (after Bolt's authorization): the request's tenant's Deps."""

    async def inject(context: Any, next: Callable[[], Awaitable[Any]]) -> Any:  # noqa: A002
        deps = await tenants.for_request(context)
        if deps is not None:
            context[DEPS_KEY] = deps
        return await next()

    return inject

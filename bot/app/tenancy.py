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
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot import services
from bot.adapters.slack import RoutedGateway
from bot.app.deps import BOTS_KEY, DEPS_KEY, HOME_KEY, Clock, Deps
from bot.app.routing import RoomOwners, home_of, subject_of
from store import UowFactory

log = logging.getLogger(__name__)

DepsMaker = Callable[[int, AsyncWebClient, tuple[str | None, str | None]], Awaitable[Deps]]
# The current bot token of each tenant of a batch (refreshed if it was about to expire), with
# its team, Grid org and bot user, by tenant key; a tenant without one (uninstalled) is left out.
BotToken = tuple[str, str | None, str | None, str | None]
TokenFinder = Callable[[list[str]], Awaitable[dict[str, BotToken]]]
# Which tenants of a batch have work for a job: (the batch's units of work, now).
Gate = Callable[[UowFactory, datetime], Awaitable[set[int]]]
BATCH = 500  # tenants per batch: bounded IN lists, bounded memory
# A token seen this recently is still good for a request routed to its tenant (Bolt rotates
# a token well before it expires: token_rotation_expiration_minutes is 120).
TOKEN_FRESH_SECONDS = 600.0


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
        self._token_seen: dict[int, float] = {}  # tenant -> when its token was last refreshed
        self._rooms = RoomOwners()
        self._lock = asyncio.Lock()

    async def _made(
        self, tenant: int, client: AsyncWebClient, home: tuple[str | None, str | None]
    ) -> Deps:
        deps = await self._make(tenant, client, home)
        deps.peer = self.peer

        async def partner_homes(viewers: tuple[tuple[str, str], ...]) -> None:
            await self._refresh_partner_homes(deps, viewers)

        deps.cards.partner_homes = partner_homes
        return deps

    async def _refresh_partner_homes(
        self, deps: Deps, viewers: tuple[tuple[str, str], ...]
    ) -> None:
        """After a shared deal changed: the App Home of its people from our active partners,
        through their own company's installation (a Home is drawn by the viewer's own app).
        Which teams are partners is kept a minute: a stale answer costs one redraw at most,
        and what the Home shows is read afresh."""
        teams = {team for team, _ in viewers}
        key = "partner_installations:" + ",".join(sorted(teams))
        kept = deps.ctx.cache.get(key)
        if isinstance(kept, tuple) and time.monotonic() - kept[0] < 60:
            found = kept[1]
        else:
            found = await services.partner_installations(deps.ctx, teams)
            deps.ctx.cache[key] = (time.monotonic(), found)
        for team, user in viewers:
            tenant = found.get(team)
            theirs = await self.serving(tenant) if tenant is not None else None
            if theirs is not None:
                theirs.homes.refresh([user])

    async def tenant_for(self, key: str) -> int:
        tenant = self._tenant_of.get(key)
        if tenant is None:
            tenant = await services.workspace_tenant(self._root, key, now=self._clock.now())
            self._tenant_of[key] = tenant
        return tenant

    async def for_request(self, context: Any, body: dict[str, Any] | None = None) -> Deps | None:
        """The deps of the tenant whose deal the request is about: the installation's, or —
        a card, deal room or modal of another company's in a shared channel — that one's, the
        answers that Slack ties to the receiving installation still going through it."""
        deps = await self._installations_deps(context)
        if deps is None or body is None:
            return deps
        subject = subject_of(body, context.get("bot_user_id"))
        if subject is None:
            return deps
        home = await home_of(self._root, deps.ctx.uow.tenant_id, subject, self._rooms)
        served = await self.serving(home) if home is not None else None
        if home is None or served is None:
            return deps  # ours, or a company that left PTM (its cards cannot change)
        context[HOME_KEY] = await served.slack.installation()
        context[BOTS_KEY] = (context.get("bot_user_id"), served.slack.bot_user)
        return replace(served, slack=RoutedGateway(served.slack, deps.slack, home))

    async def serving(self, tenant: int) -> Deps | None:
        """A tenant's deps with a token that is good now, without a query if this process
        saw its token lately."""
        kept = self._deps.get(tenant)
        seen = self._token_seen.get(tenant)
        if kept is not None and seen is not None and time.monotonic() - seen < TOKEN_FRESH_SECONDS:
            return kept
        return await self.peer(tenant)

    async def _installations_deps(self, context: Any) -> Deps | None:
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
        deps.slack.bot_user = result.bot_user_id
        self._token_seen[tenant] = time.monotonic()
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
        deps.slack.bot_user = token[3] if token else None
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
            bot_token, team_id, enterprise_id, bot_user = token
            deps = self._deps.get(tenant)
            if deps is None:
                client = AsyncWebClient(token=bot_token)
                deps = self._deps[tenant] = await self._made(
                    tenant, client, (team_id, enterprise_id)
                )
            deps.slack.client.token = bot_token
            deps.slack.bot_user = bot_user
            self._token_seen[tenant] = time.monotonic()
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
            await deps.crm.aclose()


def tenant_middleware(tenants: TenantDeps) -> Callable[..., Awaitable[Any]]:
    """A global middleware (after Bolt's authorization): the request's tenant's Deps."""

    async def inject(
        context: Any,
        body: dict[str, Any],
        next: Callable[[], Awaitable[Any]],  # noqa: A002
    ) -> Any:
        deps = await tenants.for_request(context, body)
        if deps is not None:
            context[DEPS_KEY] = deps
        return await next()

    return inject

"""`POST /crm/<kind>` (`/crm/salesforce`, `/crm/hubspot`): a CRM says linked records changed.

Checked before anything is read, by the kind's own notification format
(`bot.adapters.crm.NOTIFICATIONS`): Salesforce's callout is signed like PTM's own webhooks,
HubSpot's batch carries its v3 signature at most five minutes old. Anything else is a 401 and
changes nothing. PTM then reads the linked records itself (a notification's values are hints
only, and may be late, repeated or out of order) and applies those newer than what the deals
hold.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot import services
from bot.adapters.crm import NOTIFICATIONS
from bot.adapters.server import CrmInbound
from bot.app.deps import Deps
from bot.app.tenancy import TenantDeps
from bot.domain.crm import CrmError, CrmKind, Notification
from bot.domain.outbox import Side

log = logging.getLogger(__name__)

# The deps a notification may be for: the one workspace's, or — many workspaces — those of
# the tenants linked to any of the records it names.
Candidates = Callable[[CrmKind, list[str]], Awaitable[list[Deps]]]


def crm_inbound(candidates: Candidates) -> CrmInbound:
    async def receive(call: Notification) -> int:
        kind = next((k for k in NOTIFICATIONS if k.value == call.kind), None)
        if kind is None:
            return 404
        form = NOTIFICATIONS[kind]
        ids = form.record_ids(call.raw)
        if ids is None:
            return 400
        for deps in await candidates(kind, ids):
            secret = await deps.crm.webhook_secret(Side.OURS, kind)
            if secret is None or not form.signed(call, secret, deps.ctx.now()):
                continue
            if not form.fresh(call.raw, deps.ctx.now()):
                return 401
            try:
                report = await services.notified(deps.ctx, kind, ids, deps.crm.connector)
            except CrmError as err:
                log.warning("%s notification not applied now: %s", kind.value, err.message)
                return 503  # the CRM retries; the reconciliation pass catches it otherwise
            for deal_id in report.changed:
                await deps.cards.sync(deal_id)
            return 204
        return 401

    return receive


def candidates_of(deps: Deps | None, tenants: TenantDeps | None) -> Candidates:
    """The one workspace; or the tenants linked to the named records (one query across
    tenants, ids only), each to be checked against its own connector's secret."""

    async def candidates(kind: CrmKind, ids: list[str]) -> list[Deps]:
        if deps is not None:
            return [deps]
        if tenants is None:
            return []
        async with tenants.root.unscoped().reads() as tx:
            linking = await tx.routing.tenants_linking(kind.value, ids)
        found = [await tenants.serving(tenant) for tenant in linking]
        return [d for d in found if d is not None]

    return candidates

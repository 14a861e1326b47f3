"""`POST /crm/salesforce` and `POST /crm/hubspot`: a CRM says linked records changed.

Checked before anything is read: Salesforce's callout is signed like PTM's own webhooks
(`X-PTM-Signature`, HMAC of the raw body with the connector's webhook secret); HubSpot's batch
carries its v3 signature, at most five minutes old. Anything else is a 401 and changes
nothing. PTM then reads the linked records itself (the notification's values are hints only,
and may be late or out of order) and applies those newer than what the deals hold.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot import services
from bot.adapters.crm.hubspot import valid_signature
from bot.adapters.crm.salesforce import parse_salesforce_time
from bot.adapters.server import CrmCall, CrmInbound
from bot.app.deps import Deps
from bot.app.tenancy import TenantDeps
from bot.domain.crm import CrmError, CrmKind
from bot.domain.outbox import Side, signature

log = logging.getLogger(__name__)

MAX_EVENTS = 100  # HubSpot sends batches of up to 100
# A Salesforce notification "from the future" is forged or from a clock PTM cannot trust.
CLOCK_SKEW = timedelta(minutes=5)

# The deps a notification may be for: the one workspace's, or — many workspaces — those of
# the tenants linked to any of the records it names.
Candidates = Callable[[CrmKind, list[str]], Awaitable[list[Deps]]]


def crm_inbound(candidates: Candidates) -> CrmInbound:
    async def receive(call: CrmCall) -> int:
        kind = CrmKind(call.kind)
        ids = _record_ids(kind, call.raw)
        if ids is None:
            return 400
        for deps in await candidates(kind, ids):
            secret = await deps.crm.webhook_secret(Side.OURS, kind)
            if secret is None or not _signed(kind, call, secret, deps.ctx.now()):
                continue
            if not _fresh(kind, call.raw, deps.ctx.now()):
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


def _signed(kind: CrmKind, call: CrmCall, secret: str, now: datetime) -> bool:
    if kind is CrmKind.HUBSPOT:
        return valid_signature(
            secret,
            method=call.method,
            uri=call.uri,
            body=call.raw.decode("utf-8", "replace"),
            signature=call.headers.get("X-HubSpot-Signature-v3", ""),
            timestamp=call.headers.get("X-HubSpot-Request-Timestamp", ""),
            now=now,
        )
    given = call.headers.get("X-PTM-Signature", "")
    return hmac.compare_digest(
        signature(secret, call.raw).encode(), given.encode("utf-8", "replace")
    )


def _fresh(kind: CrmKind, raw: bytes, now: datetime) -> bool:
    """HubSpot's timestamp is checked with its signature; a Salesforce record's
    SystemModstamp must not lie in the future."""
    if kind is CrmKind.HUBSPOT:
        return True
    stamps = [parse_salesforce_time(str(item["SystemModstamp"])) for item in _items(raw)]
    return all(stamp <= now.astimezone(UTC) + CLOCK_SKEW for stamp in stamps)


def _items(raw: bytes) -> list[dict[str, object]]:
    body = json.loads(raw)
    items = body if isinstance(body, list) else [body]
    return [item for item in items if isinstance(item, dict)]


def _record_ids(kind: CrmKind, raw: bytes) -> list[str] | None:
    """The records a notification names, or None when it does not read as one: Salesforce,
    an object (or a list of them) with `Id` and `SystemModstamp`; HubSpot, a list of up to
    100 events, of which the deal events count."""
    try:
        items = _items(raw)
        if kind is CrmKind.SALESFORCE:
            if not items or len(items) > 200:
                return None
            for item in items:
                parse_salesforce_time(str(item["SystemModstamp"]))
            return sorted({str(item["Id"]) for item in items})
        body = json.loads(raw)
        if not isinstance(body, list) or len(body) > MAX_EVENTS:
            return None
        return sorted(
            {
                str(item["objectId"])
                for item in items
                if str(item.get("subscriptionType", "")).startswith("deal.")
            }
        )
    except (ValueError, KeyError, TypeError):
        return None


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

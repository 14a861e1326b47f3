"""Meeting and log: record an outcome and deliver it to both CRMs through the durable outbox."""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot.domain.crm import CrmError, outcome_note
from bot.domain.model import Deal, Source, esc
from bot.domain.outbox import (
    MAX_ATTEMPTS,
    NotYet,
    Outcome,
    Side,
    encode,
    next_delay,
    partner_companies,
    payload,
)
from bot.domain.partnership import govern_delivery
from bot.domain.rules import log_outcome as log_outcome_rule
from bot.services import disclosures, governance
from bot.services.changes import change
from bot.services.common import Caller, Ctx, changed_reply, resolve_deal
from bot.services.crm import ConnectorPort, note_health, write_back
from bot.services.partnerships import partner_route
from bot.views.models import Reply
from store import UnitOfWork
from store.outbox import Delivery

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
# The same outcome from the same person within this window is one outcome sent twice (Slack's
# retry after a late answer, a double submit), not a second meeting.
RETRY_WINDOW = timedelta(minutes=2)


@dataclass
class DeliveryReport:
    delivered: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    deals: set[int] = field(default_factory=set)


async def log_outcome(
    ctx: Ctx,
    caller: Caller,
    *,
    text: str,
    connected: Collection[Side],
    deal_number: int | None = None,
    deal_id: int | None = None,
    meeting_date: date | None = None,
    result: str = "",
    source: Source = Source.COMMAND,
) -> Reply:
    """Record the joint meeting / outcome (steps *meeting* and *log*) and queue it for both
    CRMs in the same transaction; a side without a connector keeps an importable record."""
    async with ctx.uow.reads() as uow:
        if deal_id is None:
            found = await resolve_deal(uow, number=deal_number, caller=caller)
        else:
            found = await uow.deals.get(deal_id)  # type: ignore[assignment]
    deal_id = found.id if found is not None else deal_id
    # Log to all: our CRM, and each partner company's — its own connector when it is in a
    # partnership with us (set by its admins), else our partner-side connector.
    companies = partner_companies(found) if found is not None else []
    several = len(companies) > 1
    routes = {key: await partner_route(ctx, team) for key, team, _ in companies}
    now = ctx.now()
    outcome = Outcome(text, meeting_date, result, caller.actor.user_id, now)

    def reaches(key: str) -> bool:
        return Side.PARTNER in connected or routes.get(key) is not None

    async def queue(uow: UnitOfWork, deal: Deal) -> None:
        outcome_id = await uow.outbox.add_outcome(deal.id, outcome)
        ours = payload(deal, outcome, Side.OURS)
        await uow.outbox.enqueue(
            outcome_id=outcome_id, deal_id=deal.id, side=Side.OURS.value, body=encode(ours),
            key=uuid.uuid4().hex, status="pending" if Side.OURS in connected else "export",
            now=now,
        )  # fmt: skip
        # Partner companies hidden from each other: none is told which partner was matched.
        hidden = several and not await uow.tenants.partners_see_each_other()
        # A partner company in a partnership with us gets only what our policy shares with it.
        policies = await governance.policies_for(ctx, uow, {t for _, t, _ in companies if t})
        for key, team, kind in companies or [("", None, None)]:
            body = payload(deal, outcome, Side.PARTNER, (team or key, kind) if key else None)
            body = govern_delivery(body, policies.get(team or ""))
            if hidden:
                body["partner"] = None
            await uow.outbox.enqueue(
                outcome_id=outcome_id, deal_id=deal.id, side=Side.PARTNER.value,
                body=encode(body), key=uuid.uuid4().hex,
                status="pending" if reaches(key) else "export", now=now,
                target_tenant=routes.get(key), company=key,
            )  # fmt: skip
            if reaches(key):
                # Leaves the company: in the ledger in the same transaction as the queueing.
                sent = [f for f, v in body.items() if f != "deal_key" and v not in (None, "")]
                await uow.disclosures.record(disclosures.crm_rows(deal, sent, team), now)

    async def already_logged(uow: UnitOfWork, deal: Deal) -> bool:
        return await uow.outbox.has_outcome(
            deal.id, text=text, logged_by=caller.actor.user_id, since=now - RETRY_WINDOW
        )

    deal, logged = await change(
        ctx,
        caller,
        deal_id,
        lambda d: log_outcome_rule(d, text),
        source=source,
        also=queue,
        unless=already_logged,
    )
    if not logged:
        return changed_reply(
            deal,
            False,
            f"Already logged on {deal.key} a moment ago: {esc(text, 300)}. "
            "It is sent to each CRM once.",
        )
    missing = [Side.OURS.value] if Side.OURS not in connected else []
    unreached = [key for key, _, _ in companies if not reaches(key)]
    if unreached or (not companies and Side.PARTNER not in connected):
        missing.append("partner" if not several else f"{len(unreached)} partner companies")
    note = (
        f" No CRM connector for {', '.join(missing)}: `ptm outbox export` gives an "
        "importable record."
        if missing
        else (" Sending to every CRM." if several else " Sending to both CRMs.")
    )
    return changed_reply(deal, True, f"Logged on {deal.key}: {esc(text, 300)}.{note}")


async def outbox_listing(ctx: Ctx, statuses: Collection[str]) -> list[Delivery]:
    async with ctx.uow.reads() as uow:
        return await uow.outbox.listing(list(statuses))


async def retry_dead(ctx: Ctx) -> int:
    """Give dead letters a fresh set of attempts, starting now."""
    async with ctx.uow() as uow:
        revived = await uow.outbox.revive_dead(ctx.now())
        await uow.commit()
    return revived


# Deliveries of other kinds than CRM outcomes and write-backs (an AWS co-sell submission):
# kind -> what delivers one (raises to be retried; returns a note).
OtherKinds = Mapping[str, Callable[[Ctx, Delivery], Awaitable[str | None]]]


async def deliver_due(
    ctx: Ctx, port: ConnectorPort, *, owner: str, other: OtherKinds | None = None
) -> DeliveryReport:
    """Send every due delivery this worker can claim; each is sent until it succeeds, then
    never again. A connector that refuses its credentials marks its side "needs attention"
    and its deliveries wait; nothing else waits for it."""
    report = DeliveryReport()
    now = ctx.now()
    async with ctx.uow.reads() as uow:
        due = await uow.outbox.due(now)
    for row_id in due:
        async with ctx.uow() as uow:
            item = await uow.outbox.claim(row_id, owner=owner, now=now, lease_until=now + LEASE)
            await uow.commit()
        if item is None:
            continue  # another worker has it
        note: str | None = None
        crm = item.kind in ("outcome", "update")
        try:
            if crm:
                note = await _deliver(ctx, port, item)
            else:
                note = await _other(other, ctx, item)
            error = None
        except NotYet as wait:  # not failing, only not allowed yet: its attempts are not spent
            async with ctx.uow() as uow:
                later = ctx.now() + timedelta(seconds=wait.delay)
                await uow.outbox.finish(
                    row_id, owner=owner, next_attempt_at=later, last_error=wait.reason[:300]
                )
                await uow.commit()
            report.retrying.append(row_id)
            continue
        except Exception as err:  # noqa: BLE001  (any failure to deliver is retried)
            # The partner company's own connector: its address (which an error's text may
            # spell) is theirs alone, so we keep only the kind of failure.
            if item.target_tenant is not None:
                error = type(err).__name__
            elif isinstance(getattr(err, "message", None), str):
                error = str(err.message)[:300]  # type: ignore[attr-defined]
            else:
                error = f"{type(err).__name__}: {err}"[:300]
            if isinstance(err, CrmError) and item.target_tenant is None and crm:
                await note_health(ctx, Side(item.side), err)
        if error is not None and item.target_tenant is not None:
            error = f"{error} (the partner company's own CRM connector)"
        attempts = item.attempts + 1
        async with ctx.uow() as uow:
            if error is None:
                await uow.outbox.finish(
                    row_id,
                    owner=owner,
                    status="delivered",
                    attempts=attempts,
                    delivered_at=ctx.now(),
                    last_error=note,
                )
                report.delivered.append(row_id)
            elif attempts >= MAX_ATTEMPTS:
                await uow.outbox.finish(
                    row_id, owner=owner, status="dead", attempts=attempts, last_error=error
                )
                report.dead.append(row_id)
            else:
                later = ctx.now() + next_delay(attempts, random.uniform(0.8, 1.2))
                await uow.outbox.finish(
                    row_id, owner=owner, attempts=attempts, next_attempt_at=later, last_error=error
                )
                report.retrying.append(row_id)
            await uow.commit()
        if error is None and item.target_tenant is None and crm:
            await note_health(ctx, Side(item.side), None)
        report.deals.add(item.deal_id)
    return report


async def _other(other: OtherKinds | None, ctx: Ctx, item: Delivery) -> str | None:
    deliver = (other or {}).get(item.kind)
    if deliver is None:
        raise LookupError(f"this process does not deliver {item.kind} items")
    return await deliver(ctx, item)


async def _deliver(ctx: Ctx, port: ConnectorPort, item: Delivery) -> str | None:
    """One delivery through its side's connector, whatever its kind: an outcome (the signed
    webhook body, or a CRM activity on the linked record) or a write-back of fields."""
    side = Side(item.side)
    connector = await port(side, item.target_tenant)
    if connector is None:
        raise LookupError(
            "the partner company's connector is not available now"
            if item.target_tenant is not None
            else f"no {side.value} CRM connector is set any more"
        )
    if item.kind == "update":
        return await write_back(ctx, connector, item.deal_id, json.loads(item.body)["fields"])
    async with ctx.uow.reads() as uow:
        links = await uow.crm.of_deal(item.deal_id)
    record = next(
        (
            ln.record_id
            for ln in links
            if ln.side == side.value
            and ln.kind == connector.kind.value
            and (side is Side.OURS or ln.company == item.company or not item.company)
        ),
        None,
    )
    body = json.loads(item.body)
    note = outcome_note(body, marker=item.idempotency_key[:16], at=ctx.now())
    await connector.log_outcome(record, note, item.body.encode(), item.idempotency_key)
    return None

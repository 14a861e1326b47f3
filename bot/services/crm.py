"""Deals and their CRM records: link and import, changes from the CRM (notifications and the
reconciliation pass), and the connector's health. Every change a CRM makes goes through
`change` like a person's, as source `crm`: versioned, audited, every card copy redrawn."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.crm import (
    KIND_LABELS,
    RECORD_NAMES,
    CompareAndSetFailed,
    Connector,
    CrmError,
    CrmKind,
    CrmRecord,
    card_fields,
    from_record,
    parse_reference,
    write_values,
)
from bot.domain.model import Actor, BadInput, Deal, Mutation, Source, esc
from bot.domain.outbox import Side
from bot.services.changes import change
from bot.services.common import Caller, Ctx, changed_reply, resolve_deal_id
from bot.services.deals import create_deal
from bot.views.models import Reply
from store import UnitOfWork
from store.crm import CrmLink

log = logging.getLogger(__name__)

# (side, partner tenant whose own connector it is) -> that connector, or None
ConnectorPort = Callable[[Side, int | None], Awaitable[Connector | None]]
# A linked record's changes are made by nobody: no person's activation, no right to check.
CRM_CALLER = Caller(actor=Actor(user_id="crm", internal=True))
# The first reconciliation pass looks this far back; later ones start where the last ended,
# with a little overlap for clocks and commit delays on the CRM's side.
FIRST_LOOKBACK = timedelta(days=1)
OVERLAP = timedelta(minutes=1)


@dataclass
class SyncReport:
    """What a batch of CRM changes did: the deals that changed (their cards are redrawn)."""

    changed: set[int]
    seen: int = 0
    stale: int = 0


async def link_named_deal(
    ctx: Ctx, caller: Caller, number: int | None, text: str, port: ConnectorPort
) -> Reply:
    """`/ptm link` on the channel's deal or the one named by key."""
    async with ctx.uow.reads() as uow:
        deal_id = await resolve_deal_id(uow, number=number, caller=caller)
    return await link_deal(ctx, caller, deal_id, text, port)


async def link_deal(
    ctx: Ctx, caller: Caller, deal_id: int, text: str, port: ConnectorPort
) -> Reply:
    """`/ptm link <id or URL>`: link the deal to our CRM's record (a partner rep: to their
    company's) and take its name, account, amount, currency, close date and stage now."""
    side = Side.OURS if caller.actor.internal else Side.PARTNER
    connector, record = await _read_reference(ctx, side, text, port)
    label = f"{KIND_LABELS[connector.kind]} {RECORD_NAMES[connector.kind]} {record.record_id}"
    company = "" if side is Side.OURS else caller.actor.team_id or caller.actor.user_id
    async with ctx.uow.reads() as uow:
        taken = await uow.crm.deal_of_record(side.value, connector.kind.value, record.record_id)
        if taken is not None and taken != deal_id:
            key = await uow.deals.key_of(taken)
            raise BadInput(f"{label} is already linked to {key}; one deal per CRM record.")
        links = await uow.crm.of_deal(deal_id)
    before = next((ln for ln in links if ln.side == side.value and ln.company == company), None)

    def plan(deal: Deal) -> Mutation:
        # Our CRM owns the card's fields; the partner's record is where their outcomes go.
        taken = from_record(deal, record) if side is Side.OURS else Mutation()
        old = f"{before.kind} {before.record_id}" if before is not None else None
        new = f"{connector.kind.value} {record.record_id}"
        if old == new and taken.is_empty:
            return Mutation()
        audit = {**taken.audit, f"crm_link_{side.value}": (old, new)}
        return Mutation(fields=taken.fields, audit=audit)

    async def keep_link(uow: UnitOfWork, deal: Deal) -> None:
        link = CrmLink(deal.id, side.value, company, connector.kind.value, record.record_id,
                       record.modified_at)  # fmt: skip
        await uow.crm.put(link, by=caller.actor.user_id, now=ctx.now())

    deal, changed = await change(
        ctx, caller, deal_id, plan, source=Source.COMMAND, also=keep_link, write_back=False
    )
    if not changed:
        return changed_reply(deal, False, f"{deal.key} is already linked to {label}.")
    took = (
        f" Took its name, account, amount, close date and stage ({deal.stage.value}); they "
        "follow the record from now on."
        if side is Side.OURS
        else " Outcomes logged on it go to your company's record too."
    )
    return changed_reply(deal, True, f"Linked {deal.key} to {label}.{took}")


async def new_from_record(ctx: Ctx, caller: Caller, text: str, port: ConnectorPort) -> Reply:
    """`/ptm new <URL>`: create the deal from our CRM's record, linked to it."""
    if not caller.actor.internal:
        raise BadInput("Deals are created by the company that owns them: ask your partner.")
    connector, record = await _read_reference(ctx, Side.OURS, text, port)
    async with ctx.uow.reads() as uow:
        taken = await uow.crm.deal_of_record(
            Side.OURS.value, connector.kind.value, record.record_id
        )
        key = await uow.deals.key_of(taken) if taken is not None else None
    if key is not None:
        raise BadInput(
            f"That {RECORD_NAMES[connector.kind]} is already {key}: `/ptm card {key}` shows it."
        )
    # Created with the record's name and account; the link then takes the rest (amount,
    # close date, stage and status) through the audited change path.
    fields = card_fields(record)
    created = await create_deal(
        ctx, caller, name=str(fields["name"]), account=str(fields["account"])
    )
    assert created.deal_id is not None
    linked = await link_deal(ctx, caller, created.deal_id, text, port)
    return Reply(
        text=f"{created.text} {linked.text}",
        deal_id=created.deal_id,
        changed=True,
        post_card=created.post_card,
    )


async def _read_reference(
    ctx: Ctx, side: Side, text: str, port: ConnectorPort
) -> tuple[Connector, CrmRecord]:
    ref = parse_reference(text)
    connector = await port(side, None)
    whose = "our CRM" if side is Side.OURS else "your company's CRM"
    if connector is None:
        raise BadInput(
            f"PTM has no connector for {whose}: an admin sets one (a Salesforce or HubSpot "
            "connector links records)."
        )
    try:
        record_id = await connector.resolve(ref)
        record = await connector.fetch(record_id)
    except CrmError as err:
        await note_health(ctx, side, err)
        raise BadInput(err.message) from None
    return connector, record


async def apply_records(ctx: Ctx, records: Sequence[CrmRecord]) -> SyncReport:
    """Bring the deals linked (on our side) to `records` up to date: one query finds the
    links, then each deal whose record is newer than what it holds changes through `change`.
    A record no newer than the deal's (a duplicate, a late or reordered notification) changes
    nothing; fields PTM changed after the record's time and has not yet written back are
    kept (they are on their way to the CRM)."""
    report = SyncReport(changed=set(), seen=len(records))
    if not records:
        return report
    by_kind: dict[CrmKind, dict[str, CrmRecord]] = {}
    for record in records:
        newest = by_kind.setdefault(record.kind, {}).get(record.record_id)
        if newest is None or record.modified_at > newest.modified_at:
            by_kind[record.kind][record.record_id] = record
    links: list[tuple[CrmLink, CrmRecord]] = []
    async with ctx.uow.reads() as uow:
        for kind, found in by_kind.items():
            for link in await uow.crm.by_records(kind.value, found):
                if link.side == Side.OURS.value:
                    links.append((link, found[link.record_id]))
    for link, record in links:
        if record.modified_at <= link.modified_at:
            report.stale += 1
            continue
        if await _apply_one(ctx, link.deal_id, record):
            report.changed.add(link.deal_id)
    return report


async def _apply_one(
    ctx: Ctx, deal_id: int, record: CrmRecord, *, conflict: str | None = None
) -> bool:
    """Apply one newer record to its deal. After a failed compare-and-set (`conflict`, what
    the audit says) the CRM's record wins whole; otherwise fields PTM changed later than the
    record and is still writing back are kept."""
    kept: set[str] = set()

    async def older(uow: UnitOfWork, _deal: Deal) -> bool:
        # Under the deal's row lock: a concurrent newer notification may have won meanwhile.
        links = [ln for ln in await uow.crm.of_deal(deal_id) if ln.side == Side.OURS.value]
        if not links or record.modified_at <= links[0].modified_at:
            return True
        kept.clear()
        for fields, at in await uow.crm.pending_writes(deal_id) if conflict is None else []:
            if at > record.modified_at:
                kept.update(fields)
        return False

    def plan(deal: Deal) -> Mutation:
        taken = from_record(deal, record)
        fields = {k: v for k, v in taken.fields.items() if k not in kept}
        audit = {k: v for k, v in taken.audit.items() if k not in kept}
        if "stage" in kept:
            fields.pop("status", None)
            audit.pop("status", None)
        if conflict and audit:
            audit["crm_conflict"] = (None, conflict)
        return Mutation(fields=fields, audit=audit)

    async def advance(uow: UnitOfWork, deal: Deal) -> None:
        await uow.crm.advance(deal.id, Side.OURS.value, record.modified_at)

    try:
        _deal, changed = await change(
            ctx, CRM_CALLER, deal_id, plan, source=Source.CRM, also=advance, unless=older
        )
    except BadInput as err:  # a record the card cannot hold: say so in the log, keep going
        log.warning("CRM record %s not applied to deal %s: %s", record.record_id, deal_id, err)
        changed = False
    if not changed:
        async with ctx.uow() as uow:
            await uow.crm.advance(deal_id, Side.OURS.value, record.modified_at)
            await uow.commit()
    return changed


async def notified(
    ctx: Ctx, kind: CrmKind, record_ids: Collection[str], port: ConnectorPort
) -> SyncReport:
    """A CRM said these records changed: read the linked ones (one request per batch) and
    apply them. Unlinked records are not read at all."""
    async with ctx.uow.reads() as uow:
        links = await uow.crm.by_records(kind.value, set(record_ids))
    wanted = sorted({ln.record_id for ln in links if ln.side == Side.OURS.value})
    if not wanted:
        return SyncReport(changed=set(), seen=len(record_ids))
    connector = await port(Side.OURS, None)
    if connector is None or connector.kind is not kind:
        return SyncReport(changed=set(), seen=len(record_ids))
    try:
        records = await connector.fetch_many(wanted)
    except CrmError as err:
        await note_health(ctx, Side.OURS, err)
        raise
    await note_health(ctx, Side.OURS, None)
    return await apply_records(ctx, records)


async def reconcile(ctx: Ctx, port: ConnectorPort) -> SyncReport:
    """Catch what notifications missed: the records modified since the last pass (one query
    per page of them), applied like notifications. The mark is the newest modification time
    the CRM reported, by the CRM's own clock (PTM's may differ), less a little overlap."""
    connector = await port(Side.OURS, None)
    if connector is None or connector.kind is CrmKind.WEBHOOK:
        return SyncReport(changed=set())
    async with ctx.uow.reads() as uow:
        health = (await uow.crm.health()).get(Side.OURS.value)
    last = health.reconciled_at if health is not None else None
    since = last - OVERLAP if last is not None else ctx.now() - FIRST_LOOKBACK
    try:
        records = await connector.changed_since(since)
    except CrmError as err:
        await note_health(ctx, Side.OURS, err)
        raise
    report = await apply_records(ctx, records)
    newest = max((r.modified_at for r in records), default=last)
    async with ctx.uow() as uow:
        await uow.crm.set_health(
            Side.OURS.value, now=ctx.now(), reconciled_at=newest,
            needs_attention=False if health is not None and health.needs_attention else None,
        )  # fmt: skip
        await uow.commit()
    return report


async def write_back(
    ctx: Ctx, connector: Connector, deal_id: int, fields: Collection[str]
) -> str | None:
    """Deliver one write-back: the deal's current values of `fields` to its linked record,
    unless the record changed since PTM last read it — then the CRM's newer record wins,
    the card takes it, and the audit says so. The note for the outbox row (None: written)."""
    async with ctx.uow.reads() as uow:
        deal = await uow.deals.get(deal_id)
        links = [ln for ln in await uow.crm.of_deal(deal_id) if ln.side == Side.OURS.value]
    if deal is None or not links or links[0].kind != connector.kind.value:
        return "no linked record any more"
    link = links[0]
    try:
        written = await connector.update(
            link.record_id, write_values(deal, fields), link.modified_at
        )
    except CompareAndSetFailed as conflict:
        label = KIND_LABELS[connector.kind]
        note = f"{label} changed the record first: kept {label}'s newer value"
        await _apply_one(ctx, deal_id, conflict.record, conflict=note)
        return f"conflict: {note}"
    async with ctx.uow() as uow:
        await uow.crm.advance(deal_id, Side.OURS.value, written.modified_at)
        await uow.commit()
    return None


async def note_health(ctx: Ctx, side: Side, err: CrmError | None) -> None:
    """A refused credential marks the side "needs attention" (cards, App Home, `ptm outbox`);
    the next call that works clears it. Other failures leave it as it is."""
    if err is not None and not err.needs_attention:
        return
    async with ctx.uow() as uow:
        current = (await uow.crm.health()).get(side.value)
        attention = err is not None
        if current is None and not attention:
            return
        if current is not None and current.needs_attention == attention:
            return
        await uow.crm.set_health(
            side.value, now=ctx.now(), needs_attention=attention,
            detail=esc(err.message, 300) if err is not None else "",
        )  # fmt: skip
        await uow.commit()


async def attention(ctx: Ctx) -> dict[str, str]:
    """The sides whose connector needs an admin: side -> what went wrong."""
    async with ctx.uow.reads() as uow:
        return {s: h.detail for s, h in (await uow.crm.health()).items() if h.needs_attention}

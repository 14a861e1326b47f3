"""Capability map use cases: import / export, find a partner for a need, attach it to a deal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from bot.domain.capability import (
    CapabilityIndex,
    Rejected,
    rank,
    read_csv,
    words,
    write_csv,
)
from bot.domain.model import NoDealHere, NotFound, Source, esc
from bot.domain.rules import attach_partner as attach_rule
from bot.services.changes import change
from bot.services.common import Caller, Ctx, changed_reply, resolve_deal
from bot.views.models import FindView, Reply
from store import UnitOfWork
from store.partners import to_partners


@dataclass(frozen=True)
class ImportReport:
    added: int
    updated: int
    rejected: tuple[Rejected, ...]


async def import_partners(
    ctx: Ctx, csv_text: str, *, progress: Callable[[int, int], None] | None = None
) -> ImportReport:
    """Upsert the CSV's good rows by partner name; bad rows are reported, never fatal."""
    partners, rejected = read_csv(csv_text)
    async with ctx.uow() as uow:
        added, updated = await uow.partners.upsert(
            partners,
            now=ctx.now(),
            progress=(lambda done: progress(done, len(partners))) if progress else None,
        )
        await uow.commit()
    return ImportReport(added, updated, tuple(rejected))


async def export_partners(ctx: Ctx) -> str:
    async with ctx.uow.reads() as uow:
        return write_csv(await uow.partners.all())


async def find_partners(
    ctx: Ctx, caller: Caller, text: str, *, deal_number: int | None, limit: int = 5
) -> FindView:
    """Rank partners for free words, or (no words) for the deal's own context."""
    deal = None
    async with ctx.uow.reads() as uow:
        if deal_number is not None or caller.channel_id:
            try:
                deal = await resolve_deal(uow, number=deal_number, caller=caller)
            except (NotFound, NoDealHere):
                if deal_number is not None or not text.strip():
                    raise
        index = await _index(ctx, uow)
        wins = await uow.partners.wins()
    if not text.strip() and deal is not None:
        text = f"{deal.trigger_reason} {deal.name} {deal.account}"
    query = words(text)
    ranked = rank(index, query, wins=wins, limit=limit)
    return FindView(query, tuple(ranked), deal.id if deal else None, deal.key if deal else None)


async def _index(ctx: Ctx, uow: UnitOfWork) -> CapabilityIndex:
    """The capability index, rebuilt only when the map changed (any process may change it).
    A rebuild over a large map takes seconds of CPU: it runs in a worker thread, so every other
    request goes on meanwhile, and one at a time (a burst of finds waits for the one rebuild)."""
    stamp = await uow.partners.stamp()
    cached = ctx.cache.get("capability_index")
    if isinstance(cached, tuple) and cached[0] == stamp:
        return cached[1]  # type: ignore[no-any-return]
    lock = ctx.cache.setdefault("capability_index_lock", asyncio.Lock())
    assert isinstance(lock, asyncio.Lock)
    async with lock:
        cached = ctx.cache.get("capability_index")
        if isinstance(cached, tuple) and cached[0] == stamp:
            return cached[1]  # type: ignore[no-any-return]
        rows = await uow.partners.all_rows()
        index = await asyncio.to_thread(lambda: CapabilityIndex.build(to_partners(rows)))
        ctx.cache["capability_index"] = (stamp, index)
    return index


async def attach_partner(ctx: Ctx, caller: Caller, deal_id: int, name: str) -> Reply:
    async with ctx.uow.reads() as uow:
        partner = await uow.partners.named(name)
    if partner is None:
        raise NotFound(f"{esc(name)} is not in the capability map any more. Try `/ptm find` again.")
    deal, changed = await change(
        ctx, caller, deal_id, lambda d: attach_rule(d, partner.name), source=Source.BUTTON
    )
    text = (
        f"{esc(partner.name)} is now the partner on {deal.key}."
        if changed
        else f"{esc(partner.name)} already is the partner on {deal.key}."
    )
    return changed_reply(deal, changed, text)

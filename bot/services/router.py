"""From a parsed `/ptm` or @PTM intent to the use case that carries it out: one table row per
intent type, for the caller alone or on the deal the command names."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.domain import intents
from bot.domain.model import BadInput, Source
from bot.services import disclosures
from bot.services.common import Caller, Ctx, deal_id_for
from bot.services.deals import (
    add_partner_company,
    close_deal,
    complete_step,
    create_deal,
    mark_synced,
    move_stage,
    name_trio,
    remove_partner_company,
    reopen,
    set_fields,
    set_next,
)
from bot.services.reads import list_deals
from bot.views.models import Reply


async def run_intent(
    ctx: Ctx, caller: Caller, parsed: intents.Parsed, *, source: Source = Source.COMMAND
) -> Reply:
    """Carry out a parsed `/ptm` (or mention) intent that concerns one deal or the caller:
    one row of `_FOR_CALLER` or `_ON_DEAL` per intent type."""
    intent = parsed.intent
    for_caller = _FOR_CALLER.get(type(intent))
    if for_caller is not None:
        return await for_caller(ctx, caller, intent)
    on_deal = _ON_DEAL.get(type(intent))
    if on_deal is None:
        raise BadInput("That command is not supported here. Try `/ptm help`.")
    deal_id = await deal_id_for(ctx, number=parsed.deal_number, caller=caller)
    reply = await on_deal(ctx, caller, deal_id, intent, source)
    if reply.changed and reply.deal_id is not None and not caller.actor.internal:
        # The answer to someone of another company tells them what they changed: the ledger.
        await disclosures.record_answer(ctx, caller, reply.deal_id)
    return reply


async def _new_deal(ctx: Ctx, caller: Caller, intent: intents.NewDeal) -> Reply:
    assert intent.name is not None  # without a name, the listener opens the form instead
    return await create_deal(ctx, caller, name=intent.name)


async def _post_card(ctx: Ctx, deal_id: int) -> Reply:
    """The listener posts the copy (it knows the channel); this says so."""
    async with ctx.uow.reads() as uow:
        key = await uow.deals.key_of(deal_id)
    return Reply(text=f"Posted {key} here.", deal_id=deal_id, post_card=True)


# What an intent does, by its type: for the caller alone, or on the deal the command names.
_FOR_CALLER: dict[type, Callable[[Ctx, Caller, Any], Awaitable[Reply]]] = {
    intents.NewDeal: _new_deal,
    intents.ListDeals: lambda ctx, caller, _intent: list_deals(ctx, caller),
}
_ON_DEAL: dict[type, Callable[[Ctx, Caller, int, Any, Source], Awaitable[Reply]]] = {
    intents.PostCard: lambda ctx, _c, d, _i, _s: _post_card(ctx, d),
    intents.SetTrio: lambda ctx, c, d, i, _s: name_trio(ctx, c, d, i.members),
    intents.AddPartner: lambda ctx, c, d, i, s: add_partner_company(
        ctx, c, d, i.user_id, i.kind, source=s
    ),
    intents.RemovePartner: lambda ctx, c, d, i, s: remove_partner_company(
        ctx, c, d, i.user_id, source=s
    ),
    intents.SetStage: lambda ctx, c, d, i, s: move_stage(ctx, c, d, i.stage, source=s),
    intents.SetNext: lambda ctx, c, d, i, s: set_next(
        ctx, c, d, i.text, role=i.role, user_id=i.user_id, due=i.due, source=s
    ),
    intents.Done: lambda ctx, c, d, _i, s: complete_step(ctx, c, d, step_id=None, source=s),
    intents.SetTrigger: lambda ctx, c, d, i, s: set_fields(ctx, c, d, _fields_of(i), source=s),
    intents.SetAttribution: lambda ctx, c, d, i, s: set_fields(ctx, c, d, _fields_of(i), source=s),
    intents.CloseDeal: lambda ctx, c, d, i, s: close_deal(
        ctx, c, d, won=i.won, reason=i.reason, source=s
    ),
    intents.Reopen: lambda ctx, c, d, _i, s: reopen(ctx, c, d, source=s),
    intents.Synced: lambda ctx, c, d, _i, s: mark_synced(ctx, c, d, None, source=s),
}


def _fields_of(intent: intents.SetTrigger | intents.SetAttribution) -> dict[str, object]:
    if isinstance(intent, intents.SetTrigger):
        return {"trigger_reason": intent.reason}
    return {"attribution": intent.attribution}

"""The co-sell brief: what both teams need before a joint call, sized to who will read it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.domain.model import Source
from bot.domain.rules import mark_cosell_step
from bot.services import disclosures, governance
from bot.services.cards import sharing_of
from bot.services.changes import change
from bot.services.common import Caller, Ctx, changed_reply, resolve_deal
from bot.views.deal_views import brief_fields, brief_view, govern_brief
from bot.views.models import BriefView, Reply


@dataclass(frozen=True)
class BriefPost:
    reply: Reply
    view: BriefView
    thread_ts: str | None  # the card copy in this channel, to post under


async def post_brief(
    ctx: Ctx,
    caller: Caller,
    *,
    deal_number: int | None,
    deal_id: int | None = None,
    ask: str = "",
    source: Source = Source.COMMAND,
) -> BriefPost:
    """Mark *brief* done and return the brief for this channel's audience: shared fields only
    unless the channel is known to be ours alone and the caller is from our org."""
    async with ctx.uow.reads() as uow:
        if deal_id is None:
            deal_id = (await resolve_deal(uow, number=deal_number, caller=caller)).id
        copies = [
            c for c in await uow.copies.list_for_deal(deal_id) if c.channel_id == caller.channel_id
        ]
    channel = caller.channel_id or ""
    shared = (await sharing_of(ctx, [channel]))[channel] if channel else None
    deal, changed = await change(
        ctx, caller, deal_id, lambda d: mark_cosell_step(d, "brief"), source=source
    )
    internal = shared is False and caller.actor.internal
    view = brief_view(deal, ask, internal=internal)
    if channel and shared is not False:
        policy = await governance.channel_policy_of(ctx, channel)
        view = govern_brief(view, policy) if policy is not None else view
        view = await governance.brief_for_channel(ctx, view, deal, channel)
        # In the ledger before it is posted.
        await disclosures.record_fields(
            ctx, deal.id, deal.version, brief_fields(view), "brief", channel
        )
    reply = replace(
        changed_reply(deal, changed, f"Posted the co-sell brief of {deal.key}."),
        changed=changed,
    )
    return BriefPost(reply, view, copies[-1].ts if copies else None)


async def preview_brief(
    ctx: Ctx, caller: Caller, *, deal_number: int | None, ask: str
) -> BriefView:
    """Exactly what the partner side would see (shared fields only), changing nothing."""
    async with ctx.uow.reads() as uow:
        deal = await resolve_deal(uow, number=deal_number, caller=caller)
    return brief_view(deal, ask, internal=False)

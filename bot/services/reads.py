"""Read-side use cases: lists, forms, history."""

from __future__ import annotations

from bot.domain.model import Deal, NotAllowed, NotFound, is_our_org
from bot.domain.partnership import require_shared, visible_under
from bot.domain.rules import visible_changes
from bot.services import governance
from bot.services.common import Caller, Ctx, require_right
from bot.services.partnerships import shared_deal_lines
from bot.views.deal_views import deal_line, edit_form, internal_view, next_step_form
from bot.views.models import EditForm, HistoryEntry, HistoryView, InternalView, NextStepForm, Reply


async def list_deals(ctx: Ctx, caller: Caller) -> Reply:
    """The caller's open deals: ours, then those partner companies share with them."""
    async with ctx.uow.reads() as uow:
        deals = await uow.deals.list_for_user(caller.actor.user_id)
    today = ctx.today()
    lines = [deal_line(d, today) for d in deals]
    lines += await shared_deal_lines(ctx, caller.actor.user_id)
    return Reply(text="Your open deals", kind="list", lines=tuple(lines))


async def load_deal(ctx: Ctx, deal_id: int) -> Deal:
    async with ctx.uow.reads() as uow:
        deal = await uow.deals.get(deal_id)
    if deal is None:
        raise NotFound(f"Deal {deal_id} no longer exists.")
    return deal


async def _deal_to_change(ctx: Ctx, caller: Caller, deal_id: int) -> Deal:
    async with ctx.uow.reads() as uow:
        deal = await uow.deals.get(deal_id)
        if deal is None:
            raise NotFound(f"Deal {deal_id} no longer exists.")
        await require_right(ctx, uow, deal, caller.actor)
    return deal


async def edit_form_for(ctx: Ctx, caller: Caller, deal_id: int) -> EditForm:
    """The edit-deal form, for someone who may change the deal (checked before they type)."""
    deal = await _deal_to_change(ctx, caller, deal_id)
    async with ctx.uow.reads() as uow:
        policy = await governance.policy_for_caller(ctx, uow, caller)
    if policy is not None and policy.withheld():
        # The form shows and saves every field: not for a company some are not shared with.
        require_shared(policy.withheld(), policy)
    return edit_form(deal, internal=caller.actor.internal)


async def next_step_form_for(ctx: Ctx, caller: Caller, deal_id: int) -> NextStepForm:
    return next_step_form(await _deal_to_change(ctx, caller, deal_id))


async def history(ctx: Ctx, caller: Caller, deal_id: int, *, limit: int = 15) -> HistoryView:
    """The latest audit events, newest first, with internal fields only for our own org."""
    async with ctx.uow.reads() as uow:
        deal = await uow.deals.get(deal_id)
        events = await uow.deals.recent_events(deal_id, limit=limit)
        policy = await governance.policy_for_caller(ctx, uow, caller)
    if deal is None:
        raise NotFound(f"Deal {deal_id} no longer exists.")
    entries = []
    for event in events:
        changes = visible_changes(event.changes, internal=caller.actor.internal)
        changes = visible_under(changes, policy)
        if not changes:
            continue
        ours = is_our_org(
            event.actor_team, home_team=caller.home_team, home_enterprise=caller.home_enterprise
        )
        entries.append(
            HistoryEntry(
                version=event.version,
                actor=event.actor,
                org="our org" if ours else "partner org",
                changes=tuple((k, v[0], v[1]) for k, v in changes.items()),
                source=event.source,
                at=event.at,
            )
        )
    return HistoryView(key=deal.key, name=deal.name, entries=tuple(entries))


async def internal_view_for(ctx: Ctx, caller: Caller, deal_id: int) -> tuple[str, InternalView]:
    """The internal-only fields, for someone from our own org."""
    if not caller.actor.internal:
        raise NotAllowed("Internal notes and the forecast category are for our own org only.")
    deal = await load_deal(ctx, deal_id)
    return deal.key, internal_view(deal)

"""Read-side use cases: lists, forms, history."""

from __future__ import annotations

from bot.domain import (
    Deal,
    NotFound,
)
from bot.rules import require_change_right
from bot.services.common import Caller, Ctx
from bot.viewmodels import CardView, EditForm, NextStepForm, Reply
from bot.views import card_view, deal_line, edit_form, next_step_form
from store.repository import DealEvent


async def list_deals(ctx: Ctx, caller: Caller) -> Reply:
    async with ctx.uow() as uow:
        deals = await uow.deals.list_for_user(caller.actor.user_id)
    today = ctx.today()
    return Reply(
        text="Your open deals", kind="list", lines=tuple(deal_line(d, today) for d in deals)
    )


async def load_deal(ctx: Ctx, deal_id: int) -> Deal:
    async with ctx.uow() as uow:
        deal = await uow.deals.get(deal_id)
    if deal is None:
        raise NotFound(f"Deal {deal_id} no longer exists.")
    return deal


async def load_card(ctx: Ctx, deal_id: int) -> CardView:
    return card_view(await load_deal(ctx, deal_id), ctx.today())


async def edit_form_for(ctx: Ctx, caller: Caller, deal_id: int) -> EditForm:
    """The edit-deal form, for someone who may change the deal (checked before they type)."""
    deal = await load_deal(ctx, deal_id)
    require_change_right(deal, caller.actor, ctx.admins)
    return edit_form(deal)


async def next_step_form_for(ctx: Ctx, caller: Caller, deal_id: int) -> NextStepForm:
    deal = await load_deal(ctx, deal_id)
    require_change_right(deal, caller.actor, ctx.admins)
    return next_step_form(deal)


async def history(ctx: Ctx, deal_id: int, *, limit: int = 15) -> tuple[Deal, list[DealEvent]]:
    """The deal and its latest audit events, newest first."""
    async with ctx.uow() as uow:
        deal = await uow.deals.get(deal_id)
        events = await uow.deals.recent_events(deal_id, limit=limit)
    if deal is None:
        raise NotFound(f"Deal {deal_id} no longer exists.")
    return deal, events

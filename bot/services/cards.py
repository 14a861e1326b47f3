"""Card copies: where each deal's card is shown, and what each copy last rendered."""

from __future__ import annotations

from bot.domain import (
    NotFound,
)
from bot.services.common import Ctx
from bot.viewmodels import CardView
from bot.views import card_view
from store.repository import CardCopy


async def record_copy(
    ctx: Ctx, deal_id: int, channel_id: str, ts: str, *, version: int, actor: str
) -> int:
    """Track a posted card message; returns the deal's current version (newer = re-sync)."""
    async with ctx.uow() as uow:
        await uow.copies.add(
            deal_id=deal_id,
            channel_id=channel_id,
            ts=ts,
            version=version,
            actor=actor,
            now=ctx.now(),
        )
        deal = await uow.deals.get(deal_id)
        await uow.commit()
    return deal.version if deal else version


async def card_and_copies(ctx: Ctx, deal_id: int) -> tuple[CardView, list[CardCopy]]:
    """The current card and every message that shows it, read in one transaction."""
    async with ctx.uow() as uow:
        deal = await uow.deals.get(deal_id)
        copies = await uow.copies.list_for_deal(deal_id)
    if deal is None:
        raise NotFound(f"Deal {deal_id} no longer exists.")
    return card_view(deal, ctx.today()), copies


async def copies_rendered(ctx: Ctx, copy_ids: list[int], version: int) -> None:
    async with ctx.uow() as uow:
        for copy_id in copy_ids:
            await uow.copies.mark_rendered(copy_id, version)
        await uow.commit()


async def forget_copies(ctx: Ctx, copy_ids: list[int]) -> None:
    """Stop tracking card messages that no longer exist in Slack."""
    async with ctx.uow() as uow:
        for copy_id in copy_ids:
            await uow.copies.remove(copy_id)
        await uow.commit()

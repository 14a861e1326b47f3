"""Channel messages: activity in deal rooms."""

from __future__ import annotations

from bot.services.common import Ctx


async def note_message(ctx: Ctx, *, event_id: str, channel_id: str, user_id: str) -> bool:
    """Count a message in a deal room as its author's activity, once per Slack event id."""
    async with ctx.uow() as uow:
        if not await uow.events.claim(event_id, ctx.now()):
            return False
        deal_id = await uow.bindings.deal_for(channel_id)
        if deal_id is not None:
            await uow.deals.touch_activity(deal_id, user_id, ctx.now())
        await uow.commit()
    return True

"""Channel messages: commands given by mentioning the bot, and activity in deal rooms."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot import intents
from bot.domain import NoDealHere, Source
from bot.services.common import Caller, Ctx, resolve_deal
from bot.services.deals import run_intent
from bot.viewmodels import Reply
from bot.views import status_line

# Slack re-delivers an event within minutes; a day of dedupe records is ample.
DEDUPE_KEEP = timedelta(days=1)


def message_key(channel_id: str, ts: str) -> str:
    """One key per channel message, shared by its app_mention and message events and retries."""
    return f"msg:{channel_id}:{ts}"


async def claim_message(ctx: Ctx, key: str) -> bool:
    """Claim a channel message for handling; False if it was handled already. Claimed before
    acting, so a crash mid-way loses the mention rather than ever applying it twice."""
    async with ctx.uow() as uow:
        claimed = await uow.events.claim(key, ctx.now())
        await uow.commit()
    return claimed


async def run_mention(ctx: Ctx, caller: Caller, parsed: intents.Parsed) -> Reply:
    """Carry out what a bot mention asked for (the message was claimed by the caller)."""
    if isinstance(parsed.intent, intents.Help):
        return Reply(text=intents.MENTION_HELP)
    if isinstance(parsed.intent, intents.Status):
        return await deal_status(ctx, caller, parsed.deal_number)
    return await run_intent(ctx, caller, parsed, source=Source.MESSAGE)


async def deal_status(ctx: Ctx, caller: Caller, number: int | None) -> Reply:
    """Where the deal stands (shared fields only: anyone in the channel may ask), and what a
    mention can do; without a deal here, just the latter."""
    try:
        async with ctx.uow.reads() as uow:
            deal = await resolve_deal(uow, number=number, caller=caller)
    except NoDealHere:
        return Reply(text=f"This channel has no deal card. {intents.MENTION_HELP}")
    return Reply(text=f"{status_line(deal, ctx.today())}\n{intents.MENTION_HELP}")


async def note_activity(ctx: Ctx, *, channel_id: str, user_id: str, posted_at: datetime) -> bool:
    """Count a message in a deal room as its author's activity; True if anything was written.

    Idempotent: activity time is the message's own time and only ever moves forward, so a
    re-delivered event writes nothing new.
    """
    async with ctx.uow() as uow:
        deal_id = await uow.bindings.deal_for(channel_id)
        if deal_id is None:
            return False
        await uow.deals.lock(deal_id)
        touched = await uow.deals.touch_activity(deal_id, user_id, posted_at)
        await uow.deals.note_room_message(deal_id, user_id, posted_at)
        await uow.commit()
    return touched


async def prune_dedupe(ctx: Ctx) -> int:
    """Forget dedupe records older than Slack's retry window; returns how many went."""
    async with ctx.uow() as uow:
        removed = await uow.events.prune(older_than=ctx.now() - DEDUPE_KEEP)
        await uow.commit()
    return removed

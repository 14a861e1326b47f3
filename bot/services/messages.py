"""Channel messages: commands given by mentioning the bot, and activity in deal rooms."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain import intents
from bot.domain.model import Deal, NoDealHere, Source
from bot.services import disclosures, governance
from bot.services.cards import sharing_of
from bot.services.common import Caller, Ctx, resolve_deal
from bot.services.router import run_intent
from bot.views.deal_views import status_fields, status_line
from bot.views.models import Reply
from store.uow import finishing

# Slack re-delivers an event within minutes; a day of dedupe records is ample.
DEDUPE_KEEP = timedelta(days=1)


def message_key(channel_id: str, ts: str) -> str:
    """One key per channel message, shared by its app_mention and message events and retries."""
    return f"msg:{channel_id}:{ts}"


# How long one process may work on a mention before another may take it over (it died).
MENTION_LEASE = timedelta(seconds=15)
# A mention no process took within this long was received by a process that died before
# applying it (a live one takes it within milliseconds).
UNTAKEN_AFTER = timedelta(seconds=10)


async def receive_message(ctx: Ctx, key: str, payload: str) -> None:
    """Keep a bot mention before Slack is told it arrived: whatever happens next, it is
    applied and answered (see `stalled_messages`)."""
    async with ctx.uow() as uow:
        await uow.events.receive(key, payload, ctx.now())
        await uow.commit()


async def take_message(ctx: Ctx, key: str, payload: str) -> bool:
    """Become the one process applying a mention; False when it was applied already, or
    another process is applying it (its re-deliveries and duplicate events change nothing)."""
    now = ctx.now()
    async with ctx.uow() as uow:
        taken = await uow.events.take(key, payload, now=now, until=now + MENTION_LEASE)
        await uow.commit()
    return taken


async def finish_message(ctx: Ctx, key: str) -> None:
    async with ctx.uow() as uow:
        await uow.events.finish(key)
        await uow.commit()


async def stalled_messages(ctx: Ctx) -> list[tuple[str, str]]:
    """Mentions received but not applied: their process died. (key, payload) each."""
    now = ctx.now()
    async with ctx.uow.reads() as uow:
        return await uow.events.stalled(now=now, received_before=now - UNTAKEN_AFTER)


async def run_mention(
    ctx: Ctx, caller: Caller, parsed: intents.Parsed, *, message_key: str
) -> Reply:
    """Carry out what a bot mention asked for (the caller took the message): the change and
    the mark that the message was applied commit together."""
    if isinstance(parsed.intent, intents.Help):
        return Reply(text=intents.MENTION_HELP)
    if isinstance(parsed.intent, intents.Status):
        return await deal_status(ctx, caller, parsed.deal_number)
    with finishing(message_key):
        return await run_intent(ctx, caller, parsed, source=Source.MESSAGE)


async def deal_status(ctx: Ctx, caller: Caller, number: int | None) -> Reply:
    """Where the deal stands (shared fields only: anyone in the channel may ask), and what a
    mention can do; without a deal here, just the latter."""
    try:
        async with ctx.uow.reads() as uow:
            deal = await resolve_deal(uow, number=number, caller=caller)
    except NoDealHere:
        return Reply(text=f"This channel has no deal card. {intents.MENTION_HELP}")
    # The answer is a thread reply: everyone in the channel reads it, under its policy.
    channel = caller.channel_id
    policy = await governance.channel_policy_of(ctx, channel) if channel else None
    withheld = policy.withheld() if policy is not None else frozenset()
    if channel and (await sharing_of(ctx, [channel]))[channel] is not False:
        await disclosures.record_fields(
            ctx, deal.id, deal.version, status_fields(withheld), "reply", channel
        )
    label = await _owner_outside(ctx, deal, channel) if channel else None
    line = status_line(deal, ctx.today(), withheld, owner_label=label)
    return Reply(text=f"{line}\n{intents.MENTION_HELP}")


async def _owner_outside(ctx: Ctx, deal: Deal, channel: str) -> str | None:
    """On a deal with several partner companies: when the next step's owner is another
    company's rep than this channel's, who to name instead (never the person)."""
    step = deal.next_step
    owner = next((p for p in deal.partners if step and p.user_id == step.owner_user), None)
    if owner is None or len(deal.partners) < 2:
        return None
    teams = await ctx.teams_of_channel(channel)
    if not teams or owner.team_id in teams:  # our own room, or the owner's company is here
        return None
    async with ctx.uow.reads() as uow:
        visible = await uow.tenants.partners_see_each_other()
        names = await governance.company_names(ctx, uow, [owner.team_id or ""])
    return (names.get(owner.team_id or "") if visible else None) or "another partner company"


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

"""Deal use cases, one async function per user intent. No Slack types, no Block Kit."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from bot import intents
from bot.domain import (
    MAX_ACCOUNT,
    MAX_NAME,
    MAX_STEP_TEXT,
    Actor,
    BadInput,
    Conflict,
    Deal,
    Mutation,
    NoDealHere,
    NotAllowed,
    NotFound,
    Role,
    Source,
    Stage,
    TrioMember,
    esc,
)
from bot.inputs import clean_text
from bot.rules import change_stage as stage_rule
from bot.rules import complete_next_step, require_change_right, set_next_step, set_trio
from bot.rules import edit_deal as edit_rule
from bot.viewmodels import CardView, DealLine, EditForm, NextStepForm, Reply
from bot.views import card_view, deal_line, edit_form, next_step_form
from store import UnitOfWork, UowFactory
from store.repository import CardCopy, DealEvent

# How many times a change is re-applied on fresh state after losing a compare-and-swap race.
MAX_ATTEMPTS = 8

TeamLookup = Callable[[str], Awaitable[str | None]]


@dataclass(frozen=True)
class Caller:
    """Who is asking, where, and which Slack team installed the app (to tell externals)."""

    actor: Actor
    channel_id: str | None = None
    home_team: str | None = None


@dataclass(frozen=True)
class Ctx:
    """The ports a use case needs: storage, time, admins and a user -> team lookup."""

    uow: UowFactory
    today: Callable[[], date]
    now: Callable[[], datetime]
    admins: frozenset[str]
    team_of: TeamLookup


# --- finding the deal -----------------------------------------------------------------------


async def resolve_deal(uow: UnitOfWork, *, number: int | None, caller: Caller) -> Deal:
    """The deal named by key, else the channel's bound deal; errors list the caller's deals."""
    deal_id = number
    if deal_id is None and caller.channel_id:
        deal_id = await uow.bindings.deal_for(caller.channel_id)
    deal = await uow.deals.get(deal_id) if deal_id is not None else None
    if deal is not None:
        return deal
    mine = await uow.deals.list_for_user(caller.actor.user_id, limit=10)
    yours = (
        ", ".join(f"{d.key} ({esc(d.name, 40)})" for d in mine)
        or "none yet — start one with `/ptm new`"
    )
    if number is not None:
        raise NotFound(f"There is no deal PTM-{number}. Your open deals: {yours}.")
    raise NoDealHere(
        "This channel has no deal. Name one by key (e.g. `/ptm stage PTM-12 Propose`) "
        f"or run the command in its deal room. Your open deals: {yours}."
    )


# --- changing a deal ------------------------------------------------------------------------


async def change(
    ctx: Ctx,
    caller: Caller,
    deal_id: int,
    plan: Callable[[Deal], Mutation],
    *,
    source: Source,
) -> tuple[Deal, bool]:
    """Apply `plan` with compare-and-swap, re-planning on fresh state when another change won."""
    for attempt in range(MAX_ATTEMPTS):
        async with ctx.uow() as uow:
            deal = await uow.deals.get(deal_id, for_update=True)
            if deal is None:
                raise NotFound(f"Deal {deal_id} no longer exists.")
            require_change_right(deal, caller.actor, ctx.admins)
            mutation = plan(deal)
            if mutation.is_empty:
                return deal, False
            now = ctx.now()
            if await uow.deals.apply(deal, mutation, actor=caller.actor, source=source, now=now):
                fresh = await uow.deals.get(deal_id)
                await uow.commit()
                assert fresh is not None
                return fresh, True
        # Lost the race (the row lock makes this rare): back off a little, with jitter.
        await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
    raise Conflict(
        "The deal is changing fast and your change did not get in. Nothing was changed; "
        "the card shows the current state — try again.",
        deal_id=deal_id,
    )


async def create_deal(
    ctx: Ctx,
    caller: Caller,
    *,
    name: str,
    account: str = "",
    fields: Mapping[str, object] | None = None,
    stage: Stage = Stage.QUALIFY,
) -> Reply:
    """Create a deal; bind it to the caller's channel if that channel has none."""
    fields = dict(fields or {})
    async with ctx.uow() as uow:
        deal_id = await uow.deals.add(
            name=clean_text(name, what="deal name", limit=MAX_NAME),
            account=clean_text(account, what="account", limit=MAX_ACCOUNT, required=False),
            amount=fields.get("amount"),  # type: ignore[arg-type]
            currency=str(fields.get("currency") or "USD"),
            close_date=fields.get("close_date"),  # type: ignore[arg-type]
            attribution=fields.get("attribution"),  # type: ignore[arg-type]
            stage=stage,
            actor=caller.actor,
            now=ctx.now(),
        )
        bound = False
        if caller.channel_id and await uow.bindings.deal_for(caller.channel_id) is None:
            await uow.bindings.bind(
                caller.channel_id, deal_id, actor=caller.actor.user_id, now=ctx.now()
            )
            bound = True
        deal = await uow.deals.get(deal_id)
        await uow.commit()
    assert deal is not None
    room = " This channel is now its deal room." if bound else ""
    return Reply(
        text=f"Created {deal.key}.{room} Next: name the trio with "
        f"`/ptm trio {deal.key} @seller @alliance @partner`.",
        deal_id=deal.id,
        card=card_view(deal, ctx.today()),
        post_card=True,
    )


async def run_intent(ctx: Ctx, caller: Caller, parsed: intents.Parsed) -> Reply:
    """Carry out a parsed `/ptm` (or mention) intent that concerns one deal or the caller."""
    intent = parsed.intent
    if isinstance(intent, intents.NewDeal):
        assert intent.name is not None
        return await create_deal(ctx, caller, name=intent.name)
    if isinstance(intent, intents.ListDeals):
        return await list_deals(ctx, caller)
    async with ctx.uow() as uow:
        deal = await resolve_deal(uow, number=parsed.deal_number, caller=caller)
    if isinstance(intent, intents.PostCard):
        return Reply(
            text=f"Posted {deal.key} here.",
            deal_id=deal.id,
            card=card_view(deal, ctx.today()),
            post_card=True,
        )
    if isinstance(intent, intents.SetTrio):
        return await name_trio(ctx, caller, deal.id, intent.members)
    if isinstance(intent, intents.SetStage):
        return await move_stage(ctx, caller, deal.id, intent.stage, source=Source.COMMAND)
    if isinstance(intent, intents.SetNext):
        return await set_next(
            ctx,
            caller,
            deal.id,
            intent.text,
            role=intent.role,
            user_id=intent.user_id,
            due=intent.due,
            source=Source.COMMAND,
        )
    if isinstance(intent, intents.Done):
        return await complete_step(ctx, caller, deal.id, step_id=None, source=Source.COMMAND)
    raise BadInput("That command is not supported here. Try `/ptm help`.")


async def name_trio(ctx: Ctx, caller: Caller, deal_id: int, members: Mapping[Role, str]) -> Reply:
    """Set trio members, recording each one's Slack team and whether it is external."""
    teams = await asyncio.gather(*(ctx.team_of(uid) for uid in members.values()))
    named = {
        role: TrioMember(
            role=role,
            user_id=uid,
            team_id=team,
            is_external=team is not None
            and caller.home_team is not None
            and team != caller.home_team,
        )
        for (role, uid), team in zip(members.items(), teams, strict=True)
    }
    deal, changed = await change(
        ctx, caller, deal_id, lambda d: set_trio(d, named), source=Source.COMMAND
    )
    who = ", ".join(f"{m.role.value} <@{m.user_id}>" for m in deal.trio)
    text = f"Trio of {deal.key}: {who}." if changed else f"{deal.key} already has that trio."
    return _changed(ctx, deal, changed, text)


async def move_stage(
    ctx: Ctx, caller: Caller, deal_id: int, stage: Stage, *, source: Source
) -> Reply:
    deal, changed = await change(
        ctx, caller, deal_id, lambda d: stage_rule(d, stage), source=source
    )
    text = (
        f"{deal.key} moved to *{stage.value}* (v{deal.version})."
        if changed
        else f"{deal.key} is already at *{stage.value}*."
    )
    return _changed(ctx, deal, changed, text)


async def set_next(
    ctx: Ctx,
    caller: Caller,
    deal_id: int,
    text: str,
    *,
    role: Role | None,
    user_id: str | None,
    due: date | None,
    source: Source,
) -> Reply:
    text = clean_text(text, what="next step", limit=MAX_STEP_TEXT)

    def plan(deal: Deal) -> Mutation:
        return set_next_step(deal, text, role=role, user_id=user_id, due=due)

    deal, changed = await change(ctx, caller, deal_id, plan, source=source)
    step = deal.next_step
    assert step is not None
    owner = f"<@{step.owner_user}>" if step.owner_user else f"the {step.owner_role} (not named yet)"
    when = f" by {step.due}" if step.due else ""
    return _changed(
        ctx, deal, changed, f"Next step on {deal.key} for {owner}{when}: {esc(step.text, 500)}"
    )


async def complete_step(
    ctx: Ctx, caller: Caller, deal_id: int, *, step_id: int | None, source: Source
) -> Reply:
    def plan(deal: Deal) -> Mutation:
        return complete_next_step(deal, expected_step_id=step_id)

    try:
        deal, changed = await change(ctx, caller, deal_id, plan, source=source)
    except Conflict as err:
        err.deal_id = deal_id
        raise
    return _changed(ctx, deal, changed, f"Done. {deal.key} needs a new next step: set one.")


async def mark_synced(ctx: Ctx, caller: Caller, deal_id: int, seen_version: int) -> Reply:
    """Record that a trio member saw the card at `seen_version` (not a change of the deal)."""
    async with ctx.uow() as uow:
        deal = await uow.deals.get(deal_id)
        if deal is None:
            raise NotFound(f"Deal {deal_id} no longer exists.")
        if deal.role_of(caller.actor.user_id) is None:
            raise NotAllowed(f"Only trio members mark themselves synced on {deal.key}.")
        seen = min(seen_version, deal.version)
        await uow.deals.record_sync(deal, caller.actor, seen, ctx.now())
        await uow.commit()
    if seen < deal.version:
        text = (
            f"You saw v{seen}, but {deal.key} is now at v{deal.version}. "
            "Look at the updated card and press *I'm synced* again."
        )
    else:
        text = f"You are synced with {deal.key} v{deal.version}."
    return Reply(text=text, deal_id=deal.id, changed=True)


async def edit_deal(
    ctx: Ctx,
    caller: Caller,
    deal_id: int,
    *,
    original: Mapping[str, object],
    submitted: Mapping[str, object],
) -> Reply:
    """Apply the fields the user changed in the modal; refuse if someone else changed them too."""
    mine = {k: v for k, v in submitted.items() if original.get(k) != v}

    def plan(deal: Deal) -> Mutation:
        clashes = [
            k for k in mine if getattr(deal, k) != original.get(k) and getattr(deal, k) != mine[k]
        ]
        if clashes:
            raise Conflict(
                f"While you were editing, someone else changed {', '.join(clashes)} on "
                f"{deal.key}. Nothing was saved; open Edit deal again to see their values.",
                deal_id=deal.id,
                fields=tuple(clashes),
            )
        return edit_rule(deal, mine)

    deal, changed = await change(ctx, caller, deal_id, plan, source=Source.MODAL)
    text = f"Saved {deal.key} (v{deal.version})." if changed else "Nothing to save."
    return _changed(ctx, deal, changed, text)


# --- reading ----------------------------------------------------------------------------------


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


def _changed(ctx: Ctx, deal: Deal, changed: bool, text: str) -> Reply:
    return Reply(text=text, deal_id=deal.id, changed=changed, card=card_view(deal, ctx.today()))


__all__ = ["Caller", "Ctx", "CardView", "DealLine"]


# --- card copies ------------------------------------------------------------------------------


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


# --- forms ------------------------------------------------------------------------------------


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

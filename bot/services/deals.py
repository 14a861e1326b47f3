"""Deal use cases, one async function per intent: create, trio, stage, next step, sync, edit."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from datetime import date

from bot.domain import rules
from bot.domain.forms import fingerprint
from bot.domain.inputs import clean_text
from bot.domain.model import (
    MAX_ACCOUNT,
    MAX_NAME,
    MAX_STEP_TEXT,
    PARTNER_KIND_LABELS,
    Conflict,
    Deal,
    Mutation,
    NotAllowed,
    NotFound,
    Role,
    Source,
    Stage,
    TrioMember,
    esc,
    is_our_org,
)
from bot.domain.rules import change_stage as stage_rule
from bot.domain.rules import close_deal as close_rule
from bot.domain.rules import (
    closed_from,
    complete_next_step,
    set_next_step,
    set_trio,
)
from bot.domain.rules import edit_deal as edit_rule
from bot.domain.rules import reopen_deal as reopen_rule
from bot.services.changes import change, learn_member_team
from bot.services.common import Caller, Ctx, changed_reply, require_right
from bot.views.models import PartnersForm, Reply


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
            trigger_reason=str(fields.get("trigger_reason") or ""),
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
        post_card=True,
    )


async def set_fields(
    ctx: Ctx, caller: Caller, deal_id: int, changes: dict[str, object], *, source: Source
) -> Reply:
    """Set shared deal fields from a command (trigger reason, attribution)."""
    deal, changed = await change(
        ctx, caller, deal_id, lambda d: edit_rule(d, changes, actor=caller.actor), source=source
    )
    if not changed:
        return changed_reply(deal, False, f"{deal.key} already has that.")
    if "trigger_reason" in changes:
        text = f"Recorded why a partner is pulled into {deal.key}: {esc(deal.trigger_reason, 300)}"
    else:
        text = (
            f"Attribution of {deal.key}: {deal.attribution.value if deal.attribution else 'unset'}."
        )
    return changed_reply(deal, True, text)


async def name_trio(ctx: Ctx, caller: Caller, deal_id: int, members: Mapping[Role, str]) -> Reply:
    """Set trio members. Their orgs are asked of Slack after the ack (`learn_trio_teams`);
    meanwhile a partner rep counts as external and the others as ours."""
    named = {
        role: TrioMember(role=role, user_id=uid, is_external=role is Role.PARTNER)
        for role, uid in members.items()
    }
    deal, changed = await change(
        ctx, caller, deal_id, lambda d: set_trio(d, named), source=Source.COMMAND
    )
    who = ", ".join(f"{m.role.value} <@{m.user_id}>" for m in deal.trio)
    text = f"Trio of {deal.key}: {who}." if changed else f"{deal.key} already has that trio."
    return replace(changed_reply(deal, changed, text), learn_teams=changed)


OURS_ONLY = "Only our own people add or remove partner companies on a deal."


async def partners_form(ctx: Ctx, caller: Caller, deal_id: int) -> PartnersForm:
    """The deal's partner companies, for someone of ours who may change the deal."""
    if not caller.actor.internal:
        raise NotAllowed(OURS_ONLY)
    async with ctx.uow.reads() as uow:
        deal = await uow.deals.get(deal_id)
        if deal is None:
            raise NotFound("That deal no longer exists.")
        await require_right(ctx, uow, deal, caller.actor)
    return PartnersForm(
        deal.id,
        deal.key,
        deal.version,
        tuple((p.user_id, p.kind or "other") for p in deal.partners),
    )


async def add_partner_company(
    ctx: Ctx, caller: Caller, deal_id: int, user_id: str, kind: str, *, source: Source
) -> Reply:
    """One more partner company on the deal, named by its rep (their org is asked of Slack
    after the ack, as for the trio)."""
    if not caller.actor.internal:
        raise NotAllowed(OURS_ONLY)
    deal, changed = await change(
        ctx, caller, deal_id, lambda d: rules.add_partner(d, user_id, kind), source=source
    )
    label = PARTNER_KIND_LABELS.get(kind, kind)
    text = (
        f"Added <@{user_id}>'s company to {deal.key} as {label}. "
        f"{deal.key} now has {len(deal.partners)} partner "
        f"{'company' if len(deal.partners) == 1 else 'companies'}."
    )
    return replace(changed_reply(deal, changed, text), learn_teams=changed)


async def remove_partner_company(
    ctx: Ctx, caller: Caller, deal_id: int, user_id: str, *, source: Source
) -> Reply:
    if not caller.actor.internal:
        raise NotAllowed(OURS_ONLY)
    deal, changed = await change(
        ctx, caller, deal_id, lambda d: rules.remove_partner(d, user_id), source=source
    )
    return changed_reply(deal, changed, f"Removed <@{user_id}>'s company from {deal.key}.")


async def learn_trio_teams(ctx: Ctx, caller: Caller, deal_id: int) -> bool:
    """Ask Slack which org each trio member without a known team belongs to; True if any
    member's org was learned (the card then shows it)."""
    async with ctx.uow.reads() as uow:
        deal = await uow.deals.get(deal_id)
    unknown = [m for m in deal.trio if m.team_id is None] if deal else []
    teams = await asyncio.gather(*(ctx.team_of(m.user_id) for m in unknown))
    learned = [(m, t) for m, t in zip(unknown, teams, strict=True) if t]
    if not learned:
        return False
    async with ctx.uow() as uow:
        await uow.deals.lock(deal_id)
        for member, team in learned:
            ours = is_our_org(
                team, home_team=caller.home_team, home_enterprise=caller.home_enterprise
            )
            await uow.deals.note_member_team(
                deal_id, member.user_id, team_id=team, is_external=not ours
            )
        await uow.commit()
    return True


async def reopen(ctx: Ctx, caller: Caller, deal_id: int, *, source: Source) -> Reply:
    """`/ptm reopen` or the card's *Reopen*: back to the stage the deal was closed from."""
    async with ctx.uow.reads() as uow:
        events = await uow.deals.recent_events(deal_id, limit=200)
    back_to = closed_from(e.changes for e in events)
    deal, changed = await change(
        ctx, caller, deal_id, lambda d: reopen_rule(d, back_to or Stage.NEGOTIATE), source=source
    )
    return changed_reply(
        deal, changed, f"Reopened {deal.key}: back at *{deal.stage.value}* (v{deal.version})."
    )


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
    return changed_reply(deal, changed, text)


async def close_deal(
    ctx: Ctx, caller: Caller, deal_id: int, *, won: bool, reason: str, source: Source
) -> Reply:
    """`/ptm won` / `/ptm lost [reason]`: close the deal, stamped with its closing time."""
    deal, changed = await change(
        ctx, caller, deal_id, lambda d: close_rule(d, won=won, reason=reason), source=source
    )
    outcome = "won :trophy:" if won else "lost"
    why = f" Reason: {esc(deal.close_reason, 300)}." if deal.close_reason and not won else ""
    if not changed:
        return changed_reply(deal, False, f"{deal.key} is already {outcome}.{why}")
    hint = "" if won or reason else f" Add why with `/ptm lost {deal.key} &lt;reason&gt;`."
    return changed_reply(
        deal, True, f"{deal.key} is closed {outcome} (v{deal.version}).{why}{hint}"
    )


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
    role_given = role

    def plan(deal: Deal) -> Mutation:
        return set_next_step(deal, text, role=role, user_id=user_id, due=due)

    deal, changed = await change(ctx, caller, deal_id, plan, source=source)
    step = deal.next_step
    assert step is not None
    owner = f"<@{step.owner_user}>" if step.owner_user else f"the {step.owner_role} (not named yet)"
    role = step.owner_role.value if step.owner_role else "owner"
    why = f", the default at {deal.stage.value}" if role_given is None and not user_id else ""
    when = f" by {step.due}" if step.due else ""
    text = (
        f"Next step on {deal.key} for {owner} ({role}{why}){when}: {esc(step.text, 500)}\n"
        "Another owner: add `for @user` or `for seller|alliance|partner`, or *Change owner*."
    )
    return replace(changed_reply(deal, changed, text), owner_change=(deal.id, deal.version))


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
    return changed_reply(deal, changed, f"Done. {deal.key} needs a new next step: set one.")


async def mark_synced(
    ctx: Ctx,
    caller: Caller,
    deal_id: int,
    seen_version: int | None,
    *,
    source: Source = Source.BUTTON,
) -> Reply:
    """Record that a trio member saw the card at `seen_version` (None: the current one); an
    acknowledgement, not a change of the deal."""
    async with ctx.uow() as uow:
        # Locked like a change (deal row first), as it writes the trio and the audit trail.
        deal = await uow.deals.get(deal_id, for_update=True)
        if deal is None:
            raise NotFound(f"Deal {deal_id} no longer exists.")
        if deal.role_of(caller.actor.user_id) is None:
            raise NotAllowed(f"Only trio members mark themselves synced on {deal.key}.")
        await learn_member_team(uow, deal, caller)
        seen = deal.version if seen_version is None else min(seen_version, deal.version)
        await uow.deals.record_sync(deal, caller.actor, seen, ctx.now(), source=source)
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
    shown: Mapping[str, str],
    submitted: Mapping[str, object],
) -> Reply:
    """Apply the fields the user changed in the modal (`shown`: fingerprints of what the modal
    showed); refuse if someone else changed one of them too."""
    mine = {k: v for k, v in submitted.items() if shown.get(k) != fingerprint(v)}

    def plan(deal: Deal) -> Mutation:
        clashes = [
            k
            for k in mine
            if fingerprint(getattr(deal, k)) != shown.get(k) and getattr(deal, k) != mine[k]
        ]
        if clashes:
            raise Conflict(
                f"While you were editing, someone else changed {', '.join(clashes)} on "
                f"{deal.key}. Nothing was saved; open Edit deal again to see their values.",
                deal_id=deal.id,
                fields=tuple(clashes),
            )
        return edit_rule(deal, mine, actor=caller.actor)

    deal, changed = await change(ctx, caller, deal_id, plan, source=Source.MODAL)
    text = f"Saved {deal.key} (v{deal.version})." if changed else "Nothing to save."
    return changed_reply(deal, changed, text)

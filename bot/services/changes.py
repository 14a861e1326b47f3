"""The one way a deal changes: compare-and-swap on its version, re-planned on fresh state when
another change won, with the caller's right checked under the row lock."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from bot.domain.cosell import synced_changes
from bot.domain.crm import CrmKind, writable_changes
from bot.domain.model import Conflict, Deal, Mutation, NotFound, Source
from bot.domain.outbox import Side
from bot.domain.partnership import require_shared
from bot.services import governance
from bot.services.common import Caller, Ctx, require_right
from store import UnitOfWork

# How many times a change is re-applied on fresh state after losing a compare-and-swap race.
MAX_ATTEMPTS = 8


async def change(
    ctx: Ctx,
    caller: Caller,
    deal_id: int,
    plan: Callable[[Deal], Mutation],
    *,
    source: Source,
    also: Callable[[UnitOfWork, Deal], Awaitable[None]] | None = None,
    unless: Callable[[UnitOfWork, Deal], Awaitable[bool]] | None = None,
    write_back: bool = True,
) -> tuple[Deal, bool]:
    """Apply `plan` with compare-and-swap, re-planning on fresh state when another change won.
    `also` writes more in the same transaction (e.g. an outcome and its CRM deliveries);
    `unless`, asked with the deal locked, makes it change nothing (e.g. a retried request).
    A change to fields a linked CRM record owns is queued to be written back (`write_back`),
    unless it came from the CRM."""
    for attempt in range(MAX_ATTEMPTS):
        async with ctx.uow() as uow:
            found = await uow.deals.lock_for_change(deal_id)
            if found is None:
                raise NotFound(f"Deal {deal_id} no longer exists.")
            deal, outlets = found
            if source not in (Source.CRM, Source.AWS):  # news from outside: authenticated there
                await require_right(ctx, uow, deal, caller.actor)
                deal = await learn_member_team(uow, deal, caller)
            if unless is not None and await unless(uow, deal):
                await uow.commit()
                return deal, False
            mutation = plan(deal)
            if mutation.is_empty:
                await uow.commit()
                return deal, False
            if not caller.actor.internal and ctx.defaults.many_workspaces:
                policy = await governance.policy_for_caller(ctx, uow, caller)
                require_shared(mutation.audit, policy)
            now = ctx.now()
            fresh = await uow.deals.apply(
                deal, mutation, actor=caller.actor, source=source, now=now
            )
            if fresh is not None:
                if also is not None:
                    await also(uow, fresh)
                # Without a CRM link or an AWS opportunity (read with the deal) there is nothing
                # to look up; `also` may have just made one.
                made = also is not None
                if write_back and source is not Source.CRM and (outlets.crm_link or made):
                    await queue_write_back(uow, fresh, mutation, now)
                if source is not Source.AWS and (outlets.aws_opportunity or made):
                    await queue_aws_update(uow, fresh, synced_changes(mutation.audit), now)
                await uow.commit()
                return fresh, True
        # Lost the race (the row lock makes this rare): back off a little, with jitter.
        await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
    raise Conflict(
        "The deal is changing fast and your change did not get in. Nothing was changed; "
        "the card shows the current state — try again.",
        deal_id=deal_id,
    )


async def queue_write_back(uow: UnitOfWork, deal: Deal, mutation: Mutation, now: datetime) -> None:
    """A change in PTM to fields a linked CRM record owns goes back to that record, through
    the outbox in the same transaction (its values are read when it is delivered, and written
    with a compare-and-set). One indexed query when the change touches such a field."""
    fields = writable_changes(mutation.audit)
    if not fields:
        return
    links = [
        link
        for link in await uow.crm.of_deal(deal.id)
        if link.side == Side.OURS.value and link.kind != CrmKind.WEBHOOK.value
    ]
    for _link in links:
        body = json.dumps(
            {"deal_key": deal.key, "fields": sorted(fields), "at": now.isoformat()}, sort_keys=True
        )
        await uow.outbox.enqueue(
            outcome_id=None, deal_id=deal.id, side=Side.OURS.value, body=body,
            key=uuid.uuid4().hex, status="pending", now=now, kind="update",
        )  # fmt: skip


async def queue_aws_update(
    uow: UnitOfWork, deal: Deal, fields: list[str], now: datetime, *, force: bool = False
) -> None:
    """Once a deal is submitted to AWS, its stage and close date (and, from the form, the
    expected spend) go to AWS too, through the outbox in the same transaction."""
    if not fields and not force:
        return
    submission = await uow.cosell.of_deal(deal.id)
    if submission is None or submission.opportunity_id is None:
        return
    body = json.dumps({"deal_key": deal.key, "fields": fields, "at": now.isoformat()})
    await uow.outbox.enqueue(
        outcome_id=None, deal_id=deal.id, side="aws", body=body, key=uuid.uuid4().hex,
        status="pending", now=now, kind="aws_update",
    )  # fmt: skip


async def learn_member_team(uow: UnitOfWork, deal: Deal, caller: Caller) -> Deal:
    """A trio member's own interaction tells us their org for sure; record it. Returns the
    deal as it now is."""
    actor = caller.actor
    if not actor.team_id or all(
        m.user_id != actor.user_id or m.team_id == actor.team_id for m in deal.trio
    ):
        return deal
    external = not actor.internal
    await uow.deals.note_member_team(
        deal.id, actor.user_id, team_id=actor.team_id, is_external=external
    )
    trio = tuple(
        replace(m, team_id=actor.team_id, is_external=external)
        if m.user_id == actor.user_id and m.team_id != actor.team_id
        else m
        for m in deal.trio
    )
    return replace(deal, trio=trio)

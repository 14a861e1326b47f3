"""Each company keeps its own internal fields on a shared deal. The deal's home keeps its
internal notes and forecast on the deal itself; a partner company in a partnership with it keeps
its own (notes, forecast category, its CRM id) in rows of its own tenant, which the home never
reads. Reached from the card in the shared channel ("Internal view" in its menu)."""

from __future__ import annotations

from bot.domain.forms import read_own_fields
from bot.domain.model import Conflict, NotAllowed, NotFound
from bot.domain.partnership import State
from bot.services import governance
from bot.services.common import Caller, Ctx
from bot.views.models import OwnFieldsForm
from store import UnitOfWork
from store.own_fields import OwnFields

NOT_OURS = "Internal notes and the forecast category are for our own org only."


async def _partner_company(ctx: Ctx, uow: UnitOfWork, caller: Caller) -> int | None:
    """The caller's company, when it is in a partnership (active or paused) with ours."""
    team = caller.actor.team_id
    if caller.actor.internal or not team or not ctx.defaults.many_workspaces:
        return None
    tenant = (await governance.tenants_of(ctx, uow, {team})).get(team)
    if tenant is None or tenant == uow.tenant_id:
        return None
    p = await uow.partnerships.live_with(tenant)
    return tenant if p is not None and p.state in (State.ACTIVE, State.PAUSED) else None


async def own_fields_form(ctx: Ctx, caller: Caller, deal_id: int) -> OwnFieldsForm:
    async with ctx.uow.reads() as uow:
        deal = await uow.deals.get(deal_id)
        theirs = await _partner_company(ctx, uow, caller)
        home = (await uow.tenants.names([uow.tenant_id])).get(uow.tenant_id, "")
    if deal is None:
        raise NotFound("That deal no longer exists.")
    if theirs is None:
        raise NotAllowed(NOT_OURS)
    async with ctx.uow.for_tenant(theirs).reads() as uow:
        own = await uow.own_fields.get(deal_id)
    return OwnFieldsForm(
        deal.id, deal.key, deal.name, home, own.notes, own.forecast_category, own.crm_id,
        own.version,
    )  # fmt: skip


async def save_own_fields(
    ctx: Ctx, caller: Caller, deal_id: int, values: dict[str, str | None], *, seen_version: int
) -> str:
    """Save the caller's company's own fields on the deal; returns what to tell them."""
    fields = read_own_fields(values)
    async with ctx.uow.reads() as uow:
        deal = await uow.deals.get(deal_id)
        theirs = await _partner_company(ctx, uow, caller)
        home = uow.tenant_id
    if deal is None:
        raise NotFound("That deal no longer exists.")
    if theirs is None:
        raise NotAllowed(NOT_OURS)
    forecast = fields["forecast_category"]
    own = OwnFields(
        str(fields["internal_notes"]),
        str(forecast) if forecast is not None else None,
        str(fields["crm_id"]),
        seen_version,
    )
    now = ctx.now()
    async with ctx.uow.for_tenant(theirs)() as uow:
        if not await uow.own_fields.put(deal_id, home, own, by=caller.actor.user_id, now=now):
            raise Conflict(
                "Someone at your company saved these notes meanwhile. Nothing was saved; open "
                "them again to see theirs."
            )
        # Who changed them and when, never what they say (the audit is shown to admins).
        await uow.tenants.audit(
            actor=caller.actor.user_id, action="kept own notes", detail={"deal": deal.key},
            now=now,
        )  # fmt: skip
        await uow.commit()
    return f"Saved your company's own notes on {deal.key}. Only your company sees them."

"""Field governance between partner companies: what a copy, reply or list shown to another
company may carry under our partnership with it (`bot.domain.partnership.Policy`).

Without a partnership (one workspace, or a partner company that has not installed PTM or not
agreed) a partner sees every shared field, as before partnerships; internal fields never cross
either way. With one, our policy toward that company decides, and a paused partnership lets
nothing new cross.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from bot.domain.model import Deal
from bot.domain.partnership import Policy, policy_toward, strictest
from bot.services.common import Caller, Ctx
from bot.views.deal_views import (
    among_partners,
    brief_among_partners,
    govern,
    several_partners,
)
from bot.views.models import BriefView, CardView
from store import UnitOfWork

# Which tenant a team belongs to changes only when a company installs PTM: kept a while, so
# that a pass over a deal in a guest's channel costs no query.
TEAM_TENANTS_KEPT = timedelta(minutes=5)


async def tenants_of(ctx: Ctx, uow: UnitOfWork, teams: set[str]) -> dict[str, int]:
    now, found, missing = ctx.now(), {}, set()
    for team in teams:
        kept = ctx.cache.get(f"team_tenant:{team}")
        if isinstance(kept, tuple) and now - kept[0] < TEAM_TENANTS_KEPT:
            if kept[1] is not None:
                found[team] = int(kept[1])
        else:
            missing.add(team)
    if missing:
        asked = await uow.routing.tenants_of_teams(missing)
        for team in missing:
            ctx.cache[f"team_tenant:{team}"] = (now, asked.get(team))
        found.update(asked)
    return found


async def policies_for(ctx: Ctx, uow: UnitOfWork, teams: Iterable[str]) -> dict[str, Policy]:
    """Each of these other companies' teams whose company is our partner (active or paused):
    the policy we show it under. Teams absent: guests (no partnership governs)."""
    wanted = {t for t in teams if t}
    if not ctx.defaults.many_workspaces or not wanted:
        return {}
    tenants = await tenants_of(ctx, uow, wanted)
    own = uow.tenant_id
    tenants = {team: t for team, t in tenants.items() if t != own}
    if not tenants:
        return {}
    live = await uow.partnerships.live_with_many(set(tenants.values()))
    names = await uow.tenants.names([t for t in set(tenants.values()) if t in live])
    found = {}
    for team, tenant in tenants.items():
        p = live.get(tenant)
        policy = policy_toward(p, own, names.get(tenant, "")) if p is not None else None
        if policy is not None:
            found[team] = policy
    return found


async def policy_for_caller(ctx: Ctx, uow: UnitOfWork, caller: Caller) -> Policy | None:
    """The policy toward the caller's company, when they are from a partner company."""
    team = caller.actor.team_id
    if caller.actor.internal or not team:
        return None
    return (await policies_for(ctx, uow, [team])).get(team)


async def channel_policy_of(ctx: Ctx, channel_id: str) -> Policy | None:
    """The policy a shared channel is read under (the strictest of its partner companies)."""
    if not ctx.defaults.many_workspaces:
        return None
    teams = await ctx.teams_of_channel(channel_id)  # Slack, at most every few minutes
    if not teams:
        return None
    async with ctx.uow.reads() as uow:
        return channel_policy(teams, await policies_for(ctx, uow, teams))


async def withholds_in(ctx: Ctx, channel_id: str) -> bool:
    """Whether a partner company in this channel is shown less than every shared field."""
    policy = await channel_policy_of(ctx, channel_id)
    return policy is not None and bool(policy.withheld())


async def brief_for_channel(ctx: Ctx, view: BriefView, deal: Deal, channel_id: str) -> BriefView:
    """A brief posted in a shared channel, on a deal with several partner companies: the
    others as that channel's readers may see them."""
    if len(deal.partners) < 2:
        return view
    teams = await ctx.teams_of_channel(channel_id)
    async with ctx.uow.reads() as uow:
        names = await company_names(ctx, uow, [p.team_id for p in deal.partners if p.team_id])
        visible = await uow.tenants.partners_see_each_other()
    return brief_among_partners(view, deal, teams, names, see_each_other=visible)


def channel_policy(teams: Sequence[str], policies: dict[str, Policy]) -> Policy | None:
    """A channel shared with several companies shows what every partner among them may see."""
    return strictest(policies[t] for t in teams if t in policies)


async def company_names(ctx: Ctx, uow: UnitOfWork, teams: Iterable[str]) -> dict[str, str]:
    """What we call each partner company: its name in our capability map (matched by Slack
    team), else the name it installed PTM under; absent when neither is known."""
    wanted = {t for t in teams if t}
    if not wanted:
        return {}
    names = await uow.partners.names_by_team(wanted)
    missing = wanted - set(names)
    if missing and ctx.defaults.many_workspaces:
        tenants = await tenants_of(ctx, uow, missing)
        installed = await uow.tenants.names(sorted(set(tenants.values())))
        names.update({team: installed[t] for team, t in tenants.items() if installed.get(t)})
    return names


async def governed_copies(
    ctx: Ctx, uow: UnitOfWork, card: CardView, teams_by_channel: dict[str, list[str]]
) -> dict[str, CardView]:
    """The card as each shared channel may see it (only the channels where it differs): under
    the policy of a partner company in it (many workspaces), and, on a deal with several
    partner companies, with the others shown only by company and role. No statement for a
    deal with one partner company and no installed partner."""
    teams = {t for found in teams_by_channel.values() for t in found}
    policies = await policies_for(ctx, uow, teams)
    several = several_partners(card)
    if not policies and not several:
        return {}
    partner_teams = [m.team_id for m in card.members if m.role == "partner" and m.team_id]
    names = await company_names(ctx, uow, partner_teams) if several else {}
    visible = await uow.tenants.partners_see_each_other() if several else True
    governed = {}
    for channel, found in teams_by_channel.items():
        view = card
        policy = channel_policy(found, policies)
        if policy is not None:
            view = govern(view, policy)
        if several:
            view = among_partners(view, found, names, see_each_other=visible)
        if view is not card:
            governed[channel] = view
    return governed

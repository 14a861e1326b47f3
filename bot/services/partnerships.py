"""Partnerships between two tenants: propose, answer, pause, resume, end. Each move is one
compare-and-set on the partnership, checked against the mover's admins, audited with the
policy in force; what the other company's admins must hear comes back as a `Tell` for the
caller to send through that company's own installation."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import partnership as rules
from bot.domain.admin import require_admin
from bot.domain.crm import ConnectorConfig, CrmKind
from bot.domain.model import BadInput, Conflict, NotFound, esc
from bot.domain.outbox import Side
from bot.domain.partnership import Move, Partnership, State
from bot.services.common import Caller, Ctx, admins_of
from bot.views.deal_views import line_fields, shared_deal_line
from bot.views.models import DealLine
from bot.views.partnerships import (
    AnswerForm,
    PartnershipLine,
    ProposalForm,
    Tell,
)
from store import UnitOfWork
from store.disclosures import Disclosure

MAX_CHOICES = 100  # a static select holds at most 100 options


@dataclass(frozen=True)
class Outcome:
    notice: str  # for the admin who acted
    tell: Tell | None = None
    # The deals the two companies work on together, whose cards now show another policy
    # (or the pause): ours, and theirs (redrawn through their installation).
    ours_to_redraw: tuple[int, ...] = ()
    theirs_to_redraw: tuple[int, ...] = ()


async def _name(uow: UnitOfWork, tenant: int) -> str:
    row = await uow.tenants.get(tenant)
    return (row.name or row.team_id or "") if row is not None else ""


async def _require_admin(ctx: Ctx, uow: UnitOfWork, caller: Caller) -> None:
    require_admin(
        caller.actor.user_id, internal=caller.actor.internal, admins=await admins_of(ctx, uow)
    )


def _install_hint(ctx: Ctx) -> str:
    """What a company without PTM does to get it: the "Add to Slack" page, by its address when
    PTM knows it (SLACK_REDIRECT_URI)."""
    url = ctx.defaults.install_url
    page = f"<{url}|Add to Slack page>" if url else '"Add to Slack" page you used (/slack/install)'
    return f"Ask their Slack admin to add PTM to their workspace (the {page})"


async def proposal_form(
    ctx: Ctx, caller: Caller, *, other_teams: list[str], channel_id: str | None
) -> ProposalForm | AnswerForm:
    """`/ptm partnership` in a shared channel: the form proposing a partnership to the company
    the channel is shared with — or, when that company proposed one to us, the form answering
    it (review). Any other state is said in words, with where to act on it."""
    if not ctx.defaults.many_workspaces:  # one workspace: there is no other tenant
        raise BadInput(
            "Partnerships need PTM installed by both companies (hosted PTM, many workspaces). "
            "Until then your partner's reps work on the card in the shared channel as guests."
        )
    async with ctx.uow.reads() as uow:
        await _require_admin(ctx, uow, caller)
        own = uow.tenant_id
        found = []
        for team in other_teams:
            tenant = await uow.tenants.by_team(team)
            if tenant is not None and tenant != own and await uow.tenants.has_bot(tenant):
                found.append(tenant)
        if not other_teams:
            raise BadInput(
                "This channel is not shared with another company. Run `/ptm partnership` in a "
                "Slack Connect channel you share with your partner."
            )
        if not found:
            raise BadInput(
                "The company you share this channel with has not installed PTM yet. "
                f"{_install_hint(ctx)}; then run `/ptm partnership` here again."
            )
        other = found[0]
        live = await uow.partnerships.live_with(other)
        name = await _name(uow, other)
    if live is None:
        return ProposalForm(other, name, channel_id)
    if live.state is State.PROPOSED and live.proposer != own:
        return await answer_form(ctx, caller, live.id)
    raise Conflict(_where_it_stands(live, own, name))


def _where_it_stands(p: Partnership, own: int, name: str) -> str:
    """A live partnership in words, for an admin who asked to propose one again."""
    other = esc(name, 80)
    if p.state is State.PROPOSED:
        return (
            f"You proposed a partnership to {other}, sharing {rules.shares_text(p.shares_of(own))}"
            "; their admins have not answered yet. You can withdraw it in the PTM settings of "
            "your App Home."
        )
    said = "active" if p.state is State.ACTIVE else "paused"
    return (
        f"Your partnership with {other} is {said}: you share "
        f"{rules.shares_text(p.shares_of(own))}; they share "
        f"{rules.shares_text(p.shares_of(p.other(own)))}. Pause, resume or end it in the PTM "
        "settings of your App Home."
    )


async def proposal_choices(ctx: Ctx, caller: Caller) -> ProposalForm:
    """From App Home: the companies an admin may propose a partnership to — those that
    installed PTM, whose people work on our deals or received something of ours (the ledger),
    and with which we have no live partnership. None: the answer says what to do instead."""
    if not ctx.defaults.many_workspaces:
        raise BadInput(
            "Partnerships need PTM installed by both companies (hosted PTM, many workspaces)."
        )
    async with ctx.uow.reads() as uow:
        await _require_admin(ctx, uow, caller)
        own = uow.tenant_id
        teams = await uow.partnerships.teams_we_work_with()
    async with ctx.uow.unscoped().reads() as tx:
        installed = await tx.routing.tenants_of_teams(set(teams))
    candidates = sorted({t for t in installed.values() if t != own})
    async with ctx.uow.reads() as uow:
        live = await uow.partnerships.live_with_many(candidates)
        open_to = [t for t in candidates if t not in live]
        names = await uow.tenants.names(open_to)
        with_bot = [t for t in open_to if await uow.tenants.has_bot(t)]
    if not with_bot:
        raise BadInput(
            "No company whose people work on your deals has PTM installed without a "
            f"partnership already. {_install_hint(ctx)}; or run `/ptm partnership` in the "
            "Slack Connect channel you share with them."
        )
    ranked = sorted(with_bot, key=lambda t: names.get(t, "").lower())
    return ProposalForm(None, "", None, tuple((t, names.get(t, "")) for t in ranked[:MAX_CHOICES]))


async def propose(
    ctx: Ctx, caller: Caller, *, other: int | None, shares: list[str], channel_id: str | None
) -> Outcome:
    """Propose to `other` (None: an App Home form whose company select was left empty)."""
    if other is None:
        raise BadInput("Choose the company to propose the partnership to.")
    chosen = rules.read_shares(shares)
    now = ctx.now()
    async with ctx.uow() as uow:
        await uow.tenants.lock_own()
        await _require_admin(ctx, uow, caller)
        if other == uow.tenant_id or not await uow.tenants.has_bot(other):
            raise BadInput(
                "That company has not installed PTM (or no longer has it): a partnership needs "
                f"both. {_install_hint(ctx)}."
            )
        if await uow.partnerships.live_with(other) is not None:
            raise Conflict("A partnership with that company was proposed meanwhile; see App Home.")
        p_id = await uow.partnerships.propose(
            other, shares=chosen, channel_id=channel_id, by=caller.actor.user_id, now=now
        )
        await uow.partnerships.audit(
            p_id,
            actor=caller.actor.user_id,
            action="proposed",
            state=State.PROPOSED,
            policy={"shares": list(chosen)},
            now=now,
        )
        our_name = await _name(uow, uow.tenant_id)
        other_name = await _name(uow, other)
        await uow.commit()
    async with ctx.uow.for_tenant(other).reads() as theirs:
        their_admins = tuple(sorted(await theirs.tenants.admins()))
    name = esc(our_name, 80)
    tell = Tell(
        other,
        their_admins,
        f"*{name}* proposes a PTM partnership: deals you work on together in shared channels "
        f"would be one card for both companies. They would share: {rules.shares_text(chosen)}. "
        "Review it to choose what you share back, then accept — or decline.",
        p_id,
        1,
        answer=True,
    )
    notice = (
        f"Proposed a partnership to {esc(other_name, 80)}, sharing {rules.shares_text(chosen)}. "
        "Their PTM admins have been asked; you will hear when they answer."
    )
    return Outcome(notice, tell)


async def answer_form(ctx: Ctx, caller: Caller, p_id: int) -> AnswerForm:
    async with ctx.uow.reads() as uow:
        await _require_admin(ctx, uow, caller)
        p = await uow.partnerships.get(p_id)
        if p is None:
            raise NotFound("That partnership no longer exists.")
        rules.move(p, Move.ACCEPT, by_tenant=uow.tenant_id)  # still open, and ours to answer
        other_name = await _name(uow, p.other(uow.tenant_id))
    return AnswerForm(p.id, p.version, other_name, p.proposer_shares)


async def make_move(
    ctx: Ctx,
    caller: Caller,
    p_id: int,
    what: Move,
    *,
    seen_version: int | None = None,
    shares: list[str] | None = None,
) -> Outcome:
    """Accept (with what we share back), decline, withdraw, pause, resume or end."""
    chosen = rules.read_shares(shares) if what is Move.ACCEPT else None
    now = ctx.now()
    async with ctx.uow() as uow:
        await _require_admin(ctx, uow, caller)
        p = await uow.partnerships.get(p_id, for_update=True)
        if p is None:
            raise NotFound("That partnership no longer exists.")
        if seen_version is not None and seen_version != p.version:
            raise Conflict(
                "The partnership changed while you were looking; here it is as it is now."
            )
        own = uow.tenant_id
        to = rules.move(p, what, by_tenant=own)
        if not await uow.partnerships.move(
            p, to, now=now, partner_shares=chosen, paused_by=own if to is State.PAUSED else None
        ):
            raise Conflict("The other company moved the partnership at the same moment; try again.")
        policy = {
            "proposer_shares": list(p.proposer_shares),
            "partner_shares": list(chosen if chosen is not None else p.partner_shares),
        }
        await uow.partnerships.audit(
            p.id,
            actor=caller.actor.user_id,
            action=rules.past(what),
            state=to,
            policy=policy,
            now=now,
        )
        other = p.other(own)
        our_name, other_name = await _name(uow, own), await _name(uow, other)
        await uow.commit()
    # Which company a team belongs to is kept a few minutes per process (governance): forget
    # it here, so the redraw below applies the new policy at once.
    for key in [k for k in ctx.cache if k.startswith("team_tenant:")]:
        ctx.cache.pop(key, None)
    ours, theirs_deals = await _deals_between(ctx, own, other)
    async with ctx.uow.for_tenant(other).reads() as theirs:
        their_admins = tuple(sorted(await theirs.tenants.admins()))
    name, their = esc(our_name, 80), esc(other_name, 80)
    said = {
        Move.ACCEPT: f"*{name}* accepted your PTM partnership. They share: "
        f"{rules.shares_text(chosen or ())}.",
        Move.DECLINE: f"*{name}* declined your PTM partnership proposal.",
        Move.WITHDRAW: f"*{name}* withdrew its PTM partnership proposal.",
        Move.PAUSE: f"*{name}* paused your PTM partnership: nothing new crosses until they "
        "resume it.",
        Move.RESUME: f"*{name}* resumed your PTM partnership.",
        Move.END: f"*{name}* ended your PTM partnership.",
    }[what]
    notice = {
        Move.ACCEPT: f"The partnership with {their} is active. You share: "
        f"{rules.shares_text(chosen or ())}.",
        Move.DECLINE: f"Declined the partnership proposed by {their}.",
        Move.WITHDRAW: f"Withdrew the proposal to {their}.",
        Move.PAUSE: f"Paused the partnership with {their}: nothing new crosses until you "
        "resume it.",
        Move.RESUME: f"Resumed the partnership with {their}.",
        Move.END: f"Ended the partnership with {their}.",
    }[what]
    tell = Tell(other, their_admins, said, p.id, p.version + 1)
    return Outcome(notice, tell, ours, theirs_deals)


async def _deals_between(ctx: Ctx, own: int, other: int) -> tuple[tuple[int, ...], ...]:
    """Our deals someone of theirs works on, and theirs someone of ours works on."""
    found = []
    for home, guest in ((own, other), (other, own)):
        async with ctx.uow.for_tenant(home).reads() as uow:
            row = await uow.tenants.get(guest)
            team = row.team_id if row is not None else None
            found.append(tuple(await uow.deals.ids_with_member_of(team)) if team else ())
    return found[0], found[1]


async def partnership_lines(ctx: Ctx) -> list[PartnershipLine]:
    async with ctx.uow.reads() as uow:
        found = await uow.partnerships.lines()
    return [PartnershipLine(p, name, by, at) for p, name, by, at in found]


async def partner_route(ctx: Ctx, team: str | None) -> int | None:
    """The partner company (by its Slack team) whose own CRM connector receives its partner
    side of a deal's outcomes: when it installed PTM, is in an active partnership with us
    under which we share outcomes, and has set its connector. None: our partner-side
    connector (or an export) as before."""
    if team is None or not ctx.defaults.many_workspaces:
        return None
    found = await _sharing_outcomes_with(ctx, team=team)
    if found is None:
        return None
    async with ctx.uow.for_tenant(found).reads() as theirs:
        connector = (await theirs.tenants.connectors()).get(Side.OURS.value)
    return found if connector is not None else None


async def partner_connector(ctx: Ctx, tenant: int) -> ConnectorConfig | None:
    """At delivery time: the partner company's own connector (URL, sealed secret), only while
    the partnership is active and shares outcomes (a pause holds deliveries back)."""
    async with ctx.uow.reads() as uow:
        p = await uow.partnerships.live_with(tenant)
        own = uow.tenant_id
    if p is None or p.state is not State.ACTIVE or "outcomes" not in p.shares_of(own):
        return None
    async with ctx.uow.for_tenant(tenant).reads() as theirs:
        connector = (await theirs.tenants.connectors()).get(Side.OURS.value)
    if connector is None:
        return None
    return ConnectorConfig(
        CrmKind(connector.kind), connector.url, connector.secret, client_id=connector.client_id
    )


async def shared_deal_lines(ctx: Ctx, user_id: str, *, surface: str = "list") -> list[DealLine]:
    """The open deals of our partner companies (active or paused partnerships) that `user_id`
    works on, as those companies share them with us: for their `/ptm list` and App Home (the
    `surface`, in the partner company's disclosure ledger). A query for the partners, then a
    transaction per partner company (a handful), none per deal."""
    if not ctx.defaults.many_workspaces:
        return []
    own = ctx.uow.tenant_id
    async with ctx.uow.unscoped().reads() as tx:
        partners = await tx.routing.partners(own, (State.ACTIVE, State.PAUSED))
        row = await tx.tenants.get(own) if partners else None
        our_team = row.team_id if row is not None else None
    today, lines = ctx.today(), []
    for partner in partners:
        async with ctx.uow.for_tenant(partner)() as theirs:
            p = await theirs.partnerships.live_with(own)
            if p is None or p.state not in (State.ACTIVE, State.PAUSED):
                continue
            deals = await theirs.deals.list_for_user(user_id)
            if not deals:
                continue
            company = await _name(theirs, partner)
            shares, paused = p.shares_of(partner), p.state is State.PAUSED
            shown = [
                shared_deal_line(
                    d, today, company=company, shares=shares, paused=paused, viewer_team=our_team
                )
                for d in deals
            ]
            # Their ledger: what this list told us about their deals.
            told = [
                Disclosure(
                    deal.id, f, deal.version, surface, our_team or "", await _name(theirs, own)
                )
                for deal, line in zip(deals, shown, strict=True)
                for f in line_fields(line)
            ]
            await theirs.disclosures.record(told, ctx.now())
            await theirs.commit()
        lines += shown
    return lines


async def partner_installations(ctx: Ctx, teams: set[str]) -> dict[str, int]:
    """Of these teams (other companies' people on our deals), those whose company installed
    PTM and is our active partner: team -> that company's tenant. Two queries for any number."""
    if not teams or not ctx.defaults.many_workspaces:
        return {}
    async with ctx.uow.unscoped().reads() as tx:
        tenants = await tx.routing.tenants_of_teams(teams)
        active = set(await tx.routing.partners(ctx.uow.tenant_id, (State.ACTIVE,)))
    return {team: tenant for team, tenant in tenants.items() if tenant in active}


async def _sharing_outcomes_with(ctx: Ctx, *, team: str) -> int | None:
    async with ctx.uow.reads() as uow:
        tenant = await uow.tenants.by_team(team)
        if tenant is None or tenant == uow.tenant_id:
            return None
        p = await uow.partnerships.live_with(tenant)
        own = uow.tenant_id
    if p is None or p.state is not State.ACTIVE or "outcomes" not in p.shares_of(own):
        return None
    return tenant

"""Measure use cases: `/ptm metrics`, the App Home's activation line, `ptm report`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from bot.domain import metrics, periods
from bot.domain.metrics import MetricsReport, Ratio
from bot.domain.model import NotAllowed
from bot.domain.partnership import State
from bot.domain.periods import Period
from bot.services import governance
from bot.services.common import Caller, Ctx, admins_of

HOME_TREND_WEEKS = 8
HOME_METRICS_KEPT = timedelta(minutes=1)


def require_our_org(caller: Caller) -> None:
    if not caller.actor.internal:
        raise NotAllowed("Metrics are for our own org. The deal card shows where each deal stands.")


async def measure(
    ctx: Ctx, caller: Caller | None, *, period: Period | None = None
) -> MetricsReport:
    """All four measures for the period (default: the last 90 days). A caller sees their own
    deals, an admin every deal; no caller (the command line) means every deal."""
    if caller is not None:
        require_our_org(caller)
    period = period or periods.default_period(ctx.today())
    quarter = periods.last_complete_quarter(period.until)
    async with ctx.uow.reads() as uow:
        everything = caller is None or caller.actor.user_id in await admins_of(ctx, uow)
        facts = await uow.metrics.facts(
            scope_user=None if everything else caller.actor.user_id,  # type: ignore[union-attr]
            period=period,
            horizon=metrics.activity_horizon(period),
            quarter=quarter,
        )
        keys = {k for found in facts.companies.values() for k in found}
        names = await governance.company_names(ctx, uow, keys)
    report = metrics.measure(
        facts.deals,
        facts.activity,
        facts.active_in_quarter,
        period=period,
        quarter=quarter,
        scope="all deals" if everything else "your deals",
        companies=facts.companies,
        names={k: names.get(k) or _unnamed(k) for k in keys},
    )
    users = None if everything or caller is None else [caller.actor.user_id]
    on_shared = await shared_activation(ctx, users, as_of=period.until)
    return replace(report, on_shared=on_shared)


def _unnamed(team: str) -> str:
    """A partner company neither our capability map nor PTM knows by name."""
    return f"Slack team {team}"


async def shared_activation(ctx: Ctx, users: Sequence[str] | None, *, as_of: date) -> Ratio | None:
    """Our people (all, or `users`) on the open deals our active partners share with us: how
    many acted on one in the activation window. A query for the partners, one per partner."""
    if not ctx.defaults.many_workspaces:
        return None
    own = ctx.uow.tenant_id
    async with ctx.uow.unscoped().reads() as tx:
        partners = await tx.routing.partners(own, (State.ACTIVE,))
        row = await tx.tenants.get(own) if partners else None
        team = row.team_id if row is not None else None
    if team is None:
        return None
    members: list[tuple[str, datetime | None]] = []
    for partner in partners:
        async with ctx.uow.for_tenant(partner).reads() as theirs:
            members += await theirs.deals.team_on_open_deals(team, users)
    return metrics.people_activation(members, as_of=as_of) if members else None


async def home_trend(ctx: Ctx, caller: Caller) -> MetricsReport:
    """What the App Home shows: activation now and over the last weeks, for the viewer's deals.

    An admin's Home covers every deal, which takes a while with tens of thousands of them and
    is redrawn after every burst of changes: that report is kept for a minute per process
    (a minute-old trend is as good as a fresh one; losing the copy costs one recount).
    """
    today = ctx.today()
    period = Period(today - timedelta(weeks=HOME_TREND_WEEKS - 1), today)
    async with ctx.uow.reads() as uow:
        admin = caller.actor.user_id in await admins_of(ctx, uow)
    if not admin:
        return await measure(ctx, caller, period=period)
    key = f"home_metrics:{today.isoformat()}"
    cached = ctx.cache.get(key)
    now = ctx.now()
    if isinstance(cached, tuple) and now - cached[0] < HOME_METRICS_KEPT:
        return cached[1]  # type: ignore[no-any-return]
    report = await measure(ctx, caller, period=period)
    ctx.cache[key] = (now, report)
    return report

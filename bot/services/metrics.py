"""Measure use cases: `/ptm metrics`, the App Home's activation line, `ptm report`."""

from __future__ import annotations

from datetime import timedelta

from bot import metrics
from bot.domain import NotAllowed
from bot.metrics import MetricsReport, Period
from bot.services.common import Caller, Ctx

HOME_TREND_WEEKS = 8


async def measure(
    ctx: Ctx, caller: Caller | None, *, period: Period | None = None
) -> MetricsReport:
    """All four measures for the period (default: the last 90 days). A caller sees their own
    deals, an admin every deal; no caller (the command line) means every deal."""
    if caller is not None and not caller.actor.internal:
        raise NotAllowed("Metrics are for our own org. The deal card shows where each deal stands.")
    everything = caller is None or caller.actor.user_id in ctx.admins
    period = period or metrics.default_period(ctx.today())
    quarter = metrics.last_complete_quarter(period.until)
    async with ctx.uow() as uow:
        facts = await uow.metrics.facts(
            scope_user=None if everything else caller.actor.user_id,  # type: ignore[union-attr]
            period=period,
            horizon=metrics.activity_horizon(period),
            quarter=quarter,
        )
    return metrics.measure(
        facts.deals,
        facts.activity,
        facts.active_in_quarter,
        period=period,
        quarter=quarter,
        scope="all deals" if everything else "your deals",
    )


async def home_trend(ctx: Ctx, caller: Caller) -> MetricsReport:
    """What the App Home shows: activation now and over the last weeks, for the viewer's deals."""
    today = ctx.today()
    period = Period(today - timedelta(weeks=HOME_TREND_WEEKS - 1), today)
    return await measure(ctx, caller, period=period)

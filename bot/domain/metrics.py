"""Measure (PRODUCT.md): seller activation, win rate activated vs. not, attribution, operator
check. Pure: every window and boundary is an argument, nothing reads the clock.

Days are UTC calendar days. "Active in the 30 days up to D" means on any of the days D-29 … D.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from bot.domain.model import Attribution, Status
from bot.domain.periods import Period, weekly_points

ACTIVATION_WINDOW_DAYS = 30
OPERATOR_MIN_DEALS = 3


# --- inputs ---------------------------------------------------------------------------------


class DealFacts(NamedTuple):
    """What the measures need of one deal; `seller` is the trio's seller, if named.

    A named tuple, not a frozen dataclass: a report builds tens of thousands of them, and a
    tuple is several times quicker to make. Immutable all the same.
    """

    id: int
    key: str
    name: str
    status: Status
    seller: str | None
    created_at: datetime
    closed_at: datetime | None
    amount: Decimal | None
    currency: str
    attribution: Attribution | None
    partner: str | None
    has_trigger: bool
    first_outcome_at: datetime | None = None
    # For a closed deal: the seller's latest action on it before it closed (the closing
    # change itself does not count, or every seller who clicks "Closed Won" would be active).
    seller_last_before_close: datetime | None = None

    def open_on(self, day: date) -> bool:
        """Open at the end of `day`: created by then and not closed by then."""
        if self.created_at.date() > day:
            return False
        if self.closed_at is None:
            return self.status is Status.OPEN
        return self.closed_at.date() > day

    def closed_within(self, period: Period) -> bool:
        return (
            self.status is not Status.OPEN
            and self.closed_at is not None
            and period.since <= self.closed_at.date() <= period.until
        )


def activity_horizon(period: Period, window_days: int = ACTIVATION_WINDOW_DAYS) -> Period:
    """The days whose activity any point of the period's activation trend can see."""
    return Period(period.since - timedelta(days=window_days - 1), period.until)


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    part: int
    whole: int

    @property
    def rate(self) -> float | None:
        return self.part / self.whole if self.whole else None

    def percent(self) -> str:
        rate = self.rate
        return "—" if rate is None else f"{round(100 * rate)}%"


@dataclass(frozen=True)
class TrendPoint:
    day: date
    activation: Ratio


@dataclass(frozen=True)
class WinRates:
    """Won of closed, for deals whose seller was active in the window before close, and not."""

    activated: Ratio
    not_activated: Ratio
    no_seller: int  # closed deals without a seller named: not counted either way


@dataclass(frozen=True)
class Money:
    """A total in one currency: never added to another currency's."""

    currency: str
    amount: Decimal
    deals: int
    unpriced: int  # deals counted in `deals` with no amount set


@dataclass(frozen=True)
class AttributionLine:
    attribution: Attribution | None  # None: attribution not set
    pipeline: tuple[Money, ...]
    closed_won: tuple[Money, ...]


@dataclass(frozen=True)
class OperatorCheck:
    quarter: Period
    deals: tuple[tuple[str, str], ...]  # (key, name) of qualifying deals
    minimum: int = OPERATOR_MIN_DEALS

    @property
    def passes(self) -> bool:
        return len(self.deals) >= self.minimum


@dataclass(frozen=True)
class PartnerAttribution:
    """One partner company's deals: pipeline and closed-won per attribution (the lines with
    any), and how many of the measured deals it is on."""

    company: str
    deals: int
    lines: tuple[AttributionLine, ...]


@dataclass(frozen=True)
class MetricsReport:
    scope: str  # "your deals" or "all deals"
    period: Period
    window_days: int
    activation: Ratio  # as of the period's last day
    trend: tuple[TrendPoint, ...]
    win: WinRates
    attribution: tuple[AttributionLine, ...]
    operator: OperatorCheck
    # Our people on open deals partner companies share with us (partnerships): how many acted
    # on one in the window. None: no such deals (or one workspace).
    on_shared: Ratio | None = None
    # Attribution per partner company on the deals (a deal with several is in each of theirs,
    # and once in `attribution`).
    by_partner: tuple[PartnerAttribution, ...] = ()


# --- definitions ----------------------------------------------------------------------------


def activation_trend(
    deals: Iterable[DealFacts],
    activity: Mapping[int, Collection[date]],
    points: Sequence[date],
    *,
    window_days: int = ACTIVATION_WINDOW_DAYS,
) -> tuple[TrendPoint, ...]:
    """Seller-activation rate at each point (ascending days): of the sellers on deals open that
    day, the share who acted on at least one of those deals in the `window_days` days up to it.

    `activity` maps a deal id to the days its seller acted on it (a change, a step done, "I'm
    synced", a message in its deal room).
    """
    # Per seller, which points they count on (an open deal) and are active on: byte masks
    # filled by slices, so the work grows with deals and sellers, not deals times points.
    n = len(points)
    counted: dict[str, bytearray] = {}
    active: dict[str, bytearray] = {}
    reach = timedelta(days=window_days - 1)
    for deal in deals:
        if deal.seller is None:
            continue
        lo, hi = _open_points(deal, points)
        if lo >= hi:
            continue
        mask = counted.get(deal.seller)
        if mask is None:
            mask = counted[deal.seller] = bytearray(n)
        mask[lo:hi] = b"\x01" * (hi - lo)
        for day in activity.get(deal.id, ()):
            first = max(lo, bisect_left(points, day))
            last = min(hi, bisect_right(points, day + reach))
            if first < last:
                acted = active.get(deal.seller)
                if acted is None:
                    acted = active[deal.seller] = bytearray(n)
                acted[first:last] = b"\x01" * (last - first)
    sellers = [sum(column) for column in zip(*counted.values(), strict=True)] or [0] * n
    actives = [sum(column) for column in zip(*active.values(), strict=True)] or [0] * n
    return tuple(TrendPoint(day, Ratio(actives[i], sellers[i])) for i, day in enumerate(points))


def _open_points(deal: DealFacts, points: Sequence[date]) -> tuple[int, int]:
    """The index range of `points` on which the deal is open (see DealFacts.open_on)."""
    lo = bisect_left(points, deal.created_at.date())
    if deal.closed_at is not None:
        return lo, bisect_left(points, deal.closed_at.date())
    return (lo, len(points)) if deal.status is Status.OPEN else (lo, lo)


def seller_activation(
    deals: Iterable[DealFacts],
    activity: Mapping[int, Collection[date]],
    *,
    as_of: date,
    window_days: int = ACTIVATION_WINDOW_DAYS,
) -> Ratio:
    return activation_trend(deals, activity, [as_of], window_days=window_days)[0].activation


def win_rates(
    deals: Iterable[DealFacts], *, period: Period, window_days: int = ACTIVATION_WINDOW_DAYS
) -> WinRates:
    """Deals closed in the period, split by whether their seller acted on the deal in the
    `window_days` days before it closed."""
    counts = {True: [0, 0], False: [0, 0]}  # activated -> [won, closed]
    no_seller = 0
    window = timedelta(days=window_days)
    for deal in deals:
        if not deal.closed_within(period):
            continue
        if deal.seller is None:
            no_seller += 1
            continue
        assert deal.closed_at is not None
        last = deal.seller_last_before_close
        activated = last is not None and deal.closed_at - window <= last < deal.closed_at
        counts[activated][0] += deal.status is Status.WON
        counts[activated][1] += 1
    return WinRates(Ratio(*counts[True]), Ratio(*counts[False]), no_seller)


ATTRIBUTION_ORDER: tuple[Attribution | None, ...] = (*Attribution, None)


def attribution_totals(
    deals: Iterable[DealFacts], *, period: Period
) -> tuple[AttributionLine, ...]:
    """Open pipeline at the period's end and closed-won in the period, for sourced, co-sell and
    influenced separately and for unset apart, each per currency."""
    pipeline: dict[Attribution | None, dict[str, list]] = {a: {} for a in ATTRIBUTION_ORDER}
    won: dict[Attribution | None, dict[str, list]] = {a: {} for a in ATTRIBUTION_ORDER}
    for deal in deals:
        if deal.open_on(period.until):
            _add(pipeline[deal.attribution], deal)
        elif deal.status is Status.WON and deal.closed_within(period):
            _add(won[deal.attribution], deal)
    return tuple(
        AttributionLine(a, _monies(pipeline[a]), _monies(won[a])) for a in ATTRIBUTION_ORDER
    )


def partner_attribution(
    deals: Iterable[DealFacts],
    companies: Mapping[int, Collection[str]],
    names: Mapping[str, str],
    *,
    period: Period,
) -> tuple[PartnerAttribution, ...]:
    """Attribution totals per partner company (`companies`: deal id -> the partner companies on
    it, `names`: how to call each), sorted by name; companies with nothing to count are left
    out. Each deal counts once per company it involves."""
    # One pass over the deals (a report may hold tens of thousands, with many companies).
    on: dict[str, int] = {}
    pipeline: dict[str, dict[Attribution | None, dict[str, list]]] = {}
    won: dict[str, dict[Attribution | None, dict[str, list]]] = {}
    for deal in deals:
        keys = companies.get(deal.id)
        if not keys:
            continue
        is_open = deal.open_on(period.until)
        is_won = not is_open and deal.status is Status.WON and deal.closed_within(period)
        for key in set(keys):
            on[key] = on.get(key, 0) + 1
            if is_open:
                _add(pipeline.setdefault(key, {}).setdefault(deal.attribution, {}), deal)
            elif is_won:
                _add(won.setdefault(key, {}).setdefault(deal.attribution, {}), deal)
    found = []
    for key, count in on.items():
        theirs_open, theirs_won = pipeline.get(key, {}), won.get(key, {})
        lines = tuple(
            AttributionLine(a, _monies(theirs_open.get(a, {})), _monies(theirs_won.get(a, {})))
            for a in ATTRIBUTION_ORDER
            if a in theirs_open or a in theirs_won
        )
        if lines:
            found.append(PartnerAttribution(names.get(key) or key, count, lines))
    return tuple(sorted(found, key=lambda p: p.company.casefold()))


def _add(totals: dict[str, list], deal: DealFacts) -> None:
    entry = totals.setdefault(deal.currency, [Decimal(0), 0, 0])
    entry[1] += 1
    if deal.amount is None:
        entry[2] += 1
    else:
        entry[0] += deal.amount


def _monies(totals: dict[str, list]) -> tuple[Money, ...]:
    return tuple(Money(c, *totals[c]) for c in sorted(totals))


def operator_check(
    deals: Iterable[DealFacts], active_in_quarter: Collection[int], *, quarter: Period
) -> OperatorCheck:
    """Deals closed or active in the quarter that have a trigger, a matched partner and an
    outcome logged by the quarter's end; the check passes at OPERATOR_MIN_DEALS."""
    found = [
        deal
        for deal in deals
        if (deal.id in active_in_quarter or deal.closed_within(quarter))
        and deal.has_trigger
        and deal.partner
        and deal.first_outcome_at is not None
        and deal.first_outcome_at.date() <= quarter.until
    ]
    found.sort(key=lambda d: d.id)
    return OperatorCheck(quarter, tuple((d.key, d.name) for d in found))


def measure(
    deals: Sequence[DealFacts],
    activity: Mapping[int, Collection[date]],
    active_in_quarter: Collection[int],
    *,
    period: Period,
    quarter: Period,
    scope: str,
    window_days: int = ACTIVATION_WINDOW_DAYS,
    companies: Mapping[int, Collection[str]] | None = None,
    names: Mapping[str, str] | None = None,
) -> MetricsReport:
    """All four measures over one set of facts (and attribution per partner company, given
    which companies are on which deal)."""
    trend = activation_trend(deals, activity, weekly_points(period), window_days=window_days)
    return MetricsReport(
        scope=scope,
        period=period,
        window_days=window_days,
        activation=trend[-1].activation,
        trend=trend,
        win=win_rates(deals, period=period, window_days=window_days),
        attribution=attribution_totals(deals, period=period),
        operator=operator_check(deals, active_in_quarter, quarter=quarter),
        by_partner=partner_attribution(deals, companies or {}, names or {}, period=period),
    )


def people_activation(
    members: Iterable[tuple[str, datetime | None]],
    *,
    as_of: date,
    window_days: int = ACTIVATION_WINDOW_DAYS,
) -> Ratio:
    """Of the people on a set of open deals (user, when they last acted on one of them), how
    many acted in the `window_days` days up to `as_of`; each person counted once."""
    start = as_of - timedelta(days=window_days - 1)
    latest: dict[str, date | None] = {}
    for user, acted in members:
        day = acted.date() if acted is not None else None
        kept = latest.get(user)
        if user not in latest or (day is not None and (kept is None or day > kept)):
            latest[user] = day
    active = sum(1 for day in latest.values() if day is not None and start <= day <= as_of)
    return Ratio(active, len(latest))


def sparkline(points: Sequence[TrendPoint]) -> str:
    """A one-line picture of a trend: ▁ (0%) to █ (100%), · where there were no sellers."""
    bars = "▁▂▃▄▅▆▇█"
    out = []
    for point in points:
        rate = point.activation.rate
        out.append("·" if rate is None else bars[min(7, int(rate * 8))])
    return "".join(out)

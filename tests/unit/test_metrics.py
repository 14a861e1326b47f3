"""The four measures on hand-built deals: every boundary is an argument, never the clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bot.domain import metrics, periods
from bot.domain.metrics import DealFacts, Ratio
from bot.domain.model import Attribution, BadInput, Status
from bot.domain.periods import Period

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def deal(
    n: int,
    *,
    seller: str | None = "US1",
    status: Status = Status.OPEN,
    created: datetime = T0,
    closed: datetime | None = None,
    amount: str | None = "100",
    currency: str = "USD",
    attribution: Attribution | None = None,
    partner: str | None = None,
    trigger: bool = False,
    outcome: datetime | None = None,
    last_before_close: datetime | None = None,
) -> DealFacts:
    return DealFacts(
        id=n,
        key=f"PTM-{n}",
        name=f"Deal {n}",
        status=status,
        seller=seller,
        created_at=created,
        closed_at=closed,
        amount=Decimal(amount) if amount is not None else None,
        currency=currency,
        attribution=attribution,
        partner=partner,
        has_trigger=trigger,
        first_outcome_at=outcome,
        seller_last_before_close=last_before_close,
    )


# --- seller activation ----------------------------------------------------------------------


def test_activation_counts_sellers_not_deals() -> None:
    deals = [deal(1, seller="UA"), deal(2, seller="UA"), deal(3, seller="UB"), deal(4, seller="UC")]
    activity = {2: {date(2026, 6, 20)}, 3: {date(2026, 5, 1)}}  # UB acted long before
    rate = metrics.seller_activation(deals, activity, as_of=date(2026, 6, 30))
    assert rate == Ratio(1, 3)  # UA active (on one of two deals); UB stale; UC never
    assert rate.percent() == "33%"


def test_activation_window_is_the_thirty_days_up_to_the_day() -> None:
    d = deal(1, created=datetime(2026, 1, 1, tzinfo=UTC))
    as_of = date(2026, 6, 30)
    inside = {1: {as_of - timedelta(days=29)}}
    outside = {1: {as_of - timedelta(days=30)}}
    later = {1: {as_of + timedelta(days=1)}}
    assert metrics.seller_activation([d], inside, as_of=as_of) == Ratio(1, 1)
    assert metrics.seller_activation([d], outside, as_of=as_of) == Ratio(0, 1)
    assert metrics.seller_activation([d], later, as_of=as_of) == Ratio(0, 1)
    # The window is an argument.
    assert metrics.seller_activation([d], outside, as_of=as_of, window_days=31) == Ratio(1, 1)


def test_activation_only_counts_sellers_of_deals_open_that_day() -> None:
    as_of = date(2026, 6, 30)
    deals = [
        deal(1, seller="UA", created=datetime(2026, 7, 1, tzinfo=UTC)),  # not created yet
        deal(2, seller="UB", status=Status.WON, closed=datetime(2026, 6, 29, tzinfo=UTC)),
        deal(3, seller="UC", status=Status.LOST, closed=datetime(2026, 7, 2, tzinfo=UTC)),
        deal(4, seller=None),  # no seller named
    ]
    activity = {n: {date(2026, 6, 28)} for n in (1, 2, 3, 4)}
    # Only deal 3 was open at the end of June 30 (it closed later); its seller acted.
    assert metrics.seller_activation(deals, activity, as_of=as_of) == Ratio(1, 1)


def test_activity_on_a_closed_deal_does_not_activate_a_seller_of_open_ones() -> None:
    deals = [
        deal(1, seller="UA"),
        deal(2, seller="UA", status=Status.WON, closed=datetime(2026, 6, 10, tzinfo=UTC)),
    ]
    activity = {2: {date(2026, 6, 9)}}
    assert metrics.seller_activation(deals, activity, as_of=date(2026, 6, 30)) == Ratio(0, 1)


def test_no_sellers_gives_no_rate_rather_than_zero() -> None:
    rate = metrics.seller_activation([], {}, as_of=date(2026, 6, 30))
    assert rate == Ratio(0, 0) and rate.rate is None and rate.percent() == "—"


def test_trend_points_are_weekly_and_each_sees_its_own_window() -> None:
    period = Period(date(2026, 6, 1), date(2026, 6, 29))
    points = periods.weekly_points(period)
    assert points == tuple(date(2026, 6, d) for d in (1, 8, 15, 22, 29))
    d = deal(1, created=datetime(2026, 1, 1, tzinfo=UTC))
    trend = metrics.activation_trend([d], {1: {date(2026, 5, 20)}}, points)
    # Active on May 20: inside the window of June 1, 8 and 15 (May 20 + 29 days = June 18).
    assert [p.activation.part for p in trend] == [1, 1, 1, 0, 0]
    assert all(p.activation.whole == 1 for p in trend)


# --- win rate activated vs. not -------------------------------------------------------------

CLOSE = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
JUNE = Period(date(2026, 6, 1), date(2026, 6, 30))


def closed(n: int, won: bool, last: datetime | None, **kw: object) -> DealFacts:
    status = Status.WON if won else Status.LOST
    return deal(n, status=status, closed=CLOSE, last_before_close=last, **kw)  # type: ignore[arg-type]


def test_win_rate_split_by_seller_activity_in_the_thirty_days_before_close() -> None:
    deals = [
        closed(1, True, CLOSE - timedelta(days=2)),
        closed(2, True, CLOSE - timedelta(days=30)),  # exactly 30 days: still inside
        closed(3, False, CLOSE - timedelta(days=5)),
        closed(4, True, CLOSE - timedelta(days=30, seconds=1)),  # just outside
        closed(5, False, None),
        closed(6, False, CLOSE - timedelta(days=40)),
    ]
    win = metrics.win_rates(deals, period=JUNE)
    assert win.activated == Ratio(2, 3)
    assert win.not_activated == Ratio(1, 3)
    assert win.no_seller == 0


def test_win_rate_counts_only_deals_closed_in_the_period_and_sets_apart_those_without_seller() -> (
    None
):
    deals = [
        closed(1, True, CLOSE - timedelta(days=1)),
        deal(2, status=Status.WON, closed=datetime(2026, 5, 31, 23, 59, tzinfo=UTC)),
        deal(3),  # open
        closed(4, True, None, seller=None),
    ]
    win = metrics.win_rates(deals, period=JUNE)
    assert (win.activated, win.not_activated, win.no_seller) == (Ratio(1, 1), Ratio(0, 0), 1)


def test_the_closing_change_itself_does_not_activate() -> None:
    # The store gives the last action strictly before the close; the rule also refuses one at it.
    win = metrics.win_rates([closed(1, True, CLOSE)], period=JUNE)
    assert win.activated == Ratio(0, 0) and win.not_activated == Ratio(1, 1)


# --- attribution ----------------------------------------------------------------------------


def test_attribution_keeps_kinds_and_currencies_apart_and_unset_on_its_own() -> None:
    june_close = datetime(2026, 6, 10, tzinfo=UTC)
    deals = [
        deal(1, attribution=Attribution.SOURCED, amount="100"),
        deal(2, attribution=Attribution.SOURCED, amount="50", currency="EUR"),
        deal(3, attribution=Attribution.SOURCED, amount=None),
        deal(4, attribution=Attribution.CO_SELL, amount="70"),
        deal(5, attribution=None, amount="9"),
        deal(
            6,
            attribution=Attribution.INFLUENCED,
            status=Status.WON,
            closed=june_close,
            amount="300",
        ),
        deal(7, attribution=Attribution.INFLUENCED, status=Status.LOST, closed=june_close),
        deal(
            8,
            attribution=Attribution.INFLUENCED,
            status=Status.WON,
            closed=datetime(2026, 5, 1, tzinfo=UTC),
            amount="999",
        ),  # won before the period
    ]
    lines = {line.attribution: line for line in metrics.attribution_totals(deals, period=JUNE)}
    assert list(lines) == [Attribution.SOURCED, Attribution.CO_SELL, Attribution.INFLUENCED, None]
    sourced = lines[Attribution.SOURCED]
    assert [(m.currency, m.amount, m.deals, m.unpriced) for m in sourced.pipeline] == [
        ("EUR", Decimal("50"), 1, 0),
        ("USD", Decimal("100"), 2, 1),
    ]
    assert sourced.closed_won == ()
    assert [(m.currency, m.amount) for m in lines[Attribution.CO_SELL].pipeline] == [
        ("USD", Decimal("70"))
    ]
    influenced = lines[Attribution.INFLUENCED]
    assert influenced.pipeline == ()
    assert [(m.currency, m.amount, m.deals) for m in influenced.closed_won] == [
        ("USD", Decimal("300"), 1)
    ]
    assert [(m.currency, m.amount) for m in lines[None].pipeline] == [("USD", Decimal("9"))]


def test_pipeline_is_what_was_open_at_the_end_of_the_period() -> None:
    deals = [
        deal(1, created=datetime(2026, 7, 5, tzinfo=UTC)),  # created after the period
        deal(2, status=Status.WON, closed=datetime(2026, 7, 2, tzinfo=UTC)),  # still open then
    ]
    [line] = [a for a in metrics.attribution_totals(deals, period=JUNE) if a.attribution is None]
    assert [(m.amount, m.deals) for m in line.pipeline] == [(Decimal("100"), 1)]


# --- operator check -------------------------------------------------------------------------

Q2 = Period(date(2026, 4, 1), date(2026, 6, 30))


def full(n: int, **kw: object) -> DealFacts:
    base: dict[str, object] = {
        "partner": "Northwind",
        "trigger": True,
        "outcome": datetime(2026, 5, 5, tzinfo=UTC),
    }
    base.update(kw)
    return deal(n, **base)  # type: ignore[arg-type]


def test_operator_check_passes_at_three_qualifying_deals_and_names_them() -> None:
    deals = [
        full(1),
        full(2, status=Status.WON, closed=datetime(2026, 6, 1, tzinfo=UTC)),  # closed in Q2
        full(3),
        full(4, partner=None),  # no matched partner
        full(5, trigger=False),  # no trigger
        full(6, outcome=None),  # no outcome
        full(7, outcome=datetime(2026, 7, 1, tzinfo=UTC)),  # outcome after the quarter
        full(8),  # neither active nor closed in Q2
    ]
    active = {1, 3, 4, 5, 6, 7}
    check = metrics.operator_check(deals, active, quarter=Q2)
    assert check.deals == (("PTM-1", "Deal 1"), ("PTM-2", "Deal 2"), ("PTM-3", "Deal 3"))
    assert check.passes
    assert not metrics.operator_check(deals, {1}, quarter=Q2).passes


def test_last_complete_quarter_is_explicit_and_calendar_based() -> None:
    assert periods.last_complete_quarter(date(2026, 11, 24)) == Period(
        date(2026, 7, 1), date(2026, 9, 30)
    )
    assert periods.last_complete_quarter(date(2026, 9, 30)) == Period(
        date(2026, 7, 1), date(2026, 9, 30)
    )
    assert periods.last_complete_quarter(date(2026, 1, 15)) == Period(
        date(2025, 10, 1), date(2025, 12, 31)
    )
    assert periods.quarter_label(Period(date(2025, 10, 1), date(2025, 12, 31))) == "Q4 2025"


# --- periods as typed -----------------------------------------------------------------------


def test_period_defaults_to_the_last_ninety_days() -> None:
    period = periods.parse_period(None, None, today=date(2026, 11, 24))
    assert period == Period(date(2026, 8, 27), date(2026, 11, 24)) and period.days == 90


@pytest.mark.parametrize(
    ("since", "until", "says"),
    [
        ("2026-13-01", None, "--since '2026-13-01' is not a date"),
        (None, "tomorrow", "--until 'tomorrow' is not a date"),
        ("2026-10-01", "2026-09-01", "starts (2026-10-01) after it ends"),
        ("2020-01-01", "2026-01-01", "the longest is"),
        (None, "0001-01-05", "--until 0001-01-05 is out of range"),
        ("0001-01-01", "2026-02-01", "--since 0001-01-01 is out of range"),
        ("9999-12-01", "9999-12-31", "is out of range: use a day from 1970-01-01 to 2999-12-31"),
    ],
)
def test_bad_periods_say_what_is_accepted(since: str | None, until: str | None, says: str) -> None:
    with pytest.raises(BadInput, match=says.replace("(", r"\(").replace(")", r"\)")):
        periods.parse_period(since, until, today=date(2026, 11, 24))


def test_measure_puts_the_four_together() -> None:
    period = Period(date(2026, 6, 2), date(2026, 6, 30))
    report = metrics.measure(
        [deal(1, seller="UA"), closed(2, True, CLOSE - timedelta(days=1))],
        {1: {date(2026, 6, 29)}},
        set(),
        period=period,
        quarter=Q2,
        scope="all deals",
    )
    assert report.activation == Ratio(1, 1)  # deal 2 closed in June: only UA's deal counts
    assert [p.day for p in report.trend] == [date(2026, 6, d) for d in (2, 9, 16, 23, 30)]
    assert report.win.activated == Ratio(1, 1)
    assert not report.operator.passes
    assert metrics.sparkline(report.trend) == "▁▁▁▁█"


def test_a_chart_with_no_data_has_a_sentence_and_no_1970_axis() -> None:
    from bot.adapters.charts import chart_figure

    period = Period(date(2026, 9, 1), date(2026, 11, 24))
    report = metrics.measure([], {}, set(), period=period, quarter=Q2, scope="your deals")
    figure = chart_figure(report)
    figure.canvas.draw()
    trend_ax = figure.axes[0]
    from matplotlib.dates import num2date

    ticks = " ".join(t.get_text() for t in trend_ax.get_xticklabels())
    assert "1970" not in ticks + trend_ax.xaxis.get_offset_text().get_text()
    assert {num2date(x).year for x in trend_ax.get_xlim()} == {2026}
    assert any("No seller was on an open trio deal" in t.get_text() for t in trend_ax.texts)


def test_attribution_per_partner_company_counts_a_shared_deal_for_each_but_once_in_totals() -> None:
    period = Period(date(2026, 6, 1), date(2026, 6, 30))
    deals = [
        deal(1, attribution=Attribution.CO_SELL, amount="1000"),
        deal(2, attribution=Attribution.SOURCED, amount="500"),
        deal(3, attribution=Attribution.SOURCED, amount="70", status=Status.WON,
             closed=T0 + timedelta(days=3)),
    ]  # fmt: skip
    companies = {1: ("TCLOUD", "TSI"), 2: ("TSI",), 3: ("TCLOUD", "TCLOUD")}
    names = {"TCLOUD": "Cloudco", "TSI": "SI Partners"}
    found = metrics.partner_attribution(deals, companies, names, period=period)
    assert [(p.company, p.deals) for p in found] == [("Cloudco", 2), ("SI Partners", 2)]
    cloud = {a.attribution: a for a in found[0].lines}
    assert cloud[Attribution.CO_SELL].pipeline[0].amount == Decimal("1000")
    assert cloud[Attribution.SOURCED].closed_won[0].amount == Decimal("70")
    si = {a.attribution: a for a in found[1].lines}
    assert si[Attribution.SOURCED].pipeline[0].amount == Decimal("500")
    # The totals count deal 1 once, though two partner companies are on it.
    totals = {a.attribution: a for a in metrics.attribution_totals(deals, period=period)}
    assert totals[Attribution.CO_SELL].pipeline[0].deals == 1
    assert totals[Attribution.CO_SELL].pipeline[0].amount == Decimal("1000")

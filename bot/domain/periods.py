"""Periods of whole UTC days for the measures: as typed on the command line, the default 90
days, calendar quarters, the weekly points of a trend. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bot.domain.model import BadInput

DEFAULT_PERIOD_DAYS = 90
MAX_PERIOD_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    """A span of whole UTC days, both ends included."""

    since: date
    until: date

    def __post_init__(self) -> None:
        if self.since > self.until:
            raise BadInput(
                f"The period starts ({self.since}) after it ends ({self.until}). "
                "Give --since before --until."
            )

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def contains(self, day: date) -> bool:
        return self.since <= day <= self.until

    def label(self) -> str:
        return f"{self.since.isoformat()} – {self.until.isoformat()}"


def default_period(today: date, days: int = DEFAULT_PERIOD_DAYS) -> Period:
    """The last `days` days, today included."""
    return Period(today - timedelta(days=days - 1), today)


def parse_period(since: str | None, until: str | None, *, today: date) -> Period:
    """`--since` / `--until` as typed; both optional (the last 90 days up to today)."""
    end = _parse_day(until, "--until") if until else today
    start = _parse_day(since, "--since") if since else end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    period = Period(start, end)
    if period.days > MAX_PERIOD_DAYS:
        raise BadInput(f"The period is {period.days} days; the longest is {MAX_PERIOD_DAYS}.")
    return period


# Days a report may start or end on: the weeks, windows and quarters around them stay within
# the calendar (0001-01-01 minus 90 days is no date at all).
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)


def _parse_day(text: str, what: str) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"{what} {text!r} is not a date. Use YYYY-MM-DD, e.g. 2026-07-01.") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadInput(f"{what} {text} is out of range: use a day from {FIRST_DAY} to {LAST_DAY}.")
    return day


def quarter_of(day: date) -> Period:
    q = (day.month - 1) // 3
    end = date(day.year, 12, 31) if q == 3 else date(day.year, 3 * q + 4, 1) - timedelta(days=1)
    return Period(date(day.year, 3 * q + 1, 1), end)


def last_complete_quarter(as_of: date) -> Period:
    """The latest calendar quarter that has ended by the end of `as_of`."""
    current = quarter_of(as_of)
    if current.until == as_of:
        return current
    return quarter_of(current.since - timedelta(days=1))


def quarter_label(quarter: Period) -> str:
    return f"Q{(quarter.since.month - 1) // 3 + 1} {quarter.since.year}"


def weekly_points(period: Period) -> tuple[date, ...]:
    """Week ends from the period's last day back to its first, oldest first."""
    points = []
    day = period.until
    while day >= period.since:
        points.append(day)
        day -= timedelta(weeks=1)
    return tuple(reversed(points))

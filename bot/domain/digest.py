"""Daily digest rules: when a person's digest is due, which deals have gone quiet, which events
are news. Pure: no I/O, no clock. `bot.views.digest` composes what a digest says."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.model import Deal

STALE_AFTER = timedelta(days=7)


@dataclass(frozen=True)
class Event:
    """An audit event as the digest needs it."""

    deal_id: int
    actor: str
    fields: tuple[str, ...]
    at: datetime


def zone(tz_name: str | None) -> ZoneInfo:
    """The user's IANA zone; UTC when Slack gave none or an unknown one."""
    try:
        return ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_day(now: datetime, tz_name: str | None) -> date:
    return now.astimezone(zone(tz_name)).date()


def is_due(now: datetime, tz_name: str | None, hour: int) -> bool:
    """Due from `hour` o'clock local time on; DST-correct because zoneinfo does the sums."""
    return now.astimezone(zone(tz_name)).hour >= hour


def is_quiet(deal: Deal, now: datetime) -> bool:
    """Nobody has changed the deal or acted on it for a week: a nudge may help."""
    acted = [m.last_acted_at for m in deal.trio if m.last_acted_at]
    return max([deal.updated_at, *acted]) < now - STALE_AFTER


def group_events(
    rows: Iterable[tuple[int, str, Mapping[str, object], datetime]],
) -> dict[int, list[Event]]:
    """Audit rows -> digest events by deal; acknowledgements ("synced") are not changes."""
    by_deal: dict[int, list[Event]] = {}
    for deal_id, actor, changes, at in rows:
        event = Event(deal_id, actor, tuple(k for k in changes if k != "synced"), at)
        by_deal.setdefault(deal_id, []).append(event)
    return by_deal

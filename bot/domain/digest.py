"""Daily digest rules: when a person's digest is due, which deals have gone quiet, which events
are news. Pure: no I/O, no clock. `bot.views.digest` composes what a digest says."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from sys import intern
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.model import Deal, Role, Status

STALE_AFTER = timedelta(days=7)


@dataclass(frozen=True)
class Event:
    """An audit event as the digest needs it."""

    deal_id: int
    actor: str
    fields: tuple[str, ...]
    at: datetime


class GlanceMember(NamedTuple):
    role: Role
    user_id: str


class GlanceStep(NamedTuple):
    text: str
    owner_user: str | None
    due: date | None


@dataclass(frozen=True, slots=True)
class DealGlance:
    """What the digests need of a deal, and no more. A morning's digests read every open deal
    of their people (half a million at 100,000 people), and reading only these columns takes
    half the time of reading whole deals."""

    id: int
    key: str
    name: str
    status: Status
    created_by: str
    touched_at: datetime  # its last change, or its trio's last action if later (`touched`)
    trio: tuple[GlanceMember, ...]  # in the deal's order: by role, then by joining
    next_step: GlanceStep | None  # the open one

    @classmethod
    def of(cls, deal: Deal) -> DealGlance:
        step = deal.next_step
        return cls(
            deal.id, deal.key, deal.name, deal.status, deal.created_by, touched(deal),
            tuple(GlanceMember(m.role, m.user_id) for m in deal.trio),
            GlanceStep(step.text, step.owner_user, step.due) if step else None,
        )  # fmt: skip

    def role_of(self, user_id: str) -> Role | None:
        """As `Deal.role_of`: the first of the user's roles on the deal."""
        return next((m.role for m in self.trio if m.user_id == user_id), None)

    @property
    def seller(self) -> str | None:
        return next((m.user_id for m in self.trio if m.role is Role.SELLER), None)


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


def touched(deal: Deal) -> datetime:
    """When the deal last changed or anyone of its trio last acted on it."""
    acted = [m.last_acted_at for m in deal.trio if m.last_acted_at]
    return max([deal.updated_at, *acted])


def is_quiet(touched_at: datetime, now: datetime) -> bool:
    """Nobody has changed the deal or acted on it for a week (`touched`): a nudge may help."""
    return touched_at < now - STALE_AFTER


def group_events(
    rows: Iterable[tuple[int, str, Mapping[str, object], datetime]],
) -> dict[int, list[Event]]:
    """Audit rows -> digest events by deal; acknowledgements ("synced") are not changes."""
    by_deal: dict[int, list[Event]] = {}
    for deal_id, actor, changes, at in rows:
        # The few field names are interned: a morning's digests keep many thousands of events.
        event = Event(deal_id, actor, tuple(intern(k) for k in changes if k != "synced"), at)
        by_deal.setdefault(deal_id, []).append(event)
    return by_deal

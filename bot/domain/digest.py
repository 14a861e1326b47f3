"""Daily digest rules: when a person's digest is due, and what it says. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.metrics import ACTIVATION_WINDOW_DAYS, MetricsReport, Ratio
from bot.domain.model import Deal, Role, Status
from bot.domain.rules import is_overdue

STALE_AFTER = timedelta(days=7)


@dataclass(frozen=True)
class StepLine:
    key: str
    deal_name: str
    text: str
    owner_user: str | None
    due: date | None
    overdue: bool


@dataclass(frozen=True)
class ChangeLine:
    key: str
    actor: str
    fields: tuple[str, ...]
    at: datetime


@dataclass(frozen=True)
class DigestView:
    """One person's digest for one local day; empty means nothing is sent."""

    user_id: str
    day: date
    mine: tuple[StepLine, ...]
    waiting: tuple[StepLine, ...]
    changes: tuple[ChangeLine, ...]
    stale: tuple[tuple[str, str], ...]  # (key, name)
    # Seller activation on their deals, as `/ptm metrics` counts it; alliance managers only.
    activation: Ratio | None
    window_days: int = ACTIVATION_WINDOW_DAYS

    @property
    def is_empty(self) -> bool:
        return not (self.mine or self.waiting or self.changes or self.stale)


@dataclass(frozen=True)
class HomeView:
    """The App Home: the digest's picture, live, with seller activation and its trend."""

    digest: DigestView
    metrics: MetricsReport


@dataclass(frozen=True)
class Nudge:
    """A threaded reply on a deal's card for the partner rep who owns its next step."""

    deal_key: str
    channel_id: str
    thread_ts: str
    user_id: str
    text: str
    due: date | None
    overdue: bool


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


def compose(
    user_id: str,
    deals: Sequence[Deal],
    events: Mapping[int, Sequence[Event]],
    *,
    now: datetime,
    day: date,
    since: datetime,
    activation: Ratio | None = None,
) -> DigestView:
    """What `user_id` should hear about on `day`: their moves first, overdue before due.
    `events` are the audit events by deal id; `activation` is their seller activation
    (`bot.domain.metrics`), shown to alliance managers only."""
    today = day
    mine, waiting, stale = [], [], []
    for deal in deals:
        if deal.status is not Status.OPEN or deal.role_of(user_id) is None:
            continue
        step = deal.next_step
        if step is not None:
            line = StepLine(
                deal.key, deal.name, step.text, step.owner_user, step.due, is_overdue(step, today)
            )
            (mine if step.owner_user == user_id else waiting).append(line)
        if _last_activity(deal) < now - STALE_AFTER:
            stale.append((deal.key, deal.name))
    changes = [
        ChangeLine(deal.key, e.actor, e.fields, e.at)
        for deal in deals
        for e in events.get(deal.id, ())
        if e.actor != user_id and e.at > since and e.fields
    ]
    is_alliance = any(d.role_of(user_id) is Role.ALLIANCE for d in deals)
    return DigestView(
        user_id=user_id,
        day=day,
        mine=tuple(sorted(mine, key=_urgency)),
        waiting=tuple(sorted(waiting, key=_urgency)),
        changes=tuple(sorted(changes, key=lambda c: c.at))[-20:],
        stale=tuple(stale),
        activation=activation if is_alliance else None,
    )


def _last_activity(deal: Deal) -> datetime:
    acted = [m.last_acted_at for m in deal.trio if m.last_acted_at]
    return max([deal.updated_at, *acted])


def _urgency(line: StepLine) -> tuple[bool, date]:
    return (not line.overdue, line.due or date.max)


def group_events(
    rows: Iterable[tuple[int, str, Mapping[str, object], datetime]],
) -> dict[int, list[Event]]:
    """Audit rows -> digest events by deal; acknowledgements ("synced") are not changes."""
    by_deal: dict[int, list[Event]] = {}
    for deal_id, actor, changes, at in rows:
        event = Event(deal_id, actor, tuple(k for k in changes if k != "synced"), at)
        by_deal.setdefault(deal_id, []).append(event)
    return by_deal

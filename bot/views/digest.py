"""What a digest, the App Home and a partner nudge say: built from the deals, pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.domain.digest import Event, is_quiet
from bot.domain.metrics import ACTIVATION_WINDOW_DAYS, MetricsReport, Ratio
from bot.domain.model import Deal, Role, Status
from bot.domain.rules import is_overdue
from bot.views.models import DealLine


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
    # Deals partner companies share with the viewer (a partnership), as they share them.
    shared: tuple[DealLine, ...] = ()


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
    # The rep's company, when it installed PTM and is our active partner: the nudge is a DM
    # through its own installation instead of a reply in the deal room; `home` names us there.
    via: int | None = None
    home: str = ""


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
        if is_quiet(deal, now):
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


def _urgency(line: StepLine) -> tuple[bool, date]:
    return (not line.overdue, line.due or date.max)

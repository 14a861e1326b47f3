"""What a digest, the App Home and a partner nudge say: built from the deals, pure."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from sys import intern

from bot.domain.digest import DealGlance, Event, is_quiet
from bot.domain.metrics import ACTIVATION_WINDOW_DAYS, MetricsReport, Ratio
from bot.domain.model import Deal, Role, Status
from bot.domain.rules import is_overdue
from bot.views.models import DealLine


@dataclass(frozen=True, slots=True)
class StepLine:
    key: str
    deal_name: str
    text: str
    owner_user: str | None
    due: date | None
    overdue: bool


@dataclass(frozen=True, slots=True)
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


MAX_CHANGES = 20  # a digest lists the latest changes on one's deals, at most this many


class DigestParts:
    """One person's digest, gathered deal by deal (the deals need not all be in memory at
    once: a morning's digests are composed from the deals a chunk at a time). A morning holds
    many at once, so what they keep is kept small: the people they name are interned (each
    deal's rows bring their own copy of every user id)."""

    __slots__ = (
        "user_id", "since", "mine", "waiting", "stale", "changes", "is_alliance", "_n", "sellers",
    )  # fmt: skip

    def __init__(self, user_id: str, since: datetime) -> None:
        self.user_id, self.since = user_id, since
        self.mine: list[StepLine] = []
        self.waiting: list[StepLine] = []
        self.stale: list[tuple[str, str]] = []
        # The latest changes only, as a min-heap on time (a busy person's deals may have
        # thousands): (at, arrival, line).
        self.changes: list[tuple[datetime, int, ChangeLine]] = []
        self.is_alliance = False
        self._n = 0
        # Seller activation on one's own open deals (trio member or creator), as `/ptm
        # metrics` counts it: the sellers on them, each True once they acted on one lately.
        # One dict, not two sets: a morning of 100,000 digests holds 100,000 of them.
        self.sellers: dict[str, bool] = {}

    def count_seller(self, deal: DealGlance, *, acted: bool) -> None:
        """One of this person's own open deals, for their seller activation."""
        seller = deal.seller
        if seller is not None:
            user = intern(seller)
            self.sellers[user] = acted or self.sellers.get(user, False)

    @property
    def activation(self) -> Ratio:
        return Ratio(sum(self.sellers.values()), len(self.sellers))

    def add(self, deal: DealGlance, events: Sequence[Event], *, now: datetime, today: date) -> None:
        role = deal.role_of(self.user_id)
        if role is Role.ALLIANCE:
            self.is_alliance = True
        if deal.status is Status.OPEN and role is not None:
            step = deal.next_step
            if step is not None:
                owner = intern(step.owner_user) if step.owner_user else None
                line = StepLine(
                    deal.key, deal.name, step.text, owner, step.due, is_overdue(step, today)
                )
                (self.mine if step.owner_user == self.user_id else self.waiting).append(line)
            if is_quiet(deal.touched_at, now):
                self.stale.append((deal.key, deal.name))
        for e in events:
            if e.actor != self.user_id and e.at > self.since and e.fields:
                self._n += 1
                item = (e.at, self._n, ChangeLine(deal.key, intern(e.actor), e.fields, e.at))
                if len(self.changes) < MAX_CHANGES:
                    heapq.heappush(self.changes, item)
                elif item[:2] > self.changes[0][:2]:
                    heapq.heapreplace(self.changes, item)

    def view(self, day: date, activation: Ratio | None = None) -> DigestView:
        return DigestView(
            user_id=self.user_id,
            day=day,
            mine=tuple(sorted(self.mine, key=_urgency)),
            waiting=tuple(sorted(self.waiting, key=_urgency)),
            changes=tuple(line for *_, line in sorted(self.changes, key=lambda c: c[:2])),
            stale=tuple(self.stale),
            activation=activation if self.is_alliance else None,
        )


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
    parts = DigestParts(user_id, since)
    for deal in deals:
        parts.add(DealGlance.of(deal), events.get(deal.id, ()), now=now, today=day)
    return parts.view(day, activation)


def _urgency(line: StepLine) -> tuple[bool, date]:
    return (not line.overdue, line.due or date.max)

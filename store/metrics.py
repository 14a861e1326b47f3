"""The facts the measures are computed from, in six statements however many deals and events.

The queries only gather and narrow; every rule (windows, open-on-a-day, what qualifies) is
applied again by `bot.domain.metrics` on what they return.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.metrics import DealFacts
from bot.domain.model import Attribution, Role, Status
from bot.domain.periods import Period
from store.db import read_only
from store.models import DealEventRow, DealRow, OutcomeRow, RoomActivityRow, TrioMemberRow
from store.types import UTCDateTime

# Short names for the mapped classes (not their tables: the ORM scopes every statement on
# them to the unit of work's tenant, see store.tenancy).
DEALS, EVENTS, TRIO, ROOM = DealRow, DealEventRow, TrioMemberRow, RoomActivityRow
D, E, T, R = DEALS, EVENTS, TRIO, ROOM
O = OutcomeRow  # noqa: E741


STATUS = {s.value: s for s in Status}
ATTRIBUTION: dict[str | None, Attribution | None] = {a.value: a for a in Attribution} | {None: None}


@dataclass(frozen=True)
class MetricsFacts:
    deals: list[DealFacts]
    activity: dict[int, set[date]]  # deal id -> days its seller acted on it
    active_in_quarter: set[int]
    # deal id -> its partner companies (their Slack teams, where known)
    companies: dict[int, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ActivationFacts:
    """Open deals of several people at once, for each person's "your deals" activation."""

    deals: dict[int, DealFacts]
    scopes: dict[str, set[int]]  # user id -> ids of their open deals (trio member or creator)
    activity: dict[int, set[date]]


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _after(day: date) -> datetime:
    return _start(day + timedelta(days=1))


class MetricsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def facts(
        self, *, scope_user: str | None, period: Period, horizon: Period, quarter: Period
    ) -> MetricsFacts:
        """Deals relevant to the period and quarter, their sellers' activity days within
        `horizon`, and the deals with any activity in `quarter`. `scope_user` limits all of it to
        that person's deals (trio member or creator); None means every deal."""
        await read_only(self.session)
        in_scope = self._scope(scope_user)
        seller = sa.and_(T.deal_id == D.id, T.role == Role.SELLER.value)
        oldest = min(period.since, quarter.since)
        first_outcome = (
            sa.select(O.deal_id, sa.func.min(O.logged_at).label("at"))
            .group_by(O.deal_id)
            .subquery()
        )
        closed_at = sa.case(
            (D.status != Status.OPEN.value, sa.func.coalesce(D.closed_at, D.updated_at)),
            else_=None,
        )
        measured = (
            D.created_at < _after(period.until),
            # Deals closed before both the period and the quarter count in no measure.
            sa.or_(closed_at.is_(None), closed_at >= _start(oldest)),
            *in_scope(D.id),
        )
        deal_rows = await self.session.execute(
            sa.select(
                D.id,
                D.key,
                D.name,
                D.status,
                T.user_id,
                D.created_at,
                sa.type_coerce(closed_at, UTCDateTime),
                D.amount,
                D.currency,
                D.attribution,
                D.partner,
                D.trigger_reason != "",
                first_outcome.c.at,
            )
            .select_from(DEALS)
            .outerjoin(TRIO, seller)
            .outerjoin(first_outcome, first_outcome.c.deal_id == D.id)
            .where(*measured)
        )
        rows = deal_rows.all()
        last_before_close = await self._seller_last_before_close(period, in_scope)
        deals = [
            DealFacts(
                id=r[0],
                key=r[1],
                name=r[2],
                status=STATUS[r[3]],
                seller=r[4],
                created_at=r[5],
                closed_at=r[6],
                amount=r[7],
                currency=r[8],
                attribution=ATTRIBUTION[r[9]],
                partner=r[10],
                has_trigger=bool(r[11]),
                first_outcome_at=r[12],
                seller_last_before_close=last_before_close.get(r[0]),
            )
            for r in rows
        ]
        return MetricsFacts(
            deals=deals,
            activity=await self._seller_days(horizon, in_scope),
            active_in_quarter=await self._active_in(quarter, in_scope),
            # A short list of ids as is; else the same conditions again (no huge IN list).
            companies=await self._companies(
                [r[0] for r in rows] if len(rows) <= 1000 else sa.select(D.id).where(*measured)
            ),
        )

    async def _companies(self, deal_ids: sa.Select[Any] | list[int]) -> dict[int, tuple[str, ...]]:
        """The partner companies on each of these deals, by Slack team (a rep whose team is not
        known yet names no company): one statement."""
        rows = await self.session.execute(
            sa.select(T.deal_id, T.team_id).where(
                T.role == Role.PARTNER.value, T.team_id.is_not(None), T.deal_id.in_(deal_ids)
            )
        )
        found: dict[int, list[str]] = defaultdict(list)
        for deal_id, team in rows.all():
            found[deal_id].append(team)
        return {deal_id: tuple(keys) for deal_id, keys in found.items()}

    async def activation_facts(self, users: Collection[str], horizon: Period) -> ActivationFacts:
        """What seller activation needs for each of `users`' own open deals, in four statements
        however many people: the same scope and activity as `facts(scope_user=...)`."""
        await read_only(self.session)
        if not users:
            return ActivationFacts({}, {}, {})
        is_open = D.status == Status.OPEN.value
        members = (
            sa.select(T.deal_id, T.user_id)
            .join(DEALS, D.id == T.deal_id)
            .where(T.user_id.in_(users), is_open)
        )
        creators = sa.select(D.id, D.created_by).where(D.created_by.in_(users), is_open)
        scopes: dict[str, set[int]] = defaultdict(set)
        for deal_id, user_id in (await self.session.execute(sa.union(members, creators))).all():
            scopes[user_id].add(deal_id)
        mine = sa.union(
            sa.select(T.deal_id)
            .join(DEALS, D.id == T.deal_id)
            .where(T.user_id.in_(users), is_open),
            sa.select(D.id).where(D.created_by.in_(users), is_open),
        )
        in_scope = lambda deal_id: (deal_id.in_(mine),)  # noqa: E731
        rows = await self.session.execute(
            sa.select(D.id, D.key, D.name, T.user_id, D.created_at)
            .select_from(DEALS)
            .outerjoin(TRIO, sa.and_(T.deal_id == D.id, T.role == Role.SELLER.value))
            .where(*in_scope(D.id))
        )
        deals = {
            r[0]: DealFacts(
                id=r[0],
                key=r[1],
                name=r[2],
                status=Status.OPEN,
                seller=r[3],
                created_at=r[4],
                closed_at=None,
                amount=None,
                currency="",
                attribution=None,
                partner=None,
                has_trigger=False,
            )
            for r in rows.all()
        }
        return ActivationFacts(deals, dict(scopes), await self._seller_days(horizon, in_scope))

    async def seller_active(self, deal_ids: Collection[int], horizon: Period) -> set[int]:
        """Of these deals, those whose seller acted on them within `horizon` (a change, a step
        done, "I'm synced", a message in the deal room): what seller activation counts, for a
        chunk of deals at a time (two statements)."""
        ids = list(deal_ids)
        return set(await self._seller_days(horizon, lambda deal_id: (deal_id.in_(ids),)))

    def _scope(self, user_id: str | None) -> Any:
        if user_id is None:
            return lambda _deal_id: ()
        mine = sa.union(
            sa.select(T.deal_id).where(T.user_id == user_id),
            sa.select(D.id).where(D.created_by == user_id),
        )
        return lambda deal_id: (deal_id.in_(mine),)

    async def _seller_days(self, horizon: Period, in_scope: Any) -> dict[int, set[date]]:
        """Days on which each deal's seller changed it, completed a step, synced or wrote in
        its deal room, within `horizon` (two statements)."""
        by_seller = sa.and_(
            T.deal_id == E.deal_id, T.role == Role.SELLER.value, T.user_id == E.actor
        )
        day = sa.func.date(E.at, type_=sa.Date)
        # Bounded by UTC day, as the definition is. It also steers the plan: seller by seller
        # through the (deal, actor, at) index rather than every event of the horizon by time.
        changes = await self.session.execute(
            sa.select(E.deal_id, day)
            .select_from(EVENTS)
            .join(TRIO, by_seller)
            .where(day >= horizon.since, day <= horizon.until, *in_scope(E.deal_id))
            .distinct()
        )
        room_seller = sa.and_(
            T.deal_id == R.deal_id, T.role == Role.SELLER.value, T.user_id == R.user_id
        )
        messages = await self.session.execute(
            sa.select(R.deal_id, R.day)
            .select_from(ROOM)
            .join(TRIO, room_seller)
            .where(R.day >= horizon.since, R.day <= horizon.until, *in_scope(R.deal_id))
        )
        days: dict[int, set[date]] = defaultdict(set)
        for deal_id, on in [*changes.all(), *messages.all()]:
            days[deal_id].add(on if isinstance(on, date) else date.fromisoformat(on))
        return days

    async def _seller_last_before_close(self, period: Period, in_scope: Any) -> dict[int, datetime]:
        """For deals closed in the period: the seller's latest action on the deal before the
        moment it closed (two statements: changes, deal-room messages)."""
        closed = sa.and_(
            D.status != Status.OPEN.value,
            D.closed_at >= _start(period.since),
            D.closed_at < _after(period.until),
        )
        seller = sa.and_(T.deal_id == D.id, T.role == Role.SELLER.value)
        changes = await self.session.execute(
            sa.select(D.id, sa.func.max(E.at))
            .select_from(DEALS)
            .join(TRIO, seller)
            .join(EVENTS, sa.and_(E.deal_id == D.id, E.actor == T.user_id, E.at < D.closed_at))
            .where(closed, *in_scope(D.id))
            .group_by(D.id)
        )
        # A day's last message may be after the close; its first then stands for the day.
        latest_message = sa.func.max(
            sa.case((R.last_at < D.closed_at, R.last_at), else_=R.first_at)
        )
        messages = await self.session.execute(
            sa.select(D.id, sa.type_coerce(latest_message, UTCDateTime))
            .select_from(DEALS)
            .join(TRIO, seller)
            .join(
                ROOM,
                sa.and_(R.deal_id == D.id, R.user_id == T.user_id, R.first_at < D.closed_at),
            )
            .where(closed, *in_scope(D.id))
            .group_by(D.id)
        )
        latest: dict[int, datetime] = {}
        for deal_id, at in [*changes.all(), *messages.all()]:
            if at is not None and (deal_id not in latest or at > latest[deal_id]):
                latest[deal_id] = at
        return latest

    async def _active_in(self, quarter: Period, in_scope: Any) -> set[int]:
        """Deals anyone changed or wrote about in their room during the quarter, narrowed to
        those with a trigger and a partner (the operator check needs both anyway)."""
        candidates = sa.select(D.id).where(
            D.partner.is_not(None), D.trigger_reason != "", *in_scope(D.id)
        )
        changed = sa.select(E.deal_id).where(
            E.at >= _start(quarter.since), E.at < _after(quarter.until), E.deal_id.in_(candidates)
        )
        talked = sa.select(R.deal_id).where(
            R.day >= quarter.since, R.day <= quarter.until, R.deal_id.in_(candidates)
        )
        return set((await self.session.scalars(sa.union(changed, talked))).all())

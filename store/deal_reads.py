"""Reading deals: the aggregate (deal, trio, open next step) one at a time or in bulk in a
fixed number of queries, and its audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.digest import DealGlance, GlanceMember, GlanceStep
from bot.domain.model import (
    Attribution,
    Deal,
    ForecastCategory,
    NextStep,
    Role,
    Stage,
    Status,
    TrioMember,
)
from store.models import (
    AwsSubmissionRow,
    CrmLinkRow,
    DealEventRow,
    DealRow,
    NextStepRow,
    TrioMemberRow,
    UserPrefRow,
)
from store.tenancy import rows_of
from store.types import UTCDateTime


@dataclass(frozen=True, slots=True)
class Outlets:
    """Whether a deal has a CRM link and an AWS opportunity: without them, a change has nothing
    to write back (and need not look for what)."""

    crm_link: bool
    aws_opportunity: bool


@dataclass(frozen=True)
class DealEvent:
    version: int
    actor: str
    actor_team: str | None
    changes: dict[str, Any]
    source: str
    at: datetime


class DealReads:
    """The reading half of the deals repository (`store.deals.DealRepository` adds changes)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, deal_id: int, *, for_update: bool = False) -> Deal | None:
        """The deal aggregate in one statement (deal, trio, open step); `for_update` locks the
        deal's row until commit (PostgreSQL), so concurrent changes queue instead of losing
        their compare-and-swap and retrying."""
        query = _AGGREGATE_LOCKED if for_update else _AGGREGATE
        rows = await rows_of(self.session, query, {"deal_id": deal_id})
        return _aggregate_of(rows) if rows else None

    async def lock_for_change(self, deal_id: int) -> tuple[Deal, Outlets] | None:
        """The deal aggregate locked for a change (as `get(for_update=True)`), with what a change
        of it may have to tell outside PTM: one statement."""
        rows = await rows_of(self.session, _AGGREGATE_FOR_CHANGE, {"deal_id": deal_id})
        if not rows:
            return None
        first = rows[0]
        return _aggregate_of(rows), Outlets(bool(first[_HOME_AT]), bool(first[_HOME_AT + 1]))

    async def get_with_home_viewers(self, deal_id: int) -> tuple[Deal, list[str]] | None:
        """The deal aggregate, and which of its trio from our own org have opened PTM's App
        Home (whose Home shows the deal, so is redrawn with its card): one statement."""
        rows = await rows_of(self.session, _AGGREGATE_WITH_HOMES, {"deal_id": deal_id})
        if not rows:
            return None
        viewers = {row[_MEMBER_AT + 3] for row in rows if row[_HOME_AT] and not row[_MEMBER_AT + 5]}
        return _aggregate_of(rows), sorted(viewers)

    async def id_of(self, number: int) -> int | None:
        """The id of this tenant's deal PTM-<number>."""
        return await self.session.scalar(sa.select(DealRow.id).where(DealRow.number == number))  # type: ignore[arg-type]

    async def team_on_open_deals(
        self, team_id: str, users: Sequence[str] | None = None
    ) -> list[tuple[str, datetime | None]]:
        """Another company's people (of `team_id`, or only `users`) on this tenant's open
        deals, with when each last acted on each: one query."""
        query = (
            sa.select(TrioMemberRow.user_id, TrioMemberRow.last_acted_at)
            .join(DealRow, DealRow.id == TrioMemberRow.deal_id)  # type: ignore[arg-type]
            .where(
                TrioMemberRow.team_id == team_id,  # type: ignore[arg-type]
                TrioMemberRow.is_external.is_(True),  # type: ignore[attr-defined]
                DealRow.status == "open",  # type: ignore[arg-type]
            )
        )
        if users is not None:
            query = query.where(TrioMemberRow.user_id.in_(list(users)))  # type: ignore[attr-defined]
        rows = await self.session.execute(query)
        return [(str(user), acted) for user, acted in rows.all()]

    async def ids_with_member_of(self, team_id: str) -> list[int]:
        """The deals someone of another company's team works on (a partnership's deals)."""
        rows = await self.session.scalars(
            sa.select(TrioMemberRow.deal_id)
            .where(TrioMemberRow.team_id == team_id, TrioMemberRow.is_external.is_(True))  # type: ignore[arg-type,attr-defined]
            .distinct()
        )
        return [int(d) for d in rows.all()]

    async def key_of(self, deal_id: int) -> str | None:
        return await self.session.scalar(sa.select(DealRow.key).where(DealRow.id == deal_id))  # type: ignore[arg-type]

    async def version_of(self, deal_id: int) -> int | None:
        return await self.session.scalar(sa.select(DealRow.version).where(DealRow.id == deal_id))  # type: ignore[arg-type]

    async def list_for_user(self, user_id: str, *, limit: int = 40) -> list[Deal]:
        """Open deals where the user is in the trio or is the creator; three queries in all."""
        member_of = sa.select(TrioMemberRow.deal_id).where(TrioMemberRow.user_id == user_id)  # type: ignore[arg-type]
        rows = (
            await self.session.scalars(
                sa.select(DealRow)
                .where(
                    DealRow.status == "open",  # type: ignore[arg-type]
                    sa.or_(DealRow.id.in_(member_of), DealRow.created_by == user_id),  # type: ignore[union-attr]
                )
                .order_by(DealRow.updated_at.desc())  # type: ignore[attr-defined]
                .limit(limit)
            )
        ).all()
        return await self._assemble(rows)

    async def list_open_for_members(self, user_ids: Sequence[str]) -> list[Deal]:
        """Open deals with any of `user_ids` in the trio; three queries however many users."""
        return await self._assemble_where(
            DealRow.status == "open",  # type: ignore[arg-type]
            DealRow.id.in_(self.deal_ids_of_members(user_ids)),  # type: ignore[union-attr]
        )

    async def open_ids_for_members(self, user_ids: Sequence[str]) -> list[int]:
        """The ids of the open deals with any of `user_ids` in the trio or as creator, in id
        order: one query (a morning's digests then read the deals a chunk at a time)."""
        users = list(user_ids)
        rows = await self.session.scalars(
            sa.select(DealRow.id)
            .where(
                DealRow.status == "open",  # type: ignore[arg-type]
                sa.or_(
                    DealRow.id.in_(self.deal_ids_of_members(users)),  # type: ignore[union-attr]
                    DealRow.created_by.in_(users),  # type: ignore[attr-defined]
                ),
            )
            .order_by(DealRow.id)  # type: ignore[arg-type]
        )
        return [int(i) for i in rows.all()]

    async def by_ids(self, ids: Sequence[int]) -> list[Deal]:
        """These deals with their trios and open steps, in three queries (a chunk of ids: at
        most a few thousand, within every driver's limit on bound parameters)."""
        return await self._assemble_where(DealRow.id.in_(list(ids)))  # type: ignore[union-attr]

    async def glances(self, ids: Sequence[int]) -> list[DealGlance]:
        """What the digests need of these deals (a chunk of ids), in two statements built once:
        the deals with their open steps, and their trios."""
        chunk = {"glance_ids": list(ids)}
        members: dict[int, list[GlanceMember]] = {}
        for deal_id, _id, role, user in sorted(
            await rows_of(self.session, _GLANCE_TRIOS, chunk),
            key=lambda r: (r[0], _ROLE_RANK[r[2]], r[1]),
        ):
            members.setdefault(deal_id, []).append(GlanceMember(_ROLE[role], user))
        return [
            DealGlance(
                deal_id,
                key,
                name,
                _STATUS[status],
                created_by,
                updated_at if acted is None or acted < updated_at else acted,
                tuple(members.get(deal_id, ())),
                GlanceStep(text, owner, due) if text is not None else None,
            )
            for deal_id, key, name, status, created_by, updated_at, acted, text, owner, due in (
                await rows_of(self.session, _GLANCE_DEALS, chunk)
            )
        ]

    def deal_ids_of_members(self, user_ids: Sequence[str]) -> sa.Select[Any]:
        return sa.select(TrioMemberRow.deal_id).where(TrioMemberRow.user_id.in_(list(user_ids)))  # type: ignore[attr-defined]

    async def _assemble_where(self, *conditions: Any) -> list[Deal]:
        """Deals matching `conditions` with their trios and open steps, in three queries; the
        children are selected by the same conditions, never by a (possibly huge) id list.
        Plain rows of known columns, unpacked by position: no identity map to fill, a fraction
        of the memory, and a tenth of the time of reading each value by name."""
        ids = sa.select(DealRow.id).where(*conditions)
        rows = (await self.session.execute(sa.select(*DEAL_COLUMNS).where(*conditions))).all()
        trios = (
            await self.session.execute(
                sa.select(*MEMBER_COLUMNS).where(TrioMemberRow.deal_id.in_(ids))  # type: ignore[attr-defined]
            )
        ).all()
        open_steps = (
            await self.session.execute(
                sa.select(*STEP_COLUMNS).where(
                    NextStepRow.deal_id.in_(ids),  # type: ignore[attr-defined]
                    NextStepRow.status == "open",  # type: ignore[arg-type]
                )
            )
        ).all()
        members: dict[int, list[TrioMember]] = {}
        for row in sorted(trios, key=lambda r: (r[1], _ROLE_RANK[r[2]], r[0])):
            members.setdefault(row[1], []).append(_member_of(row))
        steps = {row[1]: _step(row) for row in open_steps}
        return [_deal_of(row, members.get(row[0], ()), steps.get(row[0])) for row in rows]

    async def list_open_with_external_owner(self) -> list[Deal]:
        """Open deals whose open next step is owned by an external trio member."""
        owned = (
            sa.select(NextStepRow.deal_id)
            .join(
                TrioMemberRow,
                sa.and_(
                    TrioMemberRow.deal_id == NextStepRow.deal_id,  # type: ignore[arg-type]
                    TrioMemberRow.user_id == NextStepRow.owner_user,  # type: ignore[arg-type]
                ),
            )
            .where(NextStepRow.status == "open", TrioMemberRow.is_external.is_(True))  # type: ignore[arg-type,attr-defined]
        )
        rows = (
            await self.session.scalars(
                sa.select(DealRow).where(DealRow.status == "open", DealRow.id.in_(owned))  # type: ignore[arg-type,union-attr]
            )
        ).all()
        return await self._assemble(rows)

    async def _assemble(self, rows: Sequence[DealRow]) -> list[Deal]:
        ids = [r.id for r in rows]
        trios = (
            await self.session.scalars(
                sa.select(TrioMemberRow).where(TrioMemberRow.deal_id.in_(ids))  # type: ignore[attr-defined]
            )
        ).all()
        steps = (
            await self.session.scalars(
                sa.select(NextStepRow).where(
                    NextStepRow.deal_id.in_(ids),  # type: ignore[attr-defined]
                    NextStepRow.status == "open",  # type: ignore[arg-type]
                )
            )
        ).all()
        return _join(rows, trios, steps)

    async def recent_events(self, deal_id: int, *, limit: int) -> list[DealEvent]:
        rows = (
            await self.session.scalars(
                sa.select(DealEventRow)
                .where(DealEventRow.deal_id == deal_id)  # type: ignore[arg-type]
                .order_by(DealEventRow.id.desc())  # type: ignore[union-attr]
                .limit(limit)
            )
        ).all()
        return [
            DealEvent(r.version, r.actor, r.actor_team, r.changes, r.source, r.at) for r in rows
        ]

    async def events_since(self, deal_id: int, version: int) -> list[DealEvent]:
        rows = (
            await self.session.scalars(
                sa.select(DealEventRow)
                .where(DealEventRow.deal_id == deal_id, DealEventRow.version > version)  # type: ignore[arg-type]
                .order_by(DealEventRow.id)  # type: ignore[arg-type]
            )
        ).all()
        return [
            DealEvent(r.version, r.actor, r.actor_team, r.changes, r.source, r.at) for r in rows
        ]


def _join(
    rows: Sequence[DealRow], trios: Sequence[TrioMemberRow], steps: Sequence[NextStepRow]
) -> list[Deal]:
    trio_of: dict[int, list[TrioMemberRow]] = {}
    for member in trios:
        trio_of.setdefault(member.deal_id, []).append(member)
    step_of = {step.deal_id: step for step in steps}
    return [_to_deal(r, trio_of.get(r.id or 0, []), step_of.get(r.id or 0)) for r in rows]


# Enum members by their stored value: a dict lookup, not an Enum call per row (digests and
# lists turn tens of thousands of rows into deals).
_STAGE = {s.value: s for s in Stage}
_STATUS = {s.value: s for s in Status}
_ROLE = {r.value: r for r in Role}
_ATTRIBUTION = {a.value: a for a in Attribution}
_FORECAST = {f.value: f for f in ForecastCategory}
# The deal's fields stored by value and read back as enum members (store.deals derives a
# changed deal with them).
ENUM_FIELDS: dict[str, dict[Any, Any]] = {
    "stage": _STAGE, "status": _STATUS, "attribution": _ATTRIBUTION,
    "forecast_category": _FORECAST,
}  # fmt: skip
# The trio's order: seller, alliance manager, then partner companies as they joined the deal.
_ROLE_RANK = {r.value: i for i, r in enumerate(Role)}
_NO_COSELL: frozenset[str] = frozenset()


# The columns `_assemble_where` reads, in the order `_deal_of` and its loop unpack them.
DEAL_COLUMNS = (
    DealRow.id, DealRow.key, DealRow.name, DealRow.account, DealRow.amount, DealRow.currency,
    DealRow.close_date, DealRow.stage, DealRow.status, DealRow.attribution, DealRow.partner,
    DealRow.cosell, DealRow.internal_notes, DealRow.trigger_reason, DealRow.close_reason,
    DealRow.forecast_category, DealRow.version, DealRow.created_by, DealRow.updated_by,
    DealRow.updated_at,
)  # fmt: skip
MEMBER_COLUMNS = (
    TrioMemberRow.id, TrioMemberRow.deal_id, TrioMemberRow.role, TrioMemberRow.user_id,
    TrioMemberRow.team_id, TrioMemberRow.is_external, TrioMemberRow.synced_version,
    TrioMemberRow.last_acted_at, TrioMemberRow.partner_kind,
)  # fmt: skip
STEP_COLUMNS = (
    NextStepRow.id, NextStepRow.deal_id, NextStepRow.text, NextStepRow.owner_role,
    NextStepRow.owner_user, NextStepRow.due, NextStepRow.set_by,
)  # fmt: skip


# A chunk of deals as the digests glance at them (`DealReads.glances`), built once. The trio's
# last action comes with the deal: one time to read instead of three (a morning reads half a
# million deals, and a time is the costliest value to read).
_GLANCE_IDS = sa.bindparam("glance_ids", expanding=True)
_TRIO_LAST_ACTED = sa.type_coerce(
    sa.select(sa.func.max(TrioMemberRow.last_acted_at))
    .where(TrioMemberRow.deal_id == DealRow.id)  # type: ignore[arg-type]
    .scalar_subquery(),
    UTCDateTime,
)
_GLANCE_DEALS = (
    sa.select(
        DealRow.id,
        DealRow.key,
        DealRow.name,
        DealRow.status,
        DealRow.created_by,
        DealRow.updated_at,
        _TRIO_LAST_ACTED,
        NextStepRow.text,
        NextStepRow.owner_user,
        NextStepRow.due,
    )
    .select_from(DealRow)
    .outerjoin(
        NextStepRow,
        sa.and_(NextStepRow.deal_id == DealRow.id, NextStepRow.status == "open"),  # type: ignore[arg-type]
    )
    .where(DealRow.id.in_(_GLANCE_IDS))  # type: ignore[union-attr]
    .order_by(DealRow.id)  # type: ignore[arg-type]
)
_GLANCE_TRIOS = sa.select(
    TrioMemberRow.deal_id, TrioMemberRow.id, TrioMemberRow.role, TrioMemberRow.user_id
).where(TrioMemberRow.deal_id.in_(_GLANCE_IDS))  # type: ignore[attr-defined]

# The deal aggregate (deal, trio, open step) by id, built once: the most frequent read, run
# at least twice per change. Building it each time cost a few hundred Python calls.
_AGGREGATE = (
    sa.select(*DEAL_COLUMNS, *MEMBER_COLUMNS, *STEP_COLUMNS)
    .select_from(DealRow)
    .outerjoin(TrioMemberRow, TrioMemberRow.deal_id == DealRow.id)  # type: ignore[arg-type]
    .outerjoin(
        NextStepRow,
        sa.and_(NextStepRow.deal_id == DealRow.id, NextStepRow.status == "open"),  # type: ignore[arg-type]
    )
    .where(DealRow.id == sa.bindparam("deal_id"))  # type: ignore[arg-type]
)
_AGGREGATE_LOCKED = _AGGREGATE.with_for_update(of=DealRow)  # type: ignore[arg-type]
# Locked for a change, with whether the deal has a CRM link and an AWS opportunity.
_AGGREGATE_FOR_CHANGE = _AGGREGATE.add_columns(
    sa.exists().where(CrmLinkRow.deal_id == DealRow.id),  # type: ignore[arg-type]
    sa.exists().where(
        AwsSubmissionRow.deal_id == DealRow.id,  # type: ignore[arg-type]
        AwsSubmissionRow.opportunity_id.is_not(None),  # type: ignore[union-attr]
    ),
).with_for_update(of=DealRow)  # type: ignore[arg-type]
# The same, with whether each trio member has opened App Home (the card pass's read).
_AGGREGATE_WITH_HOMES = _AGGREGATE.add_columns(
    UserPrefRow.home_opened_at.is_not(None)  # type: ignore[union-attr]
).outerjoin(UserPrefRow, UserPrefRow.user_id == TrioMemberRow.user_id)  # type: ignore[arg-type]


# Where each table's columns start in a row of `get` (deal, then member, then step columns).
_MEMBER_AT = len(DEAL_COLUMNS)
_STEP_AT = _MEMBER_AT + len(MEMBER_COLUMNS)
_HOME_AT = _STEP_AT + len(STEP_COLUMNS)


def _aggregate_of(rows: Sequence[Any]) -> Deal:
    """The deal from the rows of `_AGGREGATE`: at most one open step, so the rows are the
    trio members (or one row without any), plain rows of known columns unpacked by position
    (no ORM objects to build)."""
    members = sorted(
        (row[_MEMBER_AT:_STEP_AT] for row in rows if row[_MEMBER_AT] is not None),
        key=lambda m: (_ROLE_RANK[m[2]], m[0]),
    )
    trio = [_member_of(m) for m in members]
    first = rows[0]
    step = _step(first[_STEP_AT:_HOME_AT]) if first[_STEP_AT] is not None else None
    return _deal_of(first[:_MEMBER_AT], trio, step)


def _deal_of(row: Any, trio: Sequence[TrioMember], step: NextStep | None) -> Deal:
    """A deal from a row of DEAL_COLUMNS and its trio (in order) and open step."""
    (
        deal_id, key, name, account, amount, currency, close_date, stage, status, attribution,
        partner, cosell, notes, trigger, close_reason, forecast, version, created_by, updated_by,
        updated_at,
    ) = row  # fmt: skip
    return Deal(
        deal_id, key, name, account, amount, currency, close_date, _STAGE[stage], _STATUS[status],
        _ATTRIBUTION[attribution] if attribution else None, partner,
        frozenset(cosell) if cosell else _NO_COSELL, version, created_by, updated_by, updated_at,
        tuple(trio), step, notes or "", _FORECAST[forecast] if forecast else None,
        trigger or "", close_reason or "",
    )  # fmt: skip


def _member_of(row: Any) -> TrioMember:
    """A trio member from a row of MEMBER_COLUMNS' values."""
    _id, _deal, role, user, team, external, synced, acted, kind = row
    return TrioMember(_ROLE[role], user, team, external, synced, acted, kind)


def _member(m: TrioMemberRow) -> TrioMember:
    return TrioMember(
        _ROLE[m.role], m.user_id, m.team_id, m.is_external, m.synced_version, m.last_acted_at,
        m.partner_kind,
    )  # fmt: skip


def _step(row: Any) -> NextStep:
    """An open step from a row of STEP_COLUMNS' values (id, deal, text, role, owner, due, by)."""
    step_id, _deal, text, owner_role, owner, due, set_by = row
    return NextStep(
        step_id or 0, text, _ROLE[owner_role] if owner_role else None, owner, due, set_by
    )


def _to_deal(row: DealRow, trio: Sequence[TrioMemberRow], step: NextStepRow | None) -> Deal:
    """A deal from its ORM rows: the same construction as `_deal_of`, by the same columns."""
    assert row.id is not None and row.key is not None
    if len(trio) > 1:
        trio = sorted(trio, key=lambda m: (_ROLE_RANK[m.role], m.id or 0))
    values = tuple(getattr(row, column.key) for column in DEAL_COLUMNS)
    open_step = _step(tuple(getattr(step, c.key) for c in STEP_COLUMNS)) if step else None
    return _deal_of(values, [_member(m) for m in trio], open_step)

"""Deals as one aggregate: the deal with its trio and open next step, read and changed together
with compare-and-swap, and its audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.inputs import deal_key
from bot.domain.model import (
    Actor,
    Attribution,
    Deal,
    ForecastCategory,
    Mutation,
    NextStep,
    Role,
    Source,
    Stage,
    Status,
    TrioMember,
)
from store.db import upsert_insert
from store.models import (
    DealEventRow,
    DealRow,
    NextStepRow,
    RoomActivityRow,
    TrioMemberRow,
)
from store.types import UTCDateTime


@dataclass(frozen=True)
class DealEvent:
    version: int
    actor: str
    actor_team: str | None
    changes: dict[str, Any]
    source: str
    at: datetime


class DealRepository:
    """Deals with their trio and open next step, read and changed as one aggregate."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        *,
        name: str,
        account: str,
        amount: Decimal | None,
        currency: str,
        close_date: date | None,
        stage: Stage,
        actor: Actor,
        attribution: Attribution | None = None,
        trigger_reason: str = "",
        now: datetime,
    ) -> int:
        row = DealRow(
            name=name,
            account=account,
            amount=amount,
            currency=currency,
            close_date=close_date,
            stage=stage.value,
            attribution=attribution.value if attribution else None,
            trigger_reason=trigger_reason,
            cosell=["trigger"] if trigger_reason else [],
            created_by=actor.user_id,
            created_at=now,
            updated_by=actor.user_id,
            updated_at=now,
        )
        self.session.add(row)
        await self.session.flush()
        assert row.id is not None
        row.key = deal_key(row.id)
        self.session.add(
            DealEventRow(
                deal_id=row.id,
                version=1,
                actor=actor.user_id,
                actor_team=actor.team_id,
                changes={"created": [None, name]},
                source=Source.COMMAND.value,
                at=now,
            )
        )
        await self.session.flush()
        return row.id

    async def get(self, deal_id: int, *, for_update: bool = False) -> Deal | None:
        """The deal aggregate in one statement (deal, trio, open step); `for_update` locks the
        deal's row until commit (PostgreSQL), so concurrent changes queue instead of losing
        their compare-and-swap and retrying."""
        query = (
            sa.select(DealRow, TrioMemberRow, NextStepRow)
            .outerjoin(TrioMemberRow, TrioMemberRow.deal_id == DealRow.id)  # type: ignore[arg-type]
            .outerjoin(
                NextStepRow,
                sa.and_(NextStepRow.deal_id == DealRow.id, NextStepRow.status == "open"),  # type: ignore[arg-type]
            )
            .where(DealRow.id == deal_id)  # type: ignore[arg-type]
        )
        if for_update:
            query = query.with_for_update(of=DealRow)  # type: ignore[arg-type]
        rows = (await self.session.execute(query.execution_options(populate_existing=True))).all()
        if not rows:
            return None
        # At most one open step, so the rows are the trio members (or one row without any).
        trio = {id(m): m for _, m, _ in rows if m is not None}
        return _to_deal(rows[0][0], list(trio.values()), rows[0][2])

    async def lock(self, deal_id: int) -> None:
        """Lock the deal's row until commit (PostgreSQL). Every transaction that writes rows
        of a deal (trio, steps, audit) takes this first, so locks are always taken deal first
        and two of them can never wait on each other in a circle (a deadlock)."""
        await self.session.execute(
            sa.select(DealRow.id).where(DealRow.id == deal_id).with_for_update()  # type: ignore[arg-type]
        )

    async def version_of(self, deal_id: int) -> int | None:
        return await self.session.scalar(sa.select(DealRow.version).where(DealRow.id == deal_id))  # type: ignore[arg-type]

    async def apply(
        self, deal: Deal, mutation: Mutation, *, actor: Actor, source: Source, now: datetime
    ) -> bool:
        """Compare-and-swap the deal's version, then write the change and its audit event.

        Returns False (having written nothing) when the deal is no longer at `deal.version`.
        """
        values = {k: _column_value(v) for k, v in mutation.fields.items()}
        if "status" in values:
            # Closing stamps the time the deal closed; reopening clears it.
            values["closed_at"] = None if values["status"] == Status.OPEN.value else now
        result = await self.session.execute(
            sa.update(DealRow)
            .where(DealRow.id == deal.id, DealRow.version == deal.version)  # type: ignore[arg-type]
            .values(**values, version=deal.version + 1, updated_by=actor.user_id, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        for member in mutation.trio:
            await self._put_member(deal.id, member)
        if mutation.step is not None:
            await self._apply_step(deal, mutation, actor=actor, now=now)
        await self._touch(deal.id, actor.user_id, now)
        self.session.add(
            DealEventRow(
                deal_id=deal.id,
                version=deal.version + 1,
                actor=actor.user_id,
                actor_team=actor.team_id,
                changes={k: [old, new] for k, (old, new) in mutation.audit.items()},
                source=source.value,
                at=now,
            )
        )
        await self.session.flush()
        return True

    async def _put_member(self, deal_id: int, member: TrioMember) -> None:
        await self.session.execute(
            sa.delete(TrioMemberRow).where(
                TrioMemberRow.deal_id == deal_id,  # type: ignore[arg-type]
                TrioMemberRow.role == member.role.value,  # type: ignore[arg-type]
            )
        )
        self.session.add(
            TrioMemberRow(
                deal_id=deal_id,
                role=member.role.value,
                user_id=member.user_id,
                team_id=member.team_id,
                is_external=member.is_external,
            )
        )
        await self.session.flush()

    async def _apply_step(
        self, deal: Deal, mutation: Mutation, *, actor: Actor, now: datetime
    ) -> None:
        step = mutation.step
        assert step is not None
        open_step = sa.update(NextStepRow).where(
            NextStepRow.deal_id == deal.id,  # type: ignore[arg-type]
            NextStepRow.status == "open",  # type: ignore[arg-type]
        )
        if step.kind == "complete":
            await self.session.execute(
                open_step.values(
                    status="done", done_by=actor.user_id, done_at=now
                ).execution_options(synchronize_session=False)
            )
            return
        await self.session.execute(
            open_step.values(status="replaced").execution_options(synchronize_session=False)
        )
        self.session.add(
            NextStepRow(
                deal_id=deal.id,
                text=step.text,
                owner_role=step.owner_role.value if step.owner_role else None,
                owner_user=step.owner_user,
                due=step.due,
                set_by=actor.user_id,
                set_at=now,
            )
        )
        await self.session.flush()

    async def _touch(self, deal_id: int, user_id: str, now: datetime) -> None:
        await self.touch_activity(deal_id, user_id, now)

    async def record_sync(
        self, deal: Deal, actor: Actor, seen_version: int, now: datetime, *, source: Source
    ) -> None:
        """Record that `actor` saw `seen_version`; an acknowledgement, not a change of the deal."""
        await self.session.execute(
            sa.update(TrioMemberRow)
            .where(
                TrioMemberRow.deal_id == deal.id,  # type: ignore[arg-type]
                TrioMemberRow.user_id == actor.user_id,  # type: ignore[arg-type]
                TrioMemberRow.synced_version < seen_version,  # type: ignore[arg-type]
            )
            .values(synced_version=seen_version)
            .execution_options(synchronize_session=False)
        )
        await self._touch(deal.id, actor.user_id, now)
        self.session.add(
            DealEventRow(
                deal_id=deal.id,
                version=deal.version,
                actor=actor.user_id,
                actor_team=actor.team_id,
                changes={"synced": [None, seen_version]},
                source=source.value,
                at=now,
            )
        )

    async def note_member_team(
        self, deal_id: int, user_id: str, *, team_id: str, is_external: bool
    ) -> None:
        """Learn a trio member's org from their own interaction (not a change of the deal)."""
        await self.session.execute(
            sa.update(TrioMemberRow)
            .where(
                TrioMemberRow.deal_id == deal_id,  # type: ignore[arg-type]
                TrioMemberRow.user_id == user_id,  # type: ignore[arg-type]
                sa.or_(TrioMemberRow.team_id.is_(None), TrioMemberRow.team_id != team_id),  # type: ignore[union-attr]
            )
            .values(team_id=team_id, is_external=is_external)
            .execution_options(synchronize_session=False)
        )

    async def touch_activity(self, deal_id: int, user_id: str, at: datetime) -> bool:
        """Move a trio member's last activity forward to `at`; True if a row changed."""
        result = await self.session.execute(
            sa.update(TrioMemberRow)
            .where(
                TrioMemberRow.deal_id == deal_id,  # type: ignore[arg-type]
                TrioMemberRow.user_id == user_id,  # type: ignore[arg-type]
                sa.or_(
                    TrioMemberRow.last_acted_at.is_(None),  # type: ignore[union-attr]
                    TrioMemberRow.last_acted_at < at,  # type: ignore[operator]
                ),
            )
            .values(last_acted_at=at)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def note_room_message(self, deal_id: int, user_id: str, at: datetime) -> None:
        """Keep the day's first and last message of a trio member in a deal room (members
        only; a re-delivered or out-of-order message widens the day at most)."""
        insert = upsert_insert(self.session)
        member = sa.select(
            sa.literal(deal_id),
            sa.literal(user_id),
            sa.literal(at.astimezone(UTC).date(), sa.Date),
            sa.literal(at, UTCDateTime),
            sa.literal(at, UTCDateTime),
        ).where(
            sa.exists().where(
                TrioMemberRow.deal_id == deal_id,  # type: ignore[arg-type]
                TrioMemberRow.user_id == user_id,  # type: ignore[arg-type]
            )
        )
        stmt = insert(RoomActivityRow).from_select(
            ["deal_id", "user_id", "day", "first_at", "last_at"], member
        )
        table = RoomActivityRow.__table__.c  # type: ignore[attr-defined]
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["deal_id", "user_id", "day"],
                set_={
                    "first_at": sa.case(
                        (stmt.excluded.first_at < table.first_at, stmt.excluded.first_at),
                        else_=table.first_at,
                    ),
                    "last_at": sa.case(
                        (stmt.excluded.last_at > table.last_at, stmt.excluded.last_at),
                        else_=table.last_at,
                    ),
                },
            )
        )

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

    def deal_ids_of_members(self, user_ids: Sequence[str]) -> sa.Select[Any]:
        return sa.select(TrioMemberRow.deal_id).where(TrioMemberRow.user_id.in_(list(user_ids)))  # type: ignore[attr-defined]

    async def _assemble_where(self, *conditions: Any) -> list[Deal]:
        """Deals matching `conditions` with their trios and open steps, in three queries; the
        children are selected by the same conditions, never by a (possibly huge) id list.
        Plain rows, not ORM objects: no identity map to fill, a fraction of the memory."""
        ids = sa.select(DealRow.id).where(*conditions)
        deals, members, steps = (
            DealRow.__table__,
            TrioMemberRow.__table__,
            NextStepRow.__table__,  # type: ignore[attr-defined]
        )
        rows = (await self.session.execute(sa.select(deals).where(*conditions))).all()
        trios = (
            await self.session.execute(sa.select(members).where(members.c.deal_id.in_(ids)))
        ).all()
        open_steps = (
            await self.session.execute(
                sa.select(steps).where(steps.c.deal_id.in_(ids), steps.c.status == "open")
            )
        ).all()
        return _join(rows, trios, open_steps)  # type: ignore[arg-type]

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


def _column_value(value: object) -> object:
    if isinstance(value, Stage | Status | Attribution | ForecastCategory):
        return value.value
    return value


def _to_deal(row: DealRow, trio: Sequence[TrioMemberRow], step: NextStepRow | None) -> Deal:
    assert row.id is not None and row.key is not None
    return Deal(
        id=row.id,
        key=row.key,
        name=row.name,
        account=row.account,
        amount=row.amount,
        currency=row.currency,
        close_date=row.close_date,
        stage=Stage(row.stage),
        status=Status(row.status),
        attribution=Attribution(row.attribution) if row.attribution else None,
        partner=row.partner,
        cosell=frozenset(row.cosell or ()),
        internal_notes=row.internal_notes or "",
        trigger_reason=row.trigger_reason or "",
        close_reason=row.close_reason or "",
        forecast_category=ForecastCategory(row.forecast_category)
        if row.forecast_category
        else None,
        version=row.version,
        created_by=row.created_by,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
        trio=tuple(
            sorted(
                (
                    TrioMember(
                        role=Role(m.role),
                        user_id=m.user_id,
                        team_id=m.team_id,
                        is_external=m.is_external,
                        synced_version=m.synced_version,
                        last_acted_at=m.last_acted_at,
                    )
                    for m in trio
                ),
                key=lambda m: list(Role).index(m.role),
            )
        ),
        next_step=(
            NextStep(
                id=step.id or 0,
                text=step.text,
                owner_role=Role(step.owner_role) if step.owner_role else None,
                owner_user=step.owner_user,
                due=step.due,
                set_by=step.set_by,
            )
            if step
            else None
        ),
    )

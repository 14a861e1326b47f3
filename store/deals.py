"""Deals as one aggregate: the deal with its trio and open next step, read and changed together
with compare-and-swap, and its audit trail."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

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
    StepChange,
    TrioMember,
)
from store.change_statement import change_statement
from store.db import one_tenant_on_postgres, upsert_insert
from store.deal_reads import ENUM_FIELDS, DealReads
from store.models import (
    DealEventRow,
    DealRow,
    NextStepRow,
    RoomActivityRow,
    TrioMemberRow,
)
from store.tenancy import run_scoped
from store.tenants import TenantRepository
from store.types import UTCDateTime

# The statements every change runs, built once (building one costs a few hundred Python
# calls; a dict of parameters, never a list, keeps each a single UPDATE rather than the ORM's
# bulk update by primary key; a parameter may not share a column's name in an UPDATE).
_OPEN_STEP = sa.update(NextStepRow).where(
    NextStepRow.deal_id == sa.bindparam("step_deal"),  # type: ignore[arg-type]
    NextStepRow.status == "open",  # type: ignore[arg-type]
)
_REPLACE_STEP = _OPEN_STEP.values(status="replaced").execution_options(synchronize_session=False)
_COMPLETE_STEP = _OPEN_STEP.values(
    status="done", done_by=sa.bindparam("by"), done_at=sa.bindparam("at")
).execution_options(synchronize_session=False)
# One row each, every column named (a statement applies no model defaults); the unit of work's
# tenant is the column default of `tenant_id` (store.tenancy).
# "raw": the parameters are the statement's, as in Core; the ORM's "bulk" reading of a dict
# of values as rows to insert runs its unit-of-work machinery (a tenth of a change's CPU).
_INSERT_EVENT = sa.insert(DealEventRow).execution_options(dml_strategy="raw")
_INSERT_STEP = (
    sa.insert(NextStepRow)
    .returning(NextStepRow.id)  # type: ignore[arg-type]
    .execution_options(dml_strategy="raw")
)
_TOUCH = (
    sa.update(TrioMemberRow)
    .where(
        TrioMemberRow.deal_id == sa.bindparam("member_deal"),  # type: ignore[arg-type]
        TrioMemberRow.user_id == sa.bindparam("member_user"),  # type: ignore[arg-type]
        sa.or_(
            TrioMemberRow.last_acted_at.is_(None),  # type: ignore[union-attr]
            TrioMemberRow.last_acted_at < sa.bindparam("since"),  # type: ignore[operator]
        ),
    )
    .values(last_acted_at=sa.bindparam("acted"))
    .execution_options(synchronize_session=False)
)

# The actor of a change, when on the trio: they acted now (a last action only moves forward)
# and they saw the version they made. Without the second half, a seller who moved the stage
# read "behind (saw v3)" beside their own name on the card they had just changed.
_ACTED = (
    sa.update(TrioMemberRow)
    .where(
        TrioMemberRow.deal_id == sa.bindparam("member_deal"),  # type: ignore[arg-type]
        TrioMemberRow.user_id == sa.bindparam("member_user"),  # type: ignore[arg-type]
    )
    .values(
        last_acted_at=sa.case(
            (TrioMemberRow.last_acted_at.is_(None), sa.bindparam("acted")),  # type: ignore[union-attr]
            (TrioMemberRow.last_acted_at < sa.bindparam("acted"), sa.bindparam("acted")),  # type: ignore[operator]
            else_=TrioMemberRow.last_acted_at,
        ),
        synced_version=sa.bindparam("made_version"),
    )
    .execution_options(synchronize_session=False)
)


class DealRepository(DealReads):
    """Deals with their trio and open next step, read and changed as one aggregate."""

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
        number = await TenantRepository(self.session).take_deal_number()
        row = DealRow(
            number=number,
            key=deal_key(number),
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

    async def lock(self, deal_id: int) -> None:
        """Lock the deal's row until commit (PostgreSQL). Every transaction that writes rows
        of a deal (trio, steps, audit) takes this first, so locks are always taken deal first
        and two of them can never wait on each other in a circle (a deadlock)."""
        await self.session.execute(
            sa.select(DealRow.id).where(DealRow.id == deal_id).with_for_update()  # type: ignore[arg-type]
        )

    async def apply(
        self, deal: Deal, mutation: Mutation, *, actor: Actor, source: Source, now: datetime
    ) -> Deal | None:
        """Compare-and-swap the deal's version, then write the change and its audit event.

        Returns the deal as it now is, or None (having written nothing) when the deal is no
        longer at `deal.version`. The new state is derived from what was written (the deal
        is read again only when its trio changed, or its amount, whose scale is the column's).
        """
        values = {k: _column_value(v) for k, v in mutation.fields.items()}
        if "status" in values:
            # Closing stamps the time the deal closed; reopening clears it.
            values["closed_at"] = None if values["status"] == Status.OPEN.value else now
        values.update(version=deal.version + 1, updated_by=actor.user_id, updated_at=now)
        params = {f"set_{k}": v for k, v in values.items()}
        params.update(bump_id=deal.id, bump_version=deal.version)
        changes = {k: [old, new] for k, (old, new) in mutation.audit.items()}
        tenant = one_tenant_on_postgres(self.session)
        if tenant is not None and not mutation.trio and not mutation.trio_drop:
            return await self._apply_in_one(
                deal, mutation, values, params, changes, tenant=tenant, actor=actor,
                source=source, now=now,
            )  # fmt: skip
        result = await run_scoped(self.session, _bump(tuple(sorted(values))), params)
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        for user_id in mutation.trio_drop:
            await self.session.execute(
                sa.delete(TrioMemberRow).where(
                    TrioMemberRow.deal_id == deal.id,  # type: ignore[arg-type]
                    TrioMemberRow.role == Role.PARTNER.value,  # type: ignore[arg-type]
                    TrioMemberRow.user_id == user_id,  # type: ignore[arg-type]
                )
            )
        for member in mutation.trio:
            await self._put_member(deal.id, member)
        step_id = None
        if mutation.step is not None:
            step_id = await self._apply_step(deal, mutation, actor=actor, now=now)
        acted = {"member_deal": deal.id, "member_user": actor.user_id, "acted": now}
        await run_scoped(self.session, _ACTED, {**acted, "made_version": deal.version + 1})
        event = {
            "deal_id": deal.id,
            "version": deal.version + 1,
            "actor": actor.user_id,
            "actor_team": actor.team_id,
            "changes": changes,
            "source": source.value,
            "at": now,
        }
        await run_scoped(self.session, _INSERT_EVENT, event)
        return await self._after(deal, mutation, actor=actor, now=now, step_id=step_id)

    async def _after(
        self, deal: Deal, mutation: Mutation, *, actor: Actor, now: datetime, step_id: int | None
    ) -> Deal | None:
        """The deal once `mutation` is written: derived from it, or read again when the trio
        changed (new rows) or the amount did (the column sets its scale)."""
        if mutation.trio or mutation.trio_drop or "amount" in mutation.fields:
            return await self.get(deal.id)
        return changed(deal, mutation, actor=actor, now=now, step_id=step_id)

    async def _apply_in_one(
        self, deal: Deal, mutation: Mutation, values: dict[str, object],
        params: dict[str, object], changes: dict[str, list[object]], *, tenant: int,
        actor: Actor, source: Source, now: datetime,
    ) -> Deal | None:  # fmt: skip
        """`apply` on PostgreSQL for a change that leaves the trio alone: the deal, the open
        step, the trio member's last action and the audit event in one statement, and a new
        open step in a second."""
        step = mutation.step
        params.update(
            tenant=tenant, by=actor.user_id, at=now, ev_version=deal.version + 1,
            ev_actor=actor.user_id, ev_team=actor.team_id, ev_changes=changes,
            ev_source=source.value,
        )  # fmt: skip
        statement = change_statement(tuple(sorted(values)), step.kind if step else None)
        # On the session's connection, as Core: these statements name their tenant, so the
        # ORM's execution (scoping, ORM results) would add a third of their cost and nothing.
        connection = await self.session.connection()
        if not (await connection.execute(statement, params)).all():
            return None
        step_id = None
        if step is not None and step.kind != "complete":
            opened = _opened_step(deal.id, step, actor=actor, now=now)
            opened["tenant_id"] = tenant
            step_id = int((await connection.execute(_INSERT_STEP, opened)).scalar_one())
        return await self._after(deal, mutation, actor=actor, now=now, step_id=step_id)

    async def _put_member(self, deal_id: int, member: TrioMember) -> None:
        """Name a member: the seller or alliance manager replaces the one before; a partner
        rep is one more partner company (the one they replace, if any, is in `trio_drop`)."""
        same = [
            TrioMemberRow.deal_id == deal_id,  # type: ignore[arg-type]
            TrioMemberRow.role == member.role.value,  # type: ignore[arg-type]
        ]
        if member.role is Role.PARTNER:
            same.append(TrioMemberRow.user_id == member.user_id)  # type: ignore[arg-type]
        await self.session.execute(sa.delete(TrioMemberRow).where(*same))
        self.session.add(
            TrioMemberRow(
                deal_id=deal_id,
                role=member.role.value,
                user_id=member.user_id,
                team_id=member.team_id,
                is_external=member.is_external,
                partner_kind=member.kind,
            )
        )
        await self.session.flush()

    async def _apply_step(
        self, deal: Deal, mutation: Mutation, *, actor: Actor, now: datetime
    ) -> int | None:
        """Complete the open step, or replace it with a new one (whose id is returned)."""
        step = mutation.step
        assert step is not None
        if step.kind == "complete":
            params = {"step_deal": deal.id, "by": actor.user_id, "at": now}
            await run_scoped(self.session, _COMPLETE_STEP, params)
            return None
        await run_scoped(self.session, _REPLACE_STEP, {"step_deal": deal.id})
        return await self._open_step(deal.id, step, actor=actor, now=now)

    async def _open_step(
        self, deal_id: int, step: StepChange, *, actor: Actor, now: datetime
    ) -> int:
        """Insert the deal's new open step (the one before it closed already); its id."""
        opened = _opened_step(deal_id, step, actor=actor, now=now)
        result = await run_scoped(self.session, _INSERT_STEP, opened)
        return int(result.scalar_one())

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
        params = {"member_deal": deal_id, "member_user": user_id, "acted": at, "since": at}
        result = await run_scoped(self.session, _TOUCH, params)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def note_room_message(self, deal_id: int, user_id: str, at: datetime) -> None:
        """Keep the day's first and last message of a trio member in a deal room (members
        only; a re-delivered or out-of-order message widens the day at most)."""
        insert = upsert_insert(self.session)
        # One row if the writer is in the deal's trio (in whatever roles), none otherwise.
        member = (
            sa.select(
                TrioMemberRow.tenant_id,
                sa.literal(deal_id),
                sa.literal(user_id),
                sa.literal(at.astimezone(UTC).date(), sa.Date),
                sa.literal(at, UTCDateTime),
                sa.literal(at, UTCDateTime),
            )
            .where(
                TrioMemberRow.deal_id == deal_id,  # type: ignore[arg-type]
                TrioMemberRow.user_id == user_id,  # type: ignore[arg-type]
            )
            .limit(1)
        )
        stmt = insert(RoomActivityRow).from_select(
            ["tenant_id", "deal_id", "user_id", "day", "first_at", "last_at"], member
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


# The compare-and-swap UPDATE of a deal, one per set of columns a change writes (a handful of
# shapes, each built once): `set_<column>` for the values, `bump_id` and `bump_version` for
# the row and the version it must still be at.
_BUMPS: dict[tuple[str, ...], Any] = {}


def _bump(columns: tuple[str, ...]) -> Any:
    found = _BUMPS.get(columns)
    if found is None:
        found = (
            sa.update(DealRow)
            .where(
                DealRow.id == sa.bindparam("bump_id"),  # type: ignore[arg-type]
                DealRow.version == sa.bindparam("bump_version"),  # type: ignore[arg-type]
            )
            .values({name: sa.bindparam(f"set_{name}") for name in columns})
            .execution_options(synchronize_session=False)
        )
        _BUMPS[columns] = found
    return found


def _opened_step(
    deal_id: int, step: StepChange, *, actor: Actor, now: datetime
) -> dict[str, object]:
    """The row of a new open step (every column named: a statement applies no defaults)."""
    return {
        "deal_id": deal_id,
        "text": step.text,
        "owner_role": step.owner_role.value if step.owner_role else None,
        "owner_user": step.owner_user,
        "due": step.due,
        "status": "open",
        "set_by": actor.user_id,
        "set_at": now,
        "done_by": None,
        "done_at": None,
    }


def changed(
    deal: Deal, mutation: Mutation, *, actor: Actor, now: datetime, step_id: int | None
) -> Deal:
    """The deal after `apply` wrote `mutation` (its trio unchanged): the same values a fresh
    read returns, without the read (tests/store/test_deal_changes.py holds the two equal)."""
    fields: dict[str, Any] = dict(mutation.fields)
    for name, by_value in ENUM_FIELDS.items():
        if fields.get(name) is not None:
            fields[name] = by_value[_column_value(fields[name])]
    if "cosell" in fields:
        fields["cosell"] = frozenset(fields["cosell"] or ())
    for text in ("internal_notes", "trigger_reason", "close_reason"):
        if text in fields:
            fields[text] = fields[text] or ""
    step = mutation.step
    if step is not None:
        fields["next_step"] = (
            None
            if step.kind == "complete"
            else NextStep(
                step_id or 0, step.text, step.owner_role, step.owner_user, step.due, actor.user_id
            )
        )
    at = now.astimezone(UTC)  # as every time is read back
    trio = tuple(
        replace(
            m,
            last_acted_at=at
            if m.last_acted_at is None or m.last_acted_at < at
            else m.last_acted_at,
            synced_version=deal.version + 1,  # they saw the version they made
        )
        if m.user_id == actor.user_id
        else m
        for m in deal.trio
    )
    return replace(
        deal, **fields, trio=trio, version=deal.version + 1, updated_by=actor.user_id,
        updated_at=at,
    )  # fmt: skip


def _column_value(value: object) -> object:
    if isinstance(value, Stage | Status | Attribution | ForecastCategory):
        return value.value
    return value

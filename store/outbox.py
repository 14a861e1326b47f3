"""The CRM outbox: outcomes and their per-side deliveries, claimed with leases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.outbox import Outcome
from store.models import CrmHealthRow, OutboxRow, OutcomeRow


@dataclass(frozen=True)
class Delivery:
    id: int
    deal_id: int
    side: str
    body: str
    idempotency_key: str
    attempts: int
    status: str
    last_error: str | None
    # A partner company that installed PTM: its own connector receives this delivery.
    target_tenant: int | None = None
    kind: str = "outcome"  # or "update": a write-back of CRM-owned fields
    company: str = ""


def _latest_states() -> Any:
    """The statement behind `latest_states`, for the deals in the expanding parameter `deals`."""
    deals = sa.bindparam("deals", expanding=True)
    latest = (
        sa.select(sa.func.max(OutboxRow.outcome_id))
        .where(OutboxRow.deal_id.in_(deals), OutboxRow.kind == "outcome")  # type: ignore[attr-defined,arg-type]
        .group_by(OutboxRow.deal_id)
    )
    outcomes = sa.select(
        sa.literal("outcome"), OutboxRow.deal_id, OutboxRow.side, OutboxRow.company,
        OutboxRow.status, OutboxRow.attempts, OutboxRow.id.label("row_id"),  # type: ignore[union-attr]
    ).where(OutboxRow.outcome_id.in_(latest))  # type: ignore[attr-defined]  # fmt: skip
    # A write-back of the record's fields that has not gone through yet (retrying, or given
    # up): the newest one per deal, as the card's "our CRM record" state.
    writes = sa.select(
        sa.literal("record"), OutboxRow.deal_id, sa.literal(""), sa.literal(""),
        OutboxRow.status, OutboxRow.attempts, OutboxRow.id,
    ).where(
        OutboxRow.deal_id.in_(deals),  # type: ignore[attr-defined]
        OutboxRow.kind == "update",  # type: ignore[arg-type]
        sa.or_(
            OutboxRow.status == "dead",  # type: ignore[arg-type]
            sa.and_(OutboxRow.status == "pending", OutboxRow.attempts > 0),  # type: ignore[arg-type,operator]
        ),
    )  # fmt: skip
    # A side whose connector an admin must fix reads so on every card, outcome or not.
    refused = sa.select(
        sa.literal("attention"), sa.cast(sa.null(), sa.Integer), CrmHealthRow.side,
        sa.literal(""), sa.literal(""), sa.literal(0), sa.literal(0),
    ).where(CrmHealthRow.needs_attention)  # type: ignore[arg-type]  # fmt: skip
    return sa.union_all(outcomes, writes, refused).order_by(sa.literal_column("row_id"))


# Built once: a card pass asks on every change, and building it cost a thousand Python calls.
_LATEST_STATES = _latest_states()


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_outcome(self, deal_id: int, outcome: Outcome) -> int:
        row = OutcomeRow(
            deal_id=deal_id,
            text=outcome.text,
            meeting_date=outcome.meeting_date,
            result=outcome.result,
            logged_by=outcome.logged_by,
            logged_at=outcome.logged_at,
        )
        self.session.add(row)
        await self.session.flush()
        assert row.id is not None
        return row.id

    async def has_outcome(
        self, deal_id: int, *, text: str, logged_by: str, since: datetime
    ) -> bool:
        """Whether this person logged this very outcome on the deal since `since`."""
        found = await self.session.scalar(
            sa.select(OutcomeRow.id)
            .where(
                OutcomeRow.deal_id == deal_id,  # type: ignore[arg-type]
                OutcomeRow.logged_by == logged_by,  # type: ignore[arg-type]
                OutcomeRow.text == text,  # type: ignore[arg-type]
                OutcomeRow.logged_at >= since,  # type: ignore[arg-type,operator]
            )
            .limit(1)
        )
        return found is not None

    async def enqueue(
        self,
        *,
        outcome_id: int | None,
        deal_id: int,
        side: str,
        body: str,
        key: str,
        status: str,
        now: datetime,
        target_tenant: int | None = None,
        company: str = "",
        kind: str = "outcome",
    ) -> None:
        self.session.add(
            OutboxRow(
                kind=kind,
                outcome_id=outcome_id,
                deal_id=deal_id,
                side=side,
                idempotency_key=key,
                body=body,
                status=status,
                next_attempt_at=now,
                target_tenant=target_tenant,
                company=company,
            )
        )
        await self.session.flush()

    async def due(self, now: datetime, *, limit: int = 50) -> list[int]:
        rows = await self.session.scalars(
            sa.select(OutboxRow.id)
            .where(_due(now))
            .order_by(OutboxRow.next_attempt_at)  # type: ignore[arg-type]
            .limit(limit)
        )
        return list(rows.all())

    async def tenants_with_due(self, now: datetime) -> set[int]:
        """Of the tenants this unit of work is for, those with a delivery due (one query)."""
        rows = await self.session.scalars(
            sa.select(OutboxRow.tenant_id).where(_due(now)).distinct()
        )
        return set(rows.all())

    async def claim(
        self, row_id: int, *, owner: str, now: datetime, lease_until: datetime
    ) -> Delivery | None:
        """Take one delivery; exactly one worker wins, a crashed one's lease runs out."""
        result = await self.session.execute(
            sa.update(OutboxRow)
            .where(
                OutboxRow.id == row_id,
                OutboxRow.status == "pending",  # type: ignore[arg-type]
                sa.or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until < now),
            )  # type: ignore[union-attr,operator]
            .values(lease_until=lease_until, claimed_by=owner)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        row = await self.session.get(OutboxRow, row_id, populate_existing=True)
        assert row is not None and row.id is not None
        return Delivery(
            row.id,
            row.deal_id,
            row.side,
            row.body,
            row.idempotency_key,
            row.attempts,
            row.status,
            row.last_error,
            row.target_tenant,
            row.kind,
            row.company,
        )

    async def release(self, owner: str) -> int:
        """Give back the pending deliveries `owner` claimed (at shutdown)."""
        result = await self.session.execute(
            sa.update(OutboxRow)
            .where(OutboxRow.claimed_by == owner, OutboxRow.status == "pending")  # type: ignore[arg-type]
            .values(lease_until=None, claimed_by=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def finish(self, row_id: int, *, owner: str, **values: object) -> None:
        await self.session.execute(
            sa.update(OutboxRow)
            .where(OutboxRow.id == row_id, OutboxRow.claimed_by == owner)  # type: ignore[arg-type]
            .values(lease_until=None, **values)
        )

    async def latest_states(self, deal_ids: Sequence[int]) -> dict[int, dict[str, tuple[str, int]]]:
        """Per deal, per side: (status, attempts) of its latest logged outcome, the newest
        write-back that has not gone through, and the sides whose connector needs an admin —
        one statement (a card pass asks on every change)."""
        ids = list(deal_ids)
        rows = await self.session.execute(_LATEST_STATES, {"deals": ids})
        states: dict[int, dict[str, tuple[str, int]]] = {}
        attention = []
        for what, deal_id, side, company, status, attempts, _id in rows.all():
            if what == "outcome":
                # One state per side, and per partner company on the partner side ("partner:T1").
                key = f"{side}:{company}" if company else side
                states.setdefault(deal_id, {})[key] = (status, attempts)
            elif what == "record":
                states.setdefault(deal_id, {})["record"] = (status, attempts)
            else:
                attention.append(side)
        for side in attention:
            for deal_id in ids:
                waiting = states.setdefault(deal_id, {}).get(side, ("", 0))[1]
                states[deal_id][side] = ("attention", waiting)
        return states

    async def listing(self, statuses: Sequence[str]) -> list[Delivery]:
        rows = (
            await self.session.scalars(
                sa.select(OutboxRow)
                .where(OutboxRow.status.in_(list(statuses)))
                .order_by(OutboxRow.id)  # type: ignore[attr-defined,arg-type]
            )
        ).all()
        return [
            Delivery(
                r.id or 0,
                r.deal_id,
                r.side,
                r.body,
                r.idempotency_key,
                r.attempts,
                r.status,
                r.last_error,
                r.target_tenant,
                r.kind,
                r.company,
            )
            for r in rows
        ]

    async def revive_dead(self, now: datetime) -> int:
        result = await self.session.execute(
            sa.update(OutboxRow)
            .where(OutboxRow.status == "dead")  # type: ignore[arg-type]
            .values(status="pending", attempts=0, next_attempt_at=now, lease_until=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        OutboxRow.status == "pending",  # type: ignore[arg-type]
        OutboxRow.next_attempt_at <= now,  # type: ignore[arg-type,operator]
        sa.or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until < now),  # type: ignore[union-attr,operator]
    )

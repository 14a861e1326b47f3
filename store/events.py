"""Slack messages received: dedupe of re-deliveries, and bot mentions kept until applied."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from store.db import upsert_insert
from store.models import (
    ProcessedEventRow,
)


class ProcessedEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def prune(self, *, older_than: datetime) -> int:
        result = await self.session.execute(
            sa.delete(ProcessedEventRow).where(ProcessedEventRow.received_at < older_than)  # type: ignore[arg-type]
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def receive(self, key: str, payload: str, now: datetime) -> None:
        """Keep a received message until it is applied (nothing if it is known already)."""
        insert = upsert_insert(self.session)
        await self.session.execute(
            insert(ProcessedEventRow)
            .values(event_id=key, received_at=now, payload=payload, done=False)
            .on_conflict_do_nothing(index_elements=["tenant_id", "event_id"])
        )

    async def take(self, key: str, payload: str, *, now: datetime, until: datetime) -> bool:
        """Become the one process applying this message: False when it is done, or another
        process holds it (a live lease)."""
        await self.receive(key, payload, now)
        row = ProcessedEventRow
        result = await self.session.execute(
            sa.update(row)
            .where(
                row.event_id == key,  # type: ignore[arg-type]
                row.done.is_(False),  # type: ignore[attr-defined]
                sa.or_(row.lease_until.is_(None), row.lease_until < now),  # type: ignore[union-attr,operator]
            )
            .values(lease_until=until)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def finish_pending(self, key: str) -> bool:
        """Mark a message applied; False when it already was (by another process)."""
        result = await self.session.execute(
            sa.update(ProcessedEventRow)
            .where(
                ProcessedEventRow.event_id == key,  # type: ignore[arg-type]
                ProcessedEventRow.done.is_(False),  # type: ignore[attr-defined]
            )
            .values(done=True, payload=None, lease_until=None)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def finish(self, key: str) -> None:
        await self.session.execute(
            sa.update(ProcessedEventRow)
            .where(ProcessedEventRow.event_id == key)  # type: ignore[arg-type]
            .values(done=True, payload=None, lease_until=None)
        )

    async def stalled(
        self, *, now: datetime, received_before: datetime, limit: int = 50
    ) -> list[tuple[str, str]]:
        """Messages received but never applied: no process took them by `received_before`,
        or the one that did let its lease lapse (it died)."""
        row = ProcessedEventRow
        rows = await self.session.execute(
            sa.select(row.event_id, row.payload)
            .where(_stalled(now, received_before))
            .order_by(row.received_at)  # type: ignore[arg-type]
            .limit(limit)
        )
        return [(str(k), str(p)) for k, p in rows.all()]

    async def tenants_with_stalled(self, *, now: datetime, received_before: datetime) -> set[int]:
        """Of the tenants this unit of work is for, those with a stalled message (one query)."""
        rows = await self.session.scalars(
            sa.select(ProcessedEventRow.tenant_id).where(_stalled(now, received_before)).distinct()
        )
        return set(rows.all())


def _stalled(now: datetime, received_before: datetime) -> sa.ColumnElement[bool]:
    row = ProcessedEventRow
    return sa.and_(
        row.done.is_(False),  # type: ignore[attr-defined]
        row.payload.is_not(None),  # type: ignore[union-attr]
        sa.or_(
            sa.and_(row.lease_until.is_(None), row.received_at < received_before),  # type: ignore[union-attr,operator]
            row.lease_until < now,  # type: ignore[operator]
        ),
    )

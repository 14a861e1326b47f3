"""Deals linked to CRM records, and each side's connector health and reconciliation mark."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import CrmHealthRow, CrmLinkRow, OutboxRow


@dataclass(frozen=True)
class CrmLink:
    deal_id: int
    side: str
    company: str
    kind: str
    record_id: str
    modified_at: datetime


@dataclass(frozen=True)
class CrmHealth:
    side: str
    needs_attention: bool
    detail: str
    reconciled_at: datetime | None


class CrmLinkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_deal(self, deal_id: int) -> list[CrmLink]:
        rows = await self.session.scalars(
            sa.select(CrmLinkRow).where(CrmLinkRow.deal_id == deal_id)
        )
        return [_link(r) for r in rows.all()]

    async def by_records(self, kind: str, record_ids: Collection[str]) -> list[CrmLink]:
        """The links to any of `record_ids` (one query, the kind+record index)."""
        if not record_ids:
            return []
        rows = await self.session.scalars(
            sa.select(CrmLinkRow).where(
                CrmLinkRow.kind == kind,
                CrmLinkRow.record_id.in_(list(record_ids)),  # type: ignore[attr-defined]
            )
        )
        return [_link(r) for r in rows.all()]

    async def deal_of_record(self, side: str, kind: str, record_id: str) -> int | None:
        return await self.session.scalar(
            sa.select(CrmLinkRow.deal_id).where(
                CrmLinkRow.side == side, CrmLinkRow.kind == kind, CrmLinkRow.record_id == record_id
            )
        )

    async def put(self, link: CrmLink, *, by: str, now: datetime) -> None:
        """Link (or re-link) the deal's side to a record."""
        row = await self.session.scalar(
            sa.select(CrmLinkRow).where(
                CrmLinkRow.deal_id == link.deal_id,
                CrmLinkRow.side == link.side,
                CrmLinkRow.company == link.company,
            )
        )
        if row is None:
            row = CrmLinkRow(
                deal_id=link.deal_id, side=link.side, company=link.company, kind=link.kind,
                record_id=link.record_id, modified_at=link.modified_at, linked_by=by, linked_at=now,
            )  # fmt: skip
            self.session.add(row)
        else:
            row.kind, row.record_id, row.modified_at = link.kind, link.record_id, link.modified_at
            row.linked_by, row.linked_at = by, now
        await self.session.flush()

    async def advance(self, deal_id: int, side: str, modified_at: datetime) -> bool:
        """Record that the deal now holds the record as of `modified_at`, unless it already
        holds a newer one: True when it moved forward (the caller's change stands)."""
        result = await self.session.execute(
            sa.update(CrmLinkRow)
            .where(
                CrmLinkRow.deal_id == deal_id,
                CrmLinkRow.side == side,
                CrmLinkRow.modified_at < modified_at,  # type: ignore[operator]
            )
            .values(modified_at=modified_at)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def pending_writes(self, deal_id: int) -> list[tuple[list[str], datetime]]:
        """The write-backs of the deal still waiting: (fields, when PTM changed them)."""
        bodies = await self.session.scalars(
            sa.select(OutboxRow.body).where(
                OutboxRow.deal_id == deal_id,  # type: ignore[arg-type]
                OutboxRow.kind == "update",  # type: ignore[arg-type]
                OutboxRow.status == "pending",  # type: ignore[arg-type]
            )
        )
        waiting: list[tuple[list[str], datetime]] = []
        for body in bodies.all():
            parsed = json.loads(body)
            waiting.append((list(parsed["fields"]), datetime.fromisoformat(parsed["at"])))
        return waiting

    async def tenants_linked(self) -> set[int]:
        """Of the tenants this unit of work is for, those with a deal linked to a record."""
        rows = await self.session.scalars(sa.select(CrmLinkRow.tenant_id).distinct())
        return set(rows.all())

    # --- health ----------------------------------------------------------------------------

    async def health(self) -> dict[str, CrmHealth]:
        rows = await self.session.scalars(sa.select(CrmHealthRow))
        return {
            r.side: CrmHealth(r.side, r.needs_attention, r.detail, r.reconciled_at)
            for r in rows.all()
        }

    async def set_health(
        self,
        side: str,
        *,
        now: datetime,
        needs_attention: bool | None = None,
        detail: str | None = None,
        reconciled_at: datetime | None = None,
    ) -> None:
        row = await self.session.scalar(sa.select(CrmHealthRow).where(CrmHealthRow.side == side))
        if row is None:
            row = CrmHealthRow(side=side, updated_at=now)
            self.session.add(row)
        if needs_attention is not None:
            row.needs_attention = needs_attention
            row.detail = (detail or "")[:300]
        if reconciled_at is not None:
            row.reconciled_at = reconciled_at
        row.updated_at = now
        await self.session.flush()


def _link(r: CrmLinkRow) -> CrmLink:
    return CrmLink(r.deal_id, r.side, r.company, r.kind, r.record_id, r.modified_at)

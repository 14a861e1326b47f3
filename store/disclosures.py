"""The disclosure ledger: written before anything crosses, read by `ptm disclosures` and the
admins' App Home. Rows are only ever added (a purge of the whole tenant aside)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from store.db import upsert_insert
from store.models import DealRow, DisclosureRow


@dataclass(frozen=True)
class Disclosed:
    at: datetime
    deal_key: str
    field: str
    version: int
    surface: str
    receiving_team: str
    receiving_company: str


@dataclass(frozen=True)
class Disclosure:
    """One value about to cross (the repository stamps the tenant)."""

    deal_id: int
    field: str
    version: int
    surface: str
    receiving_team: str
    receiving_company: str
    channel_id: str | None = None


class DisclosureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, rows: Sequence[Disclosure], now: datetime) -> None:
        """Add these rows; one already recorded (same field, version, surface and company) is
        left as it was — when it first crossed is what the ledger keeps."""
        if not rows:
            return
        # One statement compiled once (cached), the rows as parameters: a card pass records
        # a score of them and runs thousands of times.
        insert = upsert_insert(self.session)
        statement = insert(DisclosureRow).on_conflict_do_nothing(
            index_elements=["tenant_id", "deal_id", "field", "version", "surface", "receiving_team"]
        )
        await self.session.execute(statement, [{**vars(r), "at": now} for r in rows])

    async def listing(
        self,
        *,
        to: str | None = None,
        deal_number: int | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Disclosed]:
        query = (
            sa.select(
                DisclosureRow.at,
                DealRow.key,
                DisclosureRow.field,
                DisclosureRow.version,
                DisclosureRow.surface,
                DisclosureRow.receiving_team,
                DisclosureRow.receiving_company,
            )
            .join(DealRow, DealRow.id == DisclosureRow.deal_id)  # type: ignore[arg-type]
            .order_by(DisclosureRow.id)  # type: ignore[arg-type]
        )
        if to is not None:
            query = query.where(DisclosureRow.receiving_team == to)  # type: ignore[arg-type]
        if deal_number is not None:
            query = query.where(DealRow.number == deal_number)  # type: ignore[arg-type]
        if since is not None:
            query = query.where(DisclosureRow.at >= since)  # type: ignore[arg-type,operator]
        if limit is not None:
            query = query.limit(limit)
        rows = await self.session.execute(query)
        return [Disclosed(*row) for row in rows.all()]

    async def summary(self, since: datetime) -> list[tuple[str, str, int, int, datetime]]:
        """Per receiving company since `since`: (team, company, values, deals, last time)."""
        rows = await self.session.execute(
            sa.select(
                DisclosureRow.receiving_team,
                sa.func.max(DisclosureRow.receiving_company),
                sa.func.count(),
                sa.func.count(sa.distinct(DisclosureRow.deal_id)),
                sa.func.max(DisclosureRow.at),
            )
            .where(DisclosureRow.at >= since)  # type: ignore[arg-type,operator]
            .group_by(DisclosureRow.receiving_team)
            .order_by(sa.func.max(DisclosureRow.at).desc())
        )
        return [(str(t), str(c or ""), int(n), int(d), at) for t, c, n, d, at in rows.all()]

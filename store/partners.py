"""The capability map in the database, and the win history closed deals give it."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.capability import LIST_FIELDS, Partner
from store.models import DealRow, PartnerRow


class PartnerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(
        self,
        partners: Sequence[Partner],
        *,
        now: datetime,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[int, int]:
        """Insert new partners and update known ones by name; returns (added, updated)."""
        existing = dict(
            (await self.session.execute(sa.select(PartnerRow.name_key, PartnerRow.id))).all()
        )
        added = updated = 0
        for done, partner in enumerate(partners, start=1):
            values = {f: list(getattr(partner, f)) for f in LIST_FIELDS}
            values.update(name=partner.name, slack_team_id=partner.slack_team_id, updated_at=now)
            key = partner.name.casefold()
            if key in existing:
                await self.session.execute(
                    sa.update(PartnerRow).where(PartnerRow.id == existing[key]).values(**values)  # type: ignore[arg-type]
                )
                updated += 1
            else:
                self.session.add(PartnerRow(name_key=key, **values))
                added += 1
            if progress and done % 100 == 0:
                progress(done)
        await self.session.flush()
        if progress:
            progress(len(partners))
        return added, updated

    async def names_by_team(self, teams: Collection[str]) -> dict[str, str]:
        """Capability-map names of the companies behind these Slack teams (those known)."""
        rows = await self.session.execute(
            sa.select(PartnerRow.slack_team_id, PartnerRow.name).where(
                PartnerRow.slack_team_id.in_(list(teams))  # type: ignore[union-attr]
            )
        )
        return {str(team): str(name) for team, name in rows.all()}

    async def all(self) -> list[Partner]:
        rows = (
            await self.session.execute(
                sa.select(PartnerRow.__table__).order_by(PartnerRow.name_key)  # type: ignore[attr-defined]
            )
        ).all()
        return [_to_partner(r) for r in rows]

    async def all_rows(self) -> Sequence[sa.Row[Any]]:
        """The rows as stored, list columns still JSON text: decoding 100,000 rows takes the
        best part of a second, so `to_partners` does it (in a worker thread, for the index)."""
        columns = [PartnerRow.name, PartnerRow.slack_team_id] + [
            sa.cast(getattr(PartnerRow, f), sa.Text).label(f) for f in LIST_FIELDS
        ]
        return (
            await self.session.execute(
                sa.select(*columns).order_by(PartnerRow.name_key)  # type: ignore[arg-type]
            )
        ).all()

    async def stamp(self) -> tuple[int, object]:
        """Changes whenever the map changes: (the newest partner, the last update). The map
        is only ever upserted (or purged whole), so this is as good as a count, and both are
        read from indexes instead of scanning the map (50,000 partners: 0.1 ms, not 6 ms)."""
        # Two scalar subqueries: SQLite answers a lone max() from an index, two in one
        # select by a scan.
        newest, last = (
            await self.session.execute(
                sa.select(
                    sa.select(sa.func.max(PartnerRow.id)).scalar_subquery(),
                    sa.select(sa.func.max(PartnerRow.updated_at)).scalar_subquery(),
                )
            )
        ).one()
        return int(newest or 0), last

    async def named(self, name: str) -> Partner | None:
        row = (
            await self.session.execute(
                sa.select(PartnerRow.__table__).where(PartnerRow.name_key == name.casefold())  # type: ignore[attr-defined,arg-type]
            )
        ).first()
        return _to_partner(row) if row else None

    async def wins(self) -> dict[str, list[str]]:
        """Partner name -> the text (name, account, trigger) of each deal won with them."""
        rows = await self.session.execute(
            sa.select(DealRow.partner, DealRow.name, DealRow.account, DealRow.trigger_reason).where(
                DealRow.status == "won", DealRow.partner.is_not(None)
            )  # type: ignore[arg-type,union-attr]
        )
        wins: dict[str, list[str]] = {}
        for partner, name, account, trigger in rows.all():
            wins.setdefault(partner, []).append(f"{name} {account} {trigger}")
        return wins


def _to_partner(row: Any) -> Partner:
    return Partner(
        name=row.name,
        **{f: tuple(getattr(row, f) or ()) for f in LIST_FIELDS},  # type: ignore[arg-type]
        slack_team_id=row.slack_team_id,
    )


def to_partners(rows: Sequence[sa.Row[Any]]) -> list[Partner]:
    """Partners from `all_rows`, decoding their list columns."""
    return [
        Partner(
            name=row.name,
            **{f: tuple(json.loads(getattr(row, f) or "[]") or ()) for f in LIST_FIELDS},  # type: ignore[arg-type]
            slack_team_id=row.slack_team_id,
        )
        for row in rows
    ]

"""Digest persistence: preferences, per-day claims, and the bulk reads a digest run needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from store.db import upsert_insert
from store.models import (
    CardCopyRow,
    ChannelBindingRow,
    DealEventRow,
    DealRow,
    DigestRunRow,
    NudgeRunRow,
    TrioMemberRow,
    UserPrefRow,
)


@dataclass(frozen=True)
class Pref:
    user_id: str
    tz: str | None
    tz_checked_at: datetime | None
    paused: bool


class DigestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def recipients(self) -> list[str]:
        """Our own trio members on open deals (partner reps get the deal-room nudge instead)."""
        rows = await self.session.scalars(
            sa.select(TrioMemberRow.user_id)
            .join(DealRow, DealRow.id == TrioMemberRow.deal_id)  # type: ignore[arg-type]
            .where(DealRow.status == "open", TrioMemberRow.is_external.is_(False))  # type: ignore[arg-type,attr-defined]
            .distinct()
        )
        return list(rows.all())

    async def prefs(self, user_ids: Sequence[str]) -> dict[str, Pref]:
        rows = (
            await self.session.scalars(
                sa.select(UserPrefRow).where(UserPrefRow.user_id.in_(list(user_ids)))  # type: ignore[attr-defined]
            )
        ).all()
        return {r.user_id: Pref(r.user_id, r.tz, r.tz_checked_at, r.digests_paused) for r in rows}

    async def put_pref(self, user_id: str, **values: Any) -> None:
        insert = upsert_insert(self.session)
        await self.session.execute(
            insert(UserPrefRow)
            .values(user_id=user_id, **values)
            .on_conflict_do_update(index_elements=["tenant_id", "user_id"], set_=values)
        )

    async def open_runs(self, pairs: Sequence[tuple[str, date]], now: datetime) -> None:
        """Create a pending run per (user, local day) unless one exists (any process may)."""
        if not pairs:
            return
        insert = upsert_insert(self.session)
        await self.session.execute(
            insert(DigestRunRow)
            .values(
                [{"user_id": u, "day": d, "status": "pending", "created_at": now} for u, d in pairs]
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "user_id", "day"])
        )

    async def runs_to_send(self, now: datetime, *, limit: int = 1000) -> list[tuple[str, date]]:
        """Pending runs nobody holds a live lease on (including ones a crashed process chose)."""
        rows = await self.session.execute(
            sa.select(DigestRunRow.user_id, DigestRunRow.day)
            .where(
                DigestRunRow.status == "pending",  # type: ignore[arg-type]
                sa.or_(DigestRunRow.lease_until.is_(None), DigestRunRow.lease_until < now),  # type: ignore[union-attr,operator]
            )
            .limit(limit)
        )
        return [(u, d) for u, d in rows.all()]

    async def claim(
        self, user_id: str, day: date, *, owner: str, now: datetime, lease_until: datetime
    ) -> bool:
        """Take the run for sending; exactly one process wins (a conditional UPDATE)."""
        result = await self.session.execute(
            sa.update(DigestRunRow)
            .where(
                DigestRunRow.user_id == user_id,  # type: ignore[arg-type]
                DigestRunRow.day == day,  # type: ignore[arg-type]
                DigestRunRow.status == "pending",  # type: ignore[arg-type]
                sa.or_(DigestRunRow.lease_until.is_(None), DigestRunRow.lease_until < now),  # type: ignore[union-attr,operator]
            )
            .values(lease_until=lease_until, claimed_by=owner)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def release(self, owner: str) -> int:
        """Give back the pending runs `owner` claimed (at shutdown): another process may send
        them at once instead of after the lease."""
        result = await self.session.execute(
            sa.update(DigestRunRow)
            .where(DigestRunRow.claimed_by == owner, DigestRunRow.status == "pending")  # type: ignore[arg-type]
            .values(lease_until=None, claimed_by=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def finish(
        self, user_id: str, day: date, *, status: str, owner: str, now: datetime
    ) -> None:
        await self.session.execute(
            sa.update(DigestRunRow)
            .where(
                DigestRunRow.user_id == user_id,  # type: ignore[arg-type]
                DigestRunRow.day == day,  # type: ignore[arg-type]
                DigestRunRow.claimed_by == owner,  # type: ignore[arg-type]
            )
            .values(status=status, finished_at=now)
        )

    async def last_sent(self, user_ids: Sequence[str]) -> dict[str, datetime]:
        rows = await self.session.execute(
            sa.select(DigestRunRow.user_id, sa.func.max(DigestRunRow.finished_at))
            .where(DigestRunRow.user_id.in_(list(user_ids)), DigestRunRow.status == "sent")  # type: ignore[attr-defined,arg-type]
            .group_by(DigestRunRow.user_id)
        )
        return {u: at for u, at in rows.all() if at is not None}

    async def status_of(self, user_id: str, day: date) -> str | None:
        return await self.session.scalar(
            sa.select(DigestRunRow.status).where(
                DigestRunRow.user_id == user_id,
                DigestRunRow.day == day,  # type: ignore[arg-type]
            )
        )

    async def events_since(
        self, user_ids: Sequence[str], since: datetime
    ) -> list[tuple[int, str, dict[str, Any], datetime]]:
        """Audit events since `since` on open deals of these trio members, in one query."""
        deal_ids = (
            sa.select(TrioMemberRow.deal_id)
            .join(DealRow, DealRow.id == TrioMemberRow.deal_id)  # type: ignore[arg-type]
            .where(TrioMemberRow.user_id.in_(list(user_ids)), DealRow.status == "open")  # type: ignore[attr-defined,arg-type]
        )
        rows = await self.session.execute(
            sa.select(
                DealEventRow.deal_id, DealEventRow.actor, DealEventRow.changes, DealEventRow.at
            )
            .where(DealEventRow.deal_id.in_(deal_ids), DealEventRow.at > since)  # type: ignore[attr-defined,arg-type]
            .order_by(DealEventRow.id)  # type: ignore[arg-type]
        )
        return [(d, a, c, at) for d, a, c, at in rows.all()]

    async def claim_nudge(self, deal_id: int, day: date, user_id: str, now: datetime) -> bool:
        """Claim today's deal-room nudge for a deal; False if any process already did."""
        insert = upsert_insert(self.session)
        result = await self.session.execute(
            insert(NudgeRunRow)
            .values(deal_id=deal_id, day=day, user_id=user_id, created_at=now)
            .on_conflict_do_nothing(index_elements=["deal_id", "day"])
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def nudge_places(self, deal_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """Where to nudge each deal: a card copy the partner can see (a shared channel), else
        the copy in the deal room. Returns deal id -> (channel, card ts)."""
        bound = sa.and_(
            ChannelBindingRow.channel_id == CardCopyRow.channel_id,  # type: ignore[arg-type]
            ChannelBindingRow.deal_id == CardCopyRow.deal_id,  # type: ignore[arg-type]
        )
        rows = await self.session.execute(
            sa.select(
                CardCopyRow.deal_id,
                CardCopyRow.channel_id,
                CardCopyRow.ts,
                CardCopyRow.is_shared,
                ChannelBindingRow.deal_id,
            )
            .outerjoin(ChannelBindingRow, bound)
            .where(CardCopyRow.deal_id.in_(list(deal_ids)))  # type: ignore[attr-defined]
            .order_by(CardCopyRow.id)  # type: ignore[arg-type]
        )
        best: dict[int, tuple[int, str, str]] = {}
        for deal_id, channel, ts, shared, bound in rows.all():
            rank = 0 if shared else (1 if bound else 2)
            if deal_id not in best or rank < best[deal_id][0]:
                best[deal_id] = (rank, channel, ts)
        return {d: (c, t) for d, (_, c, t) in best.items()}

    async def home_viewers(self, deal_id: int) -> list[str]:
        rows = await self.session.scalars(
            sa.select(UserPrefRow.user_id)
            .join(TrioMemberRow, TrioMemberRow.user_id == UserPrefRow.user_id)  # type: ignore[arg-type]
            .where(
                TrioMemberRow.deal_id == deal_id,  # type: ignore[arg-type]
                TrioMemberRow.is_external.is_(False),  # type: ignore[attr-defined]
                UserPrefRow.home_opened_at.is_not(None),  # type: ignore[union-attr]
            )
        )
        return list(rows.all())

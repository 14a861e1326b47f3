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
    NextStepRow,
    NudgeRunRow,
    TrioMemberRow,
    UserPrefRow,
)


# Who of our people on a deal has opened PTM's Home (a card pass asks on every change): built
# once, as building a statement costs a few hundred Python calls.
@dataclass(frozen=True)
class Pref:
    user_id: str
    tz: str | None
    tz_checked_at: datetime | None
    paused: bool


@dataclass(frozen=True)
class DigestWork:
    """What tells, for a batch of tenants at once, which may have a digest or nudge to send."""

    recipients: list[tuple[int, str]]  # (tenant, our trio member on an open deal)
    nudge_owners: list[tuple[int, int, str]]  # (tenant, deal, partner rep owning its step)
    prefs: dict[tuple[int, str], Pref]
    runs: set[tuple[int, str, date]]  # digests opened from `since` on
    nudged: set[tuple[int, int, date]]  # nudges claimed from `since` on
    pending: set[int]  # tenants with a digest run waiting to be sent


ID_CHUNK = 5_000  # ids per IN list: within SQLite's and asyncpg's bound-parameter limits


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
        self, deal_ids: Sequence[int], since: datetime
    ) -> list[tuple[int, str, dict[str, Any], datetime]]:
        """Audit events since `since` on these deals (a digest batch's open deals): a query
        per 5,000 deals, each through the deal's index, so a batch costs what its deals do."""
        found: list[tuple[int, int, str, dict[str, Any], datetime]] = []
        ids = sorted(set(deal_ids))
        for start in range(0, len(ids), ID_CHUNK):
            rows = await self.session.execute(
                sa.select(
                    DealEventRow.id,
                    DealEventRow.deal_id,
                    DealEventRow.actor,
                    DealEventRow.changes,
                    DealEventRow.at,
                ).where(
                    DealEventRow.deal_id.in_(ids[start : start + ID_CHUNK]),  # type: ignore[attr-defined]
                    DealEventRow.at > since,  # type: ignore[arg-type]
                )
            )
            found += [(i, d, a, c, at) for i, d, a, c, at in rows.all()]
        found.sort(key=lambda row: row[0])  # in the order they happened
        return [(d, a, c, at) for _, d, a, c, at in found]

    async def claim_nudge(self, deal_id: int, day: date, user_id: str, now: datetime) -> bool:
        """Claim today's deal-room nudge for a deal; False if any process already did."""
        insert = upsert_insert(self.session)
        result = await self.session.execute(
            insert(NudgeRunRow)
            .values(deal_id=deal_id, day=day, user_id=user_id, created_at=now)
            .on_conflict_do_nothing(index_elements=["deal_id", "day"])
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def nudge_places(self, deal_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
        """Where each deal could be nudged, best first: card copies a partner can see (shared
        channels), then the copy in the deal room. Returns deal id -> [(channel, card ts)]."""
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
        ranked: dict[int, list[tuple[int, str, str]]] = {}
        for deal_id, channel, ts, shared, bound in rows.all():
            rank = 0 if shared else (1 if bound else 2)
            ranked.setdefault(deal_id, []).append((rank, channel, ts))
        return {d: [(c, t) for _, c, t in sorted(found)] for d, found in ranked.items()}

    async def work(self, *, since: date, now: datetime) -> DigestWork:
        """The facts behind DigestWork for every tenant of this unit of work: six queries,
        however many tenants."""
        member = TrioMemberRow
        recipients = await self.session.execute(
            sa.select(member.tenant_id, member.user_id)
            .join(DealRow, DealRow.id == member.deal_id)  # type: ignore[arg-type]
            .where(DealRow.status == "open", member.is_external.is_(False))  # type: ignore[arg-type,attr-defined]
            .distinct()
        )
        owners = await self.session.execute(
            sa.select(NextStepRow.tenant_id, NextStepRow.deal_id, NextStepRow.owner_user)
            .join(DealRow, DealRow.id == NextStepRow.deal_id)  # type: ignore[arg-type]
            .join(
                member,
                sa.and_(
                    member.deal_id == NextStepRow.deal_id,  # type: ignore[arg-type]
                    member.user_id == NextStepRow.owner_user,  # type: ignore[arg-type]
                ),
            )
            .where(
                DealRow.status == "open",  # type: ignore[arg-type]
                NextStepRow.status == "open",  # type: ignore[arg-type]
                member.is_external.is_(True),  # type: ignore[attr-defined]
            )
        )
        people = [(int(t), str(u)) for t, u in recipients.all()]
        steps = [(int(t), int(d), str(u)) for t, d, u in owners.all()]
        users = sorted({u for _, u in people} | {u for _, _, u in steps})
        prefs = await self.session.execute(
            sa.select(
                UserPrefRow.tenant_id,
                UserPrefRow.user_id,
                UserPrefRow.tz,
                UserPrefRow.tz_checked_at,
                UserPrefRow.digests_paused,
            ).where(UserPrefRow.user_id.in_(users))  # type: ignore[attr-defined]
        )
        runs = await self.session.execute(
            sa.select(DigestRunRow.tenant_id, DigestRunRow.user_id, DigestRunRow.day).where(
                DigestRunRow.day >= since  # type: ignore[arg-type,operator]
            )
        )
        pending = await self.session.scalars(
            sa.select(DigestRunRow.tenant_id)
            .where(
                DigestRunRow.status == "pending",  # type: ignore[arg-type]
                sa.or_(DigestRunRow.lease_until.is_(None), DigestRunRow.lease_until < now),  # type: ignore[union-attr,operator]
            )
            .distinct()
        )
        nudged = await self.session.execute(
            sa.select(NudgeRunRow.tenant_id, NudgeRunRow.deal_id, NudgeRunRow.day).where(
                NudgeRunRow.day >= since  # type: ignore[arg-type,operator]
            )
        )
        return DigestWork(
            recipients=people,
            nudge_owners=steps,
            prefs={
                (int(t), str(u)): Pref(str(u), tz, checked, bool(paused))
                for t, u, tz, checked, paused in prefs.all()
            },
            runs={(int(t), str(u), d) for t, u, d in runs.all()},
            nudged={(int(t), int(d), day) for t, d, day in nudged.all()},
            pending={int(t) for t in pending.all()},
        )

    async def nudged_since(self, deal_ids: Sequence[int], since: date) -> set[tuple[int, date]]:
        """(deal, day) of the nudges already claimed for these deals from `since` on."""
        rows = await self.session.execute(
            sa.select(NudgeRunRow.deal_id, NudgeRunRow.day).where(
                NudgeRunRow.deal_id.in_(list(deal_ids)),  # type: ignore[attr-defined]
                NudgeRunRow.day >= since,  # type: ignore[arg-type,operator]
            )
        )
        return {(int(d), day) for d, day in rows.all()}

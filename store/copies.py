"""Where cards are shown: card copies (with their update leases), channels' sharing, and
channel bindings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from store.db import one_tenant_on_postgres, upsert_insert
from store.models import (
    CardCopyRow,
    CardSyncLeaseRow,
    ChannelBindingRow,
    ChannelRow,
    DealRow,
)


@dataclass(frozen=True)
class CardCopy:
    id: int
    deal_id: int
    channel_id: str
    ts: str
    is_shared: bool | None
    rendered_version: int


# What every card pass runs, built once (building a statement costs a few hundred Python calls;
# a parameter may not share a column's name in an UPDATE or DELETE).
_COPIES_WITH_CHANNELS = (
    sa.select(
        CardCopyRow.id,
        CardCopyRow.deal_id,
        CardCopyRow.channel_id,
        CardCopyRow.ts,
        CardCopyRow.is_shared,
        CardCopyRow.rendered_version,
        ChannelRow.channel_id,
        ChannelRow.is_ext_shared,
        ChannelRow.checked_at,
    )  # fmt: skip
    .outerjoin(ChannelRow, ChannelRow.channel_id == CardCopyRow.channel_id)  # type: ignore[arg-type]
    .where(CardCopyRow.deal_id == sa.bindparam("copies_of"))  # type: ignore[arg-type]
    .order_by(CardCopyRow.id)  # type: ignore[arg-type]
)
_MARK_RENDERED = (
    sa.update(CardCopyRow)
    .where(
        CardCopyRow.id.in_(sa.bindparam("copy_ids", expanding=True)),  # type: ignore[union-attr]
        CardCopyRow.rendered_version < sa.bindparam("below"),  # type: ignore[arg-type]
    )
    .values(rendered_version=sa.bindparam("shown"))
    .execution_options(synchronize_session=False)
)
# Taking a deal's card lease, one statement per dialect (their INSERT … ON CONFLICT).
_CLAIMS: dict[str, Any] = {}


def _claim(insert: Any) -> Any:
    """On the table itself: leases belong to no tenant, and a Core statement answers with the
    rows it changed (the ORM's INSERT with parameters does not)."""
    table = CardSyncLeaseRow.__table__  # type: ignore[attr-defined]
    lease = table.c
    return insert(table).on_conflict_do_update(
        index_elements=["deal_id"],
        set_={"owner": sa.bindparam("taker"), "until": sa.bindparam("taken_until"), "dirty": False},
        where=sa.or_(
            lease.until < sa.bindparam("lapsed_before"), lease.owner == sa.bindparam("holder")
        ),
    )


_RELEASE_CLEAN = sa.delete(CardSyncLeaseRow).where(
    CardSyncLeaseRow.deal_id == sa.bindparam("lease_deal"),  # type: ignore[arg-type]
    CardSyncLeaseRow.owner == sa.bindparam("lease_owner"),  # type: ignore[arg-type]
    CardSyncLeaseRow.dirty.is_(False),  # type: ignore[attr-defined]
)

# On PostgreSQL: the copies' rendered version and the clean lease's end in one statement (the
# copies' UPDATE runs whether or not the lease is clean; it names its tenant, being in a CTE).
_END_PASS = _RELEASE_CLEAN.add_cte(
    sa.update(CardCopyRow)
    .where(
        CardCopyRow.id.in_(sa.bindparam("copy_ids", expanding=True)),  # type: ignore[union-attr]
        CardCopyRow.rendered_version < sa.bindparam("below"),  # type: ignore[arg-type]
        CardCopyRow.tenant_id == sa.bindparam("tenant", type_=sa.Integer),  # type: ignore[arg-type]
    )
    .values(rendered_version=sa.bindparam("shown"))
    .cte("shown")
)


class CardCopyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        *,
        deal_id: int,
        channel_id: str,
        ts: str,
        version: int,
        actor: str,
        now: datetime,
        is_shared: bool | None = None,
    ) -> None:
        self.session.add(
            CardCopyRow(
                deal_id=deal_id,
                channel_id=channel_id,
                ts=ts,
                is_shared=is_shared,
                rendered_version=version,
                posted_by=actor,
                posted_at=now,
            )
        )
        await self.session.flush()

    async def list_for_deal(self, deal_id: int) -> list[CardCopy]:
        rows = (
            await self.session.scalars(
                sa.select(CardCopyRow)
                .where(CardCopyRow.deal_id == deal_id)
                .order_by(CardCopyRow.id)  # type: ignore[arg-type]
            )
        ).all()
        return [_to_copy(r) for r in rows]

    async def list_with_channels(
        self, deal_id: int
    ) -> tuple[list[CardCopy], dict[str, ChannelInfo]]:
        """The deal's copies, and what we know of each one's channel, in one statement (a
        card pass reads both on every change)."""
        rows = await self.session.execute(_COPIES_WITH_CHANNELS, {"copies_of": deal_id})
        copies, known = [], {}
        for copy_id, deal, channel, ts, shared, version, known_id, ext, checked in rows.all():
            copies.append(CardCopy(copy_id, deal, channel, ts, shared, version))
            if known_id is not None:
                known[channel] = ChannelInfo(channel, ext, checked)
        return copies, known

    async def deals_with_stale_copies(self, *, limit: int = 500) -> list[int]:
        """Deals with a card copy showing an older version than the deal's (one query)."""
        rows = await self.session.scalars(_stale(CardCopyRow.deal_id).distinct().limit(limit))
        return list(rows.all())

    async def tenants_with_stale_copies(self) -> set[int]:
        """Of the tenants this unit of work is for, those with a stale copy (one query)."""
        return set((await self.session.scalars(_stale(CardCopyRow.tenant_id).distinct())).all())

    async def end_pass(
        self, deal_id: int, *, owner: str, sent: Sequence[int], version: int, until: datetime
    ) -> bool:
        """Record that copies `sent` show `version` and end the holder's lease, as
        `mark_rendered` then `release_sync_if_clean` do; on PostgreSQL both in one statement
        when the lease is clean (the usual case)."""
        tenant = one_tenant_on_postgres(self.session)
        if tenant is None or not sent:
            if sent:
                await self.mark_rendered(sent, version)
            return await self.release_sync_if_clean(deal_id, owner=owner, until=until)
        params = {"copy_ids": list(sent), "below": version, "shown": version, "tenant": tenant,
                  "lease_deal": deal_id, "lease_owner": owner}  # fmt: skip
        if (await self.session.execute(_END_PASS, params)).rowcount:  # type: ignore[attr-defined]
            return True
        return await self.release_sync_if_clean(deal_id, owner=owner, until=until)

    async def mark_rendered(self, copy_ids: Sequence[int], version: int) -> None:
        """Record that these copies were sent `version` (never moving one back)."""
        params = {"copy_ids": list(copy_ids), "below": version, "shown": version}
        await self.session.execute(_MARK_RENDERED, params)

    async def remove(self, copy_id: int) -> None:
        await self.session.execute(sa.delete(CardCopyRow).where(CardCopyRow.id == copy_id))  # type: ignore[arg-type]

    async def claim_sync(self, deal_id: int, *, owner: str, now: datetime, until: datetime) -> bool:
        """Take the deal's card-update lease unless another process holds a live one."""
        dialect = self.session.bind.dialect.name  # type: ignore[union-attr]
        claim = _CLAIMS.get(dialect)
        if claim is None:
            claim = _CLAIMS[dialect] = _claim(upsert_insert(self.session))
        params = {"deal_id": deal_id, "owner": owner, "until": until, "dirty": False}
        params.update(taker=owner, taken_until=until, lapsed_before=now, holder=owner)
        result = await self.session.execute(claim, params)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def release_sync(self, deal_ids: Sequence[int] | None, *, owner: str) -> int:
        """Give back card-update leases (all of `owner`'s when `deal_ids` is None)."""
        stmt = sa.delete(CardSyncLeaseRow).where(CardSyncLeaseRow.owner == owner)  # type: ignore[arg-type]
        if deal_ids is not None:
            stmt = stmt.where(CardSyncLeaseRow.deal_id.in_(deal_ids))  # type: ignore[attr-defined]
        return int((await self.session.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def mark_sync_dirty(self, deal_id: int, *, now: datetime) -> bool:
        """Ask the live holder of the deal's lease to pass again; False if there is none."""
        result = await self.session.execute(
            sa.update(CardSyncLeaseRow)
            .where(CardSyncLeaseRow.deal_id == deal_id, CardSyncLeaseRow.until >= now)  # type: ignore[arg-type,operator]
            .values(dirty=True)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def release_sync_if_clean(self, deal_id: int, *, owner: str, until: datetime) -> bool:
        """End the holder's lease unless another process marked it dirty; if it did, clear the
        mark, extend the lease and return False: the holder passes again."""
        result = await self.session.execute(
            _RELEASE_CLEAN, {"lease_deal": deal_id, "lease_owner": owner}
        )
        if result.rowcount:  # type: ignore[attr-defined]
            return True
        kept = await self.session.execute(
            sa.update(CardSyncLeaseRow)
            .where(CardSyncLeaseRow.deal_id == deal_id, CardSyncLeaseRow.owner == owner)  # type: ignore[arg-type]
            .values(dirty=False, until=until)
            .execution_options(synchronize_session=False)
        )
        # No row at all: the lease lapsed and was taken over; the new holder has it in hand.
        return not kept.rowcount  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ChannelInfo:
    channel_id: str
    is_ext_shared: bool | None
    checked_at: datetime


class ChannelRepository:
    """Cached knowledge of which channels are shared with another org."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_many(self, channel_ids: Sequence[str]) -> dict[str, ChannelInfo]:
        rows = (
            await self.session.scalars(
                sa.select(ChannelRow).where(ChannelRow.channel_id.in_(list(channel_ids)))  # type: ignore[attr-defined]
            )
        ).all()
        return {
            r.channel_id: ChannelInfo(r.channel_id, r.is_ext_shared, r.checked_at) for r in rows
        }

    async def put(self, channel_id: str, is_ext_shared: bool | None, now: datetime) -> None:
        """Record a channel's sharing and carry it onto every card copy in that channel."""
        row = await self.session.scalar(
            sa.select(ChannelRow).where(ChannelRow.channel_id == channel_id)  # type: ignore[arg-type]
        )
        if row is None:
            self.session.add(
                ChannelRow(channel_id=channel_id, is_ext_shared=is_ext_shared, checked_at=now)
            )
        else:
            row.is_ext_shared, row.checked_at = is_ext_shared, now
        await self.session.execute(
            sa.update(CardCopyRow)
            .where(CardCopyRow.channel_id == channel_id)  # type: ignore[arg-type]
            .values(is_shared=is_ext_shared)
        )
        await self.session.flush()

    async def deals_shown_in(self, channel_id: str) -> list[int]:
        rows = await self.session.scalars(
            sa.select(CardCopyRow.deal_id).where(CardCopyRow.channel_id == channel_id).distinct()  # type: ignore[arg-type]
        )
        return list(rows.all())


class BindingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def deal_for(self, channel_id: str) -> int | None:
        return await self.session.scalar(
            sa.select(ChannelBindingRow.deal_id).where(ChannelBindingRow.channel_id == channel_id)  # type: ignore[arg-type]
        )

    async def bind(self, channel_id: str, deal_id: int, *, actor: str, now: datetime) -> None:
        self.session.add(
            ChannelBindingRow(channel_id=channel_id, deal_id=deal_id, bound_by=actor, bound_at=now)
        )
        await self.session.flush()


def _to_copy(row: CardCopyRow) -> CardCopy:
    assert row.id is not None
    return CardCopy(
        row.id, row.deal_id, row.channel_id, row.ts, row.is_shared, row.rendered_version
    )


def _stale(column: Any) -> sa.Select[Any]:
    return (
        sa.select(column)
        .join(DealRow, DealRow.id == CardCopyRow.deal_id)  # type: ignore[arg-type]
        .where(CardCopyRow.rendered_version < DealRow.version)  # type: ignore[arg-type]
    )

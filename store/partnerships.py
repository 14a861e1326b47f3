"""Partnerships as each side sees them. The table belongs to neither tenant, so every query
here names the unit of work's own tenant as one of the two sides: a tenant reads and moves
only the partnerships it is part of."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.partnership import LIVE, Partnership, State
from store.models import DisclosureRow, TrioMemberRow
from store.tenancy import TENANTS_KEY
from store.tenant_models import PartnershipEventRow, PartnershipRow, TenantRow


def _entity(row: PartnershipRow) -> Partnership:
    assert row.id is not None
    return Partnership(
        id=row.id,
        proposer=row.proposer_id,
        partner=row.partner_id,
        state=State(row.state),
        proposer_shares=tuple(row.proposer_shares or ()),
        partner_shares=tuple(row.partner_shares or ()),
        paused_by=row.paused_by,
        version=row.version,
    )


class PartnershipRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _own(self) -> int:
        (tenant,) = self.session.info[TENANTS_KEY]
        return int(tenant)

    def _mine(self) -> sa.ColumnElement[bool]:
        own = self._own()
        return sa.or_(PartnershipRow.proposer_id == own, PartnershipRow.partner_id == own)  # type: ignore[arg-type]

    async def get(self, partnership_id: int, *, for_update: bool = False) -> Partnership | None:
        query = sa.select(PartnershipRow).where(PartnershipRow.id == partnership_id, self._mine())  # type: ignore[arg-type]
        if for_update:
            query = query.with_for_update()
        row = await self.session.scalar(query)
        return _entity(row) if row is not None else None

    async def live_with(self, other: int) -> Partnership | None:
        """The proposed, active or paused partnership between this tenant and `other`."""
        own = self._own()
        pair = sa.or_(
            sa.and_(PartnershipRow.proposer_id == own, PartnershipRow.partner_id == other),  # type: ignore[arg-type]
            sa.and_(PartnershipRow.proposer_id == other, PartnershipRow.partner_id == own),  # type: ignore[arg-type]
        )
        row = await self.session.scalar(
            sa.select(PartnershipRow).where(pair, PartnershipRow.state.in_([s.value for s in LIVE]))  # type: ignore[attr-defined]
        )
        return _entity(row) if row is not None else None

    async def teams_we_work_with(self, limit: int = 1000) -> list[str]:
        """Other companies' Slack teams that work with us: those of the external people on our
        deals and those our ledger says received something. Scoped to this tenant by the unit
        of work (both tables are its own)."""
        people = await self.session.scalars(
            sa.select(TrioMemberRow.team_id)
            .where(TrioMemberRow.is_external.is_(True), TrioMemberRow.team_id.is_not(None))  # type: ignore[attr-defined,union-attr]
            .distinct()
            .limit(limit)
        )
        told = await self.session.scalars(
            sa.select(DisclosureRow.receiving_team)
            .where(DisclosureRow.receiving_team != "")  # type: ignore[arg-type]
            .distinct()
            .limit(limit)
        )
        return sorted({str(t) for t in [*people.all(), *told.all()]})

    async def live_with_many(self, others: Collection[int]) -> dict[int, Partnership]:
        """The live partnership with each of `others` that has one: one query."""
        if not others:
            return {}
        own = self._own()
        wanted = list(others)
        rows = await self.session.scalars(
            sa.select(PartnershipRow).where(
                sa.or_(
                    sa.and_(
                        PartnershipRow.proposer_id == own, PartnershipRow.partner_id.in_(wanted)
                    ),  # type: ignore[arg-type,attr-defined]
                    sa.and_(
                        PartnershipRow.partner_id == own, PartnershipRow.proposer_id.in_(wanted)
                    ),  # type: ignore[arg-type,attr-defined]
                ),
                PartnershipRow.state.in_([s.value for s in LIVE]),  # type: ignore[attr-defined]
            )
        )
        found = [_entity(row) for row in rows.all()]
        return {p.other(own): p for p in found}

    async def propose(
        self,
        partner: int,
        *,
        shares: tuple[str, ...],
        channel_id: str | None,
        by: str,
        now: datetime,
    ) -> int:
        row = PartnershipRow(
            proposer_id=self._own(),
            partner_id=partner,
            state=State.PROPOSED.value,
            proposer_shares=list(shares),
            partner_shares=[],
            channel_id=channel_id,
            proposed_by=by,
            proposed_at=now,
            updated_at=now,
        )
        self.session.add(row)
        await self.session.flush()
        assert row.id is not None
        return row.id

    async def move(
        self,
        p: Partnership,
        to: State,
        *,
        now: datetime,
        partner_shares: tuple[str, ...] | None = None,
        paused_by: int | None = None,
    ) -> bool:
        """Move `p` to `to` if nobody moved it since it was read (compare-and-set)."""
        values: dict[str, Any] = {"state": to.value, "version": p.version + 1, "updated_at": now}
        if partner_shares is not None:
            values["partner_shares"] = list(partner_shares)
        values["paused_by"] = paused_by if to is State.PAUSED else None
        result = await self.session.execute(
            sa.update(PartnershipRow)
            .where(PartnershipRow.id == p.id, PartnershipRow.version == p.version, self._mine())  # type: ignore[arg-type]
            .values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def audit(
        self,
        p_id: int,
        *,
        actor: str,
        action: str,
        state: State,
        policy: dict[str, Any],
        now: datetime,
    ) -> None:
        self.session.add(
            PartnershipEventRow(
                partnership_id=p_id,
                tenant_id=self._own(),
                actor=actor,
                action=action,
                state=state.value,
                policy=policy,
                at=now,
            )
        )
        await self.session.flush()

    async def lines(self) -> list[tuple[Partnership, str, str, datetime]]:
        """This tenant's partnerships, live ones first, newest first: each with the other
        company's name, who proposed it and when it last moved."""
        own = self._own()
        other_id = sa.case(
            (PartnershipRow.proposer_id == own, PartnershipRow.partner_id),  # type: ignore[arg-type]
            else_=PartnershipRow.proposer_id,
        )
        rows = await self.session.execute(
            sa.select(PartnershipRow, TenantRow.name, TenantRow.team_id)
            .join(TenantRow, TenantRow.id == other_id)  # type: ignore[arg-type]
            .where(self._mine())
            .order_by(PartnershipRow.updated_at.desc(), PartnershipRow.id.desc())  # type: ignore[attr-defined,union-attr]
        )
        found = [
            (_entity(row), name or team or "", row.proposed_by, row.updated_at)
            for row, name, team in rows.all()
        ]
        return sorted(found, key=lambda line: line[0].state not in LIVE)

    async def trail(self, p_id: int) -> list[tuple[datetime, int, str, str, dict[str, Any]]]:
        if await self.get(p_id) is None:
            return []
        rows = await self.session.execute(
            sa.select(
                PartnershipEventRow.at,
                PartnershipEventRow.tenant_id,
                PartnershipEventRow.actor,
                PartnershipEventRow.action,
                PartnershipEventRow.policy,
            )
            .where(PartnershipEventRow.partnership_id == p_id)  # type: ignore[arg-type]
            .order_by(PartnershipEventRow.id)  # type: ignore[arg-type]
        )
        return [
            (at, int(t), actor, action, dict(policy or {}))
            for at, t, actor, action, policy in rows.all()
        ]

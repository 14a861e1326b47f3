"""Tenants: the companies that installed PTM, their deal numbering and their admins."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from store.installations import BOTS
from store.tenancy import TENANTS_KEY
from store.tenant_models import TenantAdminRow, TenantRow

# pg_advisory_xact_lock key: "PTM tenants".
TENANTS_LOCK = 0x50544D544E


class TenantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self) -> None:
        """Hold the tenants' lock until commit: processes starting together on PostgreSQL
        decide which tenant is theirs one after the other (SQLite's first write transaction
        does the same, as every write transaction begins IMMEDIATE)."""
        if self.session.bind.dialect.name == "postgresql":  # type: ignore[union-attr]
            await self.session.execute(sa.text(f"SELECT pg_advisory_xact_lock({TENANTS_LOCK})"))
        else:
            await self.session.execute(sa.select(TenantRow.id).limit(1))  # BEGIN IMMEDIATE

    async def by_team(self, team_id: str) -> int | None:
        return await self.session.scalar(
            sa.select(TenantRow.id).where(TenantRow.team_id == team_id)
        )  # type: ignore[arg-type]

    async def ids(self) -> list[int]:
        return list(
            (await self.session.scalars(sa.select(TenantRow.id).order_by(TenantRow.id))).all()
        )  # type: ignore[arg-type]

    async def installed(self) -> list[tuple[int, str]]:
        """(tenant id, team or Grid org id) of every tenant with a bot token stored: the ones
        background work is done for (an uninstalled workspace's tokens are gone)."""
        has_bot = sa.exists().where(
            sa.or_(BOTS.c.team_id == TenantRow.team_id, BOTS.c.enterprise_id == TenantRow.team_id),
            BOTS.c.bot_token.is_not(None),
        )
        rows = await self.session.execute(
            sa.select(TenantRow.id, TenantRow.team_id).where(has_bot).order_by(TenantRow.id)  # type: ignore[arg-type]
        )
        return [(int(i), str(t)) for i, t in rows.all()]

    async def unnamed(self) -> list[int]:
        """Tenants whose workspace is not known yet (see `single_workspace_tenant`)."""
        rows = await self.session.scalars(
            sa.select(TenantRow.id).where(TenantRow.team_id.is_(None))
        )  # type: ignore[union-attr]
        return list(rows.all())

    async def get(self, tenant_id: int) -> TenantRow | None:
        return await self.session.get(TenantRow, tenant_id)

    async def create(
        self, *, team_id: str | None, now: datetime, name: str = "", installed_by: str | None = None
    ) -> int:
        row = TenantRow(team_id=team_id, name=name, installed_by=installed_by, created_at=now)
        self.session.add(row)
        await self.session.flush()
        assert row.id is not None
        return row.id

    async def name(self, tenant_id: int, *, team_id: str, name: str | None = None) -> None:
        values: dict[str, object] = {"team_id": team_id}
        if name is not None:
            values["name"] = name
        await self.session.execute(
            sa.update(TenantRow).where(TenantRow.id == tenant_id).values(**values)  # type: ignore[arg-type]
        )

    async def take_deal_number(self) -> int:
        """The next deal number of this unit of work's tenant; never given twice (the row is
        updated in the deal's own transaction: a rollback gives the number back, a commit
        keeps it taken even if the deal is deleted later)."""
        (tenant,) = self.session.info[TENANTS_KEY]
        taken = await self.session.scalar(
            sa.update(TenantRow)
            .where(TenantRow.id == tenant)  # type: ignore[arg-type]
            .values(next_deal_number=TenantRow.next_deal_number + 1)
            .returning(TenantRow.next_deal_number)
        )
        assert taken is not None, f"tenant {tenant} does not exist"
        return int(taken) - 1

    async def admins(self) -> frozenset[str]:
        rows = await self.session.scalars(sa.select(TenantAdminRow.user_id))
        return frozenset(rows.all())

    async def add_admin(self, user_id: str, *, added_by: str, now: datetime) -> None:
        self.session.add(TenantAdminRow(user_id=user_id, added_by=added_by, added_at=now))
        await self.session.flush()

"""Tenants: the companies that installed PTM, their deal numbering and their admins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from store.installations import BOTS
from store.tenancy import TENANTS_KEY
from store.tenant_models import CrmConnectorRow, TenantAdminRow, TenantEventRow, TenantRow

# pg_advisory_xact_lock key: "PTM tenants".
TENANTS_LOCK = 0x50544D544E


@dataclass(frozen=True)
class AdminEntry:
    user_id: str
    added_by: str
    added_at: datetime


@dataclass(frozen=True)
class StoredConnector:
    side: str
    kind: str
    url: str
    secret: str  # sealed
    version: int
    updated_by: str
    updated_at: datetime
    client_id: str = ""
    webhook_secret: str = ""  # sealed; "" when none


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

    async def has_bot(self, tenant_id: int) -> bool:
        """Whether the tenant's workspace has PTM installed now (a bot token is stored)."""
        team = sa.select(TenantRow.team_id).where(TenantRow.id == tenant_id).scalar_subquery()  # type: ignore[arg-type]
        found = await self.session.scalar(
            sa.select(sa.literal(1))
            .where(
                sa.or_(BOTS.c.team_id == team, BOTS.c.enterprise_id == team),
                BOTS.c.bot_token.is_not(None),
            )
            .limit(1)
        )
        return found is not None

    async def unnamed(self) -> list[int]:
        """Tenants whose workspace is not known yet (see `single_workspace_tenant`)."""
        rows = await self.session.scalars(
            sa.select(TenantRow.id).where(TenantRow.team_id.is_(None))
        )  # type: ignore[union-attr]
        return list(rows.all())

    async def names(self, tenant_ids: list[int]) -> dict[int, str]:
        """Companies' names (their team id when unnamed), in one query."""
        if not tenant_ids:
            return {}
        rows = await self.session.execute(
            sa.select(TenantRow.id, TenantRow.name, TenantRow.team_id).where(
                TenantRow.id.in_(tenant_ids)  # type: ignore[union-attr]
            )
        )
        return {int(i): name or team or "" for i, name, team in rows.all()}

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

    def _own(self) -> int:
        (tenant,) = self.session.info[TENANTS_KEY]
        return int(tenant)

    async def lock_own(self) -> None:
        """Lock this unit of work's tenant row until commit: its admins and settings change
        one admin after another (so two admins removing each other cannot leave none)."""
        await self.session.execute(
            sa.select(TenantRow.id).where(TenantRow.id == self._own()).with_for_update()  # type: ignore[arg-type]
        )

    async def admin_entries(self) -> list[AdminEntry]:
        rows = await self.session.execute(
            sa.select(
                TenantAdminRow.user_id, TenantAdminRow.added_by, TenantAdminRow.added_at
            ).order_by(TenantAdminRow.added_at, TenantAdminRow.user_id)  # type: ignore[arg-type]
        )
        return [AdminEntry(*row) for row in rows.all()]

    async def remove_admin(self, user_id: str) -> bool:
        result = await self.session.execute(
            sa.delete(TenantAdminRow).where(TenantAdminRow.user_id == user_id)  # type: ignore[arg-type]
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def digest_hour(self) -> int | None:
        return await self.session.scalar(
            sa.select(TenantRow.digest_hour).where(TenantRow.id == self._own())  # type: ignore[arg-type]
        )

    async def digest_hours(self, tenant_ids: list[int]) -> dict[int, int | None]:
        """The digest hour each tenant set (None: the default), in one query."""
        rows = await self.session.execute(
            sa.select(TenantRow.id, TenantRow.digest_hour).where(TenantRow.id.in_(tenant_ids))  # type: ignore[union-attr]
        )
        return {int(i): h for i, h in rows.all()}

    async def partners_see_each_other(self) -> bool:
        row = await self.session.get(TenantRow, self._own())
        return bool(row.partners_see_each_other) if row is not None else True

    async def set_partners_see_each_other(self, visible: bool) -> None:
        await self.session.execute(
            sa.update(TenantRow)
            .where(TenantRow.id == self._own())  # type: ignore[arg-type]
            .values(partners_see_each_other=visible)
        )

    async def set_digest_hour(self, hour: int | None) -> None:
        await self.session.execute(
            sa.update(TenantRow).where(TenantRow.id == self._own()).values(digest_hour=hour)  # type: ignore[arg-type]
        )

    async def connectors(self) -> dict[str, StoredConnector]:
        rows = await self.session.scalars(sa.select(CrmConnectorRow))
        return {
            r.side: StoredConnector(
                r.side,
                r.kind,
                r.url,
                r.secret,
                r.version,
                r.updated_by,
                r.updated_at,
                r.client_id,
                r.webhook_secret,
            )  # fmt: skip
            for r in rows.all()
        }

    async def put_connector(
        self,
        side: str,
        *,
        kind: str,
        url: str,
        secret: str | None,
        seen_version: int,
        by: str,
        now: datetime,
        client_id: str = "",
        webhook_secret: str | None = None,
    ) -> bool:
        """Set one side's connector if it is still at `seen_version` (0: none yet); a None
        secret keeps the stored one. False when another admin changed it meanwhile."""
        current = await self.session.scalar(
            sa.select(CrmConnectorRow).where(CrmConnectorRow.side == side).with_for_update()  # type: ignore[arg-type]
        )
        if (current.version if current is not None else 0) != seen_version:
            return False
        if current is None:
            assert secret is not None
            self.session.add(
                CrmConnectorRow(
                    side=side,
                    kind=kind,
                    url=url,
                    secret=secret,
                    updated_by=by,
                    updated_at=now,
                    client_id=client_id,
                    webhook_secret=webhook_secret or "",
                )  # fmt: skip
            )
        else:
            current.kind, current.url, current.client_id = kind, url, client_id
            if secret is not None:
                current.secret = secret
            if webhook_secret is not None:
                current.webhook_secret = webhook_secret
            current.version += 1
            current.updated_by, current.updated_at = by, now
        await self.session.flush()
        return True

    async def drop_connector(self, side: str, *, seen_version: int) -> bool:
        result = await self.session.execute(
            sa.delete(CrmConnectorRow).where(
                CrmConnectorRow.side == side,  # type: ignore[arg-type]
                CrmConnectorRow.version == seen_version,  # type: ignore[arg-type]
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def audit(
        self, *, actor: str, action: str, detail: dict[str, Any], now: datetime
    ) -> None:
        self.session.add(TenantEventRow(at=now, actor=actor, action=action, detail=detail))
        await self.session.flush()

    async def audit_trail(self, limit: int = 50) -> list[tuple[datetime, str, str, dict[str, Any]]]:
        rows = await self.session.execute(
            sa.select(
                TenantEventRow.at,
                TenantEventRow.actor,
                TenantEventRow.action,
                TenantEventRow.detail,
            )
            .order_by(TenantEventRow.id.desc())  # type: ignore[union-attr]
            .limit(limit)
        )
        return [(at, actor, action, dict(detail or {})) for at, actor, action, detail in rows.all()]

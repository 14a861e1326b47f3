"""A partner company's own internal fields on deals other companies share with it: rows of the
partner company (the unit of work's tenant), keyed by the other company's deal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from store.tenant_models import OwnDealFieldsRow


@dataclass(frozen=True)
class OwnFields:
    notes: str = ""
    forecast_category: str | None = None
    crm_id: str = ""
    version: int = 0  # 0: none kept yet


class OwnFieldsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, deal_id: int) -> OwnFields:
        row = await self.session.scalar(
            sa.select(OwnDealFieldsRow).where(OwnDealFieldsRow.deal_id == deal_id)  # type: ignore[arg-type]
        )
        if row is None:
            return OwnFields()
        return OwnFields(row.internal_notes, row.forecast_category, row.crm_id, row.version)

    async def put(
        self, deal_id: int, home_tenant: int, fields: OwnFields, *, by: str, now: datetime
    ) -> bool:
        """Save them if nobody saved since version `fields.version` (compare-and-set); False
        when someone did."""
        values = {
            "internal_notes": fields.notes,
            "forecast_category": fields.forecast_category,
            "crm_id": fields.crm_id,
            "updated_by": by,
            "updated_at": now,
        }
        if fields.version == 0:
            exists = await self.session.scalar(
                sa.select(OwnDealFieldsRow.id).where(OwnDealFieldsRow.deal_id == deal_id)  # type: ignore[arg-type]
            )
            if exists is not None:
                return False
            self.session.add(
                OwnDealFieldsRow(deal_id=deal_id, home_tenant=home_tenant, version=1, **values)
            )
            await self.session.flush()
            return True
        result = await self.session.execute(
            sa.update(OwnDealFieldsRow)
            .where(
                OwnDealFieldsRow.deal_id == deal_id,  # type: ignore[arg-type]
                OwnDealFieldsRow.version == fields.version,  # type: ignore[arg-type]
            )
            .values(version=OwnDealFieldsRow.version + 1, **values)
        )
        return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]

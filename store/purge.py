"""Everything a tenant owns, read out for export and deleted for good (`ptm org purge`).

Both run in a unit of work opened for that tenant, so the scoping of `store.tenancy` narrows
every statement to its rows: the deletes below name no tenant and cannot reach another's.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from store.installations import BOTS, INSTALLATIONS
from store.models import (
    AwsInvitationRow,
    AwsSubmissionRow,
    CardCopyRow,
    CardSyncLeaseRow,
    ChannelBindingRow,
    ChannelRow,
    CrmHealthRow,
    CrmLinkRow,
    DealEventRow,
    DealRow,
    DigestRunRow,
    DisclosureRow,
    NextStepRow,
    NudgeRunRow,
    OutboxRow,
    OutcomeRow,
    PartnerRow,
    ProcessedEventRow,
    RoomActivityRow,
    TrioMemberRow,
    UserPrefRow,
)
from store.tenant_models import (
    CrmConnectorRow,
    OwnDealFieldsRow,
    PartnershipEventRow,
    PartnershipRow,
    SlackBudgetRow,
    TenantAdminRow,
    TenantEventRow,
    TenantRow,
)

# Children before the rows they refer to.
OWNED = (
    OwnDealFieldsRow,
    AwsInvitationRow,
    AwsSubmissionRow,
    CrmLinkRow,
    CrmHealthRow,
    DisclosureRow,
    OutboxRow,
    OutcomeRow,
    NudgeRunRow,
    CardCopyRow,
    ChannelBindingRow,
    RoomActivityRow,
    DealEventRow,
    NextStepRow,
    TrioMemberRow,
    DealRow,
    PartnerRow,
    UserPrefRow,
    DigestRunRow,
    ProcessedEventRow,
    ChannelRow,
    TenantAdminRow,
    CrmConnectorRow,
    TenantEventRow,
    SlackBudgetRow,
)
# Never written to an export: a connector's secret (sealed, but the export leaves PTM).
SECRET_COLUMNS = frozenset({("crm_connectors", "secret")})


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class PurgeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def export(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of this tenant, table by table, as JSON-ready dicts (tokens excluded)."""
        tables: dict[str, list[dict[str, Any]]] = {}
        for model in reversed(OWNED):
            table = model.__tablename__  # type: ignore[attr-defined]
            columns = [
                c
                for c in model.__table__.columns  # type: ignore[attr-defined]
                if c.name != "tenant_id" and (table, c.name) not in SECRET_COLUMNS
            ]
            rows = await self.session.execute(sa.select(*(getattr(model, c.key) for c in columns)))
            tables[table] = [
                {c.name: _plain(v) for c, v in zip(columns, row, strict=True)} for row in rows
            ]
        return tables

    async def delete_all(self, tenant_id: int, team_id: str | None) -> dict[str, int]:
        """Delete this tenant's rows, its Slack tokens and the tenant itself; counts by table."""
        deals = sa.select(DealRow.id)
        await self.session.execute(
            sa.delete(CardSyncLeaseRow).where(CardSyncLeaseRow.deal_id.in_(deals))  # type: ignore[attr-defined]
        )
        # Partner companies' own notes on this tenant's deals go with the deals (deliberately
        # across tenants, as below: nothing else may reach their rows).
        own_fields = OwnDealFieldsRow.__table__  # type: ignore[attr-defined]
        await (await self.session.connection()).execute(
            sa.delete(own_fields).where(own_fields.c.home_tenant == tenant_id)
        )
        counts: dict[str, int] = {}
        for model in OWNED:
            result = await self.session.execute(sa.delete(model))
            counts[model.__tablename__] = int(result.rowcount)  # type: ignore[attr-defined]
        if team_id is not None:
            for table in (BOTS, INSTALLATIONS):
                tokens = sa.or_(table.c.team_id == team_id, table.c.enterprise_id == team_id)
                await self.session.execute(sa.delete(table).where(tokens))
        # Other companies' outcomes routed to its CRM have nowhere to go now: those still
        # waiting become dead letters that say why (`ptm outbox` lists them), sent ones keep
        # their history. The one deliberate statement across tenants here, on the session's
        # connection: the tenant scoping (rightly) lets no statement of this unit of work reach
        # another company's rows, and this fix-up must.
        outbox = OutboxRow.__table__  # type: ignore[attr-defined]
        connection = await self.session.connection()
        await connection.execute(
            sa.update(outbox)
            .where(outbox.c.target_tenant == tenant_id)
            .values(
                target_tenant=None,
                status=sa.case((outbox.c.status == "pending", "dead"), else_=outbox.c.status),
                last_error=sa.case(
                    (outbox.c.status == "pending", "the partner company left PTM"),
                    else_=outbox.c.last_error,
                ),
            )
        )
        # Its partnerships go with it (both companies' record of them: the company is gone).
        theirs = sa.select(PartnershipRow.id).where(
            sa.or_(PartnershipRow.proposer_id == tenant_id, PartnershipRow.partner_id == tenant_id)  # type: ignore[arg-type]
        )
        await self.session.execute(
            sa.delete(PartnershipEventRow).where(PartnershipEventRow.partnership_id.in_(theirs))  # type: ignore[attr-defined]
        )
        await self.session.execute(sa.delete(PartnershipRow).where(PartnershipRow.id.in_(theirs)))  # type: ignore[union-attr]
        await self.session.execute(sa.delete(TenantRow).where(TenantRow.id == tenant_id))  # type: ignore[arg-type]
        return counts

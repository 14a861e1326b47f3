"""Whose deal a request is about, when it may have come through another company's installation.

A Slack Connect channel has one id in both companies' workspaces, and a click on a card, a
message in a deal room or a modal reaches PTM through whichever installation Slack picks. These
reads answer "which tenant owns this card / deal room / deal key" across tenants. They are the
only reads that do (`store.tenancy.ROUTING_OPTION`), and they return ids only — never a row's
content: what the request may see is decided afterwards, by the owner's rules.
"""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.partnership import State
from store.models import CardCopyRow, ChannelBindingRow, CrmLinkRow, DealRow, TrioMemberRow
from store.tenancy import ROUTING_OPTION
from store.tenant_models import PartnershipRow, TenantRow

_ACROSS = {ROUTING_OPTION: True}


class RoutingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def card_owner(self, channel_id: str, ts: str) -> int | None:
        """The tenant that posted the card copy at (channel, ts), if it is a card."""
        found = await self.session.scalar(
            sa.select(CardCopyRow.tenant_id)
            .where(CardCopyRow.channel_id == channel_id, CardCopyRow.ts == ts)
            .limit(1),
            execution_options=_ACROSS,
        )
        return int(found) if found is not None else None

    async def room_owners(self, channel_id: str) -> list[int]:
        """The tenants that bound this channel to one of their deals (each may, in a shared
        channel), oldest binding first."""
        found = await self.session.scalars(
            sa.select(ChannelBindingRow.tenant_id)
            .where(ChannelBindingRow.channel_id == channel_id)
            .order_by(ChannelBindingRow.bound_at),
            execution_options=_ACROSS,
        )
        return [int(t) for t in found]

    async def tenants_linking(self, kind: str, record_ids: Collection[str]) -> list[int]:
        """The tenants with a deal linked to one of these CRM records (a CRM notification
        names records, not tenants); the connector's webhook secret then says which is real."""
        if not record_ids:
            return []
        found = await self.session.scalars(
            sa.select(CrmLinkRow.tenant_id)
            .where(CrmLinkRow.kind == kind, CrmLinkRow.record_id.in_(list(record_ids)))  # type: ignore[attr-defined]
            .distinct(),
            execution_options=_ACROSS,
        )
        return sorted(int(t) for t in found)

    async def tenant_of_team(self, team_id: str) -> int | None:
        return await self.session.scalar(
            sa.select(TenantRow.id).where(TenantRow.team_id == team_id)
        )

    async def tenants_of_teams(self, teams: Collection[str]) -> dict[str, int]:
        if not teams:
            return {}
        rows = await self.session.execute(
            sa.select(TenantRow.team_id, TenantRow.id).where(TenantRow.team_id.in_(list(teams)))  # type: ignore[union-attr]
        )
        return {str(team): int(tenant) for team, tenant in rows.all()}

    async def partners(self, tenant: int, states: Collection[State]) -> list[int]:
        """The tenants in a partnership with `tenant` in one of `states`."""
        rows = await self.session.execute(
            sa.select(PartnershipRow.proposer_id, PartnershipRow.partner_id).where(
                sa.or_(PartnershipRow.proposer_id == tenant, PartnershipRow.partner_id == tenant),  # type: ignore[arg-type]
                PartnershipRow.state.in_([s.value for s in states]),  # type: ignore[attr-defined]
            )
        )
        return [b if a == tenant else a for a, b in rows.all()]

    async def shared_deal_owners(
        self, number: int, owners: Collection[int], team_id: str
    ) -> list[int]:
        """Among `owners`, the tenants whose deal PTM-`number` has a trio member from `team_id`: the
        deals they work on with that company."""
        if not owners:
            return []
        found = await self.session.scalars(
            sa.select(DealRow.tenant_id)
            .join(TrioMemberRow, TrioMemberRow.deal_id == DealRow.id)
            .where(
                DealRow.number == number,
                DealRow.tenant_id.in_(list(owners)),  # type: ignore[attr-defined]
                TrioMemberRow.team_id == team_id,
            )
            .distinct(),
            execution_options=_ACROSS,
        )
        return [int(t) for t in found]

    async def owns_deal(self, tenant: int, number: int) -> bool:
        found = await self.session.scalar(
            sa.select(DealRow.id).where(DealRow.tenant_id == tenant, DealRow.number == number),
            execution_options=_ACROSS,
        )
        return found is not None

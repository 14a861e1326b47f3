"""Tenants, and the base of every row that belongs to one (`TenantOwned`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from store.tenancy import tenant_of_statement
from store.types import UTCDateTime


def utc_field(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


_utc = utc_field


class TenantRow(SQLModel, table=True):
    """One company: a Slack workspace (or Enterprise Grid org) that installed PTM. In
    single-workspace mode there is one, named after the bot token's team once it is known."""

    __tablename__ = "tenants"

    id: int | None = Field(default=None, primary_key=True)
    team_id: str | None = Field(default=None, max_length=32, unique=True)
    enterprise_id: str | None = Field(default=None, max_length=32)
    name: str = Field(default="", max_length=200)
    # Deal numbers are the tenant's own (PTM-1 in every workspace) and never reused.
    next_deal_number: int = Field(default=1)
    digest_hour: int | None = None
    # On a deal with several partner companies, each sees the others by company and role
    # (True), or not at all (competitors).
    partners_see_each_other: bool = Field(
        default=True, sa_column_kwargs={"server_default": sa.true()}
    )
    installed_by: str | None = Field(default=None, max_length=32)
    created_at: datetime = _utc()


class TenantOwned(SQLModel):
    """Rows that belong to one company. Every statement on them is scoped to the tenant its
    unit of work was opened for (`store.tenancy`); an insert takes that tenant by default."""

    tenant_id: int = Field(
        foreign_key="tenants.id", index=True, sa_column_kwargs={"default": tenant_of_statement}
    )


class TenantAdminRow(TenantOwned, table=True):
    """A tenant's PTM admins (the installer first); they may change any of its deals."""

    __tablename__ = "tenant_admins"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "user_id"),)

    user_id: str = Field(max_length=32)
    added_by: str = Field(max_length=32)
    added_at: datetime = _utc()


class CrmConnectorRow(TenantOwned, table=True):
    """One side of a tenant's "log to both", set by its admins in App Home (many-workspace
    mode). The secret is sealed with PTM_SECRET_KEY; `version` lets two admins editing at once
    find out instead of overwriting each other."""

    __tablename__ = "crm_connectors"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "side"),)

    side: str = Field(max_length=16)
    kind: str = Field(max_length=16)
    url: str = Field(max_length=2000)
    secret: str = Field(sa_type=sa.Text)
    # Salesforce's client id; the secret a CRM signs its notifications to PTM with (sealed).
    client_id: str = Field(default="", max_length=300, sa_column_kwargs={"server_default": ""})
    webhook_secret: str = Field(
        default="", sa_type=sa.Text, sa_column_kwargs={"server_default": ""}
    )
    version: int = Field(default=1)
    updated_by: str = Field(max_length=32)
    updated_at: datetime = _utc()


class OwnDealFieldsRow(TenantOwned, table=True):
    """A partner company's own internal fields on a deal another company shares with it (the
    deal's home tenant): its notes, forecast category and CRM id. Rows belong to the partner
    company: the deal's home never reads them."""

    __tablename__ = "own_deal_fields"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "deal_id"),)

    id: int | None = Field(default=None, primary_key=True)
    home_tenant: int = Field(foreign_key="tenants.id")
    deal_id: int = Field(foreign_key="deals.id")
    internal_notes: str = Field(default="", sa_type=sa.Text)
    forecast_category: str | None = Field(default=None, max_length=20)
    crm_id: str = Field(default="", max_length=80)
    version: int = Field(default=1)
    updated_by: str = Field(max_length=32)
    updated_at: datetime = _utc()


class TenantEventRow(TenantOwned, table=True):
    """The audit of a tenant's settings: who changed what and when (admins, digest hour, CRM
    connectors). `detail` never holds a secret."""

    __tablename__ = "tenant_events"
    # AUTOINCREMENT on SQLite: an audit row's id is never reused.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc()
    actor: str = Field(max_length=32)
    action: str = Field(max_length=40)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class PartnershipRow(SQLModel, table=True):
    """An agreement between two tenants (not owned by either: each reads the ones it is a side
    of, `store.partnerships`). `version` makes every move a compare-and-set."""

    __tablename__ = "partnerships"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    proposer_id: int = Field(foreign_key="tenants.id", index=True)
    partner_id: int = Field(foreign_key="tenants.id", index=True)
    state: str = Field(max_length=12)
    proposer_shares: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    partner_shares: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    paused_by: int | None = Field(default=None, foreign_key="tenants.id")
    channel_id: str | None = Field(default=None, max_length=32)  # where it was proposed
    version: int = Field(default=1)
    proposed_by: str = Field(max_length=32)
    proposed_at: datetime = _utc()
    updated_at: datetime = _utc()


class SlackBudgetRow(TenantOwned, table=True):
    """A workspace's budget for one rate-limited Slack method, shared by every PTM process: a
    token bucket holding `tokens` as of `at` (refilled at the method's rate, up to its
    burst). Processes take tokens from it in small grants (`store.budget`)."""

    __tablename__ = "slack_budgets"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "method"),)

    method: str = Field(max_length=40)
    tokens: float
    at: datetime = _utc()


class PartnershipEventRow(SQLModel, table=True):
    """Every move of a partnership: which company's admin made it, when, under what policy."""

    __tablename__ = "partnership_events"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    partnership_id: int = Field(foreign_key="partnerships.id", index=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    actor: str = Field(max_length=32)
    action: str = Field(max_length=20)
    state: str = Field(max_length=12)
    policy: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    at: datetime = _utc()


def owned_tables() -> frozenset[str]:
    """The tables whose rows belong to a tenant."""
    return frozenset(
        name for name, table in SQLModel.metadata.tables.items() if "tenant_id" in table.c
    )


def share_criteria_base() -> None:
    """The ORM's tenant criteria (`store.tenancy`) are analysed once against `TenantOwned`;
    called after every table is defined, so that no mapped class sees this as a field."""
    if "tenant_id" not in vars(TenantOwned):
        type.__setattr__(TenantOwned, "tenant_id", sa.literal_column("tenant_id"))

"""What the admin section of App Home shows: the tenant's admins and settings. Domain types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.views.partnerships import PartnershipLine


@dataclass(frozen=True)
class AdminLine:
    user_id: str
    added_by: str | None  # None: from PTM_ADMINS
    added_at: datetime | None
    removable: bool


@dataclass(frozen=True)
class ConnectorLine:
    side: str  # Side value
    kind: str | None  # None: no connector, outcomes are kept for export
    url: str | None
    version: int  # 0: none stored
    configured: bool  # set by environment variables (single workspace), not in Slack
    editable: bool
    updated_by: str | None = None
    attention: str | None = None  # the CRM refused its credentials: what it said


@dataclass(frozen=True)
class SettingsEvent:
    at: datetime
    actor: str
    text: str


@dataclass(frozen=True)
class DisclosedTo:
    """What went to one other company lately (the disclosure ledger, summed up)."""

    team: str
    company: str
    values: int
    deals: int
    last: datetime


@dataclass(frozen=True)
class AdminView:
    admins: tuple[AdminLine, ...]
    digest_hour: int
    digest_hour_is_default: bool
    connectors: tuple[ConnectorLine, ...]
    recent: tuple[SettingsEvent, ...]
    # Many workspaces only: this tenant's partnerships (None: the section is not shown).
    partnerships: tuple[PartnershipLine, ...] | None = None
    tenant: int = 0
    disclosed: tuple[DisclosedTo, ...] = ()
    partners_see_each_other: bool = True


@dataclass(frozen=True)
class ConnectorForm:
    side: str
    kind: str
    url: str
    has_secret: bool
    version: int
    client_id: str = ""
    has_webhook_secret: bool = False

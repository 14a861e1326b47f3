"""SQLModel tables: tenants; and, each carrying its tenant, deals, trio members, next steps,
card copies, deal events, channel bindings, digests, the capability map and the CRM outbox."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from store.tenant_models import TenantOwned, utc_field

_utc = utc_field


class DealRow(TenantOwned, table=True):
    __tablename__ = "deals"
    # AUTOINCREMENT on SQLite so a deal id (in buttons and modals) is never reused.
    __table_args__ = (sa.UniqueConstraint("tenant_id", "number"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    number: int
    key: str = Field(max_length=20)
    name: str = Field(max_length=300)
    account: str = Field(default="", max_length=300)
    amount: Decimal | None = Field(default=None, sa_type=sa.Numeric(16, 2))
    currency: str = Field(default="USD", max_length=3)
    close_date: date | None = None
    stage: str = Field(max_length=20)
    status: str = Field(default="open", max_length=10, index=True)
    attribution: str | None = Field(default=None, max_length=20)
    partner: str | None = Field(default=None, max_length=200)
    cosell: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # Internal-only fields: never rendered for a shared channel or an external user.
    internal_notes: str = Field(default="", sa_type=sa.Text)
    trigger_reason: str = Field(default="", sa_type=sa.Text)
    forecast_category: str | None = Field(default=None, max_length=20)
    # When the deal was last closed (won or lost); cleared if it is reopened. Win rates and
    # closed-won totals are counted by this time.
    closed_at: datetime | None = _utc(default=None, index=True)
    close_reason: str = Field(default="", max_length=300, sa_column_kwargs={"server_default": ""})
    version: int = Field(default=1)
    created_by: str = Field(max_length=32)
    created_at: datetime = _utc()
    updated_by: str = Field(max_length=32)
    updated_at: datetime = _utc()


class TrioMemberRow(TenantOwned, table=True):
    __tablename__ = "trio_members"
    __table_args__ = (
        # One seller and one alliance manager; any number of partner companies' reps.
        sa.UniqueConstraint("deal_id", "role", "user_id", name="trio_members_deal_role_user_key"),
        # Covers "the seller of each deal" joins (metrics) without touching the rows.
        sa.Index("ix_trio_members_deal_role_user", "deal_id", "role", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deals.id")
    role: str = Field(max_length=10)
    user_id: str = Field(max_length=32, index=True)
    team_id: str | None = Field(default=None, max_length=32)
    is_external: bool = False
    synced_version: int = 0
    last_acted_at: datetime | None = _utc(default=None)
    # A partner rep's company's role on the deal: cloud, isv, si, reseller or other.
    partner_kind: str | None = Field(default=None, max_length=10)


sa.Index(
    "one_seller_and_alliance_per_deal",
    TrioMemberRow.__table__.c.deal_id,  # type: ignore[attr-defined]
    TrioMemberRow.__table__.c.role,  # type: ignore[attr-defined]
    unique=True,
    sqlite_where=sa.text("role != 'partner'"),
    postgresql_where=sa.text("role != 'partner'"),
)


class NextStepRow(TenantOwned, table=True):
    __tablename__ = "next_steps"

    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deals.id", index=True)
    text: str = Field(max_length=600)
    owner_role: str | None = Field(default=None, max_length=10)
    owner_user: str | None = Field(default=None, max_length=32)
    due: date | None = None
    # open, done, or replaced (superseded by a newer step before it was done)
    status: str = Field(default="open", max_length=10)
    set_by: str = Field(max_length=32)
    set_at: datetime = _utc()
    done_by: str | None = Field(default=None, max_length=32)
    done_at: datetime | None = _utc(default=None)


# At most one open next step per deal, enforced by the database as well as the rules.
sa.Index(
    "one_open_step_per_deal",
    NextStepRow.__table__.c.deal_id,  # type: ignore[attr-defined]
    unique=True,
    sqlite_where=sa.text("status = 'open'"),
    postgresql_where=sa.text("status = 'open'"),
)


class CardCopyRow(TenantOwned, table=True):
    __tablename__ = "card_copies"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "channel_id", "ts"),
        # Whose card a click is on, from the message alone (see bot.app.tenancy routing).
        sa.Index("ix_card_copies_channel_ts", "channel_id", "ts"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deals.id", index=True)
    channel_id: str = Field(max_length=32)
    ts: str = Field(max_length=32)
    is_shared: bool | None = None
    rendered_version: int = 0
    posted_by: str = Field(max_length=32)
    posted_at: datetime = _utc()


class CardSyncLeaseRow(SQLModel, table=True):
    """Which process is updating a deal's card copies right now: one at a time across
    processes, so Slack receives each copy's updates in version order. Lapses on a crash."""

    __tablename__ = "card_sync_leases"

    deal_id: int = Field(primary_key=True)
    owner: str = Field(max_length=64)
    until: datetime = _utc()
    # Another process changed the deal during the holder's pass: the holder passes again.
    dirty: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class DealEventRow(TenantOwned, table=True):
    """Append-only audit trail: one row per change (and per sync acknowledgement)."""

    __tablename__ = "deal_events"
    __table_args__ = (
        # A deal's history, and one person's actions on a deal by time (metrics), from the index.
        sa.Index("ix_deal_events_deal_actor_at", "deal_id", "actor", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deals.id")
    version: int
    actor: str = Field(max_length=32)
    actor_team: str | None = Field(default=None, max_length=32)
    changes: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    source: str = Field(max_length=10)
    at: datetime = _utc(index=True)


class RoomActivityRow(TenantOwned, table=True):
    """Messages a trio member wrote in a deal room, one row per member, deal and UTC day: the
    history that seller activation over time is counted from (changes are in deal_events)."""

    __tablename__ = "room_activity"
    __table_args__ = (sa.UniqueConstraint("deal_id", "user_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deals.id")
    user_id: str = Field(max_length=32)
    day: date = Field(index=True)
    first_at: datetime = _utc()
    last_at: datetime = _utc()


class ChannelBindingRow(TenantOwned, table=True):
    __tablename__ = "channel_bindings"

    # A Slack Connect channel has one id in both workspaces: each tenant binds it for itself.
    __table_args__ = (
        sa.PrimaryKeyConstraint("tenant_id", "channel_id"),
        # Which companies bound a shared channel, from the channel alone.
        sa.Index("ix_channel_bindings_channel", "channel_id"),
    )

    channel_id: str = Field(max_length=32)
    deal_id: int = Field(foreign_key="deals.id", index=True)
    bound_by: str = Field(max_length=32)
    bound_at: datetime = _utc()


class ChannelRow(TenantOwned, table=True):
    """What we know of a channel's sharing; None means unknown, which counts as shared."""

    __tablename__ = "channels"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "channel_id"),)

    channel_id: str = Field(max_length=32)
    is_ext_shared: bool | None = None
    checked_at: datetime = _utc()


class ProcessedEventRow(TenantOwned, table=True):
    """Slack messages received, so a re-delivered event changes nothing twice. A bot mention
    waits here with its event (`payload`) until it is applied and answered (`done`); a process
    working on it holds `lease_until`, and one that died leaves it for another to finish."""

    __tablename__ = "processed_events"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "event_id"),)

    event_id: str = Field(max_length=64)
    received_at: datetime = _utc(index=True)
    payload: str | None = Field(default=None, sa_type=sa.Text)
    done: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    lease_until: datetime | None = Field(
        default=None,
        sa_type=sa.DateTime(timezone=True),  # type: ignore[call-overload]
    )


class UserPrefRow(TenantOwned, table=True):
    """Per-person settings: their time zone (from users.info) and whether digests are paused."""

    __tablename__ = "user_prefs"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "user_id"),)

    user_id: str = Field(max_length=32)
    tz: str | None = Field(default=None, max_length=64)
    tz_checked_at: datetime | None = _utc(default=None)
    digests_paused: bool = False
    home_opened_at: datetime | None = _utc(default=None)


class DigestRunRow(TenantOwned, table=True):
    """One row per person and local day: the claim that makes a digest go out at most once,
    even with several processes or a crash between choosing and sending."""

    __tablename__ = "digest_runs"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "user_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=32)
    day: date
    # pending (chosen, not sent yet), sent, empty (nothing to say), paused
    status: str = Field(default="pending", max_length=10, index=True)
    lease_until: datetime | None = _utc(default=None)
    claimed_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = _utc()
    finished_at: datetime | None = _utc(default=None)


class NudgeRunRow(TenantOwned, table=True):
    """One deal-room nudge per deal and day for partner reps who get no DM (claimed first)."""

    __tablename__ = "nudge_runs"
    __table_args__ = (sa.UniqueConstraint("deal_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deals.id")
    day: date
    user_id: str = Field(max_length=32)
    created_at: datetime = _utc()


class PartnerRow(TenantOwned, table=True):
    """The capability map: one partner company, upserted by name (case-insensitive)."""

    __tablename__ = "partners"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "name_key"),
        # The map's stamp (store.partners) reads its newest change from here, not a scan.
        sa.Index("ix_partners_tenant_updated", "tenant_id", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name_key: str = Field(max_length=300)
    name: str = Field(max_length=300)
    industries: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    buyer_levels: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    competencies: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    geographies: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    contacts: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    slack_team_id: str | None = Field(default=None, max_length=32)
    updated_at: datetime = _utc()


class OutcomeRow(TenantOwned, table=True):
    """A logged joint meeting / outcome (co-sell steps *meeting* and *log*)."""

    __tablename__ = "outcomes"

    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deals.id", index=True)
    text: str = Field(sa_type=sa.Text)
    meeting_date: date | None = None
    result: str = Field(default="", max_length=200)
    logged_by: str = Field(max_length=32)
    logged_at: datetime = _utc()


class OutboxRow(TenantOwned, table=True):
    """One outcome (or one write-back) to one CRM side: durable, retried with backoff,
    delivered at most once."""

    __tablename__ = "crm_outbox"
    __table_args__ = (
        sa.UniqueConstraint(
            "outcome_id", "side", "company", name="crm_outbox_outcome_side_company_key"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # "outcome" (a logged outcome) or "update" (a change to CRM-owned fields, written back to
    # the linked record: `body` names the fields; their values are read at delivery).
    kind: str = Field(
        default="outcome", max_length=10, sa_column_kwargs={"server_default": "outcome"}
    )
    outcome_id: int | None = Field(default=None, foreign_key="outcomes.id", index=True)
    deal_id: int = Field(foreign_key="deals.id", index=True)
    side: str = Field(max_length=10)
    idempotency_key: str = Field(max_length=64, unique=True)
    body: str = Field(sa_type=sa.Text)  # the exact JSON sent on every attempt
    # pending, delivered, dead (gave up; `ptm outbox retry`), export (no connector configured)
    status: str = Field(default="pending", max_length=10, index=True)
    attempts: int = 0
    next_attempt_at: datetime = _utc()
    last_error: str | None = Field(default=None, max_length=300)
    lease_until: datetime | None = _utc(default=None)
    claimed_by: str | None = Field(default=None, max_length=64)
    delivered_at: datetime | None = _utc(default=None)
    # The partner side of a partnership: the partner company's own connector receives it.
    target_tenant: int | None = Field(default=None, foreign_key="tenants.id")
    # Log to all: which partner company a partner-side delivery is for (its Slack team, or its
    # rep's user id while the team is unknown); "" for our side.
    company: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})


class DisclosureRow(TenantOwned, table=True):
    """The disclosure ledger: one value of a deal (a field at a version) shown or sent outside
    the tenant — on a card copy or its metadata in a shared channel, in a brief, to the
    partner's CRM — and to which company. Append-only: written before the send, never updated
    (the same field, version, surface and company is recorded once)."""

    __tablename__ = "disclosures"
    __table_args__ = (
        sa.UniqueConstraint(
            "tenant_id", "deal_id", "field", "version", "surface", "receiving_team"
        ),
        sa.Index("ix_disclosures_tenant_at", "tenant_id", "at"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deals.id", index=True)
    field: str = Field(max_length=30)
    version: int
    surface: str = Field(max_length=20)
    receiving_team: str = Field(default="", max_length=32)  # "" when Slack did not say
    receiving_company: str = Field(default="", max_length=200)
    channel_id: str | None = Field(default=None, max_length=32)
    at: datetime = _utc()


class CrmLinkRow(TenantOwned, table=True):
    """A deal linked to a CRM record on one side (`/ptm link`). `modified_at` is the record's
    modification time as PTM last applied or wrote it: an older notification changes nothing."""

    __tablename__ = "crm_links"
    __table_args__ = (
        sa.UniqueConstraint("deal_id", "side", "company", name="crm_links_deal_side_company_key"),
        sa.Index("ix_crm_links_kind_record", "kind", "record_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deals.id")
    side: str = Field(max_length=10)
    company: str = Field(default="", max_length=32)
    kind: str = Field(max_length=16)
    record_id: str = Field(max_length=40)
    modified_at: datetime = _utc()
    linked_by: str = Field(max_length=32)
    linked_at: datetime = _utc()


class CrmHealthRow(TenantOwned, table=True):
    """A side's connector as its last call found it: "needs attention" when the CRM refused
    its credentials (shown on cards, in App Home and `ptm outbox`) until a call succeeds."""

    __tablename__ = "crm_health"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "side"),)

    side: str = Field(max_length=10)
    needs_attention: bool = False
    detail: str = Field(default="", max_length=300)
    # The last reconciliation pass: records modified since then are read again.
    reconciled_at: datetime | None = _utc(default=None)
    updated_at: datetime = _utc()


class AwsSubmissionRow(TenantOwned, table=True):
    """A deal's co-sell submission to AWS Partner Central and what AWS says of it. `step` is
    how far the submission got (queued, created, associated, started), so a crash or an AWS
    error resumes where it stopped; `client_token` is sent with every try, so AWS never makes
    a second opportunity."""

    __tablename__ = "aws_submissions"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "deal_id"),)

    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deals.id")
    form: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    client_token: str = Field(max_length=64)
    step: str = Field(default="draft", max_length=12)
    opportunity_id: str | None = Field(default=None, max_length=40)
    task_id: str | None = Field(default=None, max_length=100)
    task_status: str = Field(default="", max_length=16)
    task_reason: str = Field(default="", max_length=300)
    review_status: str = Field(default="", max_length=30)
    aws_stage: str = Field(default="", max_length=30)
    aws_seller: str = Field(default="", max_length=200)
    aws_modified_at: datetime | None = _utc(default=None)
    problem: str = Field(default="", max_length=300)  # the last failure, in words
    submitted_by: str | None = Field(default=None, max_length=32)
    submitted_at: datetime | None = _utc(default=None)
    updated_at: datetime = _utc()


class AwsInvitationRow(TenantOwned, table=True):
    """An engagement invitation from AWS (a referral), shown once as a card in PTM_AWS_CHANNEL
    however often AWS lists it; accepted (a deal made from it) or rejected (with a reason)."""

    __tablename__ = "aws_invitations"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "invitation_id"),)

    id: int | None = Field(default=None, primary_key=True)
    invitation_id: str = Field(max_length=255)
    title: str = Field(default="", max_length=300)
    company: str = Field(default="", max_length=300)
    sender: str = Field(default="", max_length=300)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    expires_at: datetime | None = _utc(default=None)
    status: str = Field(default="pending", max_length=12)
    client_token: str = Field(max_length=64)
    channel_id: str | None = Field(default=None, max_length=32)
    ts: str | None = Field(default=None, max_length=32)
    deal_id: int | None = Field(default=None, foreign_key="deals.id")
    acted_by: str | None = Field(default=None, max_length=32)
    reason: str = Field(default="", max_length=300)
    received_at: datetime = _utc()


import store.installations  # noqa: E402, F401  (Slack's installation tables, same metadata)
from store.tenant_models import share_criteria_base  # noqa: E402

share_criteria_base()

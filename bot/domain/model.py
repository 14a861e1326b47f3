"""Pure deal rules: stages, roles, permissions, next-step ownership, input bounds. Stdlib only."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

# --- errors ---------------------------------------------------------------------------------


class DomainError(Exception):
    """A known, user-explainable failure. `message` says what was wrong and what is accepted."""

    def __init__(self, message: str, *, deal_id: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The deal concerned, when known: its card is re-synced so the user sees current state.
        self.deal_id = deal_id


class MessageAlreadyApplied(Exception):
    """Another process applied this bot mention first; nothing of ours was committed."""


class BadInput(DomainError):
    """The user typed something we cannot accept; nothing was changed."""


class NotFound(DomainError):
    """The named deal (or record) does not exist."""


class NoDealHere(DomainError):
    """No deal key was given and the channel is not bound to a deal."""


class NotAllowed(DomainError):
    """The caller may not change this deal."""


class Conflict(DomainError):
    """The deal changed under the caller in a way that makes their intent ambiguous."""

    def __init__(
        self, message: str, *, deal_id: int | None = None, fields: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, deal_id=deal_id)
        self.fields = fields  # the form fields concerned, when the change came from a form


# --- vocabulary -----------------------------------------------------------------------------


class Stage(StrEnum):
    QUALIFY = "Qualify"
    DISCOVER = "Discover"
    VALIDATE = "Validate"
    PROPOSE = "Propose"
    NEGOTIATE = "Negotiate"
    CLOSED_WON = "Closed Won"
    CLOSED_LOST = "Closed Lost"


STAGES: tuple[Stage, ...] = tuple(Stage)


class Role(StrEnum):
    SELLER = "seller"
    ALLIANCE = "alliance"
    PARTNER = "partner"


ROLES: tuple[Role, ...] = tuple(Role)


class Status(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class Attribution(StrEnum):
    SOURCED = "sourced"
    CO_SELL = "co-sell"
    INFLUENCED = "influenced"


class ForecastCategory(StrEnum):
    """Our internal forecast call on a deal; never shown to the partner's org."""

    PIPELINE = "pipeline"
    BEST_CASE = "best-case"
    COMMIT = "commit"
    OMITTED = "omitted"


class Source(StrEnum):
    """The surface a change came from, recorded on every deal event."""

    COMMAND = "command"
    BUTTON = "button"
    MODAL = "modal"
    MESSAGE = "message"
    DIGEST = "digest"
    CLI = "cli"
    CRM = "crm"  # a linked CRM record changed (nobody's activation)
    AWS = "aws"  # AWS Partner Central answered a co-sell submission (nobody's activation)


# Fields only our own org may see or change (PRODUCT.md "Field-level visibility").
INTERNAL_FIELDS: frozenset[str] = frozenset({"internal_notes", "forecast_category"})

COSELL_STEPS: tuple[str, ...] = ("trigger", "match", "brief", "meeting", "log")

# Who is best placed to move the deal at each stage: the default owner of a next step.
DEFAULT_OWNER: dict[Stage, Role] = {
    Stage.QUALIFY: Role.SELLER,
    Stage.DISCOVER: Role.ALLIANCE,
    Stage.VALIDATE: Role.PARTNER,
    Stage.PROPOSE: Role.SELLER,
    Stage.NEGOTIATE: Role.SELLER,
    Stage.CLOSED_WON: Role.ALLIANCE,
    Stage.CLOSED_LOST: Role.ALLIANCE,
}

# Input bounds: generous for people, small enough that no card or modal can overflow.
MAX_NAME = 200
MAX_ACCOUNT = 200
MAX_STEP_TEXT = 500
MAX_NOTES = 1500
MAX_TRIGGER = 500
MAX_CLOSE_REASON = 300
MAX_AMOUNT = Decimal("1000000000000")
DATE_FORMAT_HINT = "YYYY-MM-DD, e.g. 2026-12-01"
DEAL_KEY_RE = re.compile(r"^PTM-(\d{1,9})$", re.IGNORECASE)
USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,20}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


# --- state ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrioMember:
    role: Role
    user_id: str
    team_id: str | None = None
    is_external: bool = False
    synced_version: int = 0
    last_acted_at: datetime | None = None
    kind: str | None = None  # a partner company's role on the deal (PARTNER_KINDS)


# A partner company's role on a deal.
PARTNER_KINDS: tuple[str, ...] = ("cloud", "isv", "si", "reseller", "other")
PARTNER_KIND_LABELS = {"cloud": "cloud", "isv": "ISV", "si": "SI", "reseller": "reseller",
                       "other": "partner"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class NextStep:
    id: int
    text: str
    owner_role: Role | None
    owner_user: str | None
    due: date | None
    set_by: str


@dataclass(frozen=True, slots=True)
class Deal:
    """A deal as the rules see it: the aggregate root, versioned as a whole."""

    id: int
    key: str
    name: str
    account: str
    amount: Decimal | None
    currency: str
    close_date: date | None
    stage: Stage
    status: Status
    attribution: Attribution | None
    partner: str | None
    cosell: frozenset[str]
    version: int
    created_by: str
    updated_by: str
    updated_at: datetime
    trio: tuple[TrioMember, ...] = ()
    next_step: NextStep | None = None
    internal_notes: str = ""
    forecast_category: ForecastCategory | None = None
    trigger_reason: str = ""
    close_reason: str = ""

    def member(self, role: Role) -> TrioMember | None:
        """The member in `role`; for the partner role, the first partner company's rep."""
        return next((m for m in self.trio if m.role == role), None)

    @property
    def partners(self) -> tuple[TrioMember, ...]:
        """Every partner company's rep, in the order they joined the deal."""
        return tuple(m for m in self.trio if m.role is Role.PARTNER)

    def role_of(self, user_id: str) -> Role | None:
        return next((m.role for m in self.trio if m.user_id == user_id), None)


@dataclass(frozen=True)
class Actor:
    """Who is acting, from which Slack team (org), and whether that org is ours."""

    user_id: str
    team_id: str | None = None
    internal: bool = False


def is_our_org(
    team_or_enterprise: str | None, *, home_team: str | None, home_enterprise: str | None = None
) -> bool:
    """True only when the user's team (or Grid enterprise) is the installation's own.

    Unknown means external: a user we cannot place never sees internal fields.
    """
    if not team_or_enterprise:
        return False
    return team_or_enterprise in {t for t in (home_team, home_enterprise) if t}


@dataclass(frozen=True)
class StepChange:
    """Set a new open next step (`kind="set"`) or complete the open one (`kind="complete"`)."""

    kind: str
    text: str = ""
    owner_role: Role | None = None
    owner_user: str | None = None
    due: date | None = None


@dataclass(frozen=True)
class Mutation:
    """What one change does to a deal; `audit` is field -> (old, new) as shown to people."""

    fields: dict[str, object] = field(default_factory=dict)
    trio: tuple[TrioMember, ...] = ()
    step: StepChange | None = None
    audit: dict[str, tuple[object, object]] = field(default_factory=dict)
    trio_drop: tuple[str, ...] = ()  # partner reps (user ids) who leave the deal

    @property
    def is_empty(self) -> bool:
        return not self.audit


def esc(text: str, limit: int = 60) -> str:
    """User text quoted back in a message: bounded, and &, <, > escaped so it forms no mention."""
    cut = text if len(text) <= limit else text[: limit - 1] + "…"
    return cut.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

"""Pure deal rules: stages, roles, permissions, next-step ownership, input bounds. Stdlib only."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

# --- errors ---------------------------------------------------------------------------------


class DomainError(Exception):
    """A known, user-explainable failure. `message` says what was wrong and what is accepted."""

    def __init__(self, message: str, *, deal_id: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The deal concerned, when known: its card is re-synced so the user sees current state.
        self.deal_id = deal_id


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


class Source(StrEnum):
    """The surface a change came from, recorded on every deal event."""

    COMMAND = "command"
    BUTTON = "button"
    MODAL = "modal"
    MESSAGE = "message"
    DIGEST = "digest"
    CLI = "cli"


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
MAX_AMOUNT = Decimal("1000000000000")
DATE_FORMAT_HINT = "YYYY-MM-DD, e.g. 2026-12-01"
DEAL_KEY_RE = re.compile(r"^PTM-(\d{1,9})$", re.IGNORECASE)
USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,20}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


# --- state ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrioMember:
    role: Role
    user_id: str
    team_id: str | None = None
    is_external: bool = False
    synced_version: int = 0
    last_acted_at: datetime | None = None


@dataclass(frozen=True)
class NextStep:
    id: int
    text: str
    owner_role: Role | None
    owner_user: str | None
    due: date | None
    set_by: str


@dataclass(frozen=True)
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

    def member(self, role: Role) -> TrioMember | None:
        return next((m for m in self.trio if m.role == role), None)

    def role_of(self, user_id: str) -> Role | None:
        return next((m.role for m in self.trio if m.user_id == user_id), None)


@dataclass(frozen=True)
class Actor:
    """Who is acting, and from which Slack team (org)."""

    user_id: str
    team_id: str | None = None


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

    @property
    def is_empty(self) -> bool:
        return not self.audit


# --- parsing and validation -----------------------------------------------------------------


def esc(text: str, limit: int = 60) -> str:
    """User text quoted back in a message: bounded, and &, <, > escaped so it forms no mention."""
    cut = text if len(text) <= limit else text[: limit - 1] + "…"
    return cut.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def stage_list() -> str:
    return ", ".join(s.value for s in STAGES)


def parse_stage(text: str) -> Stage:
    """Match a stage case-insensitively by full name or unique prefix."""
    wanted = " ".join(text.split()).casefold()
    if not wanted:
        raise BadInput(f"Which stage? Stages are: {stage_list()}.")
    exact = [s for s in STAGES if s.value.casefold() == wanted]
    if exact:
        return exact[0]
    matches = [s for s in STAGES if s.value.casefold().startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = " or ".join(s.value for s in matches)
        raise BadInput(f"“{esc(text)}” could be {names}. Stages are: {stage_list()}.")
    raise BadInput(f"“{esc(text)}” is not a stage. Stages are: {stage_list()}.")


def parse_role(text: str) -> Role | None:
    """Return the role named by `text` (case-insensitive), or None if it names no role."""
    try:
        return Role(text.strip().casefold())
    except ValueError:
        return None


def parse_date(text: str, *, what: str = "date") -> date:
    """Parse YYYY-MM-DD, rejecting impossible dates with the expected format."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise BadInput(f"“{esc(text)}” is not a {what}. Use {DATE_FORMAT_HINT}.")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"{esc(text)} is not a real calendar day. Use {DATE_FORMAT_HINT}.") from None


def parse_due(text: str, *, today: date) -> date:
    """A due date: a real day, not in the past."""
    due = parse_date(text, what="due date")
    if due < today:
        raise BadInput(f"The due date {due} is in the past. Use today ({today}) or later.")
    return due


def parse_amount(text: str) -> Decimal | None:
    """Parse an amount like `120000`, `120,000.50`; empty means unset."""
    cleaned = text.strip().replace(",", "").replace("_", "")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise BadInput(
            f"“{esc(text)}” is not an amount. Use digits, e.g. 120000 or 120000.50."
        ) from None
    if not value.is_finite() or value < 0 or value >= MAX_AMOUNT:
        raise BadInput("The amount must be a positive number below 1,000,000,000,000.")
    return value.quantize(Decimal("0.01"))


def parse_currency(text: str) -> str:
    code = text.strip().upper() or "USD"
    if not CURRENCY_RE.fullmatch(code):
        raise BadInput(f"“{esc(text)}” is not a currency. Use a 3-letter code such as USD or EUR.")
    return code


def parse_attribution(text: str) -> Attribution | None:
    cleaned = text.strip().casefold()
    if cleaned in ("", "none", "unset"):
        return None
    try:
        return Attribution(cleaned)
    except ValueError:
        raise BadInput(
            f"“{esc(text)}” is not an attribution. Use sourced, co-sell or influenced."
        ) from None


def clean_text(text: str, *, what: str, limit: int, required: bool = True) -> str:
    """Collapse whitespace and bound the length of a user-typed value."""
    cleaned = " ".join(text.split())
    if required and not cleaned:
        raise BadInput(f"The {what} is empty. Type a few words.")
    if len(cleaned) > limit:
        raise BadInput(f"The {what} is {len(cleaned)} characters; the limit is {limit}.")
    return cleaned


def parse_deal_key(text: str) -> int | None:
    """Return the deal number of `PTM-<n>`, or None if `text` is not a deal key."""
    found = DEAL_KEY_RE.fullmatch(text.strip())
    return int(found.group(1)) if found else None


def deal_key(number: int) -> str:
    return f"PTM-{number}"


# --- rules ----------------------------------------------------------------------------------


def may_change(deal: Deal, actor: Actor, admins: frozenset[str]) -> bool:
    """Trio members and admins may change a deal; its creator too while no trio is set."""
    if actor.user_id in admins or deal.role_of(actor.user_id) is not None:
        return True
    return not deal.trio and actor.user_id == deal.created_by


def require_change_right(deal: Deal, actor: Actor, admins: frozenset[str]) -> None:
    if may_change(deal, actor, admins):
        return
    if deal.trio:
        who = ", ".join(f"{m.role.value} <@{m.user_id}>" for m in deal.trio)
        raise NotAllowed(
            f"Only the trio of {deal.key} ({who}) and PTM admins can change it. "
            "Ask one of them to add you with `/ptm trio`."
        )
    raise NotAllowed(
        f"Only the creator of {deal.key} (<@{deal.created_by}>) and PTM admins can change it "
        "until its trio is set."
    )


def change_stage(deal: Deal, stage: Stage) -> Mutation:
    """Move the deal to `stage`; closing stages also close the status."""
    if deal.stage == stage:
        return Mutation()
    status = {Stage.CLOSED_WON: Status.WON, Stage.CLOSED_LOST: Status.LOST}.get(stage, Status.OPEN)
    fields: dict[str, object] = {"stage": stage}
    audit: dict[str, tuple[object, object]] = {"stage": (deal.stage.value, stage.value)}
    if status != deal.status:
        fields["status"] = status
        audit["status"] = (deal.status.value, status.value)
    return Mutation(fields=fields, audit=audit)


def set_trio(deal: Deal, members: dict[Role, TrioMember]) -> Mutation:
    """Name one or more trio members; a member who keeps their role keeps their sync state."""
    changed: list[TrioMember] = []
    audit: dict[str, tuple[object, object]] = {}
    for role, member in members.items():
        current = deal.member(role)
        if current and current.user_id == member.user_id:
            continue
        changed.append(member)
        audit[f"trio.{role.value}"] = (current.user_id if current else None, member.user_id)
    return Mutation(trio=tuple(changed), audit=audit)


def resolve_owner(
    deal: Deal, *, role: Role | None, user_id: str | None
) -> tuple[Role | None, str | None]:
    """Decide who owns a next step: a named user, a named role, or the stage's default role."""
    if user_id is not None:
        owner_role = deal.role_of(user_id)
        if owner_role is None:
            trio = ", ".join(f"{m.role.value} <@{m.user_id}>" for m in deal.trio) or "nobody yet"
            raise BadInput(
                f"<@{user_id}> is not in the trio of {deal.key} ({trio}). "
                "Name a trio member or a role: seller, alliance, partner."
            )
        return owner_role, user_id
    owner_role = role or DEFAULT_OWNER[deal.stage]
    member = deal.member(owner_role)
    return owner_role, member.user_id if member else None


def set_next_step(
    deal: Deal, text: str, *, role: Role | None, user_id: str | None, due: date | None
) -> Mutation:
    """Replace the open next step with a new one."""
    owner_role, owner_user = resolve_owner(deal, role=role, user_id=user_id)
    old = deal.next_step
    step = StepChange("set", text=text, owner_role=owner_role, owner_user=owner_user, due=due)
    if old and (old.text, old.owner_role, old.owner_user, old.due) == (
        text,
        owner_role,
        owner_user,
        due,
    ):
        return Mutation()
    audit: dict[str, tuple[object, object]] = {"next_step": (old.text if old else None, text)}
    if owner_user != (old.owner_user if old else None) or not old:
        audit["next_step.owner"] = (old.owner_user if old else None, owner_user)
    if due != (old.due if old else None):
        audit["next_step.due"] = (
            old.due.isoformat() if old and old.due else None,
            due.isoformat() if due else None,
        )
    return Mutation(step=step, audit=audit)


def complete_next_step(deal: Deal, *, expected_step_id: int | None = None) -> Mutation:
    """Complete the open next step; `expected_step_id` guards a click on an older card."""
    step = deal.next_step
    if step is None:
        if expected_step_id is not None:
            raise Conflict(f"That next step of {deal.key} is already done.")
        raise BadInput(f"{deal.key} has no open next step. Set one with `/ptm next <text>`.")
    if expected_step_id is not None and step.id != expected_step_id:
        raise Conflict(
            f"The next step of {deal.key} changed since you looked: it is now “{esc(step.text)}”."
        )
    return Mutation(step=StepChange("complete"), audit={"next_step.done": (step.text, True)})


EDITABLE_FIELDS: tuple[str, ...] = (
    "name",
    "account",
    "amount",
    "currency",
    "close_date",
    "attribution",
)


def edit_deal(deal: Deal, changes: dict[str, object]) -> Mutation:
    """Apply edits to the deal's own fields; values equal to the current ones are ignored."""
    fields: dict[str, object] = {}
    audit: dict[str, tuple[object, object]] = {}
    for name, new in changes.items():
        if name not in EDITABLE_FIELDS:
            raise BadInput(f"{name} cannot be edited here.")
        old = getattr(deal, name)
        if old == new:
            continue
        fields[name] = new
        audit[name] = (_shown(old), _shown(new))
    return Mutation(fields=fields, audit=audit)


def is_overdue(step: NextStep | None, today: date) -> bool:
    return bool(step and step.due and step.due < today)


def _shown(value: object) -> object:
    """How a value is kept in the audit trail (JSON-friendly)."""
    if isinstance(value, date | Decimal):
        return str(value)
    if isinstance(value, StrEnum):
        return value.value
    return value

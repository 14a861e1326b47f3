"""CRM connectors as the rules see them: what a linked record is, how a reference to one is
read, how a record's fields become a deal's, and the one small interface every connector kind
(webhook, Salesforce, HubSpot, …) implements. Stdlib only.

The deal's fields that a linked CRM owns — name, account, amount, currency, close date and
stage — follow the CRM's record, compared by the CRM's own modification time so that a late
or repeated notification never rolls a field back. A change made in PTM to one of them is
written back with a compare-and-set.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Protocol
from urllib.parse import urlsplit

from bot.domain.model import BadInput, Deal, Mutation, Stage, Status, esc

MAX_REFERENCE = 500


class CrmKind(StrEnum):
    WEBHOOK = "webhook"
    SALESFORCE = "salesforce"
    HUBSPOT = "hubspot"


KIND_LABELS = {
    CrmKind.WEBHOOK: "webhook",
    CrmKind.SALESFORCE: "Salesforce",
    CrmKind.HUBSPOT: "HubSpot",
}
RECORD_NAMES = {CrmKind.SALESFORCE: "opportunity", CrmKind.HUBSPOT: "deal"}

# The deal fields a linked CRM record owns, in the order the card shows them.
CRM_FIELDS: tuple[str, ...] = ("name", "account", "amount", "currency", "close_date", "stage")
# Of those, the ones PTM writes back (the account is a lookup on the CRM side, the currency
# a setting of multi-currency orgs only: PTM reads them, never writes them).
WRITABLE_FIELDS: frozenset[str] = frozenset({"name", "amount", "close_date", "stage"})


@dataclass(frozen=True)
class CrmRecord:
    """A CRM deal record as PTM reads it; `stage` is the CRM's own stage value."""

    kind: CrmKind
    record_id: str
    name: str
    account: str
    amount: Decimal | None
    currency: str | None
    close_date: date | None
    stage: str
    modified_at: datetime


@dataclass(frozen=True)
class CrmRef:
    """What `/ptm link` was given: a record id, and the host when it was a URL (the
    connector checks that the host is its own instance)."""

    kind: CrmKind
    record_id: str
    host: str | None = None
    portal: str | None = None  # HubSpot URLs name the account (portal)


class CrmError(Exception):
    """A CRM's answer that a person reads: what went wrong and what to do."""

    def __init__(self, message: str, *, needs_attention: bool = False) -> None:
        super().__init__(message)
        self.message = message
        # The credentials were refused: an admin must fix the connector.
        self.needs_attention = needs_attention


class RecordNotFound(CrmError):
    pass


class CompareAndSetFailed(Exception):
    """The record changed in the CRM since PTM last read it: `record` is the CRM's newer one."""

    def __init__(self, record: CrmRecord) -> None:
        super().__init__(record.record_id)
        self.record = record


@dataclass(frozen=True)
class OutcomeNote:
    """A logged outcome as a CRM activity: a Salesforce Task (+ Next Step) or a HubSpot note.
    `marker` is unique per delivery and stable across retries: the connector finds an
    activity it already created by it, so a retry never creates a second one."""

    subject: str
    body: str
    day: date
    next_step: str | None
    marker: str
    at: datetime


class Connector(Protocol):
    """One side's CRM. `webhook` only receives outcomes; record kinds do all of it."""

    kind: CrmKind

    async def resolve(self, ref: CrmRef) -> str:
        """The record `ref` names in this connector's instance; CrmError if another's."""
        ...

    async def fetch(self, record_id: str) -> CrmRecord: ...

    async def fetch_many(self, record_ids: Sequence[str]) -> list[CrmRecord]:
        """The records that still exist, in one request per batch."""
        ...

    async def changed_since(self, since: datetime) -> list[CrmRecord]:
        """Records modified after `since`, in one request per page of results."""
        ...

    async def update(
        self, record_id: str, values: Mapping[str, object], held: datetime
    ) -> CrmRecord:
        """Write `values` (PTM field names) unless the record changed after `held`
        (CompareAndSetFailed with the CRM's record); the record as written."""
        ...

    async def log_outcome(
        self, record_id: str | None, note: OutcomeNote, raw: bytes, key: str
    ) -> None:
        """Deliver one outcome once (`raw`: the signed webhook body; `key`: its idempotency
        key). Raises on any failure, which the outbox retries."""
        ...


@dataclass(frozen=True)
class ConnectorConfig:
    """One side's connector as configured. `secret`: the webhook's HMAC key, Salesforce's
    client secret or HubSpot's private-app token; `webhook_secret` signs what the CRM sends
    PTM (`/crm/salesforce`, `/crm/hubspot`)."""

    kind: CrmKind
    url: str
    secret: str
    client_id: str = ""
    webhook_secret: str = ""

    def __repr__(self) -> str:  # secrets never reach a log line
        return f"ConnectorConfig({self.kind.value}, {self.url!r})"


@dataclass(frozen=True)
class Notification:
    """A CRM's POST to PTM saying records changed, as received: what its signature covers."""

    kind: str
    raw: bytes
    headers: Mapping[str, str]
    method: str
    uri: str  # the address the CRM called (HubSpot signs it)


class NotificationFormat(Protocol):
    """How one CRM kind tells PTM its records changed (`POST /crm/<kind>`)."""

    def record_ids(self, raw: bytes) -> list[str] | None:
        """The records named, or None when the body does not read as a notification."""
        ...

    def signed(self, call: Notification, secret: str, now: datetime) -> bool: ...

    def fresh(self, raw: bytes, now: datetime) -> bool: ...


# --- references -----------------------------------------------------------------------------

SALESFORCE_ID = re.compile(r"006[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?")
HUBSPOT_ID = re.compile(r"[1-9][0-9]{0,19}")
_SF_PATH = re.compile(
    r"/(?:lightning/r/Opportunity/)?(006[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?)(?:/|$)"
)
_HS_PATH = re.compile(r"/contacts/([0-9]{1,20})/(?:record/0-3|deal)/([0-9]{1,20})(?:/|$)")
REFERENCE_HELP = (
    "Give a Salesforce opportunity id (`006…`) or its URL, or a HubSpot deal id or its URL, "
    "e.g. `/ptm link https://acme.lightning.force.com/lightning/r/Opportunity/006Ho00000AbCdE/view`."
)


def parse_reference(text: str) -> CrmRef:
    """Read a record id or URL; BadInput saying what is accepted otherwise."""
    raw = text.strip().strip("<>").split("|")[0]  # Slack wraps URLs as <url> or <url|label>
    if not raw or len(raw) > MAX_REFERENCE:
        raise BadInput(f"Link to which CRM record? {REFERENCE_HELP}")
    if SALESFORCE_ID.fullmatch(raw):
        return CrmRef(CrmKind.SALESFORCE, raw)
    if HUBSPOT_ID.fullmatch(raw):
        return CrmRef(CrmKind.HUBSPOT, raw)
    try:
        parts = urlsplit(raw)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"`{esc(raw, 80)}` is not a CRM record id or URL. {REFERENCE_HELP}")
    host = parts.hostname.lower()
    hubspot = _HS_PATH.search(parts.path)
    if hubspot is not None:
        return CrmRef(CrmKind.HUBSPOT, hubspot.group(2), host=host, portal=hubspot.group(1))
    salesforce = _SF_PATH.search(parts.path)
    if salesforce is not None:
        return CrmRef(CrmKind.SALESFORCE, salesforce.group(1), host=host)
    raise BadInput(
        f"`{esc(raw, 80)}` does not point at a Salesforce opportunity or a HubSpot deal. "
        f"{REFERENCE_HELP}"
    )


_SF_SUFFIXES = (".my.salesforce.com", ".lightning.force.com", ".my.site.com")


def salesforce_org(host: str) -> str:
    """The org part of a Salesforce host: `acme` for acme.my.salesforce.com and
    acme.lightning.force.com alike (a local stand-in's host is its own)."""
    host = host.lower()
    for suffix in _SF_SUFFIXES:
        if host.endswith(suffix):
            return host[: -len(suffix)]
    return host


def looks_like_url(text: str) -> bool:
    return text.strip().strip("<>").lower().startswith(("http://", "https://"))


# --- stages ---------------------------------------------------------------------------------

# Salesforce's standard opportunity stages and HubSpot's default pipeline, to PTM's stages.
SALESFORCE_STAGES: dict[str, Stage] = {
    "Prospecting": Stage.QUALIFY,
    "Qualification": Stage.QUALIFY,
    "Needs Analysis": Stage.DISCOVER,
    "Value Proposition": Stage.VALIDATE,
    "Id. Decision Makers": Stage.VALIDATE,
    "Perception Analysis": Stage.VALIDATE,
    "Proposal/Price Quote": Stage.PROPOSE,
    "Negotiation/Review": Stage.NEGOTIATE,
    "Closed Won": Stage.CLOSED_WON,
    "Closed Lost": Stage.CLOSED_LOST,
}
HUBSPOT_STAGES: dict[str, Stage] = {
    "appointmentscheduled": Stage.QUALIFY,
    "qualifiedtobuy": Stage.DISCOVER,
    "presentationscheduled": Stage.VALIDATE,
    "decisionmakerboughtin": Stage.PROPOSE,
    "contractsent": Stage.NEGOTIATE,
    "closedwon": Stage.CLOSED_WON,
    "closedlost": Stage.CLOSED_LOST,
}
STAGE_MAPS: dict[CrmKind, dict[str, Stage]] = {
    CrmKind.SALESFORCE: SALESFORCE_STAGES,
    CrmKind.HUBSPOT: HUBSPOT_STAGES,
}
# Back to the CRM: the first CRM stage of each PTM stage.
CRM_STAGE_OF: dict[CrmKind, dict[Stage, str]] = {
    kind: {stage: crm for crm, stage in reversed(list(mapping.items()))}
    for kind, mapping in STAGE_MAPS.items()
}


def stage_of(record: CrmRecord) -> Stage | None:
    """PTM's stage for the record's CRM stage; None for a stage the map does not know (the
    card keeps its stage)."""
    mapping = STAGE_MAPS.get(record.kind, {})
    return mapping.get(record.stage) or mapping.get(record.stage.strip().casefold())


def card_fields(record: CrmRecord) -> dict[str, object]:
    """The deal fields the record gives, bounded as the card stores them."""
    fields: dict[str, object] = {
        "name": record.name.strip()[:300] or f"{RECORD_NAMES[record.kind]} {record.record_id}",
        "account": record.account.strip()[:300],
        "amount": record.amount,
        "close_date": record.close_date,
    }
    currency = (record.currency or "").strip().upper()
    if re.fullmatch(r"[A-Z]{3}", currency):
        fields["currency"] = currency
    stage = stage_of(record)
    if stage is not None:
        fields["stage"] = stage
    return fields


def from_record(deal: Deal, record: CrmRecord) -> Mutation:
    """The change that makes the deal match its CRM record: only what differs, audited as
    shown to people. The CRM is the authority on its fields: a deal it closes is closed, a
    deal it reopens is reopened."""
    fields: dict[str, object] = {}
    audit: dict[str, tuple[object, object]] = {}
    for name, new in card_fields(record).items():
        old = getattr(deal, name)
        if old == new or (name == "amount" and _same_amount(old, new)):
            continue
        fields[name] = new
        audit[name] = (_shown(old), _shown(new))
    stage = fields.get("stage")
    if isinstance(stage, Stage):
        status = {Stage.CLOSED_WON: Status.WON, Stage.CLOSED_LOST: Status.LOST}.get(
            stage, Status.OPEN
        )
        if status is not deal.status:
            fields["status"] = status
            audit["status"] = (deal.status.value, status.value)
            if deal.close_reason:
                fields["close_reason"] = ""
                audit["close_reason"] = (deal.close_reason, None)
    return Mutation(fields=fields, audit=audit)


def writable_changes(audit: Mapping[str, object]) -> list[str]:
    """The fields of a change that PTM writes back to a linked CRM record."""
    return [name for name in audit if name in WRITABLE_FIELDS]


def write_values(deal: Deal, names: Collection[str]) -> dict[str, object]:
    """The deal's current values of `names`, as the outbox keeps them (JSON)."""
    values: dict[str, object] = {}
    for name in names:
        value = getattr(deal, name)
        values[name] = _shown(value)
    return values


def amount_of(value: object) -> Decimal | None:
    """A CRM's amount (a number or its text) to the cent; None when it is none or not one."""
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount.quantize(Decimal("0.01")) if amount.is_finite() else None


def _same_amount(old: object, new: object) -> bool:
    return isinstance(old, Decimal) and isinstance(new, Decimal) and old == new


def _shown(value: object) -> object:
    if isinstance(value, date | Decimal):
        return str(value)
    if isinstance(value, StrEnum):
        return value.value
    return value


def outcome_note(body: Mapping[str, object], marker: str, at: datetime) -> OutcomeNote:
    """An outbox delivery's body (PRODUCT.md's webhook JSON) as a CRM activity."""
    text = str(body.get("outcome") or "")
    key = str(body.get("deal_key") or "")
    meeting = body.get("meeting_date")
    day = date.fromisoformat(str(meeting)) if meeting else at.date()
    lines = [text]
    if body.get("result"):
        lines.append(f"Result: {body['result']}")
    lines.append(f"Logged in PTM ({key}) by {body.get('logged_by', '')} at {body.get('logged_at')}")
    subject = f"{key}: {text}"
    return OutcomeNote(
        subject=subject[:200],
        body="\n".join(lines)[:30000],
        day=day,
        next_step=(text[:255] or None),
        marker=marker,
        at=at,
    )

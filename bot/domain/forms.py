"""Read modal input (strings keyed by field) into typed values, collecting per-field errors."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from enum import Enum

from bot.domain.inputs import (
    clean_notes,
    clean_text,
    parse_amount,
    parse_attribution,
    parse_currency,
    parse_date,
    parse_due,
    parse_forecast,
    parse_role,
    parse_stage,
)
from bot.domain.model import (
    INTERNAL_FIELDS,
    MAX_ACCOUNT,
    MAX_NAME,
    MAX_NOTES,
    MAX_STEP_TEXT,
    MAX_TRIGGER,
    BadInput,
    NotAllowed,
)

Values = Mapping[str, str | None]


class FormErrors(BadInput):
    """Field-level problems: block_id -> message, shown next to each input in the modal."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _collect(values: Values, readers: dict[str, Callable[[str], object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    errors: dict[str, str] = {}
    for name, reader in readers.items():
        try:
            out[name] = reader(values.get(name) or "")
        except BadInput as err:
            errors[name] = err.message
    if errors:
        raise FormErrors(errors)
    return out


DEAL_READERS: dict[str, Callable[[str], object]] = {
    "name": lambda s: clean_text(s, what="deal name", limit=MAX_NAME),
    "account": lambda s: clean_text(s, what="account", limit=MAX_ACCOUNT, required=False),
    "amount": parse_amount,
    "currency": parse_currency,
    "close_date": lambda s: parse_date(s, what="close date") if s else None,
    "attribution": parse_attribution,
    "trigger_reason": lambda s: clean_text(s, what="trigger", limit=MAX_TRIGGER, required=False),
}


INTERNAL_READERS: dict[str, Callable[[str], object]] = {
    "internal_notes": lambda s: clean_notes(s, limit=MAX_NOTES),
    "forecast_category": parse_forecast,
}


# A partner company's own fields on a deal another company shares with it.
OWN_READERS: dict[str, Callable[[str], object]] = {
    **INTERNAL_READERS,
    "crm_id": lambda s: clean_text(s, what="CRM id", limit=80, required=False),
}


def read_own_fields(values: Values) -> dict[str, object]:
    return _collect(values, OWN_READERS)


def read_deal_fields(values: Values, *, internal: bool) -> dict[str, object]:
    """Deal name, account, amount, currency, close date, attribution from a modal; the
    internal fields too when the person submitting is from our own org."""
    fields = _collect(values, DEAL_READERS)
    if not internal:
        if INTERNAL_FIELDS & set(values):
            raise NotAllowed("Internal notes and the forecast category are for our own org only.")
        return fields
    return fields | _collect(
        {k: v for k, v in values.items() if k in INTERNAL_READERS},
        {k: r for k, r in INTERNAL_READERS.items() if k in values},
    )


def editable_fields(internal: bool) -> tuple[str, ...]:
    """The fields the edit-deal modal shows: the shared ones, and ours for our own org."""
    return (*DEAL_READERS, *INTERNAL_READERS) if internal else tuple(DEAL_READERS)


def read_new_deal(values: Values) -> tuple[dict[str, object], object]:
    fields = read_deal_fields(values, internal=False)
    stage = _collect(values, {"stage": lambda s: parse_stage(s or "Qualify")})["stage"]
    return fields, stage


def read_outcome(values: Values) -> dict[str, object]:
    return _collect(
        values,
        {
            "outcome": lambda s: clean_text(s, what="outcome", limit=MAX_STEP_TEXT),
            "meeting_date": lambda s: parse_date(s, what="meeting date") if s else None,
            "result": lambda s: clean_text(s, what="result", limit=20, required=False),
        },
    )


def read_next_step(values: Values, *, today: date) -> dict[str, object]:
    return _collect(
        values,
        {
            "step_text": lambda s: clean_text(s, what="next step", limit=MAX_STEP_TEXT),
            "step_owner": lambda s: parse_role(s) if s else None,
            "step_due": lambda s: parse_due(s, today=today) if s else None,
        },
    )


def fingerprint(value: object) -> str:
    """A short, stable digest of a field's typed value, so a modal can carry what it showed
    without carrying the values (they would overflow Slack's 3,000-character metadata).
    Equal values give equal fingerprints (12000 and 12000.00 alike; None and "" alike)."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, Decimal):
        canonical = format(value.normalize(), "f")
    elif isinstance(value, date):
        canonical = value.isoformat()
    else:
        canonical = "" if value is None else str(value)
    return hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()


def fingerprints(values: Mapping[str, object]) -> dict[str, str]:
    return {name: fingerprint(value) for name, value in values.items()}

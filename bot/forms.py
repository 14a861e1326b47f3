"""Read modal input (strings keyed by field) into typed values, collecting per-field errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

from bot.domain import MAX_ACCOUNT, MAX_NAME, MAX_STEP_TEXT, BadInput
from bot.inputs import (
    clean_text,
    parse_amount,
    parse_attribution,
    parse_currency,
    parse_date,
    parse_due,
    parse_role,
    parse_stage,
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
}


def read_deal_fields(values: Values) -> dict[str, object]:
    """Deal name, account, amount, currency, close date, attribution from a modal."""
    return _collect(values, DEAL_READERS)


def read_new_deal(values: Values) -> tuple[dict[str, object], object]:
    fields = read_deal_fields(values)
    stage = _collect(values, {"stage": lambda s: parse_stage(s or "Qualify")})["stage"]
    return fields, stage


def read_next_step(values: Values, *, today: date) -> dict[str, object]:
    return _collect(
        values,
        {
            "step_text": lambda s: clean_text(s, what="next step", limit=MAX_STEP_TEXT),
            "step_owner": lambda s: parse_role(s) if s else None,
            "step_due": lambda s: parse_due(s, today=today) if s else None,
        },
    )

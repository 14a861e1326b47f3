"""Logging outcomes to both CRMs: the webhook payload per side, signatures, retry backoff. Pure."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from bot.domain.model import Deal

FIRST_RETRY = 2.0
RETRY_CAP = 600.0
MAX_ATTEMPTS = 12  # about an hour and a half of retrying before a dead letter


class Side(StrEnum):
    OURS = "ours"
    PARTNER = "partner"


@dataclass(frozen=True)
class Outcome:
    text: str
    meeting_date: date | None
    result: str
    logged_by: str
    logged_at: datetime


def payload(
    deal: Deal, outcome: Outcome, side: Side, company: tuple[str, str | None] | None = None
) -> dict[str, object]:
    """The JSON body of PRODUCT.md's CRM webhook; internal-only fields go to our side only. A
    partner-side delivery for one of several partner companies names it (`partner_company`:
    its Slack team and its role on the deal)."""
    body: dict[str, object] = {
        "deal_key": deal.key,
        "name": deal.name,
        "account": deal.account,
        "stage": deal.stage.value,
        "amount": str(deal.amount) if deal.amount is not None else None,
        "currency": deal.currency,
        "attribution": deal.attribution.value if deal.attribution else None,
        "partner": deal.partner,
        "outcome": outcome.text,
        "meeting_date": outcome.meeting_date.isoformat() if outcome.meeting_date else None,
        "result": outcome.result,
        "logged_by": outcome.logged_by,
        "logged_at": outcome.logged_at.isoformat(),
    }
    if company is not None:
        body["partner_company"] = {"team": company[0], "role": company[1]}
    if side is Side.OURS:
        body["internal_notes"] = deal.internal_notes
        body["forecast_category"] = deal.forecast_category.value if deal.forecast_category else None
    return body


def partner_companies(deal: Deal) -> list[tuple[str, str | None, str | None]]:
    """The partner companies an outcome goes to, once each: (key, Slack team, role on the
    deal), keyed by team, or by the rep while their team is not known yet."""
    found: dict[str, tuple[str, str | None, str | None]] = {}
    for member in deal.partners:
        key = member.team_id or member.user_id
        found.setdefault(key, (key, member.team_id, member.kind))
    return list(found.values())


class NotYet(Exception):
    """A delivery that may not go out now and is not failing (AWS reviewing an opportunity
    refuses edits): tried again after `delay` seconds, its attempts not counted."""

    def __init__(self, reason: str, *, delay: float = 600.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


def encode(body: dict[str, object]) -> str:
    """The exact bytes sent (and signed) on every attempt."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def signature(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def next_delay(attempts: int, jitter: float) -> timedelta:
    """About 2 s after the first failure, doubling to a 10-minute cap; `jitter` in [0.8, 1.2]."""
    seconds = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), RETRY_CAP)
    return timedelta(seconds=seconds * jitter)

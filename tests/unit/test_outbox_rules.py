"""CRM outbox rules: backoff schedule, signature, and what each side may receive."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime, timedelta

from bot.domain.model import Deal, ForecastCategory, Stage, Status
from bot.domain.outbox import MAX_ATTEMPTS, Outcome, Side, encode, next_delay, payload, signature


def test_backoff_starts_near_two_seconds_doubles_and_caps_at_ten_minutes() -> None:
    assert [next_delay(n, 1.0).total_seconds() for n in range(1, 6)] == [2, 4, 8, 16, 32]
    assert next_delay(30, 1.0) == timedelta(minutes=10)
    assert timedelta(seconds=1.6) <= next_delay(1, 0.8) and next_delay(1, 1.2) <= timedelta(
        seconds=2.4
    )
    total = sum((next_delay(n, 1.0) for n in range(1, MAX_ATTEMPTS)), timedelta())
    assert timedelta(minutes=30) < total < timedelta(hours=3)  # a long outage is ridden out


def test_signature_is_hmac_sha256_of_the_raw_body() -> None:
    raw = b'{"a":1}'
    expected = hmac.new(b"k", raw, hashlib.sha256).hexdigest()
    assert signature("k", raw) == f"sha256={expected}"


def test_internal_fields_go_to_our_side_only() -> None:
    deal = Deal(
        id=1,
        key="PTM-1",
        name="Acme",
        account="A",
        amount=None,
        currency="USD",
        close_date=None,
        stage=Stage.PROPOSE,
        status=Status.OPEN,
        attribution=None,
        partner="MedData",
        cosell=frozenset(),
        version=4,
        created_by="U",
        updated_by="U",
        updated_at=datetime(2026, 11, 24, tzinfo=UTC),
        internal_notes="floor 80k",
        forecast_category=ForecastCategory.COMMIT,
    )
    outcome = Outcome(
        "pilot agreed", date(2026, 11, 23), "positive", "U0S", datetime(2026, 11, 24, 9, tzinfo=UTC)
    )
    ours, theirs = payload(deal, outcome, Side.OURS), payload(deal, outcome, Side.PARTNER)
    assert ours["internal_notes"] == "floor 80k" and ours["forecast_category"] == "commit"
    assert "internal_notes" not in theirs and "forecast_category" not in theirs
    assert "floor 80k" not in encode(theirs)
    assert encode(theirs) == encode(dict(reversed(list(theirs.items()))))  # stable bytes

"""AWS co-sell rules: the form's words, the service model's rules as data, AWS's values."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bot.domain.cosell import (
    CoSellForm,
    Rule,
    check,
    closed_lost_reason,
    missing,
    normalise_spend,
    pattern_words,
    updated_opportunity,
    with_deal_defaults,
)
from bot.domain.model import Deal, Stage, Status

RULES = {
    "Catalog": Rule(required=True, pattern="[a-zA-Z]+"),
    "Customer": Rule(),
    "Customer.Account": Rule(),
    "Customer.Account.CompanyName": Rule(required=True, pattern="(?s).{0,120}"),
    "Customer.Account.Address": Rule(),
    "Customer.Account.Address.CountryCode": Rule(enum=("US", "DE")),
    "Project": Rule(),
    "Project.ExpectedCustomerSpend": Rule(max=10),
    "Project.ExpectedCustomerSpend[]": Rule(),
    "Project.ExpectedCustomerSpend[].Amount": Rule(
        pattern=r"((0|([1-9][0-9]{0,30}))(\.[0-9]{0,2})?)?"
    ),
    "Project.ExpectedCustomerSpend[].CurrencyCode": Rule(required=True, enum=("USD", "EUR")),
    "Tags[].Key": Rule(pattern=r"(?=.{1,128}$)([\p{L}\p{Z}\p{N}_.:/=+\-@]*)"),
}


def test_the_rules_are_checked_where_botocore_does_not() -> None:
    params = {
        "Catalog": "Sandbox",
        "Customer": {"Account": {"CompanyName": "x" * 121, "Address": {"CountryCode": "ZZ"}}},
        "Project": {
            "ExpectedCustomerSpend": [{"Amount": "1.234"}, {"Amount": "5", "CurrencyCode": "EUR"}]
        },
        "Tags": [{"Key": "région"}],  # \p{L}: Python's re cannot read it; AWS checks it
    }
    problems = check(params, RULES).by_path
    assert problems == {
        "Customer.Account.CompanyName": "at most 120 characters",
        "Customer.Account.Address.CountryCode": "one of US, DE",
        "Project.ExpectedCustomerSpend[0].Amount": pattern_words(r"(\.[0-9]{0,2})"),
        "Project.ExpectedCustomerSpend[0].CurrencyCode": "required",
    }
    assert check({"Customer": {}}, RULES).by_path == {"Catalog": "required"}


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("(?s).{20,2000}", "20 to 2,000 characters"),
        ("(?s).{0,255}", "at most 255 characters"),
        ("[1-9][0-9]{3}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])", "a date like 2026-12-31"),
        ("[0-9]{9}", "9 digits"),
        ("\\+[1-9]\\d{1,14}", "a phone number like +14155550100"),
        ("arn:.*", "not in the form AWS accepts"),
    ],
)
def test_patterns_read_as_words(pattern: str, words: str) -> None:
    assert pattern_words(pattern) == words


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("12,500", "12500"),
        ("12500.5", "12500.50"),
        (" 300 ", "300"),
        ("1.234", "1.234"),
        ("-5", "-5"),
        ("", ""),
    ],
)
def test_spend_is_written_as_aws_takes_it(typed: str, sent: str) -> None:
    assert normalise_spend(typed) == sent


@pytest.mark.parametrize(
    ("reason", "aws"),
    [
        ("they went with Azure", "Lost to Competitor - Microsoft"),
        ("GCP credits", "Lost to Competitor - Google"),
        ("too expensive for them", "Price"),
        ("project on hold until Q3", "Delay / Cancellation of Project"),
        ("", "Other"),
    ],
)
def test_lost_reasons_in_aws_words(reason: str, aws: str) -> None:
    assert closed_lost_reason(reason) == aws


def deal(**fields: object) -> Deal:
    base = Deal(
        id=1,
        key="PTM-1",
        name="Acme",
        account="Acme Corp",
        amount=Decimal("1000"),
        currency="EUR",
        close_date=date(2027, 2, 1),
        stage=Stage.NEGOTIATE,
        status=Status.OPEN,
        attribution=None,
        partner=None,
        cosell=frozenset(),
        version=1,
        created_by="U1",
        updated_by="U1",
        updated_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_the_deal_fills_what_it_knows_and_the_rest_is_asked_for() -> None:
    form = with_deal_defaults(deal(), CoSellForm(country="DE"))
    assert (form.company, form.currency, form.close_date) == ("Acme Corp", "EUR", "2027-02-01")
    assert missing(form) == [
        "Customer website",
        "The customer's business problem",
        "Expected monthly AWS spend",
        "Use case",
        "Delivery model",
        "What you need from AWS",
    ]


def test_an_update_keeps_what_aws_holds_and_sends_the_deals_stage() -> None:
    current = {"LifeCycle": {"Stage": "Committed", "NextSteps": "call"}, "Project": {"Title": "x"}}
    won = updated_opportunity(
        current, deal(stage=Stage.CLOSED_WON, status=Status.WON), CoSellForm()
    )
    assert won["LifeCycle"] == {
        "Stage": "Launched",
        "NextSteps": "call",
        "TargetCloseDate": "2027-02-01",
    }
    assert won["Project"] == {"Title": "x"}
    spend = updated_opportunity(current, deal(), CoSellForm(spend="900", currency="EUR"))
    assert spend["Project"]["ExpectedCustomerSpend"] == [  # type: ignore[index]
        {"Frequency": "Monthly", "TargetCompany": "AWS", "Amount": "900", "CurrencyCode": "EUR"}
    ]

"""CRM references, stage maps and how a record becomes a deal's fields (pure rules)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bot.domain.crm import (
    CRM_STAGE_OF,
    HUBSPOT_STAGES,
    SALESFORCE_STAGES,
    CrmKind,
    CrmRecord,
    from_record,
    parse_reference,
    salesforce_org,
    writable_changes,
)
from bot.domain.model import BadInput, Deal, Stage, Status

SF = "006Ho00000AbCdEFGH"


@pytest.mark.parametrize(
    ("text", "kind", "record", "host", "portal"),
    [
        (SF, CrmKind.SALESFORCE, SF, None, None),
        ("006Ho00000AbCdE", CrmKind.SALESFORCE, "006Ho00000AbCdE", None, None),
        (f"https://acme.lightning.force.com/lightning/r/Opportunity/{SF}/view",
         CrmKind.SALESFORCE, SF, "acme.lightning.force.com", None),
        (f"<https://acme.my.salesforce.com/{SF}|Acme>", CrmKind.SALESFORCE, SF,
         "acme.my.salesforce.com", None),
        ("12345", CrmKind.HUBSPOT, "12345", None, None),
        ("https://app.hubspot.com/contacts/4411/record/0-3/987", CrmKind.HUBSPOT, "987",
         "app.hubspot.com", "4411"),
        ("https://app-eu1.hubspot.com/contacts/4411/deal/987/", CrmKind.HUBSPOT, "987",
         "app-eu1.hubspot.com", "4411"),
    ],
)  # fmt: skip
def test_references_read_as_the_record_they_name(
    text: str, kind: CrmKind, record: str, host: str | None, portal: str | None
) -> None:
    ref = parse_reference(text)
    assert (ref.kind, ref.record_id, ref.host, ref.portal) == (kind, record, host, portal)


@pytest.mark.parametrize(
    "text",
    ["", "hello", "0061234", "001Ho00000AbCdE", "ftp://acme.my.salesforce.com/006Ho00000AbCdE",
     "https://example.com/page", "https://app.hubspot.com/contacts/4411/record/0-1/5",
     "x" * 600],
)  # fmt: skip
def test_anything_else_is_refused_with_what_is_accepted(text: str) -> None:
    with pytest.raises(BadInput) as refused:
        parse_reference(text)
    assert "Salesforce opportunity" in refused.value.message or "Link to which" in (
        refused.value.message
    )


def test_a_salesforce_org_is_the_same_on_its_classic_and_lightning_hosts() -> None:
    assert salesforce_org("acme.my.salesforce.com") == salesforce_org("ACME.lightning.force.com")
    assert salesforce_org("acme--dev.sandbox.my.salesforce.com") != salesforce_org(
        "acme.my.salesforce.com"
    )


def test_every_ptm_stage_goes_back_to_a_crm_stage_that_maps_to_it() -> None:
    for kind, mapping in (
        (CrmKind.SALESFORCE, SALESFORCE_STAGES),
        (CrmKind.HUBSPOT, HUBSPOT_STAGES),
    ):
        back = CRM_STAGE_OF[kind]
        assert set(back) == set(Stage)
        assert all(mapping[back[stage]] is stage for stage in Stage)


def deal(**fields: object) -> Deal:
    base = Deal(
        id=1, key="PTM-1", name="Old", account="Acme", amount=Decimal("100.00"), currency="USD",
        close_date=None, stage=Stage.QUALIFY, status=Status.OPEN, attribution=None,
        partner=None, cosell=frozenset(), version=3, created_by="U1", updated_by="U1",
        updated_at=datetime(2026, 11, 1, tzinfo=UTC),
    )  # fmt: skip
    return replace(base, **fields)  # type: ignore[arg-type]


def record(**fields: object) -> CrmRecord:
    base = CrmRecord(
        kind=CrmKind.SALESFORCE, record_id=SF, name="Old", account="Acme",
        amount=Decimal("100.00"), currency="USD", close_date=None, stage="Prospecting",
        modified_at=datetime(2026, 11, 2, tzinfo=UTC),
    )  # fmt: skip
    return replace(base, **fields)  # type: ignore[arg-type]


def test_a_record_changes_only_what_differs_and_closes_or_reopens_the_deal() -> None:
    assert from_record(deal(), record()).is_empty
    assert from_record(deal(), record(stage="A stage of their own")).is_empty  # kept
    moved = from_record(deal(), record(amount=Decimal("250.5"), stage="Closed Won"))
    assert moved.audit == {
        "amount": ("100.00", "250.5"),
        "stage": ("Qualify", "Closed Won"),
        "status": ("open", "won"),
    }
    reopened = from_record(
        deal(stage=Stage.CLOSED_LOST, status=Status.LOST, close_reason="price"),
        record(stage="Negotiation/Review", close_date=date(2027, 1, 1)),
    )
    assert reopened.fields["status"] is Status.OPEN and reopened.fields["close_reason"] == ""
    assert writable_changes(reopened.audit) == ["close_date", "stage"]


def test_a_record_without_a_name_or_with_a_strange_currency_keeps_the_card_sound() -> None:
    taken = from_record(deal(), record(name="  ", currency="euros", account="x" * 400))
    assert taken.fields["name"] == f"opportunity {SF}"
    assert "currency" not in taken.fields and len(str(taken.fields["account"])) == 300

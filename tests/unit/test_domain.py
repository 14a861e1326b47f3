"""Deal rules on hand-built data: plain asserts, no fixtures, no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bot.domain.inputs import parse_amount, parse_date, parse_due, parse_stage
from bot.domain.model import (
    Actor,
    BadInput,
    Conflict,
    Deal,
    ForecastCategory,
    NextStep,
    NotAllowed,
    Role,
    Stage,
    Status,
    TrioMember,
    esc,
    is_our_org,
)
from bot.domain.rules import (
    change_stage,
    closed_from,
    complete_next_step,
    edit_deal,
    is_overdue,
    may_change,
    reopen_deal,
    require_change_right,
    set_next_step,
    set_trio,
    visible_changes,
)

TODAY = date(2026, 11, 24)
TRIO = (
    TrioMember(Role.SELLER, "US"),
    TrioMember(Role.ALLIANCE, "UA"),
    TrioMember(Role.PARTNER, "UP", team_id="TP", is_external=True),
)


def deal(**kw: object) -> Deal:
    base: dict[str, object] = {
        "id": 1,
        "key": "PTM-1",
        "name": "Acme",
        "account": "Acme Corp",
        "amount": None,
        "currency": "USD",
        "close_date": None,
        "stage": Stage.QUALIFY,
        "status": Status.OPEN,
        "attribution": None,
        "partner": None,
        "cosell": frozenset(),
        "version": 3,
        "created_by": "UC",
        "updated_by": "UC",
        "updated_at": datetime(2026, 11, 1, tzinfo=UTC),
        "trio": TRIO,
    }
    base.update(kw)
    return Deal(**base)  # type: ignore[arg-type]


def test_stage_matching_is_case_insensitive_and_takes_unique_prefixes() -> None:
    assert parse_stage("propose") is Stage.PROPOSE
    assert parse_stage("NEG") is Stage.NEGOTIATE
    assert parse_stage("closed  won") is Stage.CLOSED_WON
    assert parse_stage("Closed L") is Stage.CLOSED_LOST


@pytest.mark.parametrize("text", ["closed", "c", "prospect", ""])
def test_bad_stage_lists_the_stages(text: str) -> None:
    with pytest.raises(BadInput) as err:
        parse_stage(text)
    assert (
        "Qualify, Discover, Validate, Propose, Negotiate, Closed Won, Closed Lost"
        in err.value.message
    )


def test_dates() -> None:
    assert parse_date("2026-12-01") == date(2026, 12, 1)
    for bad in ("2026-02-30", "2026-13-01", "tomorrow", "01/12/2026", "2026-1-1"):
        with pytest.raises(BadInput, match="YYYY-MM-DD"):
            parse_date(bad)
    assert parse_due("2026-11-24", today=TODAY) == TODAY
    with pytest.raises(BadInput, match="in the past"):
        parse_due("2026-11-23", today=TODAY)


def test_amounts() -> None:
    assert parse_amount("120,000.5") == Decimal("120000.50")
    assert parse_amount("") is None
    for bad in ("-5", "lots", "1e20", "NaN"):
        with pytest.raises(BadInput):
            parse_amount(bad)


def test_permissions() -> None:
    d = deal()
    assert may_change(d, Actor("UP"), frozenset())
    assert not may_change(d, Actor("UX"), frozenset())
    assert may_change(d, Actor("UX"), frozenset({"UX"}))
    # Before a trio is named, the creator may set it up.
    assert may_change(deal(trio=()), Actor("UC"), frozenset())
    assert not may_change(d, Actor("UC"), frozenset())
    with pytest.raises(NotAllowed, match="seller <@US>, alliance <@UA>, partner <@UP>"):
        require_change_right(d, Actor("UX"), frozenset())


def test_stage_change_closes_status_and_same_stage_is_a_no_op() -> None:
    m = change_stage(deal(), Stage.CLOSED_WON)
    assert m.fields == {"stage": Stage.CLOSED_WON, "status": Status.WON}
    assert m.audit == {"stage": ("Qualify", "Closed Won"), "status": ("open", "won")}
    assert change_stage(deal(), Stage.QUALIFY).is_empty
    lost = deal(stage=Stage.CLOSED_LOST, status=Status.LOST)
    with pytest.raises(BadInput, match="reopen it first"):
        change_stage(lost, Stage.PROPOSE)
    assert change_stage(lost, Stage.CLOSED_WON).fields["status"] is Status.WON  # won after all
    reopened = reopen_deal(lost, Stage.PROPOSE)
    assert reopened.fields["status"] is Status.OPEN
    assert reopened.audit["reopened"] == ("Closed Lost", "Propose")


def test_a_deal_reopens_at_the_stage_it_was_closed_from() -> None:
    audit = [
        {"stage": ["Closed Won", "Closed Lost"]},
        {"outcome": [None, "x"]},
        {"stage": ["Negotiate", "Closed Won"], "status": ["open", "won"]},
        {"stage": ["Propose", "Negotiate"]},
    ]
    assert closed_from(audit) is Stage.NEGOTIATE
    assert closed_from([{"stage": ["Propose", "Negotiate"]}]) is None


@pytest.mark.parametrize(
    ("stage", "owner"),
    [(Stage.QUALIFY, "US"), (Stage.DISCOVER, "UA"), (Stage.VALIDATE, "UP"), (Stage.PROPOSE, "US")],
)
def test_next_step_default_owner_follows_the_stage(stage: Stage, owner: str) -> None:
    m = set_next_step(deal(stage=stage), "do it", role=None, user_id=None, due=None)
    assert m.step is not None and m.step.owner_user == owner


def test_next_step_owner_by_role_by_user_and_outsider() -> None:
    m = set_next_step(deal(), "x", role=Role.PARTNER, user_id=None, due=TODAY)
    assert m.step and (m.step.owner_role, m.step.owner_user, m.step.due) == (
        Role.PARTNER,
        "UP",
        TODAY,
    )
    m = set_next_step(deal(), "x", role=None, user_id="UA", due=None)
    assert m.step and m.step.owner_role is Role.ALLIANCE
    with pytest.raises(BadInput, match="not in the trio"):
        set_next_step(deal(), "x", role=None, user_id="UZ", due=None)
    unnamed = set_next_step(deal(trio=TRIO[:1]), "x", role=Role.PARTNER, user_id=None, due=None)
    assert unnamed.step and unnamed.step.owner_user is None


def test_setting_the_same_next_step_again_is_a_no_op() -> None:
    step = NextStep(7, "x", Role.SELLER, "US", None, "US")
    assert set_next_step(deal(next_step=step), "x", role=None, user_id=None, due=None).is_empty


def test_complete_guards_against_stale_clicks() -> None:
    step = NextStep(7, "call", Role.SELLER, "US", None, "US")
    assert complete_next_step(deal(next_step=step), expected_step_id=7).step is not None
    with pytest.raises(Conflict, match="changed since you looked"):
        complete_next_step(deal(next_step=step), expected_step_id=6)
    with pytest.raises(Conflict, match="already done"):
        complete_next_step(deal(), expected_step_id=6)
    with pytest.raises(BadInput, match="no open next step"):
        complete_next_step(deal())


def test_trio_change_records_old_and_new() -> None:
    m = set_trio(deal(), {Role.PARTNER: TrioMember(Role.PARTNER, "UP2"), Role.SELLER: TRIO[0]})
    assert m.audit == {"trio.partner": ("UP", "UP2")}
    assert [t.user_id for t in m.trio] == ["UP2"]


def test_edit_ignores_unchanged_fields() -> None:
    ours, theirs = Actor("US", "T0", internal=True), Actor("UP", "TP", internal=False)
    m = edit_deal(deal(), {"name": "Acme", "amount": Decimal("5.00")}, actor=theirs)
    assert m.fields == {"amount": Decimal("5.00")} and m.audit == {"amount": (None, "5.00")}
    with pytest.raises(BadInput):
        edit_deal(deal(), {"version": 9}, actor=ours)


def test_only_our_org_changes_internal_fields() -> None:
    ours, theirs = Actor("US", "T0", internal=True), Actor("UP", "TP", internal=False)
    m = edit_deal(deal(), {"internal_notes": "margin is thin"}, actor=ours)
    assert m.audit == {"internal_notes": ("", "margin is thin")}
    with pytest.raises(NotAllowed, match="our own org only"):
        edit_deal(deal(), {"internal_notes": "peek"}, actor=theirs)
    with pytest.raises(NotAllowed):
        edit_deal(deal(), {"forecast_category": ForecastCategory.COMMIT}, actor=theirs)


def test_visibility_rules() -> None:
    assert is_our_org("T0", home_team="T0") and is_our_org(
        "E1", home_team="T0", home_enterprise="E1"
    )
    assert not is_our_org("TP", home_team="T0") and not is_our_org(None, home_team="T0")
    assert not is_our_org("T0", home_team=None)
    changes = {"stage": ["a", "b"], "internal_notes": ["x", "y"], "forecast_category": [None, "c"]}
    assert visible_changes(changes, internal=False) == {"stage": ["a", "b"]}
    assert visible_changes(changes, internal=True) == changes


def test_overdue_and_escaping() -> None:
    step = NextStep(1, "x", None, None, date(2026, 11, 23), "U")
    assert is_overdue(step, TODAY) and not is_overdue(step, date(2026, 11, 23))
    assert esc("<@U1> & <!here>") == "&lt;@U1&gt; &amp; &lt;!here&gt;"
    assert esc("x" * 100).endswith("…") and len(esc("x" * 100)) == 60
